"""Depthwise 2-D convolution: square, strip (1xk, kx1), large and dilated kernels.

One function, :func:`depthwise_conv2d`, three interchangeable implementations:

``reference``
    Jittor meta-operators only (``reindex`` + ``broadcast`` + ``sum``); Jittor's autograd derives
    the gradients (``reindex_reduce``). Slow, obviously right: the ground truth of the tests.
``builtin``
    ``jittor.nn.conv2d(..., groups=C)``: oneDNN on CPU (when Jittor found it), Jittor's own
    kernels on CUDA.
``kernel``
    Our ``jt.code`` kernels, sources in ``jvision/ops/kernels/`` (``dwconv_cpu.h`` +
    ``dwconv_fwd.cc`` / ``dwconv_bwd.cc`` on CPU, ``dwconv_cuda.h`` + ``dwconv_fwd.cu`` /
    ``dwconv_bwd_data.cu`` / ``dwconv_bwd_weight.cu`` on CUDA), with a dispatcher that falls
    back to ``builtin`` for the configurations where ours is not the faster one (see
    :func:`dispatch`).

Select one with ``set_backend(name)``, the ``backend(name)`` context manager, or the
``JVISION_OPS_BACKEND`` environment variable (read at import); the default is ``kernel``.
:func:`depthwise_conv2d_impl` runs a named implementation with no dispatching (tests, benchmarks).

All three give gradients for the input, the weight and the bias. Second-order gradients are
only available through ``reference`` and ``builtin``.
"""
from __future__ import annotations

import contextlib
import math
import os
from dataclasses import dataclass

import jittor as jt
from jittor import nn

from . import _jtcode

BACKENDS = ("kernel", "builtin", "reference")
_ENV = "JVISION_OPS_BACKEND"


def _initial_backend() -> str:
    name = os.environ.get(_ENV, "kernel").strip().lower() or "kernel"
    if name not in BACKENDS:
        raise ValueError(f"environment variable {_ENV}={name!r}: expected one of {BACKENDS}")
    return name


_state = {"backend": _initial_backend()}


def get_backend() -> str:
    """Name of the active depthwise-convolution backend."""
    return _state["backend"]


def set_backend(name: str) -> None:
    """Select ``"kernel"`` (ours, dispatching), ``"builtin"`` or ``"reference"`` globally."""
    if name not in BACKENDS:
        raise ValueError(f"unknown ops backend {name!r}; expected one of {BACKENDS}")
    _state["backend"] = name


@contextlib.contextmanager
def backend(name: str):
    """Context manager: ``with backend("reference"): ...`` restores the previous backend after."""
    old = get_backend()
    set_backend(name)
    try:
        yield
    finally:
        set_backend(old)


# ------------------------------------------------------------------------------------------------
# Geometry and argument checking

def _pair(value, name: str) -> tuple[int, int]:
    if isinstance(value, (int,)) and not isinstance(value, bool):
        return (int(value), int(value))
    if isinstance(value, (tuple, list)) and len(value) == 2 and all(
            isinstance(v, int) and not isinstance(v, bool) for v in value):
        return (int(value[0]), int(value[1]))
    raise ValueError(f"argument {name!r} must be an int or a pair of ints, got {value!r}")


@dataclass(frozen=True)
class ConvGeom:
    """Shape-invariant parameters of one depthwise convolution (the kernel's compile-time key)."""
    kh: int
    kw: int
    sh: int = 1
    sw: int = 1
    ph: int = 0
    pw: int = 0
    dh: int = 1
    dw: int = 1

    def out_size(self, h: int, w: int) -> tuple[int, int]:
        oh = (h + 2 * self.ph - self.dh * (self.kh - 1) - 1) // self.sh + 1
        ow = (w + 2 * self.pw - self.dw * (self.kw - 1) - 1) // self.sw + 1
        return oh, ow

    def flops(self, n: int, c: int, h: int, w: int) -> int:
        """Multiply-adds x 2 of the forward pass."""
        oh, ow = self.out_size(h, w)
        return 2 * n * c * oh * ow * self.kh * self.kw

    def params(self) -> dict:
        return dict(KH=self.kh, KW=self.kw, SH=self.sh, SW=self.sw, DH=self.dh, DW=self.dw,
                    PH=self.ph, PW=self.pw)


