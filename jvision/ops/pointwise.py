"""1x1 convolutions (stride 1, no padding, one group) as matrix products, and a ``Conv2d`` layer
that runs its 1x1 case through them.

Why: the 1x1 convolutions are most of the arithmetic of VAN, MSCAN/SegNeXt and Conv2Former (the
MLPs and the attention projections). Jittor hands them to oneDNN's convolution, which on NCHW
maps reorders the input and output into its blocked layout around every call and reaches 25-60
GMAC/s on this machine's two cores; the same product as one sgemm per sample, ``Y[n] (D x S) =
W (D x C) . X[n] (C x S)``, reads NCHW as it lies and reaches 60-75 (``kernels/pointwise_*.cc``,
forward and backward, on the ``kernel`` backend with oneDNN, CPU, float32). Other backends, and
``reference``: Jittor's convolution.

:class:`Conv2d` is ``jittor.nn.Conv2d`` (same parameters and names, ``weight [D, C, kh, kw]``,
``bias [D]``, so checkpoints load by name and ``isinstance(m, nn.Conv2d)`` holds) whose 1x1 case
calls :func:`pointwise_conv2d`; every other configuration is Jittor's. :func:`conv_gelu` runs
``GELU(conv(x))`` with the GELU applied per sample right after its product (the MLPs and attention
inputs of VAN, MSCAN and Conv2Former); the forward keeps the pre-activation for the backward only
when gradients are on.
"""
from __future__ import annotations

import jittor as jt
from jittor import nn

from . import _cpu
from .activation import gelu as _gelu
from .matmul import _mkl

__all__ = ["pointwise_conv2d", "conv_gelu", "Conv2d"]


def _header(bias: bool, gelu: bool = False, keep_pre: bool = False) -> str:
    return _cpu.header("gemm_cpu.h", BIAS=bias, GELU=gelu, KEEP_PRE=keep_pre)


class _PointwiseKernel(jt.Function):
    def __init__(self, gelu: bool = False):
        self.gelu = bool(gelu)

    def execute(self, x, weight, bias=None):
        n, c, h, w = x.shape
        d = weight.shape[0]
        self.shape = (n, c, h, w)
        self.x, self.w, self.has_bias = x.reshape(n, c, h * w), weight.reshape(d, c), bias is not None
        inputs = [self.x, self.w] + ([bias] if self.has_bias else [])
        keep_pre = self.gelu and not jt.flags.no_grad     # GELU's backward needs its input
        shapes = [[n, d, h * w]] * (2 if keep_pre else 1)
        outs = jt.code(shapes, [x.dtype] * len(shapes), inputs, cpu_header=_header(self.has_bias, self.gelu, keep_pre),
                       cpu_src=_cpu.source("pointwise_fwd.cc"))
        self.pre = outs[1] if keep_pre else None
        return outs[0].reshape(n, d, h, w)

    def grad(self, g):
        if g is None:
            return (None,) * (3 if self.has_bias else 2)
        if self.gelu and self.pre is None:
            raise RuntimeError("pointwise_conv2d: the GELU's input was not kept (forward under jt.no_grad())")
        n, c, h, w = self.shape
        d = self.w.shape[0]
        shapes = [[n, c, h * w], [d, c]] + ([[d]] if self.has_bias else [])
        inputs = [self.x, self.w, g.reshape(n, d, h * w)] + ([self.pre] if self.gelu else [])
        outs = jt.code(shapes, [g.dtype] * len(shapes), inputs, cpu_header=_header(self.has_bias, self.gelu),
                       cpu_src=_cpu.source("pointwise_bwd.cc"))
        dx, dw = outs[0].reshape(n, c, h, w), outs[1].reshape(d, c, 1, 1)
        return (dx, dw, outs[2]) if self.has_bias else (dx, dw)


def _reference(x, weight, bias, gelu: bool):
    y = nn.conv2d(x, weight, bias)
    return _gelu(y, impl="reference") if gelu else y


def _check(x, weight, bias):
    if len(x.shape) != 4 or len(weight.shape) != 4 or tuple(weight.shape[2:]) != (1, 1) \
            or weight.shape[1] != x.shape[1]:
        raise ValueError(f"pointwise_conv2d: x must be [N, C, H, W] and weight [D, C, 1, 1], got x "
                         f"{list(x.shape)} and weight {list(weight.shape)}")
    if bias is not None and tuple(bias.shape) != (weight.shape[0],):
        raise ValueError(f"pointwise_conv2d: bias must be [{weight.shape[0]}], got {list(bias.shape)}")


def pointwise_conv2d(x, weight, bias=None, gelu: bool = False, impl: str | None = None):
    """1x1 convolution of ``x [N, C, H, W]`` with ``weight [D, C, 1, 1]`` and ``bias [D]`` (or
    None), followed by GELU (exact form) when ``gelu``; returns ``[N, D, H, W]``. ``impl`` forces
    ``"kernel"`` or ``"reference"``."""
    _check(x, weight, bias)
    name = impl or _cpu.backend_name()
    if name == "kernel" and _mkl() is not None and (impl == "kernel" or _cpu.kernel_applies(x, weight, bias)):
        op = _PointwiseKernel(gelu)
        return op(x, weight, bias) if bias is not None else op(x, weight)
    if name == "reference":
        return _reference(x, weight, bias, gelu)
    y = nn.conv2d(x, weight, bias)
    return _gelu(y) if gelu else y


def conv_gelu(conv, x):
    """``GELU(conv(x))`` for a ``Conv2d`` layer ``conv``, the two fused when ``conv`` is 1x1."""
    if isinstance(conv, Conv2d) and conv._is_pointwise():
        return pointwise_conv2d(x, conv.weight, conv.bias, gelu=True)
    return _gelu(conv(x))


class Conv2d(nn.Conv2d):
    """``jittor.nn.Conv2d`` whose 1x1 case (stride 1, no padding, one group) runs through
    :func:`pointwise_conv2d`; see the module docstring."""

    def _is_pointwise(self) -> bool:
        return (tuple(self.kernel_size) == (1, 1) and tuple(self.stride) == (1, 1)
                and tuple(self.padding) == (0, 0) and self.groups == 1)

    def execute(self, x):
        if self._is_pointwise():
            return pointwise_conv2d(x, self.weight, self.bias)
        return super().execute(x)
