"""Convolutions as matrix products (jvision.ops.pointwise_conv2d, conv2d_im2col, Conv2d): 1x1 ones:
our CPU kernel against Jittor's convolution, forward and the gradients of input, weight and bias,
for batches that take the per-sample-task path (N >= threads) and the sample-by-sample path (N = 1),
with and without bias; other Conv2d configurations stay Jittor's."""
from __future__ import annotations

import numpy as np
import pytest

import jvision  # noqa: F401
import jittor as jt
from jittor import nn
from jvision.ops import Conv2d, conv2d_im2col, conv_gelu, conv_residual, pointwise_conv2d


@pytest.mark.parametrize("n,bias", [(3, True), (1, True), (2, False)])
def test_kernel_matches_jittor_convolution(n, bias):
    rng = np.random.default_rng(n)
    x_np = rng.standard_normal((n, 5, 3, 7)).astype(np.float32)       # 21 positions: not a vector multiple
    w_np = rng.standard_normal((6, 5, 1, 1)).astype(np.float32)
    b_np = rng.standard_normal((6,)).astype(np.float32)
    g = jt.array(rng.standard_normal((n, 6, 3, 7)).astype(np.float32))
    out = {}
    for impl in ("kernel", "reference"):
        x, w = jt.array(x_np), jt.array(w_np)
        b = jt.array(b_np) if bias else None
        y = pointwise_conv2d(x, w, b, impl=impl)
        wrt = [x, w] + ([b] if bias else [])
        out[impl] = [y.numpy()] + [v.numpy() for v in jt.grad((y * g).sum(), wrt)]
    assert len(out["kernel"]) == (4 if bias else 3)
    for name, a, r in zip(("y", "dx", "dw", "db"), out["kernel"], out["reference"]):
        np.testing.assert_allclose(a, r, atol=2e-5, rtol=1e-5, err_msg=name)


def test_conv2d_layer_dispatch_and_names():
    conv = Conv2d(4, 3, 1)
    assert isinstance(conv, nn.Conv2d) and sorted(conv.state_dict()) == ["bias", "weight"]
    x = jt.array(np.random.default_rng(0).standard_normal((2, 4, 5, 5)).astype(np.float32))
    np.testing.assert_allclose(conv(x).numpy(), nn.conv2d(x, conv.weight, conv.bias).numpy(), atol=1e-5)
    strided = Conv2d(4, 3, 1, stride=2)        # not the pointwise case: Jittor's convolution
    np.testing.assert_allclose(strided(x).numpy(), nn.conv2d(x, strided.weight, strided.bias, stride=2).numpy(),
                               atol=1e-5)
    with pytest.raises(ValueError, match=r"weight \[D, C, 1, 1\]"):
        pointwise_conv2d(x, jt.zeros((3, 4, 3, 3)))


@pytest.mark.parametrize("n", [3, 1])
def test_fused_gelu_matches_conv_then_gelu(n):
    """``conv_gelu``: the GELU applied inside the op (pre-activation kept for the backward) equals
    the reference convolution followed by the reference GELU, values and gradients; under
    ``jt.no_grad()`` the op keeps nothing and gives the same values."""
    rng = np.random.default_rng(10 + n)
    x_np = rng.standard_normal((n, 5, 3, 7)).astype(np.float32)
    g = jt.array(rng.standard_normal((n, 6, 3, 7)).astype(np.float32))
    conv = Conv2d(5, 6, 1)
    out = {}
    for impl in ("kernel", "reference"):
        x = jt.array(x_np)
        y = pointwise_conv2d(x, conv.weight, conv.bias, gelu=True, impl=impl)
        out[impl] = [y.numpy()] + [v.numpy() for v in jt.grad((y * g).sum(), [x, conv.weight, conv.bias])]
    for name, a, r in zip(("y", "dx", "dw", "db"), out["kernel"], out["reference"]):
        np.testing.assert_allclose(a, r, atol=2e-5, rtol=1e-5, err_msg=name)
    with jt.no_grad():
        np.testing.assert_allclose(conv_gelu(conv, jt.array(x_np)).numpy(), out["reference"][0], atol=2e-5)



@pytest.mark.parametrize("shape,gelu,bias,scaled", [((3, 5, 3, 7), False, True, True),    # panels of 2 samples
                                                    ((1, 5, 23, 47), True, False, True),  # 2 column ranges
                                                    ((3, 5, 3, 7), True, True, False)])
