"""VAN (jvision.models.van): registry, backbone contract, frozen stages, stochastic depth, training.

Numerical parity with the official model is tested in tests/test_compare.py (van_tiny, van_b0..b6).
"""
from __future__ import annotations

import numpy as np
import pytest

import jvision  # noqa: F401
import jittor as jt

from jvision import MODELS
from jvision.models.layers import DropPath, count_parameters, linear_drop_path_rates
from jvision.models.van import VAN

TINY = dict(embed_dims=[8, 16, 32, 64], mlp_ratios=[8, 8, 4, 4], depths=[1, 1, 2, 1])


def _input():
    return jt.array(np.random.default_rng(0).standard_normal((2, 3, 64, 64)).astype(np.float32))


def test_registered_variants():
    for i in range(7):
        assert f"van_b{i}" in MODELS
    model = MODELS.build(dict(type="van_b0"))
    assert isinstance(model, VAN) and model.default_cfg["top1"] == 75.4
    assert count_parameters(model)["total"] == 4_105_800           # the README's 4.1M, exactly the official
    custom = MODELS.build(dict(type="VAN", **TINY, num_classes=0))
    assert custom.head is None and "head.weight" not in custom.state_dict()


def test_backbone_returns_requested_stages():
    model = VAN(**TINY, num_classes=0, out_indices=(1, 3))
    model.eval()
    outs = model(_input())
    assert [tuple(o.shape) for o in outs] == [(2, 16, 8, 8), (2, 64, 2, 2)]
    info = [model.feature_info[i] for i in (1, 3)]
    assert [(i["num_chs"], i["reduction"]) for i in info] == [(16, 8), (64, 32)]


def test_classifier_and_features():
    model = VAN(**TINY, num_classes=10)
    model.eval()
    x = _input()
    assert tuple(model(x).shape) == (2, 10)
    assert tuple(model.forward_features(x).shape) == (2, 64)


def test_norm_options():
    m = VAN(**TINY, norm_layer="syncbn", ln_eps=1e-5)
    assert m.block1[0].norm1.sync and m.patch_embed2.norm.sync and m.norm1.eps == 1e-5
    assert not VAN(**TINY).block1[0].norm1.sync and VAN(**TINY).norm4.eps == 1e-6
    with pytest.raises(ValueError, match="norm_layer must be one of"):
        VAN(**TINY, norm_layer="gn")
    with pytest.raises(ValueError, match="out_indices"):
        VAN(**TINY, out_indices=(4,))


def test_drop_path_rates_and_module():
    assert linear_drop_path_rates(0.1, [1, 1, 2, 1]) == pytest.approx([0, 0.025, 0.05, 0.075, 0.1])
    m = VAN(**TINY, drop_path_rate=0.2)
    assert m.block1[0].drop_path.__class__.__name__ == "Identity"   # rate 0 for the first block
    assert m.block4[0].drop_path.drop_prob == pytest.approx(0.2)
    dp = DropPath(0.5)
    x = jt.ones((64, 3))
    y = dp(x).numpy()
    assert set(np.unique(y)) <= {0.0, 2.0} and 0 < (y[:, 0] == 0).sum() < 64
    dp.eval()
    np.testing.assert_array_equal(dp(x).numpy(), x.numpy())


def test_frozen_stages_stay_frozen_through_train_and_a_step():
    model = VAN(**TINY, num_classes=10, frozen_stages=1, drop_path_rate=0.1)
    model.train()
    assert all(p.is_stop_grad() for p in model.block2.parameters())
    assert not model.block2[0].norm1.is_train and not model.patch_embed1.norm.is_train
    assert not any(p.is_stop_grad() for k, p in model.block3.state_dict().items() if "running_" not in k)
    assert model.block3[0].norm1.is_train
    frozen_before = model.block1[0].mlp.fc1.weight.numpy().copy()
    free_before = model.block3[0].mlp.fc1.weight.numpy().copy()
    opt = jt.optim.SGD(model.parameters(), lr=0.1)
    logits = model(_input())
    opt.step(((logits - 1) ** 2).mean())
    np.testing.assert_array_equal(model.block1[0].mlp.fc1.weight.numpy(), frozen_before)
    assert not np.array_equal(model.block3[0].mlp.fc1.weight.numpy(), free_before)
    counts = count_parameters(model)
    assert counts["trainable"] < counts["total"]
    model.eval()
    model.train()
    assert all(p.is_stop_grad() for p in model.block1.parameters())


def test_stage_plumbing_is_shared_by_van_mscan_and_conv2former():
    """jvision.models.layers.StagedBackbone: one argument check, one stage table, one freezing rule."""
    from jvision.models.conv2former import Conv2Former
    from jvision.models.layers import StagedBackbone
    from jvision.models.mscan import MSCAN
    c2f = dict(kernel_size=7, dims=[8, 16, 32, 64], depths=[1, 1, 2, 1])
    van, mscan, conv2former = VAN(**TINY, num_classes=10), MSCAN(**TINY), Conv2Former(**c2f, num_classes=0)
    assert all(isinstance(m, StagedBackbone) for m in (van, mscan, conv2former))
    assert van.stage_modules() == {**{f"stage{i}": [f"patch_embed{i + 1}", f"block{i + 1}", f"norm{i + 1}"]
                                      for i in range(4)}, "head": ["head"]}
    assert "head" not in mscan.stage_modules() and mscan.stage_modules()["stage0"] == ["patch_embed1", "block1", "norm1"]
    assert conv2former.stage_modules() == {f"stage{i}": [f"downsample_layers.{i}", f"stages.{i}"] for i in range(4)}
    assert [i["module"] for i in conv2former.feature_info] == [f"stages.{i}" for i in range(4)]
    assert [(i["num_chs"], i["module"]) for i in mscan.feature_info][3] == (64, "norm4")
    for build in (lambda **kw: VAN(**TINY, **kw), lambda **kw: MSCAN(**TINY, **kw),
                  lambda **kw: Conv2Former(**c2f, **kw)):
        with pytest.raises(ValueError, match=r"frozen_stages=4 must be -1 \(none\) or a stage number in \[0, 4\)"):
            build(frozen_stages=4)
        with pytest.raises(ValueError, match=r"out_indices \[\] must be stage numbers in \[0, 4\)"):
            build(out_indices=())
    with pytest.raises(ValueError, match=r"embed_dims \[8, 16, 32, 64\], mlp_ratios \[8, 8\] and depths "
                                         r"\[1, 1, 2, 1\] must have one entry per stage \(num_stages=4\)"):
        VAN(**dict(TINY, mlp_ratios=[8, 8]))
    with pytest.raises(ValueError, match=r"dims \[8, 16, 32, 64\], depths \[1, 1\] and mlp_ratios"):
        Conv2Former(**dict(c2f, depths=[1, 1]))
    frozen = Conv2Former(**c2f, num_classes=0, frozen_stages=1)
    frozen.train()
    assert all(p.is_stop_grad() for p in frozen.stages[1].parameters())
    assert not any(p.is_stop_grad() for p in frozen.stages[2].parameters())
