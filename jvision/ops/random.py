"""Per-sample randomness keyed by the global sample index, so data parallelism does not change it.

Dropout, stochastic depth, MAE's token noise and the NMF bases of SegNeXt's head draw random
numbers per sample. Drawn from a per-process generator, rank 1 of ``mpirun -np 2`` gets other masks
for its half of the batch than one process gets for the same samples, and the two runs part ways.
Here a draw is a pure function of (run seed, iteration, call number, global sample index, element):

    u[row, j] = hash(key(seed, iteration, call), offset + row, j)      in [0, 1)

where ``offset`` is the global index of this rank's first sample in the iteration (the trainer
sets it: ``micro_batch * global_batch + rank * local_batch``) and ``call`` counts the draws since the
context was entered (every rank runs the same code, so the same layer gets the same call number).
One process with the whole batch and N ranks with a slice each therefore draw the same numbers for
every sample, and gradient accumulation over micro-batches draws what one large batch draws.

The hash is a 32-bit integer mixer (lowbias32) evaluated with Jittor element-wise ops, on the
device, for this rank's rows only: no transfer, no global tensor. Outside a context (a forward pass
outside the trainer, a notebook) ``sample_uniform`` is plain ``jt.rand``.

``sample_uniform_numpy`` is the same function in NumPy (tests, and callers that need host arrays).
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np

import jittor as jt

__all__ = ["sample_context", "sample_uniform", "sample_uniform_numpy", "current_context", "SampleContext"]

_MASK32 = 0xFFFFFFFF


@dataclass
class SampleContext:
    """Where the current forward pass sits in the run (see the module docstring)."""

    seed: int
    iteration: int
    offset: int
    calls: int = 0

    def next_key(self) -> int:
        key = int(np.random.SeedSequence([self.seed % 2 ** 32, self.iteration, self.calls]).generate_state(1)[0])
        self.calls += 1
        return key


_CONTEXT: SampleContext | None = None


@contextlib.contextmanager
def sample_context(seed: int, iteration: int, offset: int) -> Iterator[SampleContext]:
    """Key the draws of the enclosed forward pass by (seed, iteration, offset + row)."""
    global _CONTEXT
    previous = _CONTEXT
    _CONTEXT = SampleContext(int(seed), int(iteration), int(offset))
    try:
        yield _CONTEXT
    finally:
        _CONTEXT = previous


def current_context() -> SampleContext | None:
    return _CONTEXT


# -- the hash, in Jittor (int64 arithmetic on 32-bit values: no signed overflow) -----------------
def _const(value: int) -> jt.Var:
    return jt.array64(np.array(value, dtype=np.int64))


def _mul32(h: jt.Var, c: int) -> jt.Var:
    # (h * c) mod 2**32 in 16-bit halves, so no product exceeds 2**48
    lo, hi = c & 0xFFFF, c >> 16
    return (h * _const(lo) + ((h * _const(hi)) & _const(0xFFFF)) * _const(1 << 16)) & _const(_MASK32)


def _mix(h: jt.Var) -> jt.Var:
    h = h ^ (h >> _const(16))
    h = _mul32(h, 0x7FEB352D)
    h = h ^ (h >> _const(15))
    h = _mul32(h, 0x846CA68B)
    return h ^ (h >> _const(16))


def _keyed_uniform(shape: Sequence[int], key: int, offset: int) -> jt.Var:
    rows = int(shape[0])
    per_row = int(np.prod(shape[1:])) if len(shape) > 1 else 1
    flat = (rows, per_row)
    row = jt.index(flat, 0).int64() + _const(offset)
    col = jt.index(flat, 1).int64()
    h = _mix(_mix(row ^ _const(_mix_int(key))) ^ col)
    u = (h >> _const(8)).float32() * (1.0 / (1 << 24))
    return u.reshape(tuple(int(s) for s in shape)).stop_grad()


def sample_uniform(shape: Sequence[int], dtype: str = "float32") -> jt.Var:
    """Uniform ``[0, 1)`` of ``shape``; row ``i`` (dim 0) belongs to sample ``offset + i``."""
    shape = tuple(int(s) for s in shape)
    if not shape:
        raise ValueError("sample_uniform needs a shape whose first dimension is the batch")
    ctx = _CONTEXT
    if ctx is None:
        out = jt.rand(shape, dtype="float32")
    else:
        out = _keyed_uniform(shape, ctx.next_key(), ctx.offset)
    return out if dtype == "float32" else out.cast(dtype)


# -- the same function in NumPy ------------------------------------------------------------------
def _mix_int(h):
    """lowbias32 on Python ints or uint64 arrays (values < 2**32)."""
    if isinstance(h, np.ndarray):
        h = h.astype(np.uint64)
        m, s16, s15 = np.uint64(_MASK32), np.uint64(16), np.uint64(15)
        h ^= h >> s16
        h = (h * np.uint64(0x7FEB352D)) & m
        h ^= h >> s15
        h = (h * np.uint64(0x846CA68B)) & m
        return h ^ (h >> s16)
    h = int(h)
    h ^= h >> 16
    h = (h * 0x7FEB352D) & _MASK32
    h ^= h >> 15
    h = (h * 0x846CA68B) & _MASK32
    return h ^ (h >> 16)


def sample_uniform_numpy(shape: Sequence[int], seed: int, iteration: int, call: int, offset: int) -> np.ndarray:
    """What ``sample_uniform(shape)`` returns as call number ``call`` of ``sample_context(seed,
    iteration, offset)``."""
    shape = tuple(int(s) for s in shape)
    key = int(np.random.SeedSequence([int(seed) % 2 ** 32, int(iteration), int(call)]).generate_state(1)[0])
    per_row = int(np.prod(shape[1:])) if len(shape) > 1 else 1
    row = np.arange(shape[0], dtype=np.uint64)[:, None] + np.uint64(offset)
    col = np.arange(per_row, dtype=np.uint64)[None, :]
    h = _mix_int(_mix_int(row ^ np.uint64(_mix_int(key))) ^ col)
    return ((h >> np.uint64(8)).astype(np.float32) * np.float32(1.0 / (1 << 24))).reshape(shape)
