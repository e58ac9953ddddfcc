"""Collective operations over Jittor's MPI processes that models may use (``jvision.engine.dist``
holds the trainer's helpers; models do not import the engine).

With one process every function is the identity, so a model never branches on the world size.
"""
from __future__ import annotations

import numpy as np
import jittor as jt

__all__ = ["rank", "world_size", "all_gather"]


def rank() -> int:
    return int(jt.rank) if jt.in_mpi else 0


def world_size() -> int:
    return int(jt.world_size) if jt.in_mpi else 1


def all_gather(x: jt.Var) -> jt.Var:
    """``x`` of every rank concatenated along dim 0 in rank order, without gradient (a gathered
    tensor serves as negatives / targets, as ``concat_all_gather`` in MoCo-style code).

    Every rank must call it with the same shape; a different batch on some rank raises on all ranks
    (the sizes are exchanged first) instead of hanging.
    """
    x = x.detach()
    world = world_size()
    if world == 1:
        return x
    me, b = rank(), int(x.shape[0])
    sizes = np.zeros(world, np.float64)
    sizes[me] = b
    sizes = jt.array(sizes).mpi_all_reduce("add").numpy()
    if (sizes != b).any():
        raise ValueError(f"all_gather: the ranks hold different batch sizes {sizes.astype(int).tolist()}; "
                         "every rank must gather the same shape")
    parts = [x if r == me else jt.zeros(x.shape, x.dtype) for r in range(world)]
    return jt.concat(parts, dim=0).mpi_all_reduce("add").detach()
