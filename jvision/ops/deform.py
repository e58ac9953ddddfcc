"""Modulated deformable convolution (DCNv2, Zhu et al., CVPR 2019) with mmcv's conventions.

:func:`modulated_deform_conv2d` has the argument order and semantics of
``mmcv.ops.modulated_deform_conv2d(input, offset, mask, weight, bias, stride, padding, dilation,
groups, deform_groups)``:

* ``offset`` ``[N, DG*2*kh*kw, OH, OW]`` is laid out per deform group, then per tap
  ``k = i*kw + j``, then ``(dy, dx)``; ``mask`` ``[N, DG*kh*kw, OH, OW]`` per group, then per tap
  (the op applies no sigmoid);
* tap ``k`` of output ``(oh, ow)`` samples the input bilinearly at
  ``y = oh*sh - ph + i*dh + dy``, ``x = ow*sw - pw + j*dw + dx``; a position with ``y <= -1``,
  ``y >= H``, ``x <= -1`` or ``x >= W`` reads 0, and each corner outside the image contributes 0;
* the sampled values times the mask are convolved with ``weight`` ``[O, C/groups, kh, kw]``.

Zero offsets and a unit mask give exactly ``conv2d(x, weight, bias, stride, padding, dilation,
groups)``.

Implementations, chosen by the ops backend switch of :mod:`jvision.ops` (``get_backend()``):

``reference`` (and ``builtin``: Jittor has no deformable convolution of its own)
    Jittor meta-operators: four ``reindex`` gathers (the corners, indices from the offsets) times
    the bilinear weights; autograd derives every gradient. The ground truth of the tests.
``kernel``
    Our modulated im2col and its exact backward as ``jt.code`` ops (``kernels/deform_cpu.h``,
    ``deform_im2col.cc``, ``deform_col2im.cc`` with OpenMP on CPU; ``deform_cuda.cu`` on CUDA,
    compiled in the tests but not yet run on a GPU).
    The columns are multiplied with the weight as a 1x1 convolution of the columns (one group: our
    ``pointwise_conv2d``, whose backward gives the weight and bias gradients) or batched products
    (several groups); the kernels give the gradients of the input, offset and mask.

Both accept float32 and float64 (the CUDA source also compiles for float16-free float types only).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

import jittor as jt
from jittor import nn

from . import _jtcode
from .conv import pointwise_conv2d
from .dwconv import ConvGeom, _pair, get_backend
from .matmul import batched_matmul

__all__ = ["modulated_deform_conv2d", "modulated_deform_conv2d_impl", "ModulatedDeformConv2d",
           "DeformGeom", "deform_dispatch"]


@dataclass(frozen=True)
class DeformGeom(ConvGeom):
    """Shape-invariant parameters of one deformable convolution (the kernels' compile-time key):
    the convolution's geometry plus its groups."""
    groups: int = 1
    deform_groups: int = 1

    @property
    def taps(self) -> int:
        return self.kh * self.kw


def _shape(v):
    return list(v.shape) if hasattr(v, "shape") else repr(v)


def check_args(x, offset, mask, weight, bias=None, stride=1, padding=0, dilation=1, groups=1,
               deform_groups=1) -> DeformGeom:
    """Validates the arguments; raises ValueError naming the argument at fault and the shapes."""
    ctx = (f"(input {_shape(x)}, offset {_shape(offset)}, mask {_shape(mask)}, "
           f"weight {_shape(weight)})")
    for name, v in (("input", x), ("offset", offset), ("mask", mask), ("weight", weight)):
        if not hasattr(v, "shape") or len(v.shape) != 4:
            raise ValueError(f"modulated_deform_conv2d: argument {name!r} must be 4-D {ctx}")
    n, c, h, w = (int(s) for s in x.shape)
    o, cpg, kh, kw = (int(s) for s in weight.shape)
    sh, sw = _pair(stride, "stride")
    ph, pw = _pair(padding, "padding")
    dh, dw = _pair(dilation, "dilation")
    if min(sh, sw, dh, dw) < 1 or min(ph, pw) < 0:
        raise ValueError(f"modulated_deform_conv2d: stride/dilation must be >= 1 and padding >= 0, "
                         f"got stride {(sh, sw)}, padding {(ph, pw)}, dilation {(dh, dw)} {ctx}")
    if groups < 1 or c % groups or o % groups or cpg * groups != c:
        raise ValueError(f"modulated_deform_conv2d: groups={groups} does not fit input channels {c}, "
                         f"output channels {o} and weight's {cpg} input channels per group {ctx}")
    if deform_groups < 1 or c % deform_groups:
        raise ValueError(f"modulated_deform_conv2d: deform_groups={deform_groups} must divide the "
                         f"input channels {c} {ctx}")
    g = DeformGeom(kh, kw, sh, sw, ph, pw, dh, dw, groups, deform_groups)
    oh, ow = g.out_size(h, w)
    if oh < 1 or ow < 1:
        raise ValueError(f"modulated_deform_conv2d: the kernel is larger than the padded input {ctx}")
    k = kh * kw
    want_off = [n, deform_groups * 2 * k, oh, ow]
    want_mask = [n, deform_groups * k, oh, ow]
    if list(offset.shape) != want_off:
        raise ValueError(f"modulated_deform_conv2d: 'offset' must have shape {want_off} "
                         f"(deform_groups*2*kh*kw channels at the output size) {ctx}")
    if list(mask.shape) != want_mask:
        raise ValueError(f"modulated_deform_conv2d: 'mask' must have shape {want_mask} "
                         f"(deform_groups*kh*kw channels at the output size) {ctx}")
    if bias is not None and list(bias.shape) != [o]:
        raise ValueError(f"modulated_deform_conv2d: 'bias' must have shape [{o}], got {_shape(bias)} {ctx}")
    return g


# ------------------------------------------------------------------------------------------------
# The convolution of the columns (shared by every implementation)

def _conv_columns(col, weight, bias, g: DeformGeom, n: int, oh: int, ow: int):
    """``col`` [N, C*K, L] (channel-major, tap-minor) times ``weight`` -> [N, O, OH, OW].

    One group: a 1x1 convolution of the columns (``pointwise_conv2d``: one sgemm per sample on the
    ``kernel`` backend, with the bias). Several: batched products per (sample, group). Never a 4-D
    ``jt.matmul``, which Jittor runs on the CPU as one single-threaded broadcast-multiply-reduce."""
    o = weight.shape[0]
    ck = col.shape[1] // g.groups
    if g.groups == 1:
        y = pointwise_conv2d(col.reshape([n, ck, 1, oh * ow]), weight.reshape([o, ck, 1, 1]), bias)
        return y.reshape([n, o, oh, ow])
    og = o // g.groups
    wm = weight.reshape([1, g.groups, og, ck]).broadcast([n, g.groups, og, ck]).reshape([n * g.groups, og, ck])
    y = batched_matmul(wm, col.reshape([n * g.groups, ck, oh * ow])).reshape([n, o, oh, ow])
    if bias is not None:
        y = y + bias.broadcast(y.shape, [0, 2, 3])
    return y


# ------------------------------------------------------------------------------------------------
# reference: meta-operators

def _base_grid(g: DeformGeom, oh: int, ow: int, dtype) -> tuple:
    """Tap positions without offsets: ``[K, OH, OW]`` rows (y) and columns (x)."""
    k = np.arange(g.taps)
    by = (np.arange(oh)[None, :, None] * g.sh - g.ph + (k // g.kw)[:, None, None] * g.dh)
    bx = (np.arange(ow)[None, None, :] * g.sw - g.pw + (k % g.kw)[:, None, None] * g.dw)
    by = np.broadcast_to(by, (g.taps, oh, ow)).astype(str(dtype))
    bx = np.broadcast_to(bx, (g.taps, oh, ow)).astype(str(dtype))
    return jt.array(by, dtype=str(dtype)), jt.array(bx, dtype=str(dtype))


def reference_im2col(x, offset, mask, g: DeformGeom):
    """Modulated columns ``[N, C*K, OH*OW]`` from meta-operators (differentiable by autograd)."""
    n, c, h, w = x.shape
    oh, ow = offset.shape[2], offset.shape[3]
    dg, k, cg = g.deform_groups, g.taps, c // g.deform_groups
    by, bx = _base_grid(g, oh, ow, x.dtype)
    off = offset.reshape([n, dg, k, 2, oh, ow])
    py = off[:, :, :, 0] + by.broadcast([n, dg, k, oh, ow], [0, 1])
    px = off[:, :, :, 1] + bx.broadcast([n, dg, k, oh, ow], [0, 1])
    inside = (py > -1) & (py < h) & (px > -1) & (px < w)
    # Positions outside (and NaN) are moved to -2: every corner then reads the overflow value 0.
    py = jt.ternary(inside, py, jt.zeros_like(py) - 2)
    px = jt.ternary(inside, px, jt.zeros_like(px) - 2)
    fy, fx = py.floor().stop_grad(), px.floor().stop_grad()
    ly, lx = py - fy, px - fx
    y0, x0 = fy.int32(), fx.int32()
    m = mask.reshape([n, dg, k, oh, ow]) * inside.cast(x.dtype)
    shape = [n, dg, cg, k, oh, ow]
    col = None
    for cy, wy in ((0, 1 - ly), (1, ly)):
        for cx, wx in ((0, 1 - lx), (1, lx)):
            v = x.reindex(shape, ["i0", f"i1*{cg}+i2", f"@e0(i0,i1,i3,i4,i5)+{cy}",
                                  f"@e1(i0,i1,i3,i4,i5)+{cx}"], overflow_value=0, extras=[y0, x0])
            term = v * (wy * wx * m).broadcast(shape, [2])
            col = term if col is None else col + term
    return col.reshape([n, c * k, oh * ow])


# ------------------------------------------------------------------------------------------------
# kernel: our jt.code ops

_CPU_HEADER = ("deform_cpu.h",)
_CUDA_HEADER = ("deform_cuda.cu",)

CUDA_IM2COL_CALL = """
@alias(x, in0)
@alias(off, in1)
@alias(msk, in2)
@alias(col, out0)
jv_deform_im2col_launch<x_type>(x_p, off_p, msk_p, col_p, x_shape0, x_shape1, x_shape2, x_shape3,
    off_shape2, off_shape3, msk_shape1 / (JV_KH * JV_KW));
"""

CUDA_COL2IM_CALL = """
@alias(x, in0)
@alias(off, in1)
@alias(msk, in2)
@alias(dcol, in3)
#if JV_NEED_DX
x_type* jv_dx = dx_p;
#else
x_type* jv_dx = nullptr;
#endif
#if JV_NEED_DOM
x_type* jv_doff = doff_p;
x_type* jv_dmsk = dmsk_p;
#else
x_type* jv_doff = nullptr;
x_type* jv_dmsk = nullptr;
#endif
jv_deform_col2im_launch<x_type>(x_p, off_p, msk_p, dcol_p, jv_dx, jv_doff, jv_dmsk,
    x_shape0, x_shape1, x_shape2, x_shape3, off_shape2, off_shape3, msk_shape1 / (JV_KH * JV_KW));
"""


def _cuda_kernels() -> bool:
    return bool(jt.flags.use_cuda)


def _im2col_code(x, offset, mask, g: DeformGeom):
    n, c = x.shape[0], x.shape[1]
    oh, ow = offset.shape[2], offset.shape[3]
    params = g.params()
    cuda = _cuda_kernels()
    return jt.code(
        [n, c * g.taps, oh * ow], x.dtype, [x, offset, mask],
        cpu_header=_jtcode.header(params, *_CPU_HEADER),
        cpu_src=_jtcode.source("deform_im2col.cc"),
        cuda_header=_jtcode.header(params, *_CUDA_HEADER) if cuda else "",
        cuda_src=CUDA_IM2COL_CALL if cuda else "",
    )


def col2im_outputs(need_dx: bool, need_dom: bool) -> list:
    """Names of the backward op's outputs, in order."""
    return (["dx"] if need_dx else []) + (["doff", "dmsk"] if need_dom else [])


def _col2im_code(x, offset, mask, dcol, g: DeformGeom, need_dx: bool, need_dom: bool):
    names = col2im_outputs(need_dx, need_dom)
    shapes = {"dx": list(x.shape), "doff": list(offset.shape), "dmsk": list(mask.shape)}
    params = dict(g.params(), NEED_DX=need_dx, NEED_DOM=need_dom)
    alias = _jtcode.aliases("out", names)
    cuda = _cuda_kernels()
    outs = jt.code(
        [shapes[k] for k in names], [x.dtype] * len(names), [x, offset, mask, dcol],
        cpu_header=_jtcode.header(params, *_CPU_HEADER),
        cpu_src=alias + _jtcode.source("deform_col2im.cc"),
        cuda_header=_jtcode.header(params, *_CUDA_HEADER) if cuda else "",
        cuda_src=alias + CUDA_COL2IM_CALL if cuda else "",
    )
    res = dict(zip(names, outs))
    return res.get("dx"), res.get("doff"), res.get("dmsk")


class _DeformIm2col(jt.Function):
    """Autograd wrapper: columns forward, input / offset / mask gradients backward."""

    def __init__(self, geom: DeformGeom):
        self.geom = geom

    def execute(self, x, offset, mask):
        self.saved = (x, offset, mask)
        return _im2col_code(x, offset, mask, self.geom)

    def grad(self, dcol):
        if dcol is None:
            return None, None, None
        sel = self.input_mask  # >= 0 where the input needs a gradient (set by jt.Function)
        need_dx = sel[0] >= 0
        need_dom = sel[1] >= 0 or sel[2] >= 0
        if not (need_dx or need_dom):
            return None, None, None
        x, offset, mask = self.saved
        return _col2im_code(x, offset, mask, dcol, self.geom, need_dx, need_dom)


def kernel_im2col(x, offset, mask, g: DeformGeom):
    """Modulated columns ``[N, C*K, OH*OW]`` from our kernels."""
    dt = str(x.dtype)
    if dt not in ("float32", "float64"):
        return kernel_im2col(x.float32(), offset.float32(), mask.float32(), g).cast(x.dtype)
    offset, mask = offset.cast(x.dtype), mask.cast(x.dtype)
    return _DeformIm2col(g)(x, offset, mask)


# ------------------------------------------------------------------------------------------------
# dispatch

_IM2COL = {"kernel": kernel_im2col, "reference": reference_im2col}


def deform_dispatch() -> str:
    """Which implementation runs under the active backend: ``kernel`` (our C++ or CUDA source) or
    ``reference`` (``builtin`` maps to it: Jittor has no deformable convolution)."""
    return "kernel" if get_backend() == "kernel" else "reference"


def modulated_deform_conv2d(x, offset, mask, weight, bias=None, stride=1, padding=0, dilation=1,
                            groups=1, deform_groups=1):
    """Modulated deformable 2-D convolution (mmcv's argument order and semantics).

    Args:
        x: ``[N, C, H, W]``.
        offset: ``[N, deform_groups*2*kh*kw, OH, OW]``, per group per tap ``(dy, dx)`` in pixels.
        mask: ``[N, deform_groups*kh*kw, OH, OW]`` modulation (used as given, no sigmoid).
        weight: ``[O, C/groups, kh, kw]``; bias: ``[O]`` or None.
        stride, padding, dilation: int or ``(h, w)``; groups, deform_groups: ints dividing C.

    Returns:
        ``[N, O, OH, OW]``.
    """
    return modulated_deform_conv2d_impl(deform_dispatch(), x, offset, mask, weight, bias, stride,
                                        padding, dilation, groups, deform_groups)


def modulated_deform_conv2d_impl(impl: str, x, offset, mask, weight, bias=None, stride=1, padding=0,
                                 dilation=1, groups=1, deform_groups=1):
    """:func:`modulated_deform_conv2d` through exactly the named implementation."""
    if impl == "builtin":
        impl = "reference"
    if impl not in _IM2COL:
        raise ValueError(f"unknown implementation {impl!r}; expected 'kernel' or 'reference'")
    g = check_args(x, offset, mask, weight, bias, stride, padding, dilation, groups, deform_groups)
    n = x.shape[0]
    oh, ow = offset.shape[2], offset.shape[3]
    col = _IM2COL[impl](x, offset, mask, g)
    return _conv_columns(col, weight, bias, g, n, oh, ow)


class ModulatedDeformConv2d(nn.Module):
    """mmcv's ``ModulatedDeformConv2d``: parameters ``weight`` ``[O, C/groups, kh, kw]`` and ``bias``
    (mmcv names, so checkpoints load by name); ``execute(x, offset, mask)``.

    Initialised as mmcv does: weight U(-1/sqrt(n), 1/sqrt(n)) with ``n = C*kh*kw``, bias zero.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, groups: int = 1, deform_groups: int = 1, bias: bool = True):
        super().__init__()
        kh, kw = _pair(kernel_size, "kernel_size")
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"ModulatedDeformConv2d: groups={groups} must divide in_channels="
                             f"{in_channels} and out_channels={out_channels}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = (kh, kw)
        self.stride, self.padding = _pair(stride, "stride"), _pair(padding, "padding")
        self.dilation = _pair(dilation, "dilation")
        self.groups, self.deform_groups = groups, deform_groups
        stdv = 1.0 / math.sqrt(in_channels * kh * kw)
        self.weight = jt.init.uniform((out_channels, in_channels // groups, kh, kw), "float32", -stdv, stdv)
        self.bias = jt.zeros((out_channels,), "float32") if bias else None

    def execute(self, x, offset, mask):
        return modulated_deform_conv2d(x, offset, mask, self.weight, self.bias, self.stride, self.padding,
                                       self.dilation, self.groups, self.deform_groups)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, dilation={self.dilation}, "
                f"groups={self.groups}, deform_groups={self.deform_groups}")
