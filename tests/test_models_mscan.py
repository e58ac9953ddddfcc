"""MSCAN (jvision.models.mscan): registry, norms, stem keys, backbone contract.

Numerical parity with the official SegNeXt backbone is tested in tests/test_compare.py.
"""
from __future__ import annotations

import numpy as np
import pytest

import jvision  # noqa: F401
import jittor as jt

from jvision import MODELS
from jvision.models.layers import count_parameters
from jvision.models.mscan import MSCAN

TINY = dict(embed_dims=[8, 16, 32, 64], mlp_ratios=[8, 8, 4, 4], depths=[1, 1, 2, 1])


def test_registered_variants_and_counts():
    expected = {"mscan_t": 3_903_584, "mscan_s": 13_450_176, "mscan_b": 26_277_824, "mscan_l": 44_636_864}
    for name, total in expected.items():
        model = MODELS.build(dict(type=name))
        assert isinstance(model, MSCAN) and count_parameters(model)["total"] == total, name
    assert MODELS.build(dict(type="mscan_l")).default_cfg["drop_path_rate"] == 0.3


def test_stem_and_msca_keys():
    keys = set(MSCAN(**TINY).state_dict())
    for k in ("patch_embed1.proj.0.weight", "patch_embed1.proj.1.running_var", "patch_embed1.proj.3.weight",
              "patch_embed1.proj.4.bias", "patch_embed2.proj.weight", "patch_embed2.norm.weight",
              "block1.0.attn.spatial_gating_unit.conv2_2.weight", "block3.1.mlp.dwconv.dwconv.bias", "norm4.bias"):
        assert k in keys, k
    assert not any(k.endswith("num_batches_tracked") for k in keys)


def test_norms():
    assert MSCAN(**TINY).block1[0].norm1.sync                              # SyncBN, as the official configs
    assert not MSCAN(**TINY, norm_layer="bn").block1[0].norm1.sync
    m = MSCAN(**TINY, norm_cfg=dict(type="BN", requires_grad=True))        # mmseg-style config
    assert not m.patch_embed1.proj[1].sync and m.norm1.eps == 1e-5
    with pytest.raises(ValueError, match="GN"):
        MSCAN(**TINY, norm_cfg=dict(type="GN", num_groups=8))


def test_backbone_outputs_and_frozen_stages():
    model = MSCAN(**TINY, out_indices=(0, 2), frozen_stages=0)
    model.train()
    assert all(p.is_stop_grad() for p in model.patch_embed1.parameters())
    assert not model.patch_embed1.proj[1].is_train and model.patch_embed2.norm.is_train
    model.eval()
    x = jt.array(np.random.default_rng(0).standard_normal((2, 3, 64, 64)).astype(np.float32))
    outs = model(x)
    assert [tuple(o.shape) for o in outs] == [(2, 8, 16, 16), (2, 32, 4, 4)]
    assert [i["reduction"] for i in model.feature_info] == [4, 8, 16, 32]
