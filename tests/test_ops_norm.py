"""BatchNorm, GroupNorm, channels-last LayerNorm and GELU (jvision.ops): our kernels against the
reference formulas, forward and backward on odd shapes; BatchNorm's running statistics follow
PyTorch (unbiased variance); the modules keep the official parameter names."""
from __future__ import annotations

import numpy as np
import pytest

import jvision  # noqa: F401
import jittor as jt
from jvision.ops import BatchNorm2d, GroupNorm, LayerNorm, batch_norm, gelu, group_norm, layer_norm


def _grads(impl, fn, arrays, seed):
    xs = [jt.array(a) for a in arrays]
    y = fn(impl, *xs)
    gy = jt.array(np.random.default_rng(seed).standard_normal(y.shape).astype(np.float32))
    return [y.numpy()] + [g.numpy() for g in jt.grad((y * gy).sum(), xs)]


def _check(fn, shapes, seed, tol=2e-5):
    rng = np.random.default_rng(seed)
    arrays = [(rng.standard_normal(s) * 2 + 0.5).astype(np.float32) for s in shapes]
    ref = _grads("reference", fn, arrays, seed)
    ker = _grads("kernel", fn, arrays, seed)
    for i, (a, b) in enumerate(zip(ker, ref)):
        np.testing.assert_allclose(a, b, atol=tol * max(1.0, np.abs(b).max()), err_msg=f"output/grad {i}")


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("shape", [(2, 5, 7, 3), (3, 4, 1, 1), (1, 3, 9)])
def test_batch_norm_kernel(shape, training):
    c = shape[1]

    def fn(impl, x, w, b):
        rm = jt.array(np.linspace(-0.5, 0.5, c).astype(np.float32))
        rv = jt.array(np.linspace(0.5, 2.0, c).astype(np.float32))
        return batch_norm(x, rm, rv, w, b, training, 0.1, 1e-5, impl=impl)
    _check(fn, [shape, (c,), (c,)], seed=c + training)


@pytest.mark.parametrize("impl", ["kernel", "reference", "builtin"])
def test_batch_norm_running_statistics_follow_pytorch(impl):
    x = np.random.default_rng(0).standard_normal((4, 3, 5, 5)).astype(np.float32)
    rm, rv = jt.zeros(3), jt.ones(3)
    batch_norm(jt.array(x), rm, rv, None, None, True, 0.1, impl=impl).sync()
    np.testing.assert_allclose(rm.numpy(), 0.1 * x.mean((0, 2, 3)), atol=1e-6)
    np.testing.assert_allclose(rv.numpy(), 0.9 + 0.1 * x.var((0, 2, 3), ddof=1), atol=1e-6)


@pytest.mark.parametrize("shape,groups", [((2, 6, 5, 3), 3), ((1, 4, 7, 7), 4), ((2, 64, 3, 5), 32)])
def test_group_norm_kernel(shape, groups):
    c = shape[1]
    _check(lambda impl, x, w, b: group_norm(x, groups, w, b, 1e-5, impl=impl), [shape, (c,), (c,)], seed=groups)


@pytest.mark.parametrize("shape", [(5, 7), (3, 50, 40)])
def test_layer_norm_kernel(shape):
    c = shape[-1]
    _check(lambda impl, x, w, b: layer_norm(x, w, b, 1e-6, impl=impl), [shape, (c,), (c,)], seed=c)


def test_gelu_kernel():
    # a size that is not a multiple of the vector width, values over the whole useful range
    _check(lambda impl, x: gelu(x, impl=impl), [(3, 5, 37)], seed=9, tol=1e-6)
    x = jt.array(np.linspace(-9, 9, 101).astype(np.float32))
    exact = np.array([v * 0.5 * (1 + __import__("math").erf(v / 2 ** 0.5)) for v in np.linspace(-9, 9, 101)])
    np.testing.assert_allclose(gelu(x, impl="kernel").numpy(), exact, atol=3e-6)


def test_norm_modules_keep_official_keys_and_check_shapes():
    bn, gn, ln = BatchNorm2d(4), GroupNorm(2, 4), LayerNorm(4)
    assert sorted(bn.state_dict()) == ["bias", "running_mean", "running_var", "weight"]
    assert sorted(gn.state_dict()) == ["bias", "weight"] == sorted(ln.state_dict())
    with pytest.raises(ValueError, match=r"BatchNorm2d\(4\).*\[2, 3, 5\]"):
        bn(jt.zeros((2, 3, 5)))
    with pytest.raises(ValueError, match=r"GroupNorm\(2, 4\)"):
        gn(jt.zeros((2, 6, 3, 3)))
    with pytest.raises(ValueError, match=r"LayerNorm\(4\)"):
        ln(jt.zeros((2, 5)))
    bn.eval()  # evaluation uses the running statistics
    x = jt.array(np.random.default_rng(1).standard_normal((2, 4, 3, 3)).astype(np.float32))
    np.testing.assert_allclose(bn(x).numpy(), x.numpy() / np.sqrt(1 + 1e-5), atol=1e-6)
