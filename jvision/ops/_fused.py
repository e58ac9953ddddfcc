"""Fused kernels for the spatial parts of the attention modules, as ops with variants.

======  =====  ====================================================================================
op      where  variants
======  =====  ====================================================================================
lka     CPU    ``fused`` (``lka_fwd.cc`` / ``lka_bwd.cc``), ``fused_avx512``, ``unfused``
msca    CPU    ``fused`` (``msca_fwd.cc`` / ``msca_bwd.cc``), ``fused_avx512``, ``unfused``
convmod CPU    ``fused`` (``convmod_fwd.cc`` / ``convmod_bwd.cc``), ``fused_avx512``, ``unfused``
lka     CUDA   ``fused`` (``lka_fwd_fused.cu``), ``unfused``
msca    CUDA   ``fused`` (``msca_fwd_fused.cu``), ``unfused``
convmod CUDA   ``fused`` (``convmod_fwd_fused.cu``), ``unfused``
======  =====  ====================================================================================

A CPU fused op computes the chain of depthwise convolutions (and, for ConvMod, the GELU before and
the product with the value branch after) chunk of planes by chunk of planes, keeping the
intermediates in cache; its backward is one kernel too and recomputes the cheap intermediates. A
CUDA fused op runs its forward as one kernel (intermediates in shared memory) and its backward
through our depthwise CUDA kernels, recomputing the intermediates instead of keeping them.
``unfused`` is the plain composition of :func:`~jvision.ops.dwconv.depthwise_conv2d` calls (each
of them through its own variants). The choice is :mod:`jvision.ops.autotune`'s; the fused
variants apply when the layers have the layout the kernels implement (bias, stride 1, "same"
padding, the official kernel shapes) and a supported dtype, otherwise ``unfused`` is the only
eligible variant. Under the ``builtin`` and ``reference`` backends the composition runs through
that backend. Every path gives the same result within float rounding, and gradients to every
parameter.
"""
from __future__ import annotations

import jittor as jt
from jittor import nn

from . import _jtcode, autotune
from .autotune import Variant
from .dwconv import (CUDA_DTYPES, ConvGeom, DepthwiseConv2d, bwd_variants, cpu_headers, device, fwd_problem,
                     get_backend, kernel_bwd, kernel_fwd, needs_grad)

_GEOM_KEYS = ("KH", "KW", "DH", "DW", "PH", "PW")


def _same(g: ConvGeom) -> bool:
    """Stride 1 and output size equal to input size, with symmetric padding."""
    return (g.sh == 1 and g.sw == 1 and (g.kh - 1) * g.dh == 2 * g.ph
            and (g.kw - 1) * g.dw == 2 * g.pw)


def _layout(x, convs) -> str:
    """Why the fused kernels cannot run these layers on ``x`` ("" when they can)."""
    if len(x.shape) != 4:
        return "input not 4-D"
    for conv in convs:
        if conv.bias is None:
            return "a layer without bias"
        if conv.channels != x.shape[1]:
            return "channel mismatch"
        if not _same(conv.geom()):
            return "a layer that is not stride 1 with 'same' padding"
        if any(str(t.dtype) != str(x.dtype) for t in (conv.weight, conv.bias)):
            return "parameters of another dtype than the input"
    return ""