def _shape(v) -> list:
    return list(v.shape) if hasattr(v, "shape") else repr(v)


def check_args(x, weight, bias=None, stride=1, padding=0, dilation=1) -> ConvGeom:
    """Validates the arguments of :func:`depthwise_conv2d`; returns the geometry.

    Raises ValueError naming the argument at fault and the shapes of ``x`` and ``weight``.
    """
    xs, ws = _shape(x), _shape(weight)
    ctx = f"(x {xs}, weight {ws})"
    if not hasattr(x, "shape") or len(x.shape) != 4:
        raise ValueError(f"depthwise_conv2d: argument 'x' must be 4-D [N, C, H, W] {ctx}")
    if not hasattr(weight, "shape") or len(weight.shape) != 4:
        raise ValueError(f"depthwise_conv2d: argument 'weight' must be 4-D [C, 1, kh, kw] {ctx}")
    n, c, h, w = (int(s) for s in x.shape)
    if int(weight.shape[0]) != c or int(weight.shape[1]) != 1:
        raise ValueError(
            f"depthwise_conv2d: channel mismatch between 'x' and 'weight': x has C={c} so weight "
            f"must be [{c}, 1, kh, kw] {ctx}")
    if bias is not None and (not hasattr(bias, "shape") or list(bias.shape) != [c]):
        raise ValueError(f"depthwise_conv2d: argument 'bias' must have shape [{c}], got "
                         f"{_shape(bias)} {ctx}")
    sh, sw = _pair(stride, "stride")
    ph, pw = _pair(padding, "padding")
    dh, dw = _pair(dilation, "dilation")
    if sh < 1 or sw < 1:
        raise ValueError(f"depthwise_conv2d: argument 'stride' must be >= 1, got {(sh, sw)} {ctx}")
    if ph < 0 or pw < 0:
        raise ValueError(f"depthwise_conv2d: argument 'padding' must be >= 0, got {(ph, pw)} {ctx}")
    if dh < 1 or dw < 1:
        raise ValueError(f"depthwise_conv2d: argument 'dilation' must be >= 1, got {(dh, dw)} {ctx}")
    kh, kw = int(weight.shape[2]), int(weight.shape[3])
    if kh < 1 or kw < 1 or n < 1 or c < 1 or h < 1 or w < 1:
        raise ValueError(f"depthwise_conv2d: empty 'x' or 'weight' {ctx}")
    eh, ew = dh * (kh - 1) + 1, dw * (kw - 1) + 1
    if eh > h + 2 * ph or ew > w + 2 * pw:
        raise ValueError(
            f"depthwise_conv2d: the kernel of 'weight' (extent {eh}x{ew} with dilation {(dh, dw)}) is "
            f"larger than the padded input 'x' ({h + 2 * ph}x{w + 2 * pw} with padding {(ph, pw)}) "
            f"{ctx}")
    return ConvGeom(kh, kw, sh, sw, ph, pw, dh, dw)


# ------------------------------------------------------------------------------------------------
# reference: meta-operators

def _reference(x, weight, bias, g: ConvGeom):
    n, c, h, w = x.shape
    oh, ow = g.out_size(h, w)
    shape = [n, c, oh, ow, g.kh, g.kw]
    xr = x.reindex(shape, ["i0", "i1", f"i2*{g.sh}-{g.ph}+i4*{g.dh}", f"i3*{g.sw}-{g.pw}+i5*{g.dw}"])
    wr = weight.reshape([c, g.kh, g.kw]).broadcast(shape, [0, 2, 3])
    y = (xr * wr).sum([4, 5])
    if bias is not None:
        y = y + bias.broadcast(y.shape, [0, 2, 3])
    return y


# ------------------------------------------------------------------------------------------------
# builtin: Jittor's grouped convolution

def _builtin(x, weight, bias, g: ConvGeom):
    return nn.conv2d(x, weight, bias, (g.sh, g.sw), (g.ph, g.pw), (g.dh, g.dw), groups=x.shape[1])


# ------------------------------------------------------------------------------------------------
# kernel: our jt.code ops

_CPU_HEADER = ("dwconv_cpu.h",)
_CUDA_HEADER = ("dwconv_cuda.h",)


