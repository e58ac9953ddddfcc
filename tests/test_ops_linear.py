"""Linear layers on tokens (jvision.ops.linear, Linear, linear_gelu): our CPU kernel (bias and GELU
per block of rows, dx/dW/db in one backward op) against Jittor's matmul plus bias (and the
reference GELU), values and gradients, for row counts that leave a ragged last block, with and
without bias, and 3-D token inputs."""
from __future__ import annotations

import numpy as np
import pytest

import jvision  # noqa: F401
import jittor as jt
from jittor import nn
from jvision.ops import Linear, linear, linear_gelu


@pytest.mark.parametrize("lead,bias,gelu", [((2, 7), True, False), ((5,), False, False), ((3, 9), True, True),
                                            ((1,), True, True), ((2, 300), False, True)])
def test_kernel_matches_matmul_plus_bias(lead, bias, gelu):
    rng = np.random.default_rng(len(lead) * 7 + int(gelu))
    x_np = rng.standard_normal(lead + (11,)).astype(np.float32)
    w_np = rng.standard_normal((13, 11)).astype(np.float32)
    b_np = rng.standard_normal((13,)).astype(np.float32)
    g = jt.array(rng.standard_normal(lead + (13,)).astype(np.float32))
    out = {}
    for impl in ("kernel", "reference"):
        x, w = jt.array(x_np), jt.array(w_np)
        b = jt.array(b_np) if bias else None
        y = linear(x, w, b, gelu=gelu, impl=impl)
        out[impl] = [y.numpy()] + [v.numpy() for v in jt.grad((y * g).sum(), [x, w] + ([b] if bias else []))]
    assert out["kernel"][0].shape == lead + (13,)
    for name, a, r in zip(("y", "dx", "dw", "db"), out["kernel"], out["reference"]):
        np.testing.assert_allclose(a, r, atol=3e-5, rtol=1e-5, err_msg=name)


def test_layer_names_and_fused_gelu_without_gradients():
    layer = Linear(6, 4)
    assert isinstance(layer, nn.Linear) and sorted(layer.state_dict()) == ["bias", "weight"]
    x = jt.array(np.random.default_rng(1).standard_normal((3, 5, 6)).astype(np.float32))
    ref = linear(x, layer.weight, layer.bias, gelu=True, impl="reference").numpy()
    with jt.no_grad():                     # the pre-activation is not kept: same values
        np.testing.assert_allclose(linear_gelu(layer, x).numpy(), ref, atol=2e-5)
    with pytest.raises(ValueError, match="do not match"):
        linear(x, jt.zeros((4, 5)))