def test_residual_epilogue_matches_conv_then_residual(shape, gelu, bias, scaled):
    """``residual + scale * act(conv(x))`` (the layer-scaled end of a Conv2Former branch): under
    ``jt.no_grad()`` the kernel computes the sum in the product's pass -- panels grouping several
    small samples, or cutting one large sample -- and equals the reference; with gradients on it
    is the product followed by the residual op, and its gradients equal the reference's."""
    rng = np.random.default_rng(sum(shape))
    n, c, h, w = shape
    x_np = rng.standard_normal(shape).astype(np.float32)
    r_np = rng.standard_normal((n, 6, h, w)).astype(np.float32)
    w_np = rng.standard_normal((6, c, 1, 1)).astype(np.float32)
    b_np, s_np = rng.standard_normal((6,)).astype(np.float32), rng.standard_normal((6,)).astype(np.float32)
    g = jt.array(rng.standard_normal((n, 6, h, w)).astype(np.float32))

    def run(impl):
        x, r, wt = jt.array(x_np), jt.array(r_np), jt.array(w_np)
        b = jt.array(b_np) if bias else None
        s = jt.array(s_np) if scaled else None
        y = pointwise_conv2d(x, wt, b, gelu=gelu, residual=r, scale=s, impl=impl)
        wrt = [v for v in (x, r, wt, b, s) if v is not None]
        return [y.numpy()] + [v.numpy() for v in jt.grad((y * g).sum(), wrt)]

    ref, ker = run("reference"), run("kernel")
    for i, (a, e) in enumerate(zip(ker, ref)):
        np.testing.assert_allclose(a, e, atol=1e-4, rtol=1e-5, err_msg=f"output/gradient {i}")
    with jt.no_grad():
        y = pointwise_conv2d(jt.array(x_np), jt.array(w_np), jt.array(b_np) if bias else None, gelu=gelu,
                             residual=jt.array(r_np), scale=jt.array(s_np) if scaled else None)
        np.testing.assert_allclose(y.numpy(), ref[0], atol=1e-4, rtol=1e-5)
        conv = Conv2d(c, 6, 1)
        expect = r_np + conv(jt.array(x_np)).numpy()
        np.testing.assert_allclose(conv_residual(conv, jt.array(x_np), jt.array(r_np)).numpy(), expect, atol=1e-4)
    with pytest.raises(ValueError, match="residual must be"):
        pointwise_conv2d(jt.array(x_np), jt.array(w_np), residual=jt.array(x_np))

@pytest.mark.parametrize("n,k,stride,pad,dil,bias", [(2, 3, 2, 1, 1, True), (1, 2, 2, 0, 1, False), (3, 3, 2, 2, 2, True)])
def test_im2col_matches_jittor_convolution(n, k, stride, pad, dil, bias):
    """Strided convolutions through im2col + sgemm: the per-sample-task path (n >= threads), the
    sample-by-sample path (n = 1), patchify (k = stride, no padding), dilation; x, w, b gradients."""
    rng = np.random.default_rng(n * 10 + k)
    x_np = rng.standard_normal((n, 3, 9, 11)).astype(np.float32)
    w_np = rng.standard_normal((4, 3, k, k)).astype(np.float32)
    b_np = rng.standard_normal((4,)).astype(np.float32)
    out = {}
    for impl in ("kernel", "reference"):
        x, w = jt.array(x_np), jt.array(w_np)
        b = jt.array(b_np) if bias else None
        y = conv2d_im2col(x, w, b, stride, pad, dil, impl=impl)
        g = jt.array(np.random.default_rng(0).standard_normal(y.shape).astype(np.float32))
        out[impl] = [y.numpy()] + [v.numpy() for v in jt.grad((y * g).sum(), [x, w] + ([b] if bias else []))]
    for name, a, r in zip(("y", "dx", "dw", "db"), out["kernel"], out["reference"]):
        np.testing.assert_allclose(a, r, atol=3e-5, rtol=1e-5, err_msg=name)


def test_strided_layer_without_input_gradient():
    """An image stem: the input needs no gradient, so the backward skips dx; dW still matches."""
    conv = Conv2d(3, 4, 3, stride=2, padding=1)
    x = jt.array(np.random.default_rng(1).standard_normal((2, 3, 8, 8)).astype(np.float32)).stop_grad()
    dw = jt.grad(conv(x).sqr().sum(), conv.weight).numpy()
    ref = jt.grad(nn.conv2d(x, conv.weight, conv.bias, 2, 1).sqr().sum(), conv.weight).numpy()
    np.testing.assert_allclose(dw, ref, atol=3e-5, rtol=1e-5)
