"""Modulated deformable convolution: our kernel against the meta-operator reference (forward and
every gradient), the reference against float64 finite differences, zero offsets against a plain
convolution, the official fixture (mmcv's sampling rule), bad arguments, and the CPU kernel run
under AddressSanitizer on odd shapes with offsets far outside the image and NaN."""
from __future__ import annotations

import os
import shutil
import subprocess

import numpy as np
import pytest

import jittor as jt
from jittor import nn

from jvision.ops import _jtcode, backend
from jvision.ops.deform import (DeformGeom, ModulatedDeformConv2d, modulated_deform_conv2d,
                                modulated_deform_conv2d_impl)

# (N, C, H, W, O, kh, kw, stride, padding, dilation, groups, deform_groups)
CASES = {
    "3x3-dg3-g1": (2, 6, 7, 5, 4, 3, 3, 1, 1, 1, 1, 3),
    "3x2-s2-d2-g2-dg2": (1, 4, 9, 8, 6, 3, 2, 2, (2, 1), (2, 1), 2, 2),
}


def _inputs(case, seed=0, dtype="float32", scale=2.0):
    n, c, h, w, o, kh, kw, s, p, d, g, dg = case
    geom = DeformGeom(kh, kw, *([s] * 2 if isinstance(s, int) else s),
                      *([p] * 2 if isinstance(p, int) else p), *([d] * 2 if isinstance(d, int) else d), g, dg)
    oh, ow = geom.out_size(h, w)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, h, w))
    off = rng.uniform(-scale, scale, (n, dg * 2 * kh * kw, oh, ow))
    m = rng.uniform(0, 1, (n, dg * kh * kw, oh, ow))
    wt = rng.standard_normal((o, c // g, kh, kw)) / np.sqrt(c // g * kh * kw)
    b = rng.standard_normal(o) * 0.1
    r = rng.standard_normal((n, o, oh, ow))
    arrs = [jt.array(a.astype(dtype), dtype=dtype) for a in (x, off, m, wt, b)]
    return arrs, jt.array(r.astype(dtype), dtype=dtype), dict(stride=s, padding=p, dilation=d, groups=g, deform_groups=dg)


def _run(impl, arrs, r, kw):
    y = modulated_deform_conv2d_impl(impl, *arrs, **kw)
    grads = jt.grad((y * r).sum(), arrs)
    return [y.numpy()] + [gr.numpy() for gr in grads]


@pytest.mark.parametrize("name", list(CASES))
def test_kernel_matches_reference_forward_and_every_gradient(name):
    arrs, r, kw = _inputs(CASES[name])
    ref = _run("reference", arrs, r, kw)
    ours = _run("kernel", arrs, r, kw)
    for what, a, b in zip(["output", "d input", "d offset", "d mask", "d weight", "d bias"], ours, ref):
        assert a.shape == b.shape, what
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5, err_msg=what)


def _finite_differences(impl, case, picks=3, eps=1e-6):
    arrs, r, kw = _inputs(case, seed=1, dtype="float64")
    assert str(arrs[0].dtype) == "float64"
    analytic = [g.numpy() for g in jt.grad((modulated_deform_conv2d_impl(impl, *arrs, **kw) * r).sum(), arrs)]
    base = [a.numpy() for a in arrs]
    rng = np.random.default_rng(2)

    def loss(vals):
        y = modulated_deform_conv2d_impl(impl, *[jt.array(v, dtype="float64") for v in vals], **kw)
        return float((y * r).sum().numpy().reshape(()))

    for i, name in enumerate(["input", "offset", "mask", "weight", "bias"]):
        for flat in rng.choice(base[i].size, size=min(picks, base[i].size), replace=False):
            idx = np.unravel_index(flat, base[i].shape)
            plus = [v.copy() for v in base]
            minus = [v.copy() for v in base]
            plus[i][idx] += eps
            minus[i][idx] -= eps
            numeric = (loss(plus) - loss(minus)) / (2 * eps)
            assert abs(numeric - analytic[i][idx]) <= 1e-6 + 1e-5 * abs(numeric), (name, idx, numeric, analytic[i][idx])


@pytest.mark.parametrize("impl", ["reference", "kernel"])
def test_gradients_match_float64_finite_differences(impl):
    _finite_differences(impl, CASES["3x3-dg3-g1"])


@pytest.mark.parametrize("impl", ["reference", "kernel"])
def test_zero_offsets_and_unit_mask_equal_a_plain_convolution(impl):
    arrs, _, kw = _inputs(CASES["3x2-s2-d2-g2-dg2"])
    x, off, m, wt, b = arrs
    y = modulated_deform_conv2d_impl(impl, x, jt.zeros_like(off), jt.ones_like(m), wt, b, **kw)
    ref = nn.conv2d(x, wt, b, kw["stride"], kw["padding"], kw["dilation"], kw["groups"])
    np.testing.assert_allclose(y.numpy(), ref.numpy(), rtol=1e-5, atol=1e-5)


def test_official_fixture_op(parity_dir):
    io = np.load(parity_dir / "e2fgvi" / "feat_prop_tiny" / "io.npz")
    arrs = [jt.array(io["dcn_" + k]) for k in ("input", "offset", "mask", "weight", "bias")]
    for name in ("kernel", "reference"):
        with backend(name):
            y = modulated_deform_conv2d(*arrs, stride=1, padding=1, dilation=1, groups=1, deform_groups=4)
        np.testing.assert_allclose(y.numpy(), io["dcn_output"], rtol=1e-5, atol=1e-5, err_msg=name)


def test_far_and_nan_offsets_read_zero():
    arrs, r, kw = _inputs(CASES["3x3-dg3-g1"])
    x, off, m, wt, b = arrs
    far = off.numpy()
    far[:, ::2] = 1e9          # every dy far below the image
    far[0, 1, 0, 0] = np.nan   # and one NaN position
    y = modulated_deform_conv2d_impl("kernel", x, jt.array(far), m, wt, b, **kw).numpy()
    bias = b.numpy()[None, :, None, None]
    np.testing.assert_allclose(y, np.broadcast_to(bias, y.shape), atol=1e-6)


def test_bad_arguments_name_the_argument_and_shapes():
    arrs, _, kw = _inputs(CASES["3x3-dg3-g1"])
    x, off, m, wt, b = arrs
    with pytest.raises(ValueError, match="'offset' must have shape"):
        modulated_deform_conv2d(x, off[:, :4], m, wt, b, **kw)
    with pytest.raises(ValueError, match="deform_groups=4"):
        modulated_deform_conv2d(x, off, m, wt, b, **dict(kw, deform_groups=4))


def test_module_has_mmcv_parameter_names():
    conv = ModulatedDeformConv2d(8, 6, 3, padding=1, deform_groups=2)
    assert sorted(conv.state_dict()) == ["bias", "weight"]
    assert list(conv.weight.shape) == [6, 8, 3, 3]


# ------------------------------------------------------------------------------------------------
# The CPU kernel under AddressSanitizer, outside Jittor (wrapped as Jittor wraps a jt.code op)

_ASAN_MAIN = r"""
#include <cstdio>
#include <cstdlib>
#include <cmath>
#include <vector>
void* jv_ptrs[8];
extern "C" void jv_run_0(void** ptrs, const long long* shapes);   // the op, wrapped by _jtcode
int main() {
    // sizes and shapes are filled in by the test
    std::vector<float*> bufs;
    const long sizes[] = {SIZES};
    const long long shapes[] = {SHAPES};
    const int count = sizeof(sizes) / sizeof(sizes[0]);
    srand(3);
    for (int i = 0; i < count; i++) {
        float* p = (float*)malloc(sizeof(float) * sizes[i]);   // exact sizes: ASan sees any overrun
        for (long j = 0; j < sizes[i]; j++) p[j] = (float)(rand() % 2001 - 1000) / 100.f;
        jv_ptrs[i] = p; bufs.push_back(p);
    }
    float* off = bufs[1];
    off[0] = NAN; off[1] = 1e30f; off[2] = -1e30f; off[3] = INFINITY;
    jv_run_0(jv_ptrs, shapes);
    for (float* p : bufs) free(p);
    std::puts("ok");
    return 0;
}
"""


def _asan_run(tmp_path, name, src, ins, outs, params):
    tu = _jtcode.emulate_code_op(_jtcode.header(params, "deform_cpu.h"), src, ins, outs)
    sizes = [int(np.prod(s)) for _, s in ins + outs]
    (tmp_path / f"{name}.cc").write_text(tu)
    shapes = [d for _, s in ins + outs for d in s]
    (tmp_path / "main.cc").write_text(_ASAN_MAIN.replace("SIZES", ", ".join(map(str, sizes)))
                                      .replace("SHAPES", ", ".join(map(str, shapes))))
    exe = tmp_path / name
    cmd = ["g++", "-std=c++17", "-O1", "-g", "-fopenmp", "-fsanitize=address,undefined",
           "-fno-sanitize-recover=all", str(tmp_path / f"{name}.cc"), str(tmp_path / "main.cc"), "-o", str(exe)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    env = dict(os.environ, OMP_NUM_THREADS="2", ASAN_OPTIONS="detect_leaks=0")
    run = subprocess.run([str(exe)], capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 0 and "ok" in run.stdout, run.stderr[-3000:]


@pytest.mark.skipif(shutil.which("g++") is None, reason="g++ not found")
def test_cpu_kernels_have_no_out_of_bounds_access_under_asan(tmp_path):
    n, c, h, w, kh, kw, dg = 2, 6, 5, 7, 3, 3, 3
    g = DeformGeom(kh, kw, 2, 1, 2, 0, 1, 2, 1, dg)
    oh, ow = g.out_size(h, w)
    k = kh * kw
    ins = [("float32", [n, c, h, w]), ("float32", [n, dg * 2 * k, oh, ow]), ("float32", [n, dg * k, oh, ow])]
    _asan_run(tmp_path, "im2col", _jtcode.source("deform_im2col.cc"), ins,
              [("float32", [n, c * k, oh * ow])], g.params())
    names = ["dx", "doff", "dmsk"]
    outs = [("float32", [n, c, h, w]), ("float32", [n, dg * 2 * k, oh, ow]), ("float32", [n, dg * k, oh, ow])]
    _asan_run(tmp_path, "col2im", _jtcode.aliases("out", names) + _jtcode.source("deform_col2im.cc"),
              ins + [("float32", [n, c * k, oh * ow])], outs, dict(g.params(), NEED_DX=1, NEED_DOM=1))
