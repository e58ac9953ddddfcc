"""Attention modules: official parameter names, official semantics (NumPy re-implementation of
the official PyTorch forward), fused kernels against the plain composition, backend switching."""
from __future__ import annotations

import contextlib
import math

import numpy as np
import pytest

import jvision  # noqa: F401
import jittor as jt
from jvision import ops
from jvision.ops import _fused, autotune
from jvision.ops.attention import ConvModulation, LargeKernelAttention, MultiScaleConvAttention

TOL = 1e-4
MODES = ("fused", "kernel", "builtin", "reference")  # fused / kernel: kernel backend, fused / unfused variant


def _fused_names():
    names = ["fused"]
    if "avx512f" in autotune.cpu_features() and not jt.flags.use_cuda:
        names.append("fused_avx512")
    return names


def _mode(mode, fused="fused"):
    """Backend and block variant: "fused" pins the fused variant of every block, "kernel" the unfused one."""
    @contextlib.contextmanager
    def ctx():
        variant = fused if mode == "fused" else "unfused"
        pins = dict(lka=variant, msca=variant, convmod=variant)
        if not jt.flags.use_cuda:  # the channels-first LayerNorm has a fused kernel on CPU only
            pins["layernorm2d"] = "fused" if variant.startswith("fused") else "unfused"
        with ops.backend("kernel" if mode in ("fused", "kernel") else mode), autotune.pinned(**pins):
            yield
    return ctx()


# ------------------------------------------------------------------------------------------------
# the official forward passes, in NumPy (float64)

def np_dw(x, w, b, pad, dil=(1, 1)):
    n, c, h, wd = x.shape
    kh, kw = w.shape[2:]
    xp = np.pad(x, ((0, 0), (0, 0), (pad[0], pad[0]), (pad[1], pad[1])))
    oh, ow = h + 2 * pad[0] - dil[0] * (kh - 1), wd + 2 * pad[1] - dil[1] * (kw - 1)
    y = np.zeros((n, c, oh, ow)) + b[None, :, None, None]
    for i in range(kh):
        for j in range(kw):
            y += xp[:, :, i * dil[0]: i * dil[0] + oh, j * dil[1]: j * dil[1] + ow] * w[None, :, 0, i, j, None, None]
    return y


def np_pw(x, w, b):
    return np.einsum("oc,nchw->nohw", w[:, :, 0, 0], x) + b[None, :, None, None]


def np_gelu(x):
    return 0.5 * x * (1.0 + np.vectorize(math.erf)(x / math.sqrt(2.0)))


def np_ln2d(x, w, b, eps):
    u = x.mean(1, keepdims=True)
    s = ((x - u) ** 2).mean(1, keepdims=True)
    return (x - u) / np.sqrt(s + eps) * w[None, :, None, None] + b[None, :, None, None]


def official_lka(sd, x):
    a = np_dw(x, sd["conv0.weight"], sd["conv0.bias"], (2, 2))
    a = np_dw(a, sd["conv_spatial.weight"], sd["conv_spatial.bias"], (9, 9), (3, 3))
    return x * np_pw(a, sd["conv1.weight"], sd["conv1.bias"])


