"""Fused kernels for the spatial parts of the attention modules (CPU, ``kernel`` backend).

Each fused op computes a chain of depthwise convolutions (and, for ConvMod, the product with the
value branch) plane by plane, keeping the intermediates in cache, and its backward recomputes
the cheap intermediates instead of storing them. Sources: ``kernels/lka_*.cc``,
``kernels/msca_*.cc``, ``kernels/convmod_*.cc`` on top of ``kernels/dwconv_cpu.h``.

The public entry points (:func:`lka_spatial`, :func:`msca_spatial`, :func:`convmod_modulate`)
take the modules' :class:`~jvision.ops.dwconv.DepthwiseConv2d` layers and fall back to plain
composition of :func:`~jvision.ops.dwconv.depthwise_conv2d` calls whenever the fused path does
not apply: another backend, CUDA (fused CUDA kernels are not written yet; the unfused CUDA
kernels serve), a dtype other than float32, a missing bias, a non-"same" padding or a stride,
or fusion switched off with :func:`set_fusion` / ``JVISION_OPS_FUSION=0``. Both paths give the
same result within float32 rounding, and gradients to every parameter.
"""
from __future__ import annotations

import contextlib
import os

import jittor as jt
from jittor import nn

from . import _jtcode
from .dwconv import ConvGeom, DepthwiseConv2d, get_backend, needs_grad

_state = {"fusion": os.environ.get("JVISION_OPS_FUSION", "1") != "0"}


def get_fusion() -> bool:
    """Whether the ``kernel`` backend uses the fused module kernels."""
    return _state["fusion"]


def set_fusion(enabled: bool) -> None:
    """Switch the fused module kernels on or off (``kernel`` backend only)."""
    _state["fusion"] = bool(enabled)


@contextlib.contextmanager
def fusion(enabled: bool):
    """Context manager form of :func:`set_fusion`."""
    old = get_fusion()
    set_fusion(enabled)
    try:
        yield
    finally:
        set_fusion(old)


def _geom(conv: DepthwiseConv2d) -> ConvGeom:
    kh, kw = conv.kernel_size
    return ConvGeom(kh, kw, conv.stride[0], conv.stride[1], conv.padding[0], conv.padding[1],
                    conv.dilation[0], conv.dilation[1])


def _same(g: ConvGeom) -> bool:
    """Stride 1 and output size equal to input size, with symmetric padding."""
    return (g.sh == 1 and g.sw == 1 and (g.kh - 1) * g.dh == 2 * g.ph
            and (g.kw - 1) * g.dw == 2 * g.pw)


def _usable(x, convs) -> bool:
    if get_backend() != "kernel" or not get_fusion() or jt.flags.use_cuda:
        return False
    if str(x.dtype) != "float32" or len(x.shape) != 4:
        return False
    for conv in convs:
        if conv.bias is None or str(conv.weight.dtype) != "float32" or str(conv.bias.dtype) != "float32":
            return False
        if conv.channels != x.shape[1] or not _same(_geom(conv)):
            return False
    return True


def _prefixed(prefix: str, g: ConvGeom) -> dict:
    return {f"{prefix}_{k}": v for k, v in g.params().items()
            if k in ("KH", "KW", "DH", "DW", "PH", "PW")}


# ------------------------------------------------------------------------------------------------
# LKA: convB(convA(x))

class _LKASpatial(jt.Function):
    def __init__(self, ga: ConvGeom, gb: ConvGeom):
        self.params = dict(_prefixed("A", ga), **_prefixed("B", gb))

    def execute(self, x, wa, ba, wb, bb):
        # With gradients ahead, the forward also writes a = convA(x) for the backward pass.
        save = needs_grad(x, wa, ba, wb, bb)
        outs = jt.code([x.shape] * (2 if save else 1), [x.dtype] * (2 if save else 1), [x, wa, ba, wb, bb],
                       cpu_header=_jtcode.header(dict(self.params, SAVE_A=save), "dwconv_cpu.h"),
                       cpu_src=_jtcode.source("lka_fwd.cc"))
        self.saved = (x, wa, ba, wb, bb) + ((outs[1],) if save else ())
        return outs[0]

    def grad(self, dy):
        if dy is None or len(self.saved) != 6:
            return (None,) * 5
        x, wa, ba, wb, bb, a = self.saved
        return jt.code([v.shape for v in self.saved[:5]], [v.dtype for v in self.saved[:5]],
                       [x, wa, ba, wb, bb, dy, a],
                       cpu_header=_jtcode.header(self.params, "dwconv_cpu.h"),
                       cpu_src=_jtcode.source("lka_bwd.cc"))


