"""Convolutions as matrix products on NCHW maps: 1x1 convolutions (stride 1, no padding, one group),
strided convolutions through im2col, and a ``Conv2d`` layer that runs those cases through them.

Why: the 1x1 convolutions are most of the arithmetic of VAN, MSCAN/SegNeXt and Conv2Former (the
MLPs and the attention projections). Jittor hands them to oneDNN's convolution, which on NCHW
maps reorders the input and output into its blocked layout around every call and reaches 25-60
GMAC/s on this machine's two cores; the same product as one sgemm per sample, ``Y[n] (D x S) =
W (D x C) . X[n] (C x S)``, reads NCHW as it lies and reaches 60-75 (``kernels/pointwise_*.cc``,
forward and backward, on the ``kernel`` backend with oneDNN, CPU, float32). Other backends, and
``reference``: Jittor's convolution.

Strided convolutions (patch embeddings, stems, downsampling layers): oneDNN's reorders cost more
than their arithmetic there, so :func:`conv2d_im2col` gathers each sample's columns into a
per-thread buffer and runs one sgemm (``kernels/conv_*.cc``; the backward recomputes the columns
and scatters the input gradient back), 2-4x faster than Jittor's convolution on the 2x2 stride-2
downsampling and stride-2 stems measured here. Stride-1 kxk convolutions stay oneDNN's, which is
as fast or faster there.

:class:`Conv2d` is ``jittor.nn.Conv2d`` (same parameters and names, ``weight [D, C, kh, kw]``,
``bias [D]``, so checkpoints load by name and ``isinstance(m, nn.Conv2d)`` holds) whose 1x1 case
calls :func:`pointwise_conv2d` and whose strided one-group case :func:`conv2d_im2col`; every other
configuration is Jittor's. :func:`conv_gelu` runs
``GELU(conv(x))`` with the GELU applied per sample right after its product (the MLPs and attention
inputs of VAN, MSCAN and Conv2Former); the forward keeps the pre-activation for the backward only
when gradients are on. :func:`conv_residual` runs ``residual + scale * conv(x)``, the layer-scaled
end of a block's branch, in the product's pass when no gradient is needed (Conv2Former's blocks at
inference, through ``jvision.models.layers.add_scaled_branch_of``).
"""
from __future__ import annotations

import jittor as jt
from jittor import nn

from . import _cpu
from .activation import gelu as _gelu
from .dwconv import needs_grad
from .matmul import gemm_kernel_runs
from .residual import scaled_residual

__all__ = ["pointwise_conv2d", "conv2d_im2col", "conv_gelu", "conv_residual", "Conv2d"]


def _header(bias: bool, gelu: bool = False, keep_pre: bool = False, **extra) -> str:
    return _cpu.header("gemm_cpu.h", BIAS=bias, GELU=gelu, KEEP_PRE=keep_pre, **extra)


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


def _fused_residual(x, weight, bias, gelu: bool, residual, scale):
    """``residual + scale * act(conv(x))`` as one forward-only kernel call (no gradient needed)."""
    n, c, h, w = x.shape
    d = weight.shape[0]
    inputs = [x.reshape(n, c, h * w), weight.reshape(d, c)] + ([bias] if bias is not None else [])
    res_in = len(inputs)
    inputs.append(residual.reshape(n, d, h * w))
    if scale is not None:
        inputs.append(scale)
    header = _header(bias is not None, gelu, RESIDUAL=True, RES_IN=res_in, SCALE=scale is not None,
                     SCALE_IN=res_in + 1)
    y = jt.code([n, d, h * w], x.dtype, inputs, cpu_header=header, cpu_src=_cpu.source("pointwise_fwd.cc"))
    return y.reshape(n, d, h, w)


def pointwise_conv2d(x, weight, bias=None, gelu: bool = False, impl: str | None = None,
                     residual=None, scale=None):
    """1x1 convolution of ``x [N, C, H, W]`` with ``weight [D, C, 1, 1]`` and ``bias [D]`` (or
    None), followed by GELU (exact form) when ``gelu``; returns ``[N, D, H, W]``. With ``residual``
    ``[N, D, H, W]`` (and ``scale [D]``) it returns ``residual + scale * that``, the layer-scaled
    residual of a block's last projection: in the same pass on the kernel backend when no gradient
    is needed (inference), else as :func:`jvision.ops.scaled_residual` after the product.
    ``impl`` forces ``"kernel"`` or ``"reference"``."""
    _check(x, weight, bias)
    if residual is not None:
        want = [x.shape[0], weight.shape[0], *x.shape[2:]]
        if list(residual.shape) != want or (scale is not None and list(scale.shape) != [weight.shape[0]]):
            raise ValueError(f"pointwise_conv2d: residual must be {want} and scale [{weight.shape[0]}], got "
                             f"{list(residual.shape)} and {None if scale is None else list(scale.shape)}")
        tensors = (x, weight, bias, residual, scale)
        if gemm_kernel_runs(impl, *tensors) and not needs_grad(*tensors):
            return _fused_residual(x, weight, bias, gelu, residual, scale)
        return scaled_residual(residual, pointwise_conv2d(x, weight, bias, gelu, impl), scale, impl=impl)
    name = impl or _cpu.backend_name()
    if gemm_kernel_runs(impl, x, weight, bias):
        op = _PointwiseKernel(gelu)
        return op(x, weight, bias) if bias is not None else op(x, weight)
    if name == "reference":
        return _reference(x, weight, bias, gelu)
    y = nn.conv2d(x, weight, bias)
    return _gelu(y) if gelu else y


