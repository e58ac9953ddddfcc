"""Layer-scaled residuals (jvision.ops.scaled_residual): our CPU kernel against the composition,
values and the gradients of x, branch and scale, with and without the scale, on planes whose size
is not a vector multiple; and the blocks that use it keep their drop path in training."""
from __future__ import annotations

import numpy as np
import pytest

import jvision  # noqa: F401
import jittor as jt
from jvision.ops import scaled_residual


@pytest.mark.parametrize("scaled", [True, False])
def test_kernel_matches_the_composition(scaled):
    rng = np.random.default_rng(int(scaled))
    x_np, b_np = (rng.standard_normal((3, 4, 5, 7)).astype(np.float32) for _ in range(2))
    s_np = rng.standard_normal((4,)).astype(np.float32)
    g = jt.array(rng.standard_normal((3, 4, 5, 7)).astype(np.float32))
    out = {}
    for impl in ("kernel", "reference"):
        x, b, s = jt.array(x_np), jt.array(b_np), jt.array(s_np)
        y = scaled_residual(x, b, s if scaled else None, impl=impl)
        wrt = [x, b] + ([s] if scaled else [])
        out[impl] = [y.numpy()] + [v.numpy() for v in jt.grad((y * g).sum(), wrt)]
    for name, a, r in zip(("y", "dx", "db", "dscale"), out["kernel"], out["reference"]):
        np.testing.assert_allclose(a, r, atol=2e-5, rtol=1e-5, err_msg=name)
    with pytest.raises(ValueError, match="one shape"):
        scaled_residual(jt.array(x_np), jt.zeros((3, 4, 5, 6)))


def test_blocks_keep_their_drop_path_in_training():
    """A VAN block with drop path 0.5: in training the per-sample drop still happens (samples whose
    branch is dropped equal the input), in eval the fused residual gives the plain formula."""
    from jvision.models.layers import DropPath, add_scaled_branch
    x = jt.array(np.random.default_rng(0).standard_normal((16, 2, 3, 3)).astype(np.float32))
    branch = jt.ones((16, 2, 3, 3))
    scale = jt.array(np.array([1.0, 2.0], np.float32))
    drop = DropPath(0.5)
    drop.train()
    jt.set_global_seed(0)
    delta = (add_scaled_branch(x, branch, scale, drop) - x).numpy()
    kept = np.abs(delta).reshape(16, -1).max(1) > 0
    assert 0 < kept.sum() < 16          # some samples dropped, some kept (and rescaled by 1 / 0.5)
    np.testing.assert_allclose(delta[kept][:, 1], 4.0, atol=1e-5)
    drop.eval()
    np.testing.assert_allclose((add_scaled_branch(x, branch, scale, drop) - x).numpy()[:, 1], 2.0, atol=1e-5)


def test_gelu_branch_matches_the_composition():
    """``x + GELU(branch)`` (Conv2Former's MLP): values and the gradients of x and branch."""
    rng = np.random.default_rng(5)
    x_np, b_np = (rng.standard_normal((2, 3, 5, 7)).astype(np.float32) for _ in range(2))
    g = jt.array(rng.standard_normal((2, 3, 5, 7)).astype(np.float32))
    out = {}
    for impl in ("kernel", "reference"):
        x, b = jt.array(x_np), jt.array(b_np)
        y = scaled_residual(x, b, gelu=True, impl=impl)
        out[impl] = [y.numpy()] + [v.numpy() for v in jt.grad((y * g).sum(), [x, b])]
    for name, a, r in zip(("y", "dx", "db"), out["kernel"], out["reference"]):
        np.testing.assert_allclose(a, r, atol=2e-5, rtol=1e-5, err_msg=name)
    with pytest.raises(ValueError, match="no scale"):
        scaled_residual(jt.array(x_np), jt.array(b_np), jt.ones((3,)), gelu=True)
