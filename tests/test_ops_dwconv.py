"""Depthwise convolution: kernel and builtin against the meta-operator reference.

Shapes are tiny and shared between cases where possible: every distinct kernel geometry costs
one JIT compile per implementation (cached in ~/.cache/jittor afterwards).
"""
from __future__ import annotations

import zlib

import numpy as np
import pytest

import jvision  # noqa: F401
import jittor as jt
from jvision import ops
from jvision.ops import autotune, dwconv

TOL = 1e-4

# (x shape, (kh, kw), stride, padding, dilation): kernel sizes 3/5/7/11/21, strips both ways,
# dilation 1 and 3, stride 1 and 2, odd sizes, batch 1, channels not a multiple of 8.
GRID = [
    ((1, 5, 9, 7), (3, 3), 1, 1, 1),
    ((2, 3, 11, 9), (5, 5), 2, 2, 1),
    ((2, 5, 13, 11), (7, 7), 1, 9, 3),            # LKA's conv_spatial
    ((1, 3, 15, 13), (11, 11), 1, 5, 1),
    ((1, 2, 23, 21), (21, 21), 1, 10, 1),
    ((2, 5, 9, 13), (1, 7), 1, (0, 3), 1),        # MSCA strips
    ((2, 5, 9, 13), (7, 1), 1, (3, 0), 1),
    ((1, 3, 12, 25), (1, 21), 1, (0, 10), 1),
    ((1, 3, 25, 12), (21, 1), 1, (10, 0), 1),
    ((2, 3, 13, 11), (3, 3), 2, 1, 3),            # stride 2 with dilation 3
    ((2, 3, 9, 17), (1, 11), (1, 2), (0, 5), 1),  # stride in one direction only
    ((1, 3, 15, 16), (7, 7), 2, 0, 1),            # no padding, even width
    ((2, 3, 7, 9), (5, 3), 1, (4, 0), (1, 2)),    # padding beyond the kernel, mixed dilation
]


def _ids(case):
    shape, k, s, p, d = case
    return f"{k[0]}x{k[1]}-s{s}-p{p}-d{d}-{'x'.join(map(str, shape))}".replace(" ", "")


def _rand(rng, *shape, scale=1.0):
    return jt.array((rng.standard_normal(shape) * scale).astype(np.float32))


def _run(impl, x, w, b, s, p, d, gy):
    """Output and gradients (x, w[, b]) of sum(y * gy) through one implementation."""
    y = dwconv.depthwise_conv2d_impl(impl, x, w, b, s, p, d)
    targets = [x, w] + ([b] if b is not None else [])
    grads = jt.grad((y * gy).sum(), targets)
    return [y.numpy()] + [g.numpy() for g in grads]


@pytest.mark.parametrize("case", GRID, ids=_ids)
def test_kernel_and_builtin_match_reference(case):
    shape, (kh, kw), s, p, d = case
    rng = np.random.default_rng(zlib.crc32(_ids(case).encode()))
    x = _rand(rng, *shape)
    w = _rand(rng, shape[1], 1, kh, kw)
    b = _rand(rng, shape[1])
    g = dwconv.check_args(x, w, b, s, p, d)
    gy = _rand(rng, shape[0], shape[1], *g.out_size(shape[2], shape[3]))
    ref = _run("reference", x, w, b, s, p, d, gy)
    assert ref[0].shape == (shape[0], shape[1]) + g.out_size(shape[2], shape[3])
    for impl in ("kernel", "builtin"):
        got = _run(impl, x, w, b, s, p, d, gy)
        for name, a, r in zip(("y", "dx", "dw", "db"), got, ref):
            assert a.shape == r.shape, (impl, name)
            err = float(np.abs(a - r).max())
            assert err <= TOL, f"{impl} {name}: max abs error {err:.2e} > {TOL}"


def test_kernel_without_bias_and_partial_gradients():
    rng = np.random.default_rng(1)
    x, w = _rand(rng, 2, 5, 9, 7), _rand(rng, 5, 1, 3, 3)
    gy = _rand(rng, 2, 5, 9, 7)
    ref = _run("reference", x, w, None, 1, 1, 1, gy)
    got = _run("kernel", x, w, None, 1, 1, 1, gy)
    for a, r in zip(got, ref):
        assert np.abs(a - r).max() <= TOL
    # weight frozen: only dx is computed (the backward op is built without dw/db)
    w_frozen = jt.array(w.numpy()).stop_grad()
    y = dwconv.depthwise_conv2d_impl("kernel", x, w_frozen, None, 1, 1, 1)
    (dx,) = jt.grad((y * gy).sum(), [x])
    assert np.abs(dx.numpy() - ref[1]).max() <= TOL
    # input frozen: only dw
    xs = jt.array(x.numpy()).stop_grad()
    y = dwconv.depthwise_conv2d_impl("kernel", xs, w, None, 1, 1, 1)
    (dw,) = jt.grad((y * gy).sum(), [w])
    assert np.abs(dw.numpy() - ref[2]).max() <= TOL


