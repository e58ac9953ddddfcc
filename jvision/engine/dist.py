"""Distributed helpers over Jittor's MPI support (``mpirun -np N python tools/train.py CONFIG``).

With one process every function is the identity, so callers never branch on the world size.
"""
from __future__ import annotations

import numpy as np

import jittor as jt


def is_distributed() -> bool:
    return bool(jt.in_mpi) and jt.world_size > 1


def get_rank() -> int:
    return int(jt.rank) if jt.in_mpi else 0


def get_world_size() -> int:
    return int(jt.world_size) if jt.in_mpi else 1


def is_main_process() -> bool:
    return get_rank() == 0


def all_reduce(array, op: str = "sum") -> np.ndarray:
    """Reduce a numpy array (or number) over ranks; ``op`` is 'sum' or 'mean'. Returns numpy."""
    arr = np.asarray(array)
    if not is_distributed():
        return arr.copy()
    if op not in ("sum", "mean"):
        raise ValueError(f"all_reduce op must be 'sum' or 'mean', got {op!r}")
    dtype = arr.dtype
    # In float64, integer counts are exact up to 2**53 (confusion matrices of whole datasets, sample
    # counts); jt.array would turn float64 into float32, exact only up to 2**24.
    var = jt.array64(arr.astype(np.float64))
    out = var.mpi_all_reduce("add" if op == "sum" else "mean").numpy()
    return out.astype(dtype) if np.issubdtype(dtype, np.integer) and op == "sum" else out


def all_reduce_sum(array) -> np.ndarray:
    return all_reduce(array, "sum")


def broadcast_parameters(module, root: int = 0) -> None:
    """Make every rank start from rank ``root``'s weights (Jittor seeds each rank differently)."""
    if not is_distributed():
        return
    for p in module.state_dict().values():
        if isinstance(p, jt.Var):
            p.assign(p.mpi_broadcast(root))
    jt.sync_all()


def barrier() -> None:
    if is_distributed():
        jt.array([0.0]).mpi_all_reduce("add").sync()

