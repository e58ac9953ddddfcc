"""One checkpoint format for every task, written atomically.

A checkpoint is a pickle of ``{"model": {name: ndarray}, "optimizer": {...}, "meta": {"iter",
"epoch", "config", "versions", "rng", ...}}``. It is written to a temporary file in the same folder,
flushed to disk and renamed into place, so a crash during the write leaves the previous checkpoint
intact; ``latest.pkl`` is a symbolic link updated the same way.
"""
from __future__ import annotations

import os
import pickle
import platform
import random
import re
from pathlib import Path
from typing import Any

import numpy as np

import jittor as jt

CKPT_PATTERN = re.compile(r"^iter_(\d+)\.pkl$")
LATEST = "latest.pkl"


def state_dict_numpy(module) -> dict[str, np.ndarray]:
    return {k: (v.numpy() if isinstance(v, jt.Var) else np.asarray(v)) for k, v in module.state_dict().items()}


def versions() -> dict[str, str]:
    import jvision
    return {"jvision": jvision.__version__, "jittor": jt.__version__, "numpy": np.__version__,
            "python": platform.python_version()}


def rng_state() -> dict[str, Any]:
    return {"numpy": np.random.get_state(), "python": random.getstate()}


def set_rng_state(state: dict[str, Any]) -> None:
    if "numpy" in state:
        np.random.set_state(state["numpy"])
    if "python" in state:
        random.setstate(state["python"])


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
    tmp.symlink_to(target)
    os.replace(tmp, link)


def save_checkpoint(folder: str | os.PathLike, iteration: int, model, optimizer=None,
                    meta: dict | None = None, keep: int | None = None) -> Path:
    """Write ``folder/iter_<iteration>.pkl`` atomically, point ``latest.pkl`` at it, keep the newest ``keep``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {
        "model": state_dict_numpy(model),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "meta": {"iter": iteration, "versions": versions(), "rng": rng_state(), **(meta or {})},
    }
    name = f"iter_{iteration:07d}.pkl"
    path = folder / name
    atomic_write_bytes(path, pickle.dumps(state, protocol=4))
    _point_latest(folder, name)
    if keep:
        for old in list_checkpoints(folder)[:-keep]:
            old.unlink()
    return path


def list_checkpoints(folder: str | os.PathLike) -> list[Path]:
    """Complete checkpoints in ``folder``, oldest first."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := CKPT_PATTERN.match(p.name))]
    return [p for _, p in sorted(found)]


def find_latest(folder: str | os.PathLike) -> Path | None:
    folder = Path(folder)
    link = folder / LATEST
    if link.exists():
        return link.resolve()
    ckpts = list_checkpoints(folder)
    return ckpts[-1] if ckpts else None


def load_checkpoint(path: str | os.PathLike) -> dict:
    """Read one of our checkpoints; a truncated or foreign file raises an error naming it."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        with open(path, "rb") as f:
            state = pickle.load(f)
    except (pickle.UnpicklingError, EOFError, ValueError, AttributeError, ImportError) as exc:
        raise ValueError(f"checkpoint {path} is unreadable (truncated or not a jvision checkpoint): "
                         f"{type(exc).__name__}: {exc}") from exc
    if not isinstance(state, dict) or "model" not in state or "meta" not in state:
        keys = list(state)[:8] if isinstance(state, dict) else type(state).__name__
        raise ValueError(f"checkpoint {path} is not a jvision checkpoint (top-level keys: {keys}); "
                         f"official PyTorch files load through jvision.convert")
    return state
