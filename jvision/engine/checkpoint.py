"""One checkpoint format for every task: written atomically, read without running code.

A checkpoint is ``{"model": {name: ndarray}, "optimizer": {...}, "meta": {"iter", "epoch", "config",
"versions", "rng", "run", ...}}`` stored in Jittor's ``jt.save`` layout (a pickle followed by its sha1
and a magic number), so ``jt.load`` opens it too and a truncated or corrupted file is recognised by
its checksum. It holds only NumPy arrays, numbers, strings, lists, tuples and dicts.

Writing: a temporary file in the same folder (``.iter_0000100.pkl.tmp-<pid>``), flushed to disk and
renamed into place, so a crash during the write leaves the previous checkpoint intact;
``latest.pkl`` is a relative symbolic link, replaced the same way after its target exists.

Reading: ``read_training_checkpoint`` goes through ``jvision.convert.read_checkpoint_file``, the
restricted reader of every file the project opens: a file that names any other class or function
(a crafted pickle whose ``REDUCE`` would run a command) is refused with its name, and nothing in it
runs. Weights for evaluation or fine-tuning load through ``jvision.convert.load_checkpoint``.
"""
from __future__ import annotations

import os
import platform
import random
import re
from pathlib import Path
from typing import Any, Callable

import numpy as np

import jittor as jt

from ..convert import CheckpointReadError, OpaqueObject, jittor_pickle_bytes, read_checkpoint_file

__all__ = ["save_checkpoint", "read_training_checkpoint", "read_latest", "find_latest", "list_checkpoints",
           "checkpoint_iteration", "prune_checkpoints", "clean_partial_files", "atomic_write_bytes",
           "CKPT_PATTERN", "LATEST"]

CKPT_PATTERN = re.compile(r"^iter_(\d+)\.pkl$")
PARTIAL_PATTERN = re.compile(r"^\.(?:iter_\d+|latest)\.pkl\.tmp-\d+$")
LATEST = "latest.pkl"


def state_dict_numpy(module) -> dict[str, np.ndarray]:
    return {k: (v.numpy() if isinstance(v, jt.Var) else np.asarray(v)) for k, v in module.state_dict().items()}


def versions() -> dict[str, str]:
    import jvision
    return {"jvision": jvision.__version__, "jittor": jt.__version__, "numpy": np.__version__,
            "python": platform.python_version()}


def rng_state() -> dict[str, Any]:
    """Python's and NumPy's global generator states, for the record (the trainer re-seeds every
    generator from (seed, iteration) at each iteration, so a resume does not need them)."""
    return {"numpy": np.random.get_state(), "python": random.getstate()}


def atomic_write_bytes(path: Path, payload: bytes) -> None:
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _point_latest(folder: Path, target: str) -> None:
    link = folder / LATEST
    tmp = folder / f".{LATEST}.tmp-{os.getpid()}"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    tmp.symlink_to(target)  # relative: the run folder can be moved or archived whole
    os.replace(tmp, link)


def save_checkpoint(folder: str | os.PathLike, iteration: int, model, optimizer=None,
                    meta: dict | None = None) -> Path:
    """Write ``folder/iter_<iteration>.pkl`` atomically and point ``latest.pkl`` at it."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {
        "model": state_dict_numpy(model),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "meta": {"iter": int(iteration), "versions": versions(), "rng": rng_state(), **(meta or {})},
    }
    name = f"iter_{iteration:07d}.pkl"
    path = folder / name
    atomic_write_bytes(path, jittor_pickle_bytes(state))
    _point_latest(folder, name)
    return path


def checkpoint_iteration(path: str | os.PathLike) -> int | None:
    m = CKPT_PATTERN.match(Path(path).name)
    return int(m.group(1)) if m else None


def list_checkpoints(folder: str | os.PathLike) -> list[Path]:
    """Complete checkpoints in ``folder`` (not its sub-folders), oldest first."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := CKPT_PATTERN.match(p.name))]
    return [p for _, p in sorted(found)]


