"""Softmax cross-entropy (jvision.ops.softmax_cross_entropy): our kernel, with and without the
fused resize of the logits, against the reference (resize then log-softmax), forward and backward;
ignore index, class weights, out-of-range labels, the resized argmax, and the decode head's loss.
(tests/test_seg_models.py holds jseg's cross_entropy, hence this kernel, to a numpy formula.)"""
from __future__ import annotations

import numpy as np
import pytest

import jvision  # noqa: F401
import jittor as jt
from jvision.ops import resized_argmax, softmax_cross_entropy

# (logits shape, label size, class weights, align_corners): fused upsampling (odd factors),
# same size (no resize), downsampling, 150 classes as ADE20K with 8x upsampling
CASES = [((2, 5, 3, 4), (11, 13), True, False), ((1, 7, 9, 6), (9, 6), True, False),
         ((2, 4, 5, 5), (17, 3), False, True), ((1, 150, 4, 4), (32, 32), False, False)]


def _data(rng, shape, size, weights):
    n, k = shape[:2]
    x = jt.array((rng.standard_normal(shape) * 3).astype(np.float32))
    label = rng.integers(0, k, (n,) + size)
    label[rng.random(label.shape) < 0.25] = 255
    cw = jt.array((rng.random(k) + 0.5).astype(np.float32)) if weights else None
    dloss = jt.array(rng.standard_normal((n,) + size).astype(np.float32))
    return x, jt.array(label.astype(np.int32)), cw, dloss


@pytest.mark.parametrize("shape,size,weights,align", CASES)
def test_kernel_matches_reference(shape, size, weights, align):
    rng = np.random.default_rng(shape[1] * 10 + size[0])
    x, label, cw, dloss = _data(rng, shape, size, weights)
    out = {}
    for impl in ("kernel", "reference"):
        loss = softmax_cross_entropy(x, label, cw, 255, align, impl=impl)
        grad = jt.grad((loss * dloss).sum(), x)
        out[impl] = loss.numpy(), grad.numpy(), resized_argmax(x, size, align, impl=impl).numpy()
    (lk, gk, pk), (lr, gr, pr) = out["kernel"], out["reference"]
    np.testing.assert_allclose(lk, lr, atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(gk, gr, atol=1e-5, rtol=1e-5)
    assert (pk == pr).all()
    assert (lk[label.numpy() == 255] == 0).all()


def test_kernel_gradient_against_finite_differences():
    rng = np.random.default_rng(2)
    x0 = rng.standard_normal((1, 3, 2, 3)).astype(np.float64)
    label = jt.array(np.array([[[0, 2, 1, 255], [1, 1, 0, 2], [2, 255, 0, 1]]], np.int32))
    cw = jt.array(np.array([1.0, 0.5, 2.0], np.float32))

    def f(v):
        return float(softmax_cross_entropy(jt.array(v.astype(np.float32)), label, cw, impl="kernel").sum().item())
    x = jt.array(x0.astype(np.float32))
    g = jt.grad(softmax_cross_entropy(x, label, cw, impl="kernel").sum(), x).numpy()
    eps = 1e-2
    for idx in [(0, 0, 0, 0), (0, 1, 1, 2), (0, 2, 0, 1), (0, 2, 1, 1)]:
        d = np.zeros_like(x0)
        d[idx] = eps
        num = (f(x0 + d) - f(x0 - d)) / (2 * eps)
        assert g[idx] == pytest.approx(num, abs=2e-3), idx


def test_out_of_range_label_gives_nan_not_garbage():
    x = jt.zeros((1, 3, 2, 2))
    label = jt.array(np.array([[[0, 7], [255, 1]]], np.int32))
    for impl in ("kernel", "reference"):
        loss = softmax_cross_entropy(x, label, impl=impl).numpy()
        assert np.isnan(loss[0, 0, 1]) and loss[0, 1, 0] == 0 and np.isfinite(loss[0, 0, 0]), impl


def test_class_weight_shape_is_checked():
    with pytest.raises(ValueError, match=r"class_weight has shape \[2\], expected \[3\]"):
        softmax_cross_entropy(jt.zeros((1, 3, 2, 2)), jt.zeros((1, 2, 2), "int32"), jt.ones(2))


def test_decode_head_loss_equals_resize_then_loss():
    # the head's loss resizes inside the loss now: same value and gradient as the explicit resize
    from jseg.models.losses import cross_entropy, pixel_accuracy
    from jvision.ops import resize_bilinear
    rng = np.random.default_rng(5)
    x, label, _, _ = _data(rng, (2, 5, 3, 4), (11, 13), False)
    fused = cross_entropy(x, label, align_corners=False)
    explicit = cross_entropy(resize_bilinear(x, (11, 13), False, impl="reference"), label)
    assert fused.item() == pytest.approx(explicit.item(), rel=1e-5)
    g1, g2 = jt.grad(fused, x).numpy(), jt.grad(explicit, x).numpy()
    np.testing.assert_allclose(g1, g2, atol=1e-6)
    acc = pixel_accuracy(x, label, align_corners=False).item()
    acc_ref = pixel_accuracy(resize_bilinear(x, (11, 13), False, impl="reference"), label).item()
    assert acc == pytest.approx(acc_ref)

