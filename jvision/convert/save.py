"""Writing converted weights: ``.pth`` for PyTorch users, Jittor ``.pkl`` checkpoints, ``.npz``."""
from __future__ import annotations

import hashlib
import os
import pickle
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from .torch_file import write_torch_file

__all__ = ["save_state_dict", "jittor_pickle_bytes", "TORCH_SUFFIXES"]

TORCH_SUFFIXES = (".pth", ".pt", ".bin", ".tar")
_JITTOR_MAGIC = b"HCAJSLHD"


def _numpy_state(state: Mapping[str, Any]) -> dict[str, np.ndarray]:
    return {k: (v if isinstance(v, np.ndarray) else np.asarray(v.numpy())) for k, v in state.items()}


def jittor_pickle_bytes(obj: Any) -> bytes:
    """``obj`` in Jittor's ``jt.save`` layout: a pickle, its sha1 and the magic ``HCAJSLHD``. The
    checksum lets the reader tell a truncated or corrupted file from a good one; the restricted reader
    (``read_checkpoint_file``) reads it back without running code."""
    blob = pickle.dumps(obj, protocol=4)
    return blob + hashlib.sha1(blob).digest() + _JITTOR_MAGIC


def save_state_dict(state: Mapping[str, Any], path, meta: dict | None = None) -> Path:
    """Write ``state`` (key -> array or jt.Var) by the suffix of ``path``, atomically.

    * ``.pth`` / ``.pt`` / ``.bin`` / ``.pth.tar``: a plain state dict in ``torch.save``'s zip layout;
    * ``.pkl``: the project's checkpoint layout ``{"model": state, "meta": meta}`` in Jittor's
      ``jt.save`` format (pickle + sha1 + magic), readable by ``jt.load`` and ``load_checkpoint``;
    * ``.npz``: one array per key.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = _numpy_state(state)
    if path.name.endswith(TORCH_SUFFIXES):
        return write_torch_file(state, path)
    tmp = path.with_name(path.name + ".tmp")
    if path.suffix == ".npz":
        with open(tmp, "wb") as f:
            np.savez(f, **state)
    elif path.suffix == ".pkl":
        with open(tmp, "wb") as f:
            f.write(jittor_pickle_bytes({"model": state, "meta": dict(meta or {})}))
    else:
        raise ValueError(f"{path}: unknown output format; use .pth, .pkl or .npz")
    os.replace(tmp, path)
    return path