def lka_spatial(x, conv_a: DepthwiseConv2d, conv_b: DepthwiseConv2d):
    """``conv_b(conv_a(x))``, fused on CPU when possible (see the module docstring)."""
    if not _usable(x, (conv_a, conv_b)):
        return conv_b(conv_a(x))
    fn = _LKASpatial(_geom(conv_a), _geom(conv_b))
    return fn(x, conv_a.weight, conv_a.bias, conv_b.weight, conv_b.bias)


# ------------------------------------------------------------------------------------------------
# MSCA: a = conv0(x); a + sum_k convk_2(convk_1(a))

class _MSCASpatial(jt.Function):
    def __init__(self, k0: int, strips: tuple):
        self.params = dict(K0=k0, S1=strips[0], S2=strips[1], S3=strips[2])

    def execute(self, x, *wb):
        self.saved = (x,) + tuple(wb)
        return jt.code(x.shape, x.dtype, [x, *wb],
                       cpu_header=_jtcode.header(self.params, "dwconv_cpu.h"),
                       cpu_src=_jtcode.source("msca_fwd.cc"))

    def grad(self, ds):
        if ds is None:
            return (None,) * len(self.saved)
        ins = list(self.saved) + [ds]
        return jt.code([v.shape for v in self.saved], [v.dtype for v in self.saved], ins,
                       cpu_header=_jtcode.header(self.params, "dwconv_cpu.h"),
                       cpu_src=_jtcode.source("msca_bwd.cc"))


def _msca_fusable(conv0, pairs) -> tuple | None:
    """(k0, (s1, s2, s3)) when the layers have the MSCA layout that msca_*.cc implements."""
    g0 = _geom(conv0)
    if len(pairs) != 3 or g0.kh != g0.kw or g0.dh != 1 or g0.dw != 1 or g0.kh % 2 == 0:
        return None
    sizes = []
    for h, v in pairs:
        gh, gv = _geom(h), _geom(v)
        k = gh.kw
        if not (gh.kh == 1 and gv.kw == 1 and gv.kh == k and k % 2 == 1
                and gh.dw == 1 and gv.dh == 1):
            return None
        sizes.append(k)
    return g0.kh, tuple(sizes)


def msca_spatial(x, conv0: DepthwiseConv2d, pairs):
    """``a + sum(v(h(a)) for h, v in pairs)`` with ``a = conv0(x)``, fused on CPU when possible."""
    layers = [conv0] + [m for pair in pairs for m in pair]
    shape = _msca_fusable(conv0, pairs) if _usable(x, layers) else None
    if shape is None:
        a = conv0(x)
        s = a
        for h, v in pairs:
            s = s + v(h(a))
        return s
    fn = _MSCASpatial(*shape)
    args = [x]
    for m in layers:
        args += [m.weight, m.bias]
    return fn(*args)


# ------------------------------------------------------------------------------------------------
# ConvMod: dwconv(GELU(a)) * v

class _ConvModModulate(jt.Function):
    def __init__(self, g: ConvGeom):
        self.params = {k: v for k, v in g.params().items() if k in ("KH", "KW", "DH", "DW", "PH", "PW")}

    def execute(self, a, v, w, b):
        self.saved = (a, v, w, b)
        return jt.code(a.shape, a.dtype, [a, v, w, b],
                       cpu_header=_jtcode.header(self.params, "dwconv_cpu.h"),
                       cpu_src=_jtcode.source("convmod_fwd.cc"))

    def grad(self, dy):
        if dy is None:
            return (None,) * 4
        ins = list(self.saved) + [dy]
        return jt.code([t.shape for t in self.saved], [t.dtype for t in self.saved], ins,
                       cpu_header=_jtcode.header(self.params, "dwconv_cpu.h"),
                       cpu_src=_jtcode.source("convmod_bwd.cc"))


def convmod_modulate(a, v, act, conv: DepthwiseConv2d):
    """``conv(act(a)) * v``, fused on CPU when possible (``act`` must then be an ``nn.GELU``).

    Only when gradients are needed: the fused backward saves passes over memory, but for a
    forward pass alone Jittor's own GELU plus our depthwise kernel measured 10-15% faster than
    the fused kernel (benchmarks/bench_ops.py, convmod7/convmod11, one thread).
    """
    if (not isinstance(act, nn.GELU) or not _usable(a, (conv,)) or list(v.shape) != list(a.shape)
            or str(v.dtype) != "float32" or not needs_grad(a, v, conv.weight, conv.bias)):
        return conv(act(a)) * v
    return _ConvModModulate(_geom(conv))(a, v, conv.weight, conv.bias)
