"""Scaled dot-product attention: ``softmax(q k^T * scale) v`` over ``[B, N, D]`` batch entries.

Why an op of its own: the composition runs as four graph ops per layer (two batched products, the
softmax, its backward) of which Jittor's softmax and its gradient are single-threaded
reduce-broadcast loops over the ``[B, N, M]`` weights, and each product one ``mkl_matmul`` per
batch entry. On the ``kernel`` backend with oneDNN (CPU, float32), ``kernels/sdpa_fwd.cc`` does an
entry's two products and softmax in one OpenMP task (oneDNN's sgemm, single-threaded inside it),
``kernels/sdpa_bwd.cc`` its four gradient products and the softmax gradient. The forward keeps the
probabilities ``[B, N, M]`` for the backward, as the composition does. Other backends, and
``reference``: the composition with :func:`jvision.ops.batched_matmul` and ``nn.softmax``.
Dropout on the weights is not part of the op (``jvision.models.vit.attend`` composes when it is on).
"""
from __future__ import annotations

import jittor as jt
from jittor import nn

from . import _cpu
from .matmul import batched_matmul, gemm_kernel_runs

__all__ = ["scaled_dot_product_attention", "packed_self_attention"]


def _header(key_bias: bool = False, packed: bool = False) -> str:
    return _cpu.header("gemm_cpu.h", "sdpa_cpu.h", KEY_BIAS=key_bias, PACKED=packed)


class _SdpaKernel(jt.Function):
    def __init__(self, scale: float):
        self.scale = float(scale)

    def execute(self, q, k, v, key_bias=None):
        b, n, d = q.shape
        m = k.shape[1]
        inputs = [q, k, v] + ([key_bias] if key_bias is not None else [])
        repeat = b // key_bias.shape[0] if key_bias is not None else 1
        o, p = jt.code([[b, n, d], [b, n, m]], [q.dtype, q.dtype], inputs,
                       data={"scale": self.scale, "repeat": repeat}, cpu_header=_header(key_bias is not None),
                       cpu_src=_cpu.source("sdpa_fwd.cc"))
        self.has_bias = key_bias is not None
        self.saved = (q, k, v, p)
        return o

    def grad(self, g):
        if g is None:
            return (None,) * (4 if self.has_bias else 3)
        q, k, v, p = self.saved
        dq, dk, dv = jt.code([q.shape, k.shape, v.shape], [q.dtype] * 3, [q, k, v, p, g],
                             data={"scale": self.scale}, cpu_header=_header(), cpu_src=_cpu.source("sdpa_bwd.cc"))
        return (dq, dk, dv, None) if self.has_bias else (dq, dk, dv)


class _PackedSdpaKernel(jt.Function):
    """Self-attention on a ``[S, N, 3 H d]`` qkv projection, output ``[S, N, H d]`` (kernels'
    packed layout: the products read the heads in place)."""

    def __init__(self, heads: int, scale: float):
        self.heads, self.scale = int(heads), float(scale)

    def execute(self, qkv):
        s, n, c3 = qkv.shape
        o, p = jt.code([[s, n, c3 // 3], [s * self.heads, n, n]], [qkv.dtype] * 2, [qkv],
                       data={"scale": self.scale, "heads": self.heads}, cpu_header=_header(packed=True),
                       cpu_src=_cpu.source("sdpa_fwd.cc"))
        self.saved = (qkv, p)
        return o

    def grad(self, g):
        if g is None:
            return None
        qkv, p = self.saved
        return jt.code(qkv.shape, qkv.dtype, [qkv, p, g], data={"scale": self.scale, "heads": self.heads},
                       cpu_header=_header(packed=True), cpu_src=_cpu.source("sdpa_bwd.cc"))


def _reference(q, k, v, scale: float, key_bias=None):
    scores = batched_matmul(q, k, trans_b=True) * scale
    if key_bias is not None:
        r = q.shape[0] // key_bias.shape[0]
        scores = (scores.reshape(key_bias.shape[0], r, q.shape[1], k.shape[1])
                  + key_bias.reshape(key_bias.shape[0], 1, 1, k.shape[1])).reshape(scores.shape)
    return batched_matmul(nn.softmax(scores, dim=-1), v)


def scaled_dot_product_attention(q, k, v, scale: float = 1.0, key_bias=None, impl: str | None = None):
    """``softmax(q k^T * scale + key_bias) v`` for ``q [B, N, D]``, ``k, v [B, M, D]``; returns
    ``[B, N, D]``. ``key_bias [B / R, M]`` (optional, no gradient: a mask) is added to the scores of
    every query of entries ``j * R .. j * R + R - 1`` (e.g. the R heads of window ``j``). ``impl``
    forces ``"kernel"`` or ``"reference"``."""
    if len(q.shape) != 3 or len(k.shape) != 3 or len(v.shape) != 3:
        raise ValueError(f"scaled_dot_product_attention: q, k, v must be [B, N, D], got {list(q.shape)}, "
                         f"{list(k.shape)}, {list(v.shape)}")
    if q.shape[0] != k.shape[0] or k.shape != v.shape or q.shape[2] != k.shape[2]:
        raise ValueError(f"scaled_dot_product_attention: q {list(q.shape)}, k {list(k.shape)} and v "
                         f"{list(v.shape)} do not match (q [B, N, D], k and v [B, M, D])")
    if key_bias is not None and (len(key_bias.shape) != 2 or key_bias.shape[1] != k.shape[1]
                                 or q.shape[0] % key_bias.shape[0]):
        raise ValueError(f"scaled_dot_product_attention: key_bias must be [B / R, M] with B = {q.shape[0]}, "
                         f"M = {k.shape[1]}, got {list(key_bias.shape)}")
    if key_bias is not None:
        key_bias = key_bias.stop_grad()
    if gemm_kernel_runs(impl, q, k, v, key_bias):
        op = _SdpaKernel(scale)
        return op(q, k, v, key_bias) if key_bias is not None else op(q, k, v)
    return _reference(q, k, v, scale, key_bias)


def packed_self_attention(qkv, num_heads: int, scale: float = 1.0, impl: str | None = None):
    """Multi-head self-attention on a fused projection: ``qkv [S, N, 3 C]`` holds the queries, keys
    and values side by side, each ``[num_heads, C / num_heads]`` (the layout of ViT's ``qkv``
    linear layer); returns the heads' outputs ``[S, N, C]``, heads-major, as the output projection
    reads them. Equal to splitting, permuting to ``[S * heads, N, d]``,
    :func:`scaled_dot_product_attention` and permuting back, which is what the ``reference`` and
    other backends do; the kernel reads and writes those layouts in place (no transposes, forward
    or backward)."""
    if len(qkv.shape) != 3 or qkv.shape[2] % (3 * num_heads):
        raise ValueError(f"packed_self_attention: qkv must be [S, N, 3 * C] with C divisible by num_heads="
                         f"{num_heads}, got {list(qkv.shape)}")
    s, n, c3 = qkv.shape
    c = c3 // 3
    if gemm_kernel_runs(impl, qkv):
        return _PackedSdpaKernel(num_heads, scale)(qkv)
    d = c // num_heads
    qkv = qkv.reshape(s, n, 3, num_heads, d).permute(2, 0, 3, 1, 4).reshape(3, s * num_heads, n, d)
    out = scaled_dot_product_attention(qkv[0], qkv[1], qkv[2], scale, impl=impl)
    return out.reshape(s, num_heads, n, d).permute(0, 2, 1, 3).reshape(s, n, c)