def test_kernel_serves_other_batch_and_image_sizes():
    """The compiled op reads shapes at run time: reuse it with new N, C, H, W."""
    rng = np.random.default_rng(2)
    for shape in ((1, 5, 9, 7), (3, 7, 6, 10)):
        x, w, b = _rand(rng, *shape), _rand(rng, shape[1], 1, 3, 3), _rand(rng, shape[1])
        gy = _rand(rng, *shape)
        ref = _run("reference", x, w, b, 1, 1, 1, gy)
        got = _run("kernel", x, w, b, 1, 1, 1, gy)
        for a, r in zip(got, ref):
            assert np.abs(a - r).max() <= TOL


def _f64(a):
    return jt.array(np.asarray(a, dtype=np.float64), dtype="float64")


def test_reference_matches_finite_differences():
    """The ground truth itself: gradients of the reference against central differences (float64)."""
    rng = np.random.default_rng(3)
    xs, ws, bs = rng.standard_normal((1, 2, 5, 4)), rng.standard_normal((2, 1, 3, 2)), rng.standard_normal(2)
    s, p, d = (1, 2), (1, 1), (2, 1)
    r = None

    def loss(xv, wv, bv):
        nonlocal r
        y = dwconv.depthwise_conv2d_impl("reference", _f64(xv), _f64(wv), _f64(bv), s, p, d)
        if r is None:
            r = rng.standard_normal(y.shape)
        return float((y.numpy() * r).sum())

    loss(xs, ws, bs)
    x, w, b = _f64(xs), _f64(ws), _f64(bs)
    assert str(x.dtype) == "float64"
    y = dwconv.depthwise_conv2d_impl("reference", x, w, b, s, p, d)
    grads = [gv.numpy() for gv in jt.grad((y * _f64(r)).sum(), [x, w, b])]
    eps = 1e-6
    arrays = [xs, ws, bs]
    for which, (arr, grad) in enumerate(zip(arrays, grads)):
        num = np.zeros_like(arr)
        for idx in np.ndindex(arr.shape):
            plus = [a.copy() for a in arrays]
            minus = [a.copy() for a in arrays]
            plus[which][idx] += eps
            minus[which][idx] -= eps
            num[idx] = (loss(*plus) - loss(*minus)) / (2 * eps)
        assert np.abs(num - grad).max() < 1e-6, f"argument {which}"


def test_reference_against_numpy_direct_formula():
    """Forward of the reference against a direct NumPy loop (PyTorch's definition)."""
    rng = np.random.default_rng(4)
    xs, ws, bs = rng.standard_normal((2, 3, 8, 7)), rng.standard_normal((3, 1, 3, 4)), rng.standard_normal(3)
    s, p, d = (2, 1), (2, 3), (1, 2)
    y = dwconv.depthwise_conv2d_impl("reference", _f64(xs), _f64(ws), _f64(bs), s, p, d).numpy()
    xp = np.pad(xs, ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])))
    oh = (8 + 2 * p[0] - d[0] * (3 - 1) - 1) // s[0] + 1
    ow = (7 + 2 * p[1] - d[1] * (4 - 1) - 1) // s[1] + 1
    want = np.zeros((2, 3, oh, ow)) + bs[None, :, None, None]
    for i in range(3):
        for j in range(4):
            patch = xp[:, :, i * d[0]: i * d[0] + s[0] * (oh - 1) + 1: s[0],
                       j * d[1]: j * d[1] + s[1] * (ow - 1) + 1: s[1]]
            want += patch * ws[None, :, 0, i, j, None, None]
    assert y.shape == want.shape
    assert np.abs(y - want).max() < 1e-10


def test_float16_input_on_cpu_computes_in_float32():
    rng = np.random.default_rng(5)
    x, w, b = _rand(rng, 1, 3, 6, 5), _rand(rng, 3, 1, 3, 3), _rand(rng, 3)
    y16 = dwconv.depthwise_conv2d_impl("kernel", x.float16(), w.float16(), b.float16(), 1, 1, 1)
    assert str(y16.dtype) == "float16"
    y = dwconv.depthwise_conv2d_impl("reference", x, w, b, 1, 1, 1)
    assert np.abs(y16.numpy().astype(np.float32) - y.numpy()).max() < 2e-2


