"""A work dir holds one run; how a new, a resumed and a forced run treat it.

The work dir is ``--work-dir``, else the config's ``work_dir``, else ``work_dirs/<config name>``.
It holds one run: ``config.py``, ``log.txt``, ``metrics.jsonl``, ``iter_*.pkl``, ``latest.pkl`` and
what hooks write (``vis/``, ``overlays/``).

* A new run in a work dir that already holds a run (any of ``config.py``, ``log.txt``,
  ``metrics.jsonl``, ``latest.pkl``, ``iter_*.pkl``) is refused with one line offering ``--resume``
  (continue it) or ``--force``.
* ``--force`` moves everything of the previous run into ``<work dir>/run_<YYYYmmdd-HHMMSS>/`` (earlier
  archives stay where they are) and starts afresh: a new run never deletes another run's files.
* ``--resume`` continues the run from ``latest.pkl`` (falling back, with a warning, to the newest
  readable checkpoint when it is truncated); ``--resume CKPT`` from that file. ``metrics.jsonl``
  loses the rows logged after the checkpoint, so the resumed run does not write them twice.
* Temporary files a killed run left mid-write (``.iter_*.pkl.tmp-<pid>``) are removed at the start.
"""
from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

from .checkpoint import LATEST, atomic_write_bytes, checkpoint_iteration, clean_partial_files, list_checkpoints

__all__ = ["WorkDirError", "describe_run", "archive_run", "prepare_work_dir", "truncate_metrics",
           "RUN_FILES", "ARCHIVE_PATTERN"]

RUN_FILES = ("config.py", "log.txt", "metrics.jsonl", LATEST)
ARCHIVE_PATTERN = re.compile(r"^run_\d{8}-\d{6}(?:_\d+)?$")


class WorkDirError(ValueError):
    """The work dir cannot be used as asked; the message says what to do instead."""


def describe_run(work_dir: str | os.PathLike) -> str | None:
    """A short description of the run ``work_dir`` holds, or None when it holds none."""
    work_dir = Path(work_dir)
    if not work_dir.is_dir():
        return None
    ckpts = list_checkpoints(work_dir)
    present = [n for n in RUN_FILES if (work_dir / n).exists() or (work_dir / n).is_symlink()]
    if not ckpts and not present:
        return None
    if ckpts:
        return f"checkpoints up to iteration {checkpoint_iteration(ckpts[-1])}"
    return f"{', '.join(present)}, no checkpoint"


def archive_run(work_dir: str | os.PathLike) -> Path:
    """Move the run in ``work_dir`` (everything but earlier archives) into ``run_<time>/``."""
    work_dir = Path(work_dir)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    dest = work_dir / f"run_{stamp}"
    k = 1
    while dest.exists():
        dest = work_dir / f"run_{stamp}_{k}"
        k += 1
    entries = [p for p in work_dir.iterdir() if not ARCHIVE_PATTERN.match(p.name)]
    dest.mkdir()
    for p in entries:
        os.replace(p, dest / p.name)  # latest.pkl is a relative link: it still points at its checkpoint
    return dest


def prepare_work_dir(work_dir: str | os.PathLike, resume=None, force: bool = False,
                     is_main: bool = True) -> Path | None:
    """Check (and with ``force`` archive) ``work_dir`` before a run; returns the archive folder if one
    was made. ``resume``: None/False (new run), True (the work dir's latest checkpoint) or a path."""
    work_dir = Path(work_dir)
    if resume and force:
        raise WorkDirError("--resume continues the run in the work dir and --force starts a new one; give one")
    existing = describe_run(work_dir)
    if resume:
        if resume is not True and existing:
            outside = Path(resume).resolve().parent != work_dir.resolve()
            if outside:
                raise WorkDirError(f"work dir {work_dir} holds another run ({existing}); resuming {resume} there "
                                   "would mix two runs: pick an empty --work-dir, or --resume without a path")
    elif existing:
        if not force:
            raise WorkDirError(f"work dir {work_dir} already holds a run ({existing}): continue it with --resume, "
                               f"or start a new one with --force (the previous run's files move to "
                               f"{work_dir}/run_<date-time>/), or choose another --work-dir")
        if is_main:
            return archive_run(work_dir)
    if is_main:
        clean_partial_files(work_dir)
    return None


def truncate_metrics(path: str | os.PathLike, iteration: int) -> int:
    """Drop the records of ``metrics.jsonl`` logged after ``iteration``; returns how many were dropped."""
    path = Path(path)
    if not path.is_file():
        return 0
    keep, dropped = [], 0
    for line in path.read_text().splitlines():
        try:
            it = json.loads(line).get("iter", 0)
        except ValueError:
            it = None  # a line cut by a crash
        if it is not None and it <= iteration:
            keep.append(line)
        else:
            dropped += 1
    if dropped:
        atomic_write_bytes(path, ("\n".join(keep) + ("\n" if keep else "")).encode())
    return dropped