def _fwd_code(x, weight, bias, g: ConvGeom):
    n, c, h, w = x.shape
    oh, ow = g.out_size(h, w)
    params = dict(g.params(), HAS_BIAS=bias is not None)
    inputs = [x, weight] + ([bias] if bias is not None else [])
    cuda = _cuda_enabled()
    return jt.code(
        [n, c, oh, ow], x.dtype, inputs,
        cpu_header=_jtcode.header(params, *_CPU_HEADER),
        cpu_src=_jtcode.source("dwconv_fwd.cc"),
        cuda_header=_jtcode.header(params, *_CUDA_HEADER, "dwconv_fwd.cu") if cuda else "",
        cuda_src=_CUDA_FWD_CALL if cuda else "",
    )


_CUDA_FWD_CALL = """
#if JV_HAS_BIAS
const in0_type* jv_bias = in2_p;
#else
const in0_type* jv_bias = nullptr;
#endif
jv_dwconv_fwd_launch(in0_p, in1_p, jv_bias, out0_p,
    in0_shape0, in0_shape1, in0_shape2, in0_shape3, out0_shape2, out0_shape3);
"""


def cuda_wgrad_splits(n: int, c: int, oh: int, ow: int, kk: int) -> int:
    """Position splits of the CUDA weight-gradient kernel (``dwconv_bwd_weight.cu``): enough blocks
    to fill a large GPU, at least 4 positions per thread."""
    groups = -(-kk // 8) + 1
    splits = -(-512 // (c * groups))
    max_splits = -(-(n * oh * ow) // (4 * 256))
    return max(1, min(splits, max_splits, 65535))


def _bwd_code(x, weight, dy, g: ConvGeom, need_dx: bool, need_dw: bool, need_db: bool):
    n, c, h, w = x.shape
    names, shapes, dtypes = [], [], []
    if need_dx:
        names.append("dx"), shapes.append(list(x.shape)), dtypes.append(x.dtype)
    if need_dw:
        names.append("dw"), shapes.append(list(weight.shape)), dtypes.append(weight.dtype)
    if need_db:
        names.append("db"), shapes.append([c]), dtypes.append(weight.dtype)
    cuda = _cuda_enabled()
    # Scratch for the CUDA weight-gradient partial sums (the CPU code keeps its own).
    kk = g.kh * g.kw
    scratch = 1
    if cuda and (need_dw or need_db):
        scratch = cuda_wgrad_splits(n, c, dy.shape[2], dy.shape[3], kk) * c * (kk + 1)
    names.append("scratch"), shapes.append([scratch]), dtypes.append("float32")
    params = dict(g.params(), NEED_DX=need_dx, NEED_DW=need_dw, NEED_DB=need_db)
    alias = _jtcode.aliases("out", names)
    outs = jt.code(
        shapes, dtypes, [x, weight, dy],
        cpu_header=_jtcode.header(params, *_CPU_HEADER),
        cpu_src=alias + _jtcode.source("dwconv_bwd.cc"),
        cuda_header=(_jtcode.header(params, *_CUDA_HEADER, "dwconv_bwd_data.cu",
                                    "dwconv_bwd_weight.cu") if cuda else ""),
        cuda_src=alias + _CUDA_BWD_CALL if cuda else "",
    )
    res = dict(zip(names, outs))
    return res.get("dx"), res.get("dw"), res.get("db")


_CUDA_BWD_CALL = """
@alias(x, in0)
@alias(w, in1)
@alias(dy, in2)
#if JV_NEED_DX
jv_dwconv_bwd_data_launch(dy_p, w_p, dx_p, x_shape0, x_shape1, x_shape2, x_shape3, dy_shape2, dy_shape3);
#endif
#if JV_NEED_DW || JV_NEED_DB
#if JV_NEED_DW
w_type* jv_dw = dw_p;
#else
w_type* jv_dw = nullptr;
#endif
#if JV_NEED_DB
w_type* jv_db = db_p;
#else
w_type* jv_db = nullptr;
#endif
jv_dwconv_bwd_weight_launch(x_p, dy_p, jv_dw, jv_db, scratch_p, scratch_shape0,
    x_shape0, x_shape1, x_shape2, x_shape3, dy_shape2, dy_shape3);
#endif
"""


class _DWConvKernel(jt.Function):
    """Autograd wrapper of the forward / backward ``jt.code`` ops (first-order gradients)."""

    def __init__(self, geom: ConvGeom):
        self.geom = geom

    def execute(self, x, weight, bias=None):
        self.x, self.weight, self.has_bias = x, weight, bias is not None
        return _fwd_code(x, weight, bias, self.geom)

    def grad(self, dy):
        if dy is None:
            return (None, None, None) if self.has_bias else (None, None)
        mask = self.input_mask  # set by jt.Function: >= 0 for inputs that need a gradient
        need_dx, need_dw = mask[0] >= 0, mask[1] >= 0
        need_db = self.has_bias and mask[2] >= 0
        if not (need_dx or need_dw or need_db):
            return (None, None, None) if self.has_bias else (None, None)
        dx, dw, db = _bwd_code(self.x, self.weight, dy, self.geom, need_dx, need_dw, need_db)
        return (dx, dw, db) if self.has_bias else (dx, dw)


def _kernel(x, weight, bias, g: ConvGeom):
    if x.dtype != weight.dtype or (bias is not None and bias.dtype != x.dtype):
        raise ValueError(f"depthwise_conv2d: 'x', 'weight' and 'bias' must share a dtype, got "
                         f"{x.dtype}, {weight.dtype}, {None if bias is None else bias.dtype}")
    on_cuda = _cuda_enabled()
    if str(x.dtype) != "float32" and not (on_cuda and str(x.dtype) == "float16"):
        # CPU kernels are float32: compute in float32 and cast back.
        dt = x.dtype
        b32 = None if bias is None else bias.float32()
        return _kernel(x.float32(), weight.float32(), b32, g).cast(dt)
    fn = _DWConvKernel(g)
    return fn(x, weight, bias) if bias is not None else fn(x, weight)


def _cuda_enabled() -> bool:
    return bool(jt.flags.use_cuda)


# ------------------------------------------------------------------------------------------------
# dispatch

_IMPLS = {"kernel": _kernel, "builtin": _builtin, "reference": _reference}

# Where Jittor's builtin (oneDNN) is the faster one on CPU, measured with benchmarks/bench_ops.py
# and single-thread A/B runs on a Zen 4 core (ratios builtin/kernel time in brackets): the
# kernel backend routes these to builtin. (description, predicate(geom, x_shape, needs_grad)).
DISPATCH_RULES = [
    ("stride > 1, forward only (oneDNN's strided forward ~20% faster: 0.77-0.84)",
     lambda g, shape, grad: not grad and (g.sh > 1 or g.sw > 1)),
    ("stride > 1 with at most 9 taps, forward+backward (3x3 s2: 0.73-1.02)",
     lambda g, shape, grad: (g.sh > 1 or g.sw > 1) and g.kh * g.kw <= 9),
    ("forward only, >= 100 taps, no dilation, output width <= 32 (11x11 at 28x28: 0.92)",
     lambda g, shape, grad: (not grad and g.kh * g.kw >= 100 and g.dh == g.dw == 1 and shape is not None
                             and g.out_size(shape[2], shape[3])[1] <= 32)),
]


def _onednn() -> bool:
    try:
        from .. import _env
        return bool(_env.INFO.onednn)
    except Exception:  # pragma: no cover
        return False


def _cuda_kernels_validated() -> bool:
    """Our CUDA sources compile (tests/test_ops_cuda_compile.py) but are only used by the
    dispatcher once a GPU run has held them to the reference: set JVISION_CUDA_KERNELS=1."""
    return os.environ.get("JVISION_CUDA_KERNELS", "0") == "1"


def cuda_smem_bytes(g: ConvGeom) -> int:
    """Static shared memory of the CUDA forward / input-gradient kernels for this geometry (their
    input patches: 16 x 32 outputs per block, see dwconv_fwd.cu and dwconv_bwd_data.cu)."""
    th, tw = 16, 32
    fwd = ((th - 1) * g.sh + (g.kh - 1) * g.dh + 1) * ((tw - 1) * g.sw + (g.kw - 1) * g.dw + 2)
    bwd = ((th - 1 + (g.kh - 1) * g.dh) // g.sh + 2) * ((tw - 1 + (g.kw - 1) * g.dw) // g.sw + 3)
    return 4 * (max(fwd, bwd) + g.kh * g.kw)


def needs_grad(*tensors) -> bool:
    """Whether a gradient can flow to any of the given Vars (False under ``jt.no_grad()``)."""
    if jt.flags.no_grad:
        return False
    return any(t is not None and not t.is_stop_grad() for t in tensors)


def dispatch(geom: ConvGeom, x_shape=None, dtype: str = "float32", grad: bool = True) -> str:
    """Which implementation :func:`depthwise_conv2d` runs for this configuration.

    ``grad``: whether gradients will be needed (forward-only and training speeds differ). Under
    ``kernel`` on CPU the rules in :data:`DISPATCH_RULES` send some configurations to ``builtin``
    (only when Jittor has oneDNN: without it builtin is the slow generic path); on CUDA our
    kernels are used only when ``JVISION_CUDA_KERNELS=1`` and the kernel's input patch fits the
    48 KiB of static shared memory (:func:`cuda_smem_bytes`).
    """
    name = get_backend()
    if name != "kernel":
        return name
    if _cuda_enabled():
        ok = _cuda_kernels_validated() and cuda_smem_bytes(geom) <= 48 * 1024
        return "kernel" if ok else "builtin"
    if _onednn() and str(dtype) == "float32":
        for _, rule in DISPATCH_RULES:
            if rule(geom, x_shape, grad):
                return "builtin"
    return "kernel"


def depthwise_conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1):
    """Depthwise 2-D convolution (``groups == channels``), PyTorch semantics.

    Args:
        x: input ``[N, C, H, W]``.
        weight: ``[C, 1, kh, kw]``; any kernel size, square or strip (``1 x k``, ``k x 1``).
        bias: optional ``[C]``.
        stride, padding, dilation: int or ``(h, w)`` pair; padding is zero padding on both sides.

    Returns:
        ``[N, C, OH, OW]`` with ``OH = (H + 2*ph - dh*(kh-1) - 1) // sh + 1`` (same for OW).

    The implementation is chosen by the active backend (:func:`set_backend`); with ``"kernel"``
    the dispatcher may route a configuration to ``builtin`` where that one is faster.
    """
    g = check_args(x, weight, bias, stride, padding, dilation)
    impl = dispatch(g, list(x.shape), str(x.dtype), needs_grad(x, weight, bias))
    return _IMPLS[impl](x, weight, bias, g)


def depthwise_conv2d_impl(impl: str, x, weight, bias=None, stride=1, padding=0, dilation=1):
    """:func:`depthwise_conv2d` through exactly the named implementation (no dispatching)."""
    if impl not in _IMPLS:
        raise ValueError(f"unknown implementation {impl!r}; expected one of {tuple(_IMPLS)}")
    g = check_args(x, weight, bias, stride, padding, dilation)
    return _IMPLS[impl](x, weight, bias, g)


class DepthwiseConv2d(nn.Module):
    """Depthwise convolution layer with ``nn.Conv2d``'s parameter names.

    Parameters ``weight`` ``[C, 1, kh, kw]`` and ``bias`` ``[C]`` (absent when ``bias=False``), so
    that ``<name>.weight`` / ``<name>.bias`` keys of PyTorch checkpoints load by name. Initialised
    like PyTorch's ``Conv2d`` (Kaiming-uniform with ``a=sqrt(5)``, i.e. U(-1/sqrt(fan_in),
    1/sqrt(fan_in)) for both, with ``fan_in = kh*kw``); models usually re-initialise.
    """

    def __init__(self, channels: int, kernel_size, stride=1, padding=0, dilation=1, bias: bool = True):
        super().__init__()
        kh, kw = _pair(kernel_size, "kernel_size")
        if channels < 1 or kh < 1 or kw < 1:
            raise ValueError(f"DepthwiseConv2d: channels and kernel_size must be positive, got "
                             f"channels={channels}, kernel_size={(kh, kw)}")
        self.channels, self.kernel_size = channels, (kh, kw)
        self.stride, self.padding, self.dilation = _pair(stride, "stride"), _pair(padding, "padding"), \
            _pair(dilation, "dilation")
        bound = 1.0 / math.sqrt(kh * kw)
        self.weight = jt.init.uniform((channels, 1, kh, kw), "float32", -bound, bound)
        self.bias = jt.init.uniform((channels,), "float32", -bound, bound) if bias else None

    def execute(self, x):
        return depthwise_conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation)

    def extra_repr(self) -> str:
        s = f"{self.channels}, kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        return s + ("" if self.bias is not None else ", bias=False")
