"""Multi-tensor AdamW / SGD updates (jvision.ops.multi_tensor) against the per-tensor reference,
more tensors than one fused op takes, and through the engine's optimizers."""
from __future__ import annotations

import numpy as np
import pytest

import jvision  # noqa: F401
import jittor as jt
from jvision.ops import multi_tensor
from jvision.ops.multi_tensor import adamw_update, sgd_update

SHAPES = [(3, 5), (7,), (2, 3, 4, 5), (20000,)] + [(i + 1,) for i in range(multi_tensor.CHUNK)]


def _arrays(seed):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s).astype(np.float32) for s in SHAPES]


def test_chunks_bound_tensors_and_elements():
    sizes = [10] * 40 + [5000, 3, 3]
    chunks = list(multi_tensor._chunks(sizes))
    assert chunks[0] == (0, multi_tensor.CHUNK) and chunks[-1][1] == len(sizes)
    assert all(b > a for a, b in chunks) and all(b == c for (_, b), (c, _) in zip(chunks, chunks[1:]))
    import unittest.mock
    with unittest.mock.patch.object(multi_tensor, "CHUNK_ELEMENTS", 100):
        assert (40, 41) in list(multi_tensor._chunks(sizes))   # a tensor larger than the cap goes alone


def _hyper():
    return [1e-3 * (1 + i % 3) for i in range(len(SHAPES))], [0.05 * (i % 2) for i in range(len(SHAPES))]


@pytest.mark.parametrize("chunk_elements", [None, 1000])
def test_adamw_kernel_matches_reference_over_steps(chunk_elements, monkeypatch):
    if chunk_elements:  # chunks cut by size (the 20000-element tensor alone), same compiled op
        monkeypatch.setattr(multi_tensor, "CHUNK_ELEMENTS", chunk_elements)
    params, grads = _arrays(0), [_arrays(1), _arrays(2)]
    lrs, wds = _hyper()
    out = {}
    for impl in ("kernel", "reference"):
        ps = [jt.array(a) for a in params]
        ms, vs = [jt.zeros(s) for s in SHAPES], [jt.zeros(s) for s in SHAPES]
        for step, g in enumerate(grads, 1):
            adamw_update(ps, [jt.array(a) for a in g], ms, vs, lrs, wds, (0.9, 0.999), 1e-8, step, impl=impl)
        out[impl] = [t.numpy() for t in ps + ms + vs]
    for a, b in zip(out["kernel"], out["reference"]):
        np.testing.assert_allclose(a, b, atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("momentum,nesterov", [(0.0, False), (0.9, True)])
def test_sgd_kernel_matches_reference_over_steps(momentum, nesterov):
    params, grads = _arrays(3), [_arrays(4), _arrays(5)]
    lrs, wds = _hyper()
    out = {}
    for impl in ("kernel", "reference"):
        ps, bufs = [jt.array(a) for a in params], [jt.zeros(s) for s in SHAPES]
        for step, g in enumerate(grads):
            sgd_update(ps, [jt.array(a) for a in g], bufs, lrs, wds, momentum, nesterov, step == 0, impl=impl)
        out[impl] = [t.numpy() for t in ps + (bufs if momentum else [])]
    for a, b in zip(out["kernel"], out["reference"]):
        np.testing.assert_allclose(a, b, atol=1e-6, rtol=1e-6)


def test_engine_adamw_same_parameters_with_and_without_the_kernel():
    from jittor import nn
    from jvision import ops
    from jvision.engine.optim import AdamW
    rng = np.random.default_rng(6)
    x = jt.array(rng.standard_normal((4, 6)).astype(np.float32))
    result = {}
    for impl in ("kernel", "reference"):
        jt.set_seed(0)
        model = nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 3))
        opt = AdamW([{"params": model[0].parameters(), "lr": 1e-2},
                     {"params": model[2].parameters(), "lr": 3e-2, "decay_mult": 0.0}], lr=1e-2)
        with ops.backend(impl):
            for _ in range(3):
                opt.step((model(x) ** 2).mean())
        result[impl] = [p.numpy() for p in model.parameters()]
    for a, b in zip(result["kernel"], result["reference"]):
        np.testing.assert_allclose(a, b, atol=1e-6)
