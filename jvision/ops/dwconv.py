"""Depthwise 2-D convolution: square, strip (1xk, kx1), large and dilated kernels.

One function, :func:`depthwise_conv2d`, three interchangeable backends:

``reference``
    Jittor meta-operators only (``reindex`` + ``broadcast`` + ``sum``); Jittor's autograd derives
    the gradients (``reindex_reduce``). Slow, obviously right: the ground truth of the tests.
``builtin``
    ``jittor.nn.conv2d(..., groups=C)``: oneDNN on CPU (when Jittor found it), cuDNN / Jittor's
    own kernels on CUDA.
``kernel``
    Our ``jt.code`` kernels, sources in ``jvision/ops/kernels/``. Each stage has variants, one
    source file each, chosen per call by :mod:`jvision.ops.autotune` (pinned, cached, tuned or
    default; never anything but ours):

    ======================  =====  =======================================================
    op                      where  variants
    ======================  =====  =======================================================
    ``dwconv_fwd``          CPU    ``portable`` (8-float vectors), ``avx512`` (16-float)
    ``dwconv_bwd``          CPU    idem: input, weight and bias gradients in one pass
    ``dwconv_fwd``          CUDA   ``direct``, ``tiled`` (shared memory), ``igemm`` (large kernels)
    ``dwconv_dgrad``        CUDA   idem, input gradient
    ``dwconv_wgrad``        CUDA   idem, weight and bias gradients (deterministic, no atomics)
    ======================  =====  =======================================================

    CUDA kernels take float32, float16 and bfloat16 data and accumulate in float32; the CPU
    kernels compute in float32 (other dtypes are cast there and back).

Select a backend with ``set_backend(name)``, the ``backend(name)`` context manager, or the
``JVISION_OPS_BACKEND`` environment variable (read at import; default ``kernel``); pin a variant
with :func:`jvision.ops.autotune.pin`. :func:`depthwise_conv2d_impl` runs a named backend.
All three give gradients for the input, the weight and the bias; second-order gradients only
through ``reference`` and ``builtin``.
"""
from __future__ import annotations

import contextlib
import math
import os
from dataclasses import dataclass

import jittor as jt
from jittor import nn

from . import _jtcode, autotune
from .autotune import Variant
from .residual import scaled_residual

BACKENDS = ("kernel", "builtin", "reference")
_ENV = "JVISION_OPS_BACKEND"


def _initial_backend() -> str:
    name = os.environ.get(_ENV, "kernel").strip().lower() or "kernel"
    if name not in BACKENDS:
        raise ValueError(f"environment variable {_ENV}={name!r}: expected one of {BACKENDS}")
    return name


_state = {"backend": _initial_backend()}


def get_backend() -> str:
    """Name of the active ops backend (every op of :mod:`jvision.ops` follows it)."""
    return _state["backend"]


def set_backend(name: str) -> None:
    """Select ``"kernel"`` (ours), ``"builtin"`` (Jittor's) or ``"reference"`` (meta-operators) globally."""
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


def device() -> str:
    """Where Jittor runs ops now: ``"cuda"`` or ``"cpu"``."""
    return "cuda" if jt.flags.use_cuda else "cpu"


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

    @classmethod
    def from_params(cls, p: dict) -> "ConvGeom":
        return cls(p["KH"], p["KW"], p["SH"], p["SW"], p["PH"], p["PW"], p["DH"], p["DW"])

    def label(self) -> str:
        s = f"{self.kh}x{self.kw}"
        if (self.sh, self.sw) != (1, 1):
            s += f" s{self.sh}x{self.sw}"
        if (self.dh, self.dw) != (1, 1):
            s += f" d{self.dh}x{self.dw}"
        return s + f" p{self.ph}x{self.pw}"


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
# kernel: variants and the jt.code ops they run

CUDA_DTYPES = ("float32", "float16", "bfloat16")
SMEM_LIMIT = 48 * 1024  # static shared memory per block


def cpu_headers(variant: str, *extra: str) -> tuple:
    """Header files of a CPU variant: the AVX-512 build sets 16-float vectors before the shared header."""
    return (("dwconv_cpu_avx512.h",) if variant.endswith("avx512") else ()) + ("dwconv_cpu.h",) + extra


