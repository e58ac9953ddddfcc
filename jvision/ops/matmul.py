"""Batched matrix product with transpose flags: ``op(a[i]) @ op(b[i])`` for ``a [B, ., .]``,
``b [B, ., .]``, ``op(m) = m^T`` when the flag is set.

Why: Jittor lowers a 3-D ``nn.bmm`` on CPU to one broadcast-multiply-reduce loop on one thread,
and an explicit ``transpose`` first copies the whole operand (the NMF of SegNeXt's head
transposes its ``[B, D, H*W]`` input twice per iteration this way). On the ``kernel`` backend
with oneDNN (CPU, float32) each batch entry here is one ``mkl_matmul`` with the transposes passed
as flags (multi-threaded, no copy), forward and backward. Other backends: ``nn.bmm`` of the
transposed operands.
"""
from __future__ import annotations

import jittor as jt
from jittor import nn

from . import _cpu

__all__ = ["batched_matmul"]


def _mkl():
    ops = getattr(jt.compile_extern, "mkl_ops", None)
    return getattr(ops, "mkl_matmul", None)


def gemm_kernel_runs(impl: str | None, *tensors) -> bool:
    """Whether a product op (matmul, 1x1 / im2col convolution, linear layer, attention) runs our
    sgemm-based CPU kernel: the ``kernel`` backend, or ``impl="kernel"`` forcing it, with oneDNN's
    sgemm loaded, and (unless forced) CPU float32 inputs (``None`` entries skipped)."""
    name = impl or _cpu.backend_name()
    return name == "kernel" and _mkl() is not None and (impl == "kernel" or _cpu.kernel_applies(*tensors))


def _per_batch(mm, a, b, ta: bool, tb: bool):
    outs = [mm(a[i], b[i], ta, tb) for i in range(a.shape[0])]
    return outs[0].unsqueeze(0) if len(outs) == 1 else jt.stack(outs)


class _BatchedMatmulMkl(jt.Function):
    def __init__(self, trans_a: bool, trans_b: bool):
        self.ta, self.tb = bool(trans_a), bool(trans_b)

    def execute(self, a, b):
        self.a, self.b = a, b
        return _per_batch(_mkl(), a, b, self.ta, self.tb)

    def grad(self, g):
        if g is None:
            return None, None
        a, b, ta, tb, mm = self.a, self.b, self.ta, self.tb, _mkl()
        # C = op(A) op(B):  d op(A) = G op(B)^T,  d op(B) = op(A)^T G, transposed back when flagged
        da = _per_batch(mm, b, g, tb, True) if ta else _per_batch(mm, g, b, False, not tb)
        db = _per_batch(mm, g, a, True, ta) if tb else _per_batch(mm, a, g, not ta, False)
        return da, db


def batched_matmul(a, b, trans_a: bool = False, trans_b: bool = False, impl: str | None = None):
    """``op(a) @ op(b)`` batch by batch (see the module docstring); ``impl`` forces ``"kernel"`` or
    ``"reference"``."""
    if len(a.shape) != 3 or len(b.shape) != 3 or a.shape[0] != b.shape[0]:
        raise ValueError(f"batched_matmul: 'a' and 'b' must be [B, ., .] with the same B, got {list(a.shape)} "
                         f"and {list(b.shape)}")
    k_a = a.shape[1] if trans_a else a.shape[2]
    k_b = b.shape[2] if trans_b else b.shape[1]
    if k_a != k_b:
        raise ValueError(f"batched_matmul: inner sizes differ ({k_a} vs {k_b}) for a {list(a.shape)} "
                         f"(trans_a={trans_a}) and b {list(b.shape)} (trans_b={trans_b})")
    if gemm_kernel_runs(impl, a, b):
        return _BatchedMatmulMkl(trans_a, trans_b)(a, b)
    if trans_a:
        a = a.transpose(0, 2, 1)
    if trans_b:
        b = b.transpose(0, 2, 1)
    return nn.bmm(a, b)