def official_msca(sd, x):
    attn = np_dw(x, sd["conv0.weight"], sd["conv0.bias"], (2, 2))
    out = attn.copy()
    for i, k in enumerate((7, 11, 21)):
        t = np_dw(attn, sd[f"conv{i}_1.weight"], sd[f"conv{i}_1.bias"], (0, k // 2))
        out += np_dw(t, sd[f"conv{i}_2.weight"], sd[f"conv{i}_2.bias"], (k // 2, 0))
    return np_pw(out, sd["conv3.weight"], sd["conv3.bias"]) * x


def official_convmod(sd, x, k):
    x = np_ln2d(x, sd["norm.weight"], sd["norm.bias"], 1e-6)
    a = np_gelu(np_pw(x, sd["att.0.weight"], sd["att.0.bias"]))
    a = np_dw(a, sd["att.2.weight"], sd["att.2.bias"], (k // 2, k // 2))
    return np_pw(a * np_pw(x, sd["v.weight"], sd["v.bias"]), sd["proj.weight"], sd["proj.bias"])


def _keys(dim, k=11):
    return {
        "lka": {"conv0.weight": (dim, 1, 5, 5), "conv0.bias": (dim,),
                "conv_spatial.weight": (dim, 1, 7, 7), "conv_spatial.bias": (dim,),
                "conv1.weight": (dim, dim, 1, 1), "conv1.bias": (dim,)},
        "msca": dict({"conv0.weight": (dim, 1, 5, 5), "conv0.bias": (dim,),
                      "conv3.weight": (dim, dim, 1, 1), "conv3.bias": (dim,)},
                     **{f"conv{i}_{j}.{p}": ((dim, 1, 1, s) if j == 1 else (dim, 1, s, 1)) if p == "weight" else (dim,)
                        for i, s in enumerate((7, 11, 21)) for j in (1, 2) for p in ("weight", "bias")}),
        "convmod": {"norm.weight": (dim,), "norm.bias": (dim,), "att.0.weight": (dim, dim, 1, 1),
                    "att.0.bias": (dim,), "att.2.weight": (dim, 1, k, k), "att.2.bias": (dim,),
                    "v.weight": (dim, dim, 1, 1), "v.bias": (dim,), "proj.weight": (dim, dim, 1, 1),
                    "proj.bias": (dim,)},
    }


CASES = {
    "lka": (lambda d: LargeKernelAttention(d), official_lka, (2, 6, 13, 11)),
    "msca": (lambda d: MultiScaleConvAttention(d), official_msca, (2, 5, 12, 23)),
    "convmod": (lambda d: ConvModulation(d, kernel_size=7), lambda sd, x: official_convmod(sd, x, 7), (2, 6, 9, 10)),
}


def _random_state(rng, keys):
    sd = {}
    for name, shape in keys.items():
        scale = 0.3 if name.endswith("weight") else 0.1
        sd[name] = (rng.standard_normal(shape) * scale).astype(np.float32)
        if name == "norm.weight":
            sd[name] += 1.0
    return sd


@pytest.mark.parametrize("name", list(CASES))
def test_parameter_names_match_official(name):
    build, _, shape = CASES[name]
    dim = shape[1]
    mod = build(dim)
    want = _keys(dim, 7)[name]
    got = {k: tuple(v.shape) for k, v in mod.state_dict().items()}
    assert got == want


@pytest.mark.parametrize("name", list(CASES))
def test_outputs_match_official_semantics_in_every_mode(name):
    build, official, shape = CASES[name]
    rng = np.random.default_rng(10)
    mod = build(shape[1])
    sd = _random_state(rng, _keys(shape[1], 7)[name])
    mod.load_state_dict({k: jt.array(v) for k, v in sd.items()})
    for k, v in mod.state_dict().items():  # really loaded by name
        assert np.array_equal(v.numpy(), sd[k]), k
    xs = rng.standard_normal(shape).astype(np.float32)
    want = official({k: v.astype(np.float64) for k, v in sd.items()}, xs.astype(np.float64))
    x = jt.array(xs)
    runs = [(m, "fused") for m in MODES] + [("fused", f) for f in _fused_names()[1:]]
    for mode, fused in runs:
        with _mode(mode, fused):
            y = mod(x).numpy()
        assert y.shape == want.shape
        err = float(np.abs(y - want).max())
        assert err <= TOL, f"{name} {mode} {fused}: max abs error {err:.2e}"


def _grads(mod, x, gy, mode, fused="fused"):
    params = dict(mod.named_parameters())
    with _mode(mode, fused):
        y = mod(x)
        grads = jt.grad((y * gy).sum(), [x] + list(params.values()))
    return {"y": y.numpy(), "x": grads[0].numpy(),
            **{k: g.numpy() for k, g in zip(params, grads[1:])}}


@pytest.mark.parametrize("name", list(CASES))
def test_fused_gradients_match_reference_composition(name):
    build, _, shape = CASES[name]
    rng = np.random.default_rng(11)
    mod = build(shape[1])
    mod.load_state_dict({k: jt.array(v) for k, v in _random_state(rng, _keys(shape[1], 7)[name]).items()})
    x = jt.array(rng.standard_normal(shape).astype(np.float32))
    gy = jt.array(rng.standard_normal(shape).astype(np.float32))
    ref = _grads(mod, x, gy, "reference")
    for mode, fused in [("fused", f) for f in _fused_names()] + [("kernel", "unfused")]:
        got = _grads(mod, x, gy, mode, fused)
        assert set(got) == set(ref)
        for k in ref:
            err = float(np.abs(got[k] - ref[k]).max())
            assert err <= TOL, f"{name} {mode} {fused} d{k}: max abs error {err:.2e}"


def test_fused_variant_is_eligible_for_the_official_layouts_only():
    dev = "cuda" if jt.flags.use_cuda else "cpu"
    x = jt.zeros((1, 4, 8, 8))

    def names(op, layers, layout=None):
        p = _fused._problem(op, x, layers, True, layout)
        return [v.name for v in autotune.eligible(p)]
    lka = LargeKernelAttention(4)
    assert "fused" in names("lka", (lka.conv0, lka.conv_spatial))
    msca = MultiScaleConvAttention(4)
    pairs = ((msca.conv0_1, msca.conv0_2), (msca.conv1_1, msca.conv1_2), (msca.conv2_1, msca.conv2_2))
    assert _fused._msca_shape(msca.conv0, pairs) == (5, (7, 11, 21))
    assert "fused" in names("msca", [msca.conv0] + [m for p in pairs for m in p])
    cm = ConvModulation(4, 11)
    assert "fused" in names("convmod", (cm.att[2],))
    # a layer without bias, or a strided one, leaves only the composition
    nobias = ops.DepthwiseConv2d(4, 5, padding=2, bias=False)
    assert names("lka", (nobias, lka.conv_spatial)) == ["unfused"]
    strided = ops.DepthwiseConv2d(4, 5, stride=2, padding=2)
    assert names("lka", (strided, lka.conv_spatial)) == ["unfused"]
    with pytest.raises(ValueError, match="cannot run"), autotune.pinned(lka="fused"):
        _fused.lka_spatial(x, nobias, lka.conv_spatial)
    assert dev in ("cpu", "cuda")


def test_eval_mode_and_backend_switch_at_run_time():
    """eval() stops parameter gradients; the fused backward must still give dx; switching the
    backend between calls on the same module instance keeps the results."""
    rng = np.random.default_rng(12)
    mod = LargeKernelAttention(6)
    x = jt.array(rng.standard_normal((2, 6, 13, 11)).astype(np.float32))
    mod.eval()
    res = {}
    for mode in ("fused", "reference", "fused"):
        with _mode(mode):
            y = mod(x)
            (dx,) = jt.grad(y.sum(), [x])
            res.setdefault(mode, []).append((y.numpy(), dx.numpy()))
    mod.train()
    for (y, dx) in res["fused"]:
        assert np.abs(y - res["reference"][0][0]).max() <= TOL
        assert np.abs(dx - res["reference"][0][1]).max() <= TOL


def test_wrong_channel_count_raises_value_error():
    mod = LargeKernelAttention(4)
    with pytest.raises(ValueError, match="channel mismatch"):
        mod(jt.zeros((1, 3, 8, 8)))


def test_layernorm2d_kernel_matches_official_formula_and_reference_gradients():
    from jvision.ops.norm import LayerNorm2d
    rng = np.random.default_rng(13)
    ln = LayerNorm2d(5)
    sd = {"weight": rng.standard_normal(5).astype(np.float32), "bias": rng.standard_normal(5).astype(np.float32)}
    ln.load_state_dict({k: jt.array(v) for k, v in sd.items()})
    assert sorted(ln.state_dict()) == ["bias", "weight"]
    # odd pixel count spanning more than one 512-pixel tile, an offset and a scale
    xs = (rng.standard_normal((2, 5, 23, 25)) * 3 + 2).astype(np.float32)
    want = np_ln2d(xs.astype(np.float64), sd["weight"], sd["bias"], 1e-6)
    x = jt.array(xs)
    gy = jt.array(rng.standard_normal(xs.shape).astype(np.float32))
    res = {}
    for mode in ("fused", "reference"):
        with _mode(mode):
            y = ln(x)
            grads = jt.grad((y * gy).sum(), [x, ln.weight, ln.bias])
            res[mode] = [y.numpy()] + [g.numpy() for g in grads]
    assert np.abs(res["fused"][0] - want).max() <= TOL
    for name, a, r in zip(("y", "dx", "dweight", "dbias"), res["fused"], res["reference"]):
        scale = max(1.0, float(np.abs(r).max()))
        assert np.abs(a - r).max() <= TOL * scale, name
    with pytest.raises(ValueError, match="'x'"):
        ln(jt.zeros((1, 4, 3, 3)))
