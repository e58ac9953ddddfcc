"""Batched matrix product with transpose flags (jvision.ops.matmul.batched_matmul), which the NMF
of SegNeXt's head multiplies through: oneDNN per batch entry on the kernel backend, against nn.bmm
of the transposed operands, forward and backward."""
from __future__ import annotations

import numpy as np
import pytest

import jvision  # noqa: F401
import jittor as jt
from jvision.ops.matmul import batched_matmul


@pytest.mark.parametrize("ta,tb", [(False, False), (True, False), (False, True), (True, True)])
def test_batched_matmul_with_transpose_flags(ta, tb):
    rng = np.random.default_rng(int(ta) * 2 + int(tb))
    a_np = rng.standard_normal((2, 5, 3) if ta else (2, 3, 5)).astype(np.float32)
    b_np = rng.standard_normal((2, 4, 5) if tb else (2, 5, 4)).astype(np.float32)
    g = jt.array(rng.standard_normal((2, 3, 4)).astype(np.float32))
    out = {}
    for impl in ("kernel", "reference"):
        a, b = jt.array(a_np), jt.array(b_np)
        c = batched_matmul(a, b, ta, tb, impl=impl)
        out[impl] = [c.numpy()] + [v.numpy() for v in jt.grad((c * g).sum(), [a, b])]
    for k, r in zip(out["kernel"], out["reference"]):
        np.testing.assert_allclose(k, r, atol=1e-5)
    with pytest.raises(ValueError, match="inner sizes differ"):
        batched_matmul(jt.array(a_np), jt.array(b_np), not ta, tb)