def find_latest(folder: str | os.PathLike) -> Path | None:
    """The checkpoint ``latest.pkl`` points at, else the newest ``iter_*.pkl`` (no file is read)."""
    folder = Path(folder)
    link = folder / LATEST
    if link.exists():
        return link.resolve()
    ckpts = list_checkpoints(folder)
    return ckpts[-1] if ckpts else None


def _opaque_inside(obj, path: str = "") -> str | None:
    """Where in ``obj`` the reader put an object of a class it refused to import, if anywhere."""
    if isinstance(obj, OpaqueObject):
        return f"{path or '<root>'} ({obj!r})"
    if isinstance(obj, dict):
        for k, v in obj.items():
            found = _opaque_inside(v, f"{path}.{k}" if path else str(k))
            if found:
                return found
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            found = _opaque_inside(v, f"{path}.{i}" if path else str(i))
            if found:
                return found
    return None


def read_training_checkpoint(path: str | os.PathLike) -> dict:
    """Read one of our checkpoints (``model``, ``optimizer``, ``meta``) with the restricted reader.

    A missing, truncated or foreign file raises an error naming it; so does a file that names a
    class or function outside what our format holds (nothing in the file is imported or run).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        state = read_checkpoint_file(path)
    except CheckpointReadError as exc:
        raise CheckpointReadError(f"checkpoint {path} is unreadable (truncated or not a jvision checkpoint): "
                                  f"{exc}") from None
    foreign = _opaque_inside(state)
    if foreign is not None:
        raise CheckpointReadError(f"checkpoint {path} is not a jvision checkpoint: it names {foreign}, which was "
                                  "neither imported nor run; a jvision checkpoint holds only arrays, numbers, "
                                  "strings and containers")
    if not isinstance(state, dict) or "model" not in state or "meta" not in state:
        keys = list(state)[:8] if isinstance(state, dict) else type(state).__name__
        raise CheckpointReadError(f"checkpoint {path} is not a jvision training checkpoint (top-level keys: "
                                  f"{keys}); weights of other files load through jvision.convert.load_checkpoint")
    return state


def read_latest(folder: str | os.PathLike, warn: Callable[[str], Any] = print) -> tuple[Path, dict] | None:
    """The newest readable checkpoint of ``folder`` and its content: ``latest.pkl``'s target first,
    then the ``iter_*.pkl`` files newest first; each unreadable one is skipped with a warning."""
    folder = Path(folder)
    candidates = []
    link = folder / LATEST
    if link.is_symlink() or link.exists():
        target = link.resolve()
        candidates.append(target)
        if not target.exists():
            warn(f"warning: {link} points at {target.name}, which does not exist")
    candidates += [p for p in reversed(list_checkpoints(folder)) if p not in candidates]
    skipped = []
    for path in candidates:
        if not path.exists():
            continue
        try:
            state = read_training_checkpoint(path)
        except (CheckpointReadError, OSError) as exc:
            skipped.append(path)
            warn(f"warning: {exc}; trying the previous checkpoint")
            continue
        if skipped:
            warn(f"warning: falling back to {path} (iteration {state['meta'].get('iter')}) because "
                 f"{', '.join(p.name for p in skipped)} could not be read")
        return path, state
    return None


def prune_checkpoints(paths: list[Path], keep: int) -> list[Path]:
    """Delete all but the newest ``keep`` (>= 1) of ``paths`` (this run's checkpoints, oldest first);
    returns what is left. The newest, which ``latest.pkl`` points at, is never deleted."""
    keep = max(1, int(keep))
    paths = list(paths)
    for old in paths[:-keep]:
        if old.exists():
            old.unlink()
    return paths[-keep:]


def clean_partial_files(folder: str | os.PathLike) -> list[Path]:
    """Remove the temporary files a killed process left mid-write (``.iter_*.pkl.tmp-<pid>``)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    removed = [p for p in folder.iterdir() if PARTIAL_PATTERN.match(p.name)]
    for p in removed:
        p.unlink()
    return removed
