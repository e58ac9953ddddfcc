"""Bilinear resize (jvision.ops.resize_bilinear): our kernel and Jittor's against the reference
(the interpolation matrices), forward and backward, up and down, both align_corners modes."""
from __future__ import annotations

import numpy as np
import pytest

import jvision  # noqa: F401
import jittor as jt
from jvision.ops import resize_bilinear
from jvision.ops.resize import interpolation_matrix, resize_taps

# odd sizes, up and down, one axis growing while the other shrinks, a single row/column
CASES = [((2, 3, 5, 7), (11, 4)), ((1, 2, 9, 6), (4, 13)), ((1, 3, 1, 5), (3, 1))]


def _run(impl, x, size, align, gy):
    y = resize_bilinear(x, size, align, impl=impl)
    return y.numpy(), jt.grad((y * gy).sum(), x).numpy()


@pytest.mark.parametrize("align", [False, True])
@pytest.mark.parametrize("shape,size", CASES)
def test_kernel_and_builtin_match_reference(shape, size, align):
    rng = np.random.default_rng(len(shape) + size[0] + 7 * align)
    x = jt.array(rng.standard_normal(shape).astype(np.float32))
    gy = jt.array(rng.standard_normal(shape[:2] + size).astype(np.float32))
    y_ref, g_ref = _run("reference", x, size, align, gy)
    for impl in ("kernel", "builtin"):
        y, g = _run(impl, x, size, align, gy)
        np.testing.assert_allclose(y, y_ref, atol=2e-6, err_msg=f"{impl} forward")
        if impl == "kernel":  # Jittor's own backward is not ours to test
            np.testing.assert_allclose(g, g_ref, atol=2e-6, err_msg=f"{impl} backward")


def test_kernel_backward_is_the_adjoint_of_the_forward():
    # <R x, g> == <x, R^T g> for the linear map R: catches any dropped or doubled scatter
    rng = np.random.default_rng(3)
    x = jt.array(rng.standard_normal((2, 3, 7, 5)).astype(np.float32))
    g = jt.array(rng.standard_normal((2, 3, 16, 9)).astype(np.float32))
    y = resize_bilinear(x, (16, 9), False, impl="kernel")
    gx = jt.grad((y * g).sum(), x)
    lhs = float((y.numpy().astype(np.float64) * g.numpy()).sum())
    rhs = float((x.numpy().astype(np.float64) * gx.numpy()).sum())
    assert lhs == pytest.approx(rhs, rel=1e-5)


def test_taps_follow_pytorch():
    # F.interpolate(torch.arange(4.).view(1,1,1,4), size=(1,7), mode="bilinear", align_corners=False),
    # printed by torch 2.13
    expected = [0.0, 0.3571428954601288, 0.9285714626312256, 1.5000001192092896, 2.0714287757873535,
                2.642857313156128, 3.0]
    row = interpolation_matrix(4, 7, False) @ np.arange(4, dtype=np.float32)
    np.testing.assert_allclose(row, expected, atol=1e-6)
    i0, i1, l0, l1 = resize_taps(4, 7, True)
    np.testing.assert_allclose(l0 * i0 + l1 * i1, np.arange(7) * 0.5, atol=1e-6)


def test_same_size_is_identity_and_bad_size_is_an_error():
    x = jt.ones((1, 2, 3, 4))
    assert resize_bilinear(x, (3, 4)) is x
    with pytest.raises(ValueError, match="size"):
        resize_bilinear(x, (3,))
    with pytest.raises(ValueError, match=r"\[N, C, H, W\]"):
        resize_bilinear(jt.ones((2, 3, 4)), (5, 5))
