"""Conv2Former (jvision.models.conv2former): variants, kernel sizes, backbone and classifier modes.

Numerical parity with the official model is tested in tests/test_compare.py.
"""
from __future__ import annotations

import numpy as np

import jvision  # noqa: F401
import jittor as jt

from jvision import MODELS
from jvision.models.conv2former import Conv2Former

TINY = dict(kernel_size=7, dims=[8, 16, 32, 64], depths=[1, 1, 2, 1], mlp_ratios=[4, 4, 4, 4])


def test_kernel_size_per_variant():
    """ConvMod's depthwise kernel: 7 for N and B-22K, 11 for the others (the current official code)."""
    want = {"conv2former_n": 7, "conv2former_t": 11, "conv2former_s": 11, "conv2former_b": 11,
            "conv2former_b_22k": 7, "conv2former_l": 11}
    for name, k in want.items():
        model = MODELS.build(dict(type=name))
        assert tuple(model.state_dict()["stages.0.0.attn.att.2.weight"].shape)[2:] == (k, k), name
        assert tuple(model.state_dict()["head.0.weight"].shape)[:1] == (1280,), name


def test_backbone_mode_has_no_head_and_returns_stages():
    model = Conv2Former(**TINY, num_classes=0, out_indices=(0, 1, 2, 3))
    assert not any(k.startswith(("head.", "pred.")) for k in model.state_dict())
    model.eval()
    x = jt.array(np.random.default_rng(0).standard_normal((2, 3, 64, 64)).astype(np.float32))
    outs = model(x)
    assert [tuple(o.shape) for o in outs] == [(2, 8, 16, 16), (2, 16, 8, 8), (2, 32, 4, 4), (2, 64, 2, 2)]


def test_classifier_mode_and_frozen_stem():
    model = Conv2Former(**TINY, num_classes=10, frozen_stages=0)
    model.train()
    assert all(p.is_stop_grad() for p in model.downsample_layers[0].parameters())
    assert not model.downsample_layers[0][2].is_train           # the stem's BatchNorm stays in eval mode
    assert not model.stages[1][0].layer_scale_1.is_stop_grad()
    np.testing.assert_allclose(model.stages[1][0].layer_scale_1.numpy(), 1e-6)
    model.eval()
    x = jt.array(np.random.default_rng(0).standard_normal((2, 3, 64, 64)).astype(np.float32))
    assert tuple(model(x).shape) == (2, 10) and tuple(model.forward_features(x).shape) == (2, 1280)


def test_inference_without_gradients_equals_the_forward_with_them():
    """Under ``jt.no_grad()`` each block's residual sums run inside the projections' 1x1 kernels
    (``add_scaled_branch_of``); the outputs equal the forward with gradients on, where they are
    separate ops. Layer scales are set to O(1) so that the branches matter."""
    model = Conv2Former(**TINY, num_classes=10)
    rng = np.random.default_rng(1)
    for block in [b for stage in model.stages for b in stage]:
        for ls in (block.layer_scale_1, block.layer_scale_2):
            ls.assign(jt.array(rng.uniform(0.5, 1.5, ls.shape).astype(np.float32)))
    model.eval()
    x = jt.array(rng.standard_normal((2, 3, 64, 64)).astype(np.float32))
    with_grad = model(x).numpy()
    with jt.no_grad():
        without = model(x).numpy()
    assert np.abs(with_grad).max() > 1e-2
    np.testing.assert_allclose(without, with_grad, atol=1e-4, rtol=1e-4)