def cuda_tile_smem_bytes(g: ConvGeom) -> int:
    """Shared memory of the ``tiled`` CUDA forward and input-gradient kernels for this geometry
    (their input patches: 16 x 32 outputs per block, see dwconv_fwd_tiled.cu, dwconv_dgrad_tiled.cu)."""
    th, tw = 16, 32
    fwd = ((th - 1) * g.sh + (g.kh - 1) * g.dh + 1) * ((tw - 1) * g.sw + (g.kw - 1) * g.dw + 2)
    bwd = ((th - 1 + (g.kh - 1) * g.dh) // g.sh + 2) * ((tw - 1 + (g.kw - 1) * g.dw) // g.sw + 3)
    return 4 * (max(fwd, bwd) + g.kh * g.kw)


def cuda_igemm_smem_bytes(g: ConvGeom) -> int:
    """Shared memory of the ``igemm`` CUDA kernels (32 x 64 outputs per block, dwconv_fwd_igemm.cu;
    patch columns padded one float in four against bank conflicts)."""
    rows, cols = 32 + g.kh - 1, 64 + g.kw - 1
    return 4 * (rows * (cols + cols // 4 + 1) + g.kh * g.kw)


def cuda_wgrad_tiled_smem_bytes(g: ConvGeom) -> int:
    """Shared memory of the ``tiled`` CUDA weight-gradient kernel (x patch of an 8 x 32 tile, dy tile,
    reduction buffer; dwconv_wgrad_tiled.cu)."""
    rows, cols = 7 * g.sh + (g.kh - 1) * g.dh + 1, 31 * g.sw + (g.kw - 1) * g.dw + 2
    return 4 * (rows * cols + 256 + 256)


def cuda_wgrad_igemm_smem_bytes(g: ConvGeom) -> int:
    """Shared memory of the ``igemm`` CUDA weight-gradient kernel (dwconv_wgrad_igemm.cu)."""
    khp, kwp = -(-g.kh // 4) * 4, -(-g.kw // 4) * 4
    rows, cols = 16 + khp - 1, 32 + kwp
    return 4 * (rows * (cols + cols // 4 + 1) + 16 * 32 + khp * kwp + 32)


def _cuda_dtype(p) -> str | None:
    return None if p.dtype in CUDA_DTYPES else f"dtype {p.dtype} (CUDA kernels take {', '.join(CUDA_DTYPES)})"


def _cuda_reason(p, unit: bool = False, min_k: int = 0, smem=None, what: str = "input patch") -> str | None:
    """Why a CUDA variant cannot run ``p``: ``unit`` stride and dilation only, kernels of at least
    ``min_k`` x ``min_k``, ``smem(geom)`` bytes of static shared memory at most 48 KiB, a CUDA dtype."""
    g = ConvGeom.from_params(p.param)
    if unit and (g.sh, g.sw, g.dh, g.dw) != (1, 1, 1, 1):
        return "stride and dilation 1 only"
    if min(g.kh, g.kw) < min_k:
        return f"kernels of at least {min_k}x{min_k} only"
    if smem is not None and smem(g) > SMEM_LIMIT:
        return f"the {what} needs {smem(g)} bytes of shared memory (> 48 KiB)"
    return _cuda_dtype(p)


def _tiled_ok(p):
    return _cuda_reason(p, smem=cuda_tile_smem_bytes)


def _igemm_ok(p):
    return _cuda_reason(p, unit=True, min_k=7, smem=cuda_igemm_smem_bytes)


def _cpu_default(p, names):
    # Measured on this project's CPUs the 8-float build is never much slower; the AVX-512 build is
    # an autotuning candidate (wider vectors pay on wide planes, waste lanes on narrow ones).
    return "portable" if "portable" in names else names[0]


def _cuda_default(p, names):
    g = ConvGeom.from_params(p.param)
    if "igemm" in names and g.kh * g.kw >= 13 * 13:
        return "igemm"
    for name in ("tiled", "direct"):
        if name in names:
            return name
    return names[0]


def _register():
    ops = (
        ("dwconv_fwd", "depthwise convolution, forward"),
        ("dwconv_bwd", "depthwise convolution, input + weight + bias gradients in one pass (CPU)"),
        ("dwconv_dgrad", "depthwise convolution, input gradient (CUDA)"),
        ("dwconv_wgrad", "depthwise convolution, weight + bias gradients (CUDA)"),
    )
    for name, summary in ops:
        default = _cpu_default if name == "dwconv_bwd" else (
            _cuda_default if name in ("dwconv_dgrad", "dwconv_wgrad") else _default_any)
        autotune.register_op(name, summary, default, _bench)
    for op, body in (("dwconv_fwd", "dwconv_fwd.cc"), ("dwconv_bwd", "dwconv_bwd.cc")):
        autotune.register_variant(Variant(op, "portable", "cpu", "OpenMP over planes, 8-float vectors",
                                          cpu_headers("portable", body)))
        autotune.register_variant(Variant(op, "avx512", "cpu", "the same with 16-float (AVX-512) vectors",
                                          cpu_headers("avx512", body), isa="avx512f"))
    kinds = {
        "direct": ("one thread per output, global-memory reads", _cuda_dtype),
        "tiled": ("shared-memory input patch per 16x32 tile", _tiled_ok),
        "igemm": ("Toeplitz implicit GEMM, register-blocked 2x4 micro-tiles (large kernels)", _igemm_ok),
    }
    for stage, op in (("fwd", "dwconv_fwd"), ("dgrad", "dwconv_dgrad"), ("wgrad", "dwconv_wgrad")):
        for kind, (summary, ok) in kinds.items():
            files = ("dwconv_cuda.h",) + _CUDA_FILES[(stage, kind)]
            if stage == "dgrad" and kind == "igemm":
                ok = _dgrad_igemm_ok
            if stage == "wgrad":
                summary = _WGRAD_SUMMARY[kind]
                ok = {"direct": _cuda_dtype, "tiled": _wgrad_tiled_ok, "igemm": _wgrad_igemm_ok}[kind]
            autotune.register_variant(Variant(op, kind, "cuda", summary, files, ok))


def _default_any(p, names):
    return _cuda_default(p, names) if p.device == "cuda" else _cpu_default(p, names)


_CUDA_FILES = {
    ("fwd", "direct"): ("dwconv_fwd_direct.cu",),
    ("fwd", "tiled"): ("dwconv_fwd_tiled.cu",),
    ("fwd", "igemm"): ("dwconv_fwd_igemm.cu",),
    ("dgrad", "direct"): ("dwconv_dgrad_direct.cu",),
    ("dgrad", "tiled"): ("dwconv_dgrad_tiled.cu",),
    ("dgrad", "igemm"): ("dwconv_fwd_igemm.cu", "dwconv_dgrad_igemm.cu"),
    ("wgrad", "direct"): ("dwconv_wgrad_direct.cu",),
    ("wgrad", "tiled"): ("dwconv_wgrad_tiled.cu",),
    ("wgrad", "igemm"): ("dwconv_wgrad_igemm.cu",),
}
_WGRAD_SUMMARY = {
    "direct": "per-tap partial sums over position splits, coalesced global reads, two passes",
    "tiled": "shared-memory x patch and dy tile, taps spread over threads, two passes",
    "igemm": "dW as x rows times the Toeplitz matrix of dy rows, 4x4 tap micro-tiles (13x13 and up)",
}


def dgrad_geom(g: ConvGeom) -> ConvGeom:
    """The stride-1 input gradient as a forward convolution of dy with the flipped kernel: padding
    (k-1)*d - p on each side (negative: a crop)."""
    return ConvGeom(g.kh, g.kw, 1, 1, (g.kh - 1) * g.dh - g.ph, (g.kw - 1) * g.dw - g.pw, g.dh, g.dw)


def _dgrad_igemm_ok(p):
    g = ConvGeom.from_params(p.param)
    if (g.sh, g.sw) != (1, 1):
        return "stride 1 only"
    return _igemm_ok(autotune.problem(p.op, p.device, p.dtype, p.shapes, dgrad_geom(g).params()))


def _wgrad_tiled_ok(p):
    g = ConvGeom.from_params(p.param)
    if g.kh * g.kw + 1 > 16 * 256:
        return "more than 4095 taps"
    return _cuda_reason(p, smem=cuda_wgrad_tiled_smem_bytes, what="x patch")


def _wgrad_igemm_ok(p):
    # fewer than 13x13 taps leave most threads of a block idle
    return _cuda_reason(p, unit=True, min_k=13, smem=cuda_wgrad_igemm_smem_bytes, what="x patch")


# Host code of the CUDA ops: the launchers are defined by the variant's .cu file.
_CUDA_FWD_CALL = """
#if JV_HAS_BIAS
const in0_type* jv_bias = in2_p;
#else
const in0_type* jv_bias = nullptr;
#endif
jv_dwconv_fwd(in0_p, in1_p, jv_bias, out0_p, in0_shape0, in0_shape1, in0_shape2, in0_shape3,
              out0_shape2, out0_shape3);
"""
_CUDA_DGRAD_CALL = """
@alias(dy, in0)
@alias(w, in1)
@alias(dx, out0)
jv_dwconv_dgrad(dy_p, w_p, dx_p, dx_shape0, dx_shape1, dx_shape2, dx_shape3, dy_shape2, dy_shape3);
"""
_CUDA_WGRAD_CALL = """
@alias(x, in0)
@alias(dy, in1)
#if JV_NEED_DW
x_type* jv_dw = dw_p;
#else
x_type* jv_dw = nullptr;
#endif
#if JV_NEED_DB
x_type* jv_db = db_p;
#else
x_type* jv_db = nullptr;
#endif
jv_dwconv_wgrad(x_p, dy_p, jv_dw, jv_db, scratch_p, scratch_shape0,
                x_shape0, x_shape1, x_shape2, x_shape3, dy_shape2, dy_shape3);
"""


def wgrad_scratch(variant: str, g: ConvGeom, n: int, c: int, oh: int, ow: int) -> int:
    """Floats of scratch (per-split partial sums) that a CUDA weight-gradient variant needs."""
    kk1 = g.kh * g.kw + 1
    blocks_per_split = -(-kk1 // 8) if variant == "direct" else 1  # direct: one block per 8 taps
    return wgrad_splits(n, c, oh, ow, blocks_per_split) * c * kk1


def wgrad_splits(n: int, c: int, oh: int, ow: int, blocks_per_split: int) -> int:
    """Position splits of a CUDA weight-gradient kernel: enough blocks to fill a large GPU
    (about 1024), at least 1024 positions per split."""
    splits = -(-1024 // (c * max(1, blocks_per_split)))
    max_splits = -(-(n * oh * ow) // 1024)
    return max(1, min(splits, max_splits, 65535))


def fwd_spec(variant: str, dev: str, g: ConvGeom, x_shape, dtype: str, has_bias: bool,
             residual_gelu: bool = False) -> _jtcode.CodeSpec:
    """The ``jt.code`` op of the forward pass through ``variant``; ``residual_gelu`` (CPU, stride 1,
    "same" padding): ``x + GELU(conv(x))`` instead."""
    n, c, h, w = (int(s) for s in x_shape)
    oh, ow = g.out_size(h, w)
    ins = [(dtype, [n, c, h, w]), (dtype, [c, 1, g.kh, g.kw])] + ([(dtype, [c])] if has_bias else [])
    outs = [(dtype, [n, c, oh, ow])]
    params = dict(g.params(), HAS_BIAS=has_bias)
    if dev == "cpu":
        if residual_gelu:
            params["RES_GELU"] = True
        files = cpu_headers(variant)
        return _jtcode.CodeSpec(f"dwconv_fwd/{variant}", "cpu", _jtcode.header(params, *files),
                                _jtcode.source("dwconv_fwd.cc"), ins, outs, files=files + ("dwconv_fwd.cc",))
    files = ("dwconv_cuda.h",) + _CUDA_FILES[("fwd", variant)]
    return _jtcode.CodeSpec(f"dwconv_fwd/{variant}", "cuda", _jtcode.header(dict(params, FLIP=0), *files),
                            _CUDA_FWD_CALL, ins, outs, files=files)


def bwd_spec(variant: str, g: ConvGeom, x_shape, dy_shape, dtype: str,
             need_dx: bool, need_dw: bool, need_db: bool) -> _jtcode.CodeSpec:
    """The CPU one-pass backward op (``dwconv_bwd.cc``): outputs dx / dw / db as requested."""
    n, c, h, w = (int(s) for s in x_shape)
    names, outs = [], []
    for flag, name, shape in ((need_dx, "dx", [n, c, h, w]), (need_dw, "dw", [c, 1, g.kh, g.kw]),
                              (need_db, "db", [c])):
        if flag:
            names.append(name)
            outs.append((dtype, shape))
    params = dict(g.params(), NEED_DX=need_dx, NEED_DW=need_dw, NEED_DB=need_db)
    files = cpu_headers(variant)
    ins = [(dtype, [n, c, h, w]), (dtype, [c, 1, g.kh, g.kw]), (dtype, list(dy_shape))]
    return _jtcode.CodeSpec(f"dwconv_bwd/{variant}", "cpu", _jtcode.header(params, *files),
                            _jtcode.aliases("out", names) + _jtcode.source("dwconv_bwd.cc"), ins, outs,
                            files=files + ("dwconv_bwd.cc",))


def dgrad_spec(variant: str, g: ConvGeom, x_shape, dy_shape, dtype: str) -> _jtcode.CodeSpec:
    """The CUDA input-gradient op: dy [N, C, OH, OW], w -> dx [N, C, H, W]."""
    n, c, h, w = (int(s) for s in x_shape)
    files = ("dwconv_cuda.h",) + _CUDA_FILES[("dgrad", variant)]
    params = dict(dgrad_geom(g).params(), FLIP=1, HAS_BIAS=False) if variant == "igemm" else g.params()
    ins = [(dtype, list(dy_shape)), (dtype, [c, 1, g.kh, g.kw])]
    return _jtcode.CodeSpec(f"dwconv_dgrad/{variant}", "cuda", _jtcode.header(params, *files),
                            _CUDA_DGRAD_CALL, ins, [(dtype, [n, c, h, w])], files=files)


def wgrad_spec(variant: str, g: ConvGeom, x_shape, dy_shape, dtype: str,
               need_dw: bool, need_db: bool) -> _jtcode.CodeSpec:
    """The CUDA weight/bias-gradient op: x, dy -> dw / db as requested, plus float32 scratch."""
    n, c, h, w = (int(s) for s in x_shape)
    names, outs = [], []
    if need_dw:
        names.append("dw"), outs.append((dtype, [c, 1, g.kh, g.kw]))
    if need_db:
        names.append("db"), outs.append((dtype, [c]))
    names.append("scratch")
    outs.append(("float32", [wgrad_scratch(variant, g, n, c, int(dy_shape[2]), int(dy_shape[3]))]))
    files = ("dwconv_cuda.h",) + _CUDA_FILES[("wgrad", variant)]
    params = dict(g.params(), NEED_DW=need_dw, NEED_DB=need_db)
    ins = [(dtype, [n, c, h, w]), (dtype, list(dy_shape))]
    return _jtcode.CodeSpec(f"dwconv_wgrad/{variant}", "cuda", _jtcode.header(params, *files),
                            _jtcode.aliases("out", names) + _CUDA_WGRAD_CALL, ins, outs, files=files)


def fwd_problem(g: ConvGeom, x_shape, dtype: str, dev: str, has_bias: bool) -> autotune.Problem:
    return autotune.problem("dwconv_fwd", dev, dtype, [x_shape], dict(g.params(), HAS_BIAS=has_bias))


def _bwd_problem(op: str, g: ConvGeom, x_shape, dtype: str, dev: str, **flags) -> autotune.Problem:
    return autotune.problem(op, dev, dtype, [x_shape], dict(g.params(), **flags))


def _bench(p: autotune.Problem, variant: str):
    """A zero-argument callable running ``variant`` on random inputs of ``p``'s shapes (autotuning)."""
    import numpy as np
    prm = p.param
    g = ConvGeom.from_params(prm)
    n, c, h, w = p.shapes[0]
    oh, ow = g.out_size(h, w)
    rng = np.random.default_rng(0)

    def rand(*shape):
        return jt.array(rng.standard_normal(shape).astype(np.float32)).cast(p.dtype)
    x, wt, b, dy = rand(n, c, h, w), rand(c, 1, g.kh, g.kw), rand(c), rand(n, c, oh, ow)
    if p.op == "dwconv_fwd":
        spec = fwd_spec(variant, p.device, g, [n, c, h, w], p.dtype, prm["HAS_BIAS"])
        ins = [x, wt] + ([b] if prm["HAS_BIAS"] else [])
    elif p.op == "dwconv_bwd":
        spec = bwd_spec(variant, g, [n, c, h, w], [n, c, oh, ow], p.dtype, prm["NEED_DX"], prm["NEED_DW"],
                        prm["NEED_DB"])
        ins = [x, wt, dy]
    elif p.op == "dwconv_dgrad":
        spec, ins = dgrad_spec(variant, g, [n, c, h, w], [n, c, oh, ow], p.dtype), [dy, wt]
    else:
        spec = wgrad_spec(variant, g, [n, c, h, w], [n, c, oh, ow], p.dtype, prm["NEED_DW"], prm["NEED_DB"])
        ins = [x, dy]

    def step():
        jt.sync(_jtcode.run(spec, ins))
    return step


def kernel_fwd(x, weight, bias, g: ConvGeom, residual_gelu: bool = False):
    """Forward ``jt.code`` op through the selected variant (no autograd; dtypes already supported)."""
    dev, dtype = device(), str(x.dtype)
    v = autotune.select(fwd_problem(g, x.shape, dtype, dev, bias is not None))
    spec = fwd_spec(v.name, dev, g, x.shape, dtype, bias is not None, residual_gelu)
    return _jtcode.run(spec, [x, weight] + ([bias] if bias is not None else []))[0]


def bwd_variants(g: ConvGeom, x_shape, dtype: str, dev: str, need_dx: bool, need_dw: bool,
                 need_db: bool) -> dict:
    """The variants that compute the requested gradients: ``{"bwd": name}`` (the CPU one-pass
    kernel) or ``{"dgrad": name, "wgrad": name}`` (CUDA; only those needed).

    Called while the forward is built (``_DWConvKernel.execute``) so that any autotuning happens
    there: timing variants inside the backward pass, with the whole step's lazy graph pending,
    made the first training step of VAN-B0 (batch 8) peak at 20 GB instead of 1 GB."""
    if dev == "cpu":
        p = _bwd_problem("dwconv_bwd", g, x_shape, dtype, "cpu", NEED_DX=need_dx, NEED_DW=need_dw,
                         NEED_DB=need_db)
        return {"bwd": autotune.select(p).name}
    out = {}
    if need_dx:
        out["dgrad"] = autotune.select(_bwd_problem("dwconv_dgrad", g, x_shape, dtype, "cuda")).name
    if need_dw or need_db:
        out["wgrad"] = autotune.select(_bwd_problem("dwconv_wgrad", g, x_shape, dtype, "cuda",
                                                    NEED_DW=need_dw, NEED_DB=need_db)).name
    return out


def kernel_bwd(x, weight, dy, g: ConvGeom, need_dx: bool, need_dw: bool, need_db: bool):
    """Gradients ``(dx, dw, db)`` (None where not requested) through the selected variants: the CPU
    one-pass kernel, or the CUDA input-gradient and weight-gradient kernels."""
    dev, dtype = device(), str(x.dtype)
    if str(dy.dtype) != dtype:
        dy = dy.cast(dtype)
    names = bwd_variants(g, x.shape, dtype, dev, need_dx, need_dw, need_db)
    if dev == "cpu":
        spec = bwd_spec(names["bwd"], g, x.shape, dy.shape, dtype, need_dx, need_dw, need_db)
        outs = iter(_jtcode.run(spec, [x, weight, dy]))
    else:
        outs = []
        if need_dx:
            outs += _jtcode.run(dgrad_spec(names["dgrad"], g, x.shape, dy.shape, dtype), [dy, weight])
        if need_dw or need_db:
            outs += _jtcode.run(wgrad_spec(names["wgrad"], g, x.shape, dy.shape, dtype, need_dw, need_db),
                                [x, dy])
        outs = iter(outs)
    dx = next(outs) if need_dx else None
    dw = next(outs) if need_dw else None
    db = next(outs) if need_db else None
    return dx, dw, db


class _DWConvKernel(jt.Function):
    """Autograd wrapper of the forward / backward ``jt.code`` ops (first-order gradients)."""

    def __init__(self, geom: ConvGeom):
        self.geom = geom

    def execute(self, x, weight, bias=None):
        self.x, self.weight, self.has_bias = x, weight, bias is not None
        y = kernel_fwd(x, weight, bias, self.geom)
        if not jt.flags.no_grad:  # choose (and tune) the backward now, not inside the backward pass
            need = [v is not None and not v.is_stop_grad() for v in (x, weight, bias)]
            if any(need):
                bwd_variants(self.geom, x.shape, str(x.dtype), device(), *need)
        return y

    def grad(self, dy):
        none = (None, None, None) if self.has_bias else (None, None)
        if dy is None:
            return none
        mask = self.input_mask  # set by jt.Function: >= 0 for inputs that need a gradient
        need_dx, need_dw = mask[0] >= 0, mask[1] >= 0
        need_db = self.has_bias and mask[2] >= 0
        if not (need_dx or need_dw or need_db):
            return none
        dx, dw, db = kernel_bwd(self.x, self.weight, dy, self.geom, need_dx, need_dw, need_db)
        return (dx, dw, db) if self.has_bias else (dx, dw)


def kernel_dtype(dtype: str, dev: str) -> str:
    """The dtype our kernels compute a ``dtype`` input in: itself where supported, else float32."""
    dtype = str(dtype)
    if dev == "cuda" and dtype in CUDA_DTYPES:
        return dtype
    return "float32"


def _kernel(x, weight, bias, g: ConvGeom):
    if x.dtype != weight.dtype or (bias is not None and bias.dtype != x.dtype):
        raise ValueError(f"depthwise_conv2d: 'x', 'weight' and 'bias' must share a dtype, got "
                         f"{x.dtype}, {weight.dtype}, {None if bias is None else bias.dtype}")
    dev = device()
    kd = kernel_dtype(x.dtype, dev)
    if kd != str(x.dtype):  # computed in float32, cast back
        dt = x.dtype
        b = None if bias is None else bias.cast(kd)
        return _kernel(x.cast(kd), weight.cast(kd), b, g).cast(dt)
    fn = _DWConvKernel(g)
    return fn(x, weight, bias) if bias is not None else fn(x, weight)


_IMPLS = {"kernel": _kernel, "builtin": _builtin, "reference": _reference}

_register()


def needs_grad(*tensors) -> bool:
    """Whether a gradient can flow to any of the given Vars (False under ``jt.no_grad()``)."""
    if jt.flags.no_grad:
        return False
    return any(t is not None and not t.is_stop_grad() for t in tensors)


def depthwise_conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1):
    """Depthwise 2-D convolution (``groups == channels``), PyTorch semantics.

    Args:
        x: input ``[N, C, H, W]``.
        weight: ``[C, 1, kh, kw]``; any kernel size, square or strip (``1 x k``, ``k x 1``).
        bias: optional ``[C]``.
        stride, padding, dilation: int or ``(h, w)`` pair; padding is zero padding on both sides.

    Returns:
        ``[N, C, OH, OW]`` with ``OH = (H + 2*ph - dh*(kh-1) - 1) // sh + 1`` (same for OW).

    Runs through the active backend (:func:`set_backend`); under ``kernel`` the variant of each
    stage is chosen by :mod:`jvision.ops.autotune`.
    """
    g = check_args(x, weight, bias, stride, padding, dilation)
    return _IMPLS[get_backend()](x, weight, bias, g)


def depthwise_residual_gelu(x, weight, bias=None, padding=0, dilation=1):
    """``x + GELU(depthwise_conv2d(x, ...))`` for a stride-1 convolution with "same" padding (the
    positional term of Conv2Former's MLP). On the ``kernel`` backend on CPU, when no gradient is
    needed (inference), the sum and the GELU are the convolution's epilogue, while each output
    tile is in registers; otherwise the convolution followed by :func:`jvision.ops.scaled_residual`."""
    g = check_args(x, weight, bias, 1, padding, dilation)
    if (g.ph * 2, g.pw * 2) != (g.dh * (g.kh - 1), g.dw * (g.kw - 1)):
        raise ValueError(f"depthwise_residual_gelu: padding {(g.ph, g.pw)} does not keep the size of a "
                         f"{g.kh}x{g.kw} kernel with dilation {(g.dh, g.dw)}")
    if (get_backend() == "kernel" and device() == "cpu" and str(x.dtype) == "float32"
            and weight.dtype == x.dtype and (bias is None or bias.dtype == x.dtype)
            and not needs_grad(x, weight, bias)):
        return kernel_fwd(x, weight, bias, g, residual_gelu=True)
    return scaled_residual(x, _IMPLS[get_backend()](x, weight, bias, g), gelu=True)


def depthwise_conv2d_impl(impl: str, x, weight, bias=None, stride=1, padding=0, dilation=1):
    """:func:`depthwise_conv2d` through exactly the named backend."""
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

    def geom(self) -> ConvGeom:
        return ConvGeom(*self.kernel_size, *self.stride, *self.padding, *self.dilation)

    def execute(self, x):
        return depthwise_conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation)

    def extra_repr(self) -> str:
        s = f"{self.channels}, kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        return s + ("" if self.bias is not None else ", bias=False")