# ------------------------------------------------------------------------------------------------
# argument checking

def _expect_value_error(match_all, *args, **kwargs):
    with pytest.raises(ValueError) as info:
        ops.depthwise_conv2d(*args, **kwargs)
    msg = str(info.value)
    for m in match_all:
        assert m in msg, f"{m!r} not in {msg!r}"


def test_bad_input_raises_value_error_naming_argument_and_shapes():
    x = jt.zeros((2, 4, 8, 8))
    w = jt.zeros((4, 1, 3, 3))
    _expect_value_error(["'x'", "[4, 8, 8]", "[4, 1, 3, 3]"], jt.zeros((4, 8, 8)), w)
    _expect_value_error(["'weight'", "[2, 4, 8, 8]", "[4, 3, 3]"], x, jt.zeros((4, 3, 3)))
    _expect_value_error(["'x'", "'weight'", "[2, 4, 8, 8]", "[5, 1, 3, 3]"], x, jt.zeros((5, 1, 3, 3)))
    _expect_value_error(["'weight'", "[2, 4, 8, 8]", "[4, 2, 3, 3]"], x, jt.zeros((4, 2, 3, 3)))
    _expect_value_error(["'padding'", "[2, 4, 8, 8]", "[4, 1, 3, 3]"], x, w, padding=-1)
    _expect_value_error(["'padding'"], x, w, padding=(1, -2))
    _expect_value_error(["'stride'"], x, w, stride=0)
    _expect_value_error(["'dilation'"], x, w, dilation=(1, 0))
    _expect_value_error(["'bias'", "[2, 4, 8, 8]"], x, w, jt.zeros((3,)))
    _expect_value_error(["'weight'", "'x'", "[2, 4, 8, 8]", "[4, 1, 11, 11]"], x, jt.zeros((4, 1, 11, 11)))
    _expect_value_error(["'weight'", "'x'", "[2, 4, 8, 8]", "[4, 1, 3, 3]"], x, w, dilation=5)
    _expect_value_error(["'stride'"], x, w, stride=(1, 2, 3))


# ------------------------------------------------------------------------------------------------
# backend switch, module

def test_backend_switch_and_context_manager(monkeypatch):
    assert ops.BACKENDS == ("kernel", "builtin", "reference")
    old = ops.get_backend()
    with ops.backend("reference"):
        assert ops.get_backend() == "reference"
        with ops.backend("builtin"):
            assert ops.get_backend() == "builtin"
        assert ops.get_backend() == "reference"
    assert ops.get_backend() == old
    with pytest.raises(ValueError, match="unknown ops backend"):
        ops.set_backend("cudnn")
    with pytest.raises(ValueError, match="unknown ops backend"), ops.backend("nope"):
        pass
    assert ops.get_backend() == old
    monkeypatch.setenv("JVISION_OPS_BACKEND", "reference")
    assert dwconv._initial_backend() == "reference"
    monkeypatch.setenv("JVISION_OPS_BACKEND", "fast")
    with pytest.raises(ValueError, match="JVISION_OPS_BACKEND"):
        dwconv._initial_backend()
    monkeypatch.delenv("JVISION_OPS_BACKEND")
    assert dwconv._initial_backend() == "kernel"


def _cpu_variants():
    names = ["portable"]
    if "avx512f" in autotune.cpu_features():
        names.append("avx512")
    return names


# A subset of GRID for the AVX-512 build (every case is one more compile of each pass).
AVX512_GRID = [GRID[i] for i in (0, 2, 7, 10, 12)]


@pytest.mark.parametrize("case", AVX512_GRID, ids=_ids)
def test_every_cpu_variant_matches_reference(case):
    """Each CPU variant, pinned, forward and backward (the portable one is also covered by GRID)."""
    if jt.flags.use_cuda:
        pytest.skip("CPU variants")
    shape, (kh, kw), s, p, d = case
    rng = np.random.default_rng(zlib.crc32(_ids(case).encode()) + 1)
    x, w, b = _rand(rng, *shape), _rand(rng, shape[1], 1, kh, kw), _rand(rng, shape[1])
    g = dwconv.check_args(x, w, b, s, p, d)
    gy = _rand(rng, shape[0], shape[1], *g.out_size(shape[2], shape[3]))
    ref = _run("reference", x, w, b, s, p, d, gy)
    for name in _cpu_variants():
        with autotune.pinned(dwconv_fwd=name, dwconv_bwd=name):
            got = _run("kernel", x, w, b, s, p, d, gy)
        for what, a, r in zip(("y", "dx", "dw", "db"), got, ref):
            err = float(np.abs(a - r).max())
            assert err <= TOL, f"{name} {what}: max abs error {err:.2e} > {TOL}"