def cuda_smem_bytes(op: str, p: dict) -> int:
    """Static shared memory of the fused CUDA forward kernel of ``op`` for the layers in ``p``
    (16 x 32 output tiles: see lka_fwd_fused.cu, msca_fwd_fused.cu, convmod_fwd_fused.cu)."""
    th, tw = 16, 32
    if op == "lka":
        (akh, akw, aph, apw, _, _), (bkh, bkw, bph, bpw, _, _) = p["g0"], p["g1"]
        ar, ac = th + 2 * bph, tw + 2 * bpw
        return 4 * (ar * (ac + 1) + (ar + 2 * aph) * (ac + 2 * apw + 1) + akh * akw + bkh * bkw)
    if op == "msca":
        k0 = p["g0"][0]
        pm = max(p[f"g{i}"][1] for i in (1, 3, 5)) // 2
        ar, ac = th + 2 * pm, tw + 2 * pm
        nw = k0 * k0 + 2 * sum(p[f"g{i}"][1] for i in (1, 3, 5))
        return 4 * ((ar + 2 * (k0 // 2)) * (ac + 2 * (k0 // 2) + 1) + ar * (ac + 1) + ar * (tw + 1) + nw)
    kh, kw, _, _, dh, dw = p["g0"]
    return 4 * ((th + (kh - 1) * dh) * (tw + (kw - 1) * dw + 1) + kh * kw)


def _fused_ok(device: str):
    def ok(p):
        if p.param["layout"]:
            return p.param["layout"]
        if device == "cpu" and p.dtype != "float32":
            return f"dtype {p.dtype} (the CPU kernels take float32)"
        if device == "cuda":
            if p.dtype not in CUDA_DTYPES:
                return f"dtype {p.dtype} (the CUDA kernels take {', '.join(CUDA_DTYPES)})"
            smem = cuda_smem_bytes(p.op, p.param)
            if smem > 48 * 1024:
                return f"the tile needs {smem} bytes of shared memory (> 48 KiB)"
        return None
    return ok


def _default(p, names):
    if "fused" not in names:
        return names[0]
    if p.op == "convmod" and not p.grad and p.device == "cpu":
        # Forward only, Jittor's GELU plus our depthwise kernel measured 10-15% faster than the
        # fused kernel on CPU (benchmarks/bench_ops.py, convmod7/convmod11, one thread).
        return "unfused"
    return "fused"


def _register():
    for op, summary, files in (
            ("lka", "VAN LKA spatial part: conv_spatial(conv0(x))", ("lka_fwd.cc", "lka_bwd.cc")),
            ("msca", "SegNeXt MSCA spatial part: a + sum of 3 strip pairs, a = conv0(x)",
             ("msca_fwd.cc", "msca_bwd.cc")),
            ("convmod", "Conv2Former ConvMod: dwconv(GELU(a)) * v", ("convmod_fwd.cc", "convmod_bwd.cc"))):
        autotune.register_op(op, summary, _default, _bench)
        autotune.register_variant(Variant(op, "fused", "cpu", "one kernel per pass, chunks of planes in cache",
                                          cpu_headers("portable", *files), _fused_ok("cpu")))
        autotune.register_variant(Variant(op, "fused_avx512", "cpu", "the same with 16-float vectors",
                                          cpu_headers("avx512", *files), _fused_ok("cpu"), isa="avx512f"))
        autotune.register_variant(Variant(op, "unfused", "cpu", "composition of depthwise_conv2d calls"))
        autotune.register_variant(Variant(op, "fused", "cuda",
                                          "fused forward kernel, backward by our depthwise kernels",
                                          ("dwconv_cuda.h", f"{op}_fwd_fused.cu"), _fused_ok("cuda")))
        autotune.register_variant(Variant(op, "unfused", "cuda", "composition of depthwise_conv2d calls"))


def _geom_params(prefix: str, g: ConvGeom) -> dict:
    return {f"{prefix}_{k}": v for k, v in g.params().items() if k in _GEOM_KEYS}


def _problem(op: str, x, convs, grad: bool, layout: str | None = None) -> autotune.Problem:
    """``layout``: why the fused kernels cannot run (default: checked from the layers); part of the key."""
    params = {f"g{i}": (c.kernel_size + c.padding + c.dilation) for i, c in enumerate(convs)}
    params["layout"] = _layout(x, convs) if layout is None else layout
    return autotune.problem(op, device(), x.dtype, [x.shape], params, grad)


# ------------------------------------------------------------------------------------------------
# LKA: convB(convA(x))

def lka_fwd_spec(variant: str, dev: str, ga: ConvGeom, gb: ConvGeom, x_shape, dtype: str,
                 save_a: bool) -> _jtcode.CodeSpec:
    """Fused forward: ``attn`` (and ``a = convA(x)`` when ``save_a``)."""
    n, c, h, w = (int(s) for s in x_shape)
    ins = [(dtype, [n, c, h, w]), (dtype, [c, 1, ga.kh, ga.kw]), (dtype, [c]), (dtype, [c, 1, gb.kh, gb.kw]),
           (dtype, [c])]
    outs = [(dtype, [n, c, h, w])] * (2 if save_a else 1)
    params = dict(_geom_params("A", ga), **_geom_params("B", gb), SAVE_A=save_a)
    if dev == "cpu":
        files = cpu_headers(variant)
        return _jtcode.CodeSpec(f"lka_fwd/{variant}", "cpu", _jtcode.header(params, *files),
                                _jtcode.source("lka_fwd.cc"), ins, outs, files=files + ("lka_fwd.cc",))
    files = ("dwconv_cuda.h", "lka_fwd_fused.cu")
    return _jtcode.CodeSpec(f"lka_fwd/{variant}", "cuda", _jtcode.header(params, *files), _LKA_CUDA_CALL,
                            ins, outs, files=files)


_LKA_CUDA_CALL = """
#if JV_SAVE_A
in0_type* jv_a = out1_p;
#else
in0_type* jv_a = nullptr;
#endif
jv_lka_fwd(in0_p, in1_p, in2_p, in3_p, in4_p, out0_p, jv_a, in0_shape0, in0_shape1, in0_shape2, in0_shape3);
"""


def lka_bwd_spec(variant: str, ga: ConvGeom, gb: ConvGeom, x_shape, dtype: str) -> _jtcode.CodeSpec:
    """CPU fused backward: (x, wA, bA, wB, bB, dattn, a) -> (dx, dwA, dbA, dwB, dbB)."""
    n, c, h, w = (int(s) for s in x_shape)
    params = [(dtype, [c, 1, ga.kh, ga.kw]), (dtype, [c]), (dtype, [c, 1, gb.kh, gb.kw]), (dtype, [c])]
    x = (dtype, [n, c, h, w])
    files = cpu_headers(variant)
    return _jtcode.CodeSpec(f"lka_bwd/{variant}", "cpu",
                            _jtcode.header(dict(_geom_params("A", ga), **_geom_params("B", gb)), *files),
                            _jtcode.source("lka_bwd.cc"), [x] + params + [x, x], [x] + params,
                            files=files + ("lka_bwd.cc",))



def _choose_cuda_backward(dev: str, x, geoms, *params) -> None:
    """On CUDA the blocks' backward passes run our depthwise kernels (recomputed forward, then the
    gradients): choose (and tune) their variants while the forward is built, never inside the
    backward pass (see ``dwconv.bwd_variants``). Every convolution of a block keeps x's shape."""
    if dev != "cuda" or not needs_grad(x, *params):
        return
    shape, dtype = list(x.shape), str(x.dtype)
    for g in geoms:
        autotune.select(fwd_problem(g, shape, dtype, dev, True))
        bwd_variants(g, shape, dtype, dev, True, True, True)

class _LKASpatial(jt.Function):
    def __init__(self, variant: str, ga: ConvGeom, gb: ConvGeom):
        self.variant, self.ga, self.gb, self.dev = variant, ga, gb, device()

    def execute(self, x, wa, ba, wb, bb):
        # With gradients ahead, the forward also writes a = convA(x) for the backward pass.
        save = needs_grad(x, wa, ba, wb, bb)
        spec = lka_fwd_spec(self.variant, self.dev, self.ga, self.gb, x.shape, str(x.dtype), save)
        outs = _jtcode.run(spec, [x, wa, ba, wb, bb])
        self.saved = (x, wa, ba, wb, bb) + ((outs[1],) if save else ())
        _choose_cuda_backward(self.dev, x, (self.ga, self.gb), wa, ba, wb, bb)
        return outs[0]

    def grad(self, dy):
        if dy is None or len(self.saved) != 6:
            return (None,) * 5
        x, wa, ba, wb, bb, a = self.saved
        if self.dev == "cpu":
            spec = lka_bwd_spec(self.variant, self.ga, self.gb, x.shape, str(x.dtype))
            return tuple(_jtcode.run(spec, [x, wa, ba, wb, bb, dy, a]))
        da, dwb, dbb = kernel_bwd(a, wb, dy, self.gb, True, True, True)
        dx, dwa, dba = kernel_bwd(x, wa, da, self.ga, True, True, True)
        return dx, dwa, dba, dwb, dbb


def _lka_run(variant: str, x, conv_a: DepthwiseConv2d, conv_b: DepthwiseConv2d):
    if variant == "unfused":
        return conv_b(conv_a(x))
    fn = _LKASpatial(variant, conv_a.geom(), conv_b.geom())
    return fn(x, conv_a.weight, conv_a.bias, conv_b.weight, conv_b.bias)


def lka_spatial(x, conv_a: DepthwiseConv2d, conv_b: DepthwiseConv2d):
    """``conv_b(conv_a(x))``; under the ``kernel`` backend through the variant of op ``lka``."""
    if get_backend() != "kernel":
        return conv_b(conv_a(x))
    convs = (conv_a, conv_b)
    p = _problem("lka", x, convs, needs_grad(x, *_params(convs)))
    return _lka_run(autotune.select(p).name, x, conv_a, conv_b)


def _params(convs):
    return [t for c in convs for t in (c.weight, c.bias) if t is not None]


# ------------------------------------------------------------------------------------------------
# MSCA: a = conv0(x); a + sum_k convk_2(convk_1(a))

def _msca_shape(conv0, pairs) -> tuple | None:
    """(k0, (s1, s2, s3)) when the layers have the MSCA layout that the fused kernels implement."""
    g0 = conv0.geom()
    if len(pairs) != 3 or g0.kh != g0.kw or g0.dh != 1 or g0.dw != 1 or g0.kh % 2 == 0:
        return None
    sizes = []
    for h, v in pairs:
        gh, gv = h.geom(), v.geom()
        k = gh.kw
        if not (gh.kh == 1 and gv.kw == 1 and gv.kh == k and k % 2 == 1 and gh.dw == 1 and gv.dh == 1):
            return None
        sizes.append(k)
    return g0.kh, tuple(sizes)


def _msca_params(k0: int, strips) -> dict:
    return dict(K0=k0, S1=strips[0], S2=strips[1], S3=strips[2])


def _msca_io(k0: int, strips, x_shape, dtype: str):
    n, c, h, w = (int(s) for s in x_shape)
    shapes = [[c, 1, k0, k0]] + [s for k in strips for s in ([c, 1, 1, k], [c, 1, k, 1])]
    return [(dtype, [n, c, h, w])] + [t for s in shapes for t in ((dtype, s), (dtype, [c]))]


def msca_fwd_spec(variant: str, dev: str, k0: int, strips, x_shape, dtype: str) -> _jtcode.CodeSpec:
    ins = _msca_io(k0, strips, x_shape, dtype)
    if dev == "cpu":
        files = cpu_headers(variant)
        return _jtcode.CodeSpec(f"msca_fwd/{variant}", "cpu", _jtcode.header(_msca_params(k0, strips), *files),
                                _jtcode.source("msca_fwd.cc"), ins, [ins[0]], files=files + ("msca_fwd.cc",))
    files = ("dwconv_cuda.h", "msca_fwd_fused.cu")
    return _jtcode.CodeSpec(f"msca_fwd/{variant}", "cuda", _jtcode.header(_msca_params(k0, strips), *files),
                            _MSCA_CUDA_CALL, ins, [ins[0]], files=files)


_MSCA_CUDA_CALL = """
const in0_type* jv_w[7] = {in1_p, in3_p, in5_p, in7_p, in9_p, in11_p, in13_p};
const in0_type* jv_b[7] = {in2_p, in4_p, in6_p, in8_p, in10_p, in12_p, in14_p};
jv_msca_fwd(in0_p, jv_w, jv_b, out0_p, in0_shape0, in0_shape1, in0_shape2, in0_shape3);
"""


def msca_bwd_spec(variant: str, k0: int, strips, x_shape, dtype: str) -> _jtcode.CodeSpec:
    """CPU fused backward: (x, 14 parameters, ds) -> (dx, 14 parameter gradients)."""
    ins = _msca_io(k0, strips, x_shape, dtype)
    files = cpu_headers(variant)
    return _jtcode.CodeSpec(f"msca_bwd/{variant}", "cpu", _jtcode.header(_msca_params(k0, strips), *files),
                            _jtcode.source("msca_bwd.cc"), ins + [ins[0]], ins,
                            files=files + ("msca_bwd.cc",))


class _MSCASpatial(jt.Function):
    def __init__(self, variant: str, k0: int, strips: tuple, geoms: list):
        self.variant, self.k0, self.strips, self.geoms, self.dev = variant, k0, strips, geoms, device()

    def execute(self, x, *wb):
        self.saved = (x,) + tuple(wb)
        spec = msca_fwd_spec(self.variant, self.dev, self.k0, self.strips, x.shape, str(x.dtype))
        _choose_cuda_backward(self.dev, x, self.geoms, *wb)
        return _jtcode.run(spec, [x, *wb])[0]

    def grad(self, ds):
        if ds is None:
            return (None,) * len(self.saved)
        x = self.saved[0]
        if self.dev == "cpu":
            spec = msca_bwd_spec(self.variant, self.k0, self.strips, x.shape, str(x.dtype))
            return tuple(_jtcode.run(spec, list(self.saved) + [ds]))
        # CUDA: recompute a and the horizontal-strip outputs with our forward kernels, then the
        # chain rule through our gradient kernels. Layers: conv0, then (horizontal, vertical) x 3.
        w, b = self.saved[1::2], self.saved[2::2]
        a = kernel_fwd(x, w[0], b[0], self.geoms[0])
        da, pair_grads = ds, []
        for k in range(3):
            ih, iv = 1 + 2 * k, 2 + 2 * k
            hk = kernel_fwd(a, w[ih], b[ih], self.geoms[ih])
            dh, dwv, dbv = kernel_bwd(hk, w[iv], ds, self.geoms[iv], True, True, True)
            dak, dwh, dbh = kernel_bwd(a, w[ih], dh, self.geoms[ih], True, True, True)
            da = da + dak
            pair_grads += [dwh, dbh, dwv, dbv]
        dx, dw0, db0 = kernel_bwd(x, w[0], da, self.geoms[0], True, True, True)
        return (dx, dw0, db0, *pair_grads)


def _msca_run(variant: str, x, conv0, pairs):
    if variant == "unfused":
        a = conv0(x)
        s = a
        for h, v in pairs:
            s = s + v(h(a))
        return s
    k0, strips = _msca_shape(conv0, pairs)
    layers = [conv0] + [m for pair in pairs for m in pair]
    fn = _MSCASpatial(variant, k0, strips, [m.geom() for m in layers])
    return fn(x, *_params(layers))


def msca_spatial(x, conv0: DepthwiseConv2d, pairs):
    """``a + sum(v(h(a)) for h, v in pairs)`` with ``a = conv0(x)``; under the ``kernel`` backend
    through the variant of op ``msca``."""
    layers = [conv0] + [m for pair in pairs for m in pair]
    if get_backend() != "kernel":
        return _msca_run("unfused", x, conv0, pairs)
    layout = _layout(x, layers)
    if not layout and _msca_shape(conv0, pairs) is None:
        layout = "not the MSCA layout (odd square kernel, then three 1xk / kx1 pairs with odd k)"
    p = _problem("msca", x, layers, needs_grad(x, *_params(layers)), layout)
    return _msca_run(autotune.select(p).name, x, conv0, pairs)


# ------------------------------------------------------------------------------------------------
# ConvMod: dwconv(GELU(a)) * v

def convmod_fwd_spec(variant: str, dev: str, g: ConvGeom, x_shape, dtype: str) -> _jtcode.CodeSpec:
    n, c, h, w = (int(s) for s in x_shape)
    x = (dtype, [n, c, h, w])
    ins = [x, x, (dtype, [c, 1, g.kh, g.kw]), (dtype, [c])]
    params = {k: v for k, v in g.params().items() if k in _GEOM_KEYS}
    if dev == "cpu":
        files = cpu_headers(variant)
        return _jtcode.CodeSpec(f"convmod_fwd/{variant}", "cpu", _jtcode.header(params, *files),
                                _jtcode.source("convmod_fwd.cc"), ins, [x], files=files + ("convmod_fwd.cc",))
    files = ("dwconv_cuda.h", "convmod_fwd_fused.cu")
    return _jtcode.CodeSpec(f"convmod_fwd/{variant}", "cuda", _jtcode.header(params, *files),
                            "jv_convmod_fwd(in0_p, in1_p, in2_p, in3_p, out0_p, in0_shape0, in0_shape1, "
                            "in0_shape2, in0_shape3);\n", ins, [x], files=files)


def convmod_bwd_spec(variant: str, g: ConvGeom, x_shape, dtype: str) -> _jtcode.CodeSpec:
    """CPU fused backward: (a, v, w, b, dy) -> (da, dv, dw, db)."""
    n, c, h, w = (int(s) for s in x_shape)
    x = (dtype, [n, c, h, w])
    ins = [x, x, (dtype, [c, 1, g.kh, g.kw]), (dtype, [c])]
    files = cpu_headers(variant)
    params = {k: v for k, v in g.params().items() if k in _GEOM_KEYS}
    return _jtcode.CodeSpec(f"convmod_bwd/{variant}", "cpu", _jtcode.header(params, *files),
                            _jtcode.source("convmod_bwd.cc"), ins + [x], ins, files=files + ("convmod_bwd.cc",))


class _ConvModModulate(jt.Function):
    def __init__(self, variant: str, g: ConvGeom):
        self.variant, self.g, self.dev = variant, g, device()

    def execute(self, a, v, w, b):
        self.saved = (a, v, w, b)
        spec = convmod_fwd_spec(self.variant, self.dev, self.g, a.shape, str(a.dtype))
        _choose_cuda_backward(self.dev, a, (self.g,), v, w, b)
        return _jtcode.run(spec, [a, v, w, b])[0]

    def grad(self, dy):
        if dy is None:
            return (None,) * 4
        a, v, w, b = self.saved
        if self.dev == "cpu":
            spec = convmod_bwd_spec(self.variant, self.g, a.shape, str(a.dtype))
            return tuple(_jtcode.run(spec, [a, v, w, b, dy]))
        # CUDA: recompute GELU(a) and the convolution, then the chain rule.
        ga = nn.gelu(a) if str(a.dtype) == "float32" else nn.gelu(a.float32()).cast(a.dtype)
        t = kernel_fwd(ga, w, b, self.g)
        dt = dy * v
        dga, dw, db = kernel_bwd(ga, w, dt, self.g, True, True, True)
        return dga * _gelu_grad(a), dy * t, dw, db


def _gelu_grad(a):
    a32 = a.float32() if str(a.dtype) != "float32" else a
    cdf = 0.5 * (1.0 + jt.erf(a32 * 0.7071067811865476))
    pdf = jt.exp(-0.5 * a32 * a32) * 0.3989422804014327
    return (cdf + a32 * pdf).cast(a.dtype)


def _convmod_run(variant: str, a, v, act, conv):
    if variant == "unfused":
        return conv(act(a)) * v
    return _ConvModModulate(variant, conv.geom())(a, v, conv.weight, conv.bias)


def convmod_modulate(a, v, act, conv: DepthwiseConv2d):
    """``conv(act(a)) * v``; under the ``kernel`` backend through the variant of op ``convmod``
    (the fused kernels compute GELU: another ``act`` leaves only ``unfused``)."""
    if get_backend() != "kernel":
        return conv(act(a)) * v
    layout = _layout(a, (conv,))
    if not layout and not isinstance(act, nn.GELU):
        layout = "an activation other than GELU"
    if not layout and (list(v.shape) != list(a.shape) or str(v.dtype) != str(a.dtype)):
        layout = "value branch of another shape or dtype"
    p = _problem("convmod", a, (conv,), needs_grad(a, v, conv.weight, conv.bias), layout)
    return _convmod_run(autotune.select(p).name, a, v, act, conv)


# ------------------------------------------------------------------------------------------------
# autotuning: the blocks' layers with random weights

def _bench(p: autotune.Problem, variant: str):
    import numpy as np
    rng = np.random.default_rng(0)
    n, c, h, w = p.shapes[0]

    def rand(*shape):
        return jt.array(rng.standard_normal(shape).astype(np.float32) * 0.3).cast(p.dtype)

    def layer(spec):
        kh, kw, ph, pw, dh, dw = spec
        conv = DepthwiseConv2d(c, (kh, kw), padding=(ph, pw), dilation=(dh, dw))
        conv.weight, conv.bias = rand(c, 1, kh, kw), rand(c)
        return conv
    convs = [layer(p.param[f"g{i}"]) for i in range(sum(1 for k in p.param if k.startswith("g")))]
    x, extra = rand(n, c, h, w), rand(n, c, h, w)
    params = [x] + _params(convs) + ([extra] if p.op == "convmod" else [])

    def run():
        if p.op == "lka":
            return _lka_run(variant, x, *convs)
        if p.op == "msca":
            return _msca_run(variant, x, convs[0], [(convs[1], convs[2]), (convs[3], convs[4]),
                                                    (convs[5], convs[6])])
        return _convmod_run(variant, x, extra, nn.GELU(), convs[0])

    def step():
        y = run()
        jt.sync(jt.grad(y.sum(), params) if p.grad else [y])
    return step


_register()