def _im2col_header(kernel, stride, padding, dilation, bias: bool, need_dx: bool = False) -> str:
    return _cpu.header("gemm_cpu.h", KH=kernel[0], KW=kernel[1], SH=stride[0], SW=stride[1], PH=padding[0],
                       PW=padding[1], DH=dilation[0], DW=dilation[1], BIAS=bias, NEED_DX=need_dx)


class _Im2colKernel(jt.Function):
    def __init__(self, stride, padding, dilation, need_dx: bool):
        self.geom = (tuple(stride), tuple(padding), tuple(dilation))
        self.need_dx = need_dx      # decided by the caller: execute sees detached inputs

    def execute(self, x, weight, bias=None):
        (sh, sw), (ph, pw), (dh, dw) = self.geom
        n, _, h, w = x.shape
        kh, kw = weight.shape[2], weight.shape[3]
        oh = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
        ow = (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
        self.x, self.w, self.has_bias = x, weight, bias is not None
        inputs = [x, weight] + ([bias] if self.has_bias else [])
        return jt.code([n, weight.shape[0], oh, ow], x.dtype, inputs,
                       cpu_header=_im2col_header((kh, kw), *self.geom, self.has_bias),
                       cpu_src=_cpu.source("conv_fwd.cc"))

    def grad(self, g):
        if g is None:
            return (None,) * (3 if self.has_bias else 2)
        need_dx = self.need_dx
        shapes = [list(self.w.shape)] + ([[self.w.shape[0]]] if self.has_bias else []) \
            + ([list(self.x.shape)] if need_dx else [])
        outs = jt.code(shapes, [g.dtype] * len(shapes), [self.x, self.w, g],
                       cpu_header=_im2col_header(tuple(self.w.shape[2:]), *self.geom, self.has_bias, need_dx),
                       cpu_src=_cpu.source("conv_bwd.cc"))
        dw, rest = outs[0], list(outs[1:])
        db = rest.pop(0) if self.has_bias else None
        dx = rest.pop(0) if need_dx else None
        return (dx, dw, db) if self.has_bias else (dx, dw)


def conv2d_im2col(x, weight, bias=None, stride=1, padding=0, dilation=1, impl: str | None = None):
    """One-group convolution of ``x [N, C, H, W]`` with ``weight [D, C, kh, kw]`` as im2col + one
    sgemm per sample (see the module docstring); ``impl`` forces ``"kernel"`` or ``"reference"``
    (Jittor's convolution)."""
    stride, padding, dilation = (_pair(v) for v in (stride, padding, dilation))
    if len(x.shape) != 4 or len(weight.shape) != 4 or weight.shape[1] != x.shape[1]:
        raise ValueError(f"conv2d_im2col: x must be [N, C, H, W] and weight [D, C, kh, kw], got x {list(x.shape)} "
                         f"and weight {list(weight.shape)}")
    if bias is not None and tuple(bias.shape) != (weight.shape[0],):
        raise ValueError(f"conv2d_im2col: bias must be [{weight.shape[0]}], got {list(bias.shape)}")
    if gemm_kernel_runs(impl, x, weight, bias):
        op = _Im2colKernel(stride, padding, dilation, need_dx=not x.is_stop_grad())
        return op(x, weight, bias) if bias is not None else op(x, weight)
    return nn.conv2d(x, weight, bias, stride, padding, dilation)


def _pair(v) -> tuple:
    return (int(v), int(v)) if isinstance(v, int) else tuple(int(i) for i in v)


def conv_residual(conv, x, residual, scale=None):
    """``residual + scale * conv(x)`` for a ``Conv2d`` layer ``conv`` (``scale [D]`` or None), one
    pass when ``conv`` is 1x1 and no gradient is needed (see :func:`pointwise_conv2d`)."""
    if isinstance(conv, Conv2d) and conv._is_pointwise():
        return pointwise_conv2d(x, conv.weight, conv.bias, residual=residual, scale=scale)
    return scaled_residual(residual, conv(x), scale)


def conv_gelu(conv, x):
    """``GELU(conv(x))`` for a ``Conv2d`` layer ``conv``, the two fused when ``conv`` is 1x1."""
    if isinstance(conv, Conv2d) and conv._is_pointwise():
        return pointwise_conv2d(x, conv.weight, conv.bias, gelu=True)
    return _gelu(conv(x))


class Conv2d(nn.Conv2d):
    """``jittor.nn.Conv2d`` whose 1x1 case (stride 1, no padding, one group) runs through
    :func:`pointwise_conv2d` and whose strided one-group case through :func:`conv2d_im2col`; see
    the module docstring."""

    def _is_pointwise(self) -> bool:
        return (tuple(self.kernel_size) == (1, 1) and tuple(self.stride) == (1, 1)
                and tuple(self.padding) == (0, 0) and self.groups == 1)

    def execute(self, x):
        if self._is_pointwise():
            return pointwise_conv2d(x, self.weight, self.bias)
        if self.groups == 1 and max(self.stride) > 1:
            return conv2d_im2col(x, self.weight, self.bias, self.stride, self.padding, self.dilation)
        return super().execute(x)