def test_kernel_backend_runs_only_our_variants_and_reports_them():
    """No silent fallback: every choice of the kernel backend is one of our variants, recorded."""
    autotune.forget()
    x = jt.zeros((1, 2, 5, 5))
    w = jt.zeros((2, 1, 3, 3))
    with ops.backend("kernel"):
        jt.sync([ops.depthwise_conv2d(x, w, stride=2, padding=1)])
    rows = [r for r in ops.report() if r["op"] == "dwconv_fwd"]
    assert rows, "the forward pass recorded no choice"
    names = autotune.op_info("dwconv_fwd").names(dwconv.device())
    assert all(r["variant"] in names for r in rows)
    assert "dwconv_fwd" in ops.format_report()


def test_module_parameters_and_all_backends_agree():
    conv = ops.DepthwiseConv2d(5, (3, 5), stride=(1, 2), padding=(1, 2), dilation=(2, 1))
    state = conv.state_dict()
    assert sorted(state) == ["bias", "weight"]
    assert list(state["weight"].shape) == [5, 1, 3, 5] and list(state["bias"].shape) == [5]
    assert ops.DepthwiseConv2d(5, 3, bias=False).bias is None
    assert "bias" not in ops.DepthwiseConv2d(5, 3, bias=False).state_dict()
    x = jt.array(np.random.default_rng(6).standard_normal((2, 5, 9, 10)).astype(np.float32))
    outs = {}
    for name in ops.BACKENDS:
        with ops.backend(name):
            outs[name] = conv(x).numpy()
    assert outs["kernel"].shape == (2, 5, 7, 5)
    for name in ("kernel", "builtin"):
        assert np.abs(outs[name] - outs["reference"]).max() <= TOL


def test_module_in_eval_mode_still_gives_input_gradient():
    """eval() stops the parameters' gradients: the kernel then computes dx only."""
    conv = ops.DepthwiseConv2d(5, 3, padding=1)
    conv.eval()
    x = jt.array(np.random.default_rng(7).standard_normal((1, 5, 9, 7)).astype(np.float32))
    res = {}
    for name in ("kernel", "reference"):
        with ops.backend(name):
            y = conv(x)
            (dx,) = jt.grad(y.sum(), [x])
            res[name] = (y.numpy(), dx.numpy())
    conv.train()
    for a, r in zip(res["kernel"], res["reference"]):
        assert np.abs(a - r).max() <= TOL


@pytest.mark.parametrize("k,pad,dil,bias", [(3, 1, 1, True), (5, 4, 2, False)])
def test_residual_gelu_epilogue_matches_conv_then_residual(k, pad, dil, bias):
    """``depthwise_residual_gelu``: ``x + GELU(conv(x))`` as the convolution's epilogue (inference,
    through the variant the autotuner picks) equals the reference composition on odd sizes; with
    gradients on it is the convolution then the residual op, gradients included."""
    rng = np.random.default_rng(k)
    x_np = rng.standard_normal((2, 3, 9, 21)).astype(np.float32)      # 21 columns: a partial vector
    w_np = rng.standard_normal((3, 1, k, k)).astype(np.float32)
    b_np = rng.standard_normal((3,)).astype(np.float32) if bias else None
    x, w = jt.array(x_np), jt.array(w_np)
    b = jt.array(b_np) if bias else None
    with ops.backend("reference"):
        ref = ops.depthwise_residual_gelu(x, w, b, pad, dil)
        ref_grads = jt.grad((ref * ref).sum(), [x, w])
        ref, ref_grads = ref.numpy(), [v.numpy() for v in ref_grads]
    with jt.no_grad():
        np.testing.assert_allclose(ops.depthwise_residual_gelu(x, w, b, pad, dil).numpy(), ref, atol=1e-5, rtol=1e-5)
    y = ops.depthwise_residual_gelu(x, w, b, pad, dil)
    for a, e in zip([y.numpy()] + [v.numpy() for v in jt.grad((y * y).sum(), [x, w])], [ref] + ref_grads):
        np.testing.assert_allclose(a, e, atol=1e-4, rtol=1e-4)
    with pytest.raises(ValueError, match="does not keep the size"):
        ops.depthwise_residual_gelu(x, w, b, pad + 1, dil)
