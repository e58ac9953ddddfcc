"""ViT and MAE (jvision.models.vit / mae): sin-cos tables, masking, loss, trainer contract, backbone.

Numerical parity with the official MAE is tested in tests/test_compare.py (mae_tiny).
"""
from __future__ import annotations

import numpy as np
import pytest

import jvision  # noqa: F401
import jittor as jt

from jvision import MODELS
from jvision.convert import load_state_dict, read_state_dict
from jvision.models.layers import count_parameters
from jvision.models.mae import MaskedAutoencoderViT
from jvision.models.vit import VisionTransformer, get_2d_sincos_pos_embed, mae_encoder_state

TINY_MAE = dict(img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=2, decoder_embed_dim=16,
                decoder_depth=1, decoder_num_heads=2)
TINY_VIT = dict(img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=2)


@pytest.fixture(scope="module")
def mae_weights(parity_dir):
    return read_state_dict(parity_dir / "mae/mae_tiny/weights.pth")[0]


@pytest.fixture(scope="module")
def mae_io(parity_dir):
    with np.load(parity_dir / "mae/mae_tiny/io.npz") as f:
        return {k: f[k] for k in f.files}


def test_sincos_tables_equal_the_official_ones(mae_weights):
    model = MaskedAutoencoderViT(**TINY_MAE)
    np.testing.assert_allclose(model.pos_embed.numpy(), mae_weights["pos_embed"], atol=1e-7)
    np.testing.assert_allclose(model.decoder_pos_embed.numpy(), mae_weights["decoder_pos_embed"], atol=1e-7)
    assert get_2d_sincos_pos_embed(8, (2, 3), cls_token=True).shape == (7, 8)


def test_registered_and_frozen_tables():
    for name in ("mae_vit_base_patch16_dec512d8b", "mae_vit_base_patch16", "mae_vit_huge_patch14",
                 "vit_base_patch16", "vit_large_patch16", "vit_huge_patch14", "MaskedAutoencoderViT"):
        assert name in MODELS, name
    model = MODELS.build(dict(type="mae_vit_base_patch16"))
    assert count_parameters(model) == {"total": 111_907_840, "trainable": 111_655_680, "buffers": 0}
    model.eval()
    model.train()
    assert model.pos_embed.is_stop_grad() and not model.cls_token.is_stop_grad()


def test_masking_patchify_and_trainer_contract(mae_weights, mae_io):
    model = MaskedAutoencoderViT(**TINY_MAE)
    load_state_dict(model, mae_weights, log=None)
    model.eval()
    x = jt.array(mae_io["input"])
    np.testing.assert_array_equal(model.unpatchify(model.patchify(x)).numpy(), mae_io["input"])
    out = model.train_step({"img": x})                      # random masking, no noise given
    assert set(out) == {"loss"} and out["loss"].numel() == 1 and np.isfinite(out["loss"].item())
    val = model.val_step({"img": x, "noise": mae_io["noise"]})
    np.testing.assert_array_equal(val["mask"].numpy(), mae_io["mask"])
    np.testing.assert_allclose(val["loss"].item(), float(mae_io["loss"]), rtol=1e-5)
    _, _, mask = model(x, mask_ratio=0.5)
    assert (mask.numpy().sum(axis=1) == 8).all()            # 16 patches, half removed in every sample
    with pytest.raises(ValueError, match="noise must have shape"):
        model(x, noise=np.zeros((2, 15), np.float32))


def test_vit_encoder_equals_mae_encoder_without_masking(mae_weights, mae_io):
    """The MAE encoder's weights in a ViT backbone give MAE's encoder output when nothing is masked."""
    vit = VisionTransformer(**TINY_VIT, num_classes=0, out_indices=(1,))
    report = load_state_dict(vit, mae_encoder_state(mae_weights, global_pool=False), log=None)
    assert report.ok
    mae = MaskedAutoencoderViT(**TINY_MAE)
    load_state_dict(mae, mae_weights, log=None)
    vit.eval()
    mae.eval()
    x = jt.array(mae_io["input"])
    identity = jt.array(np.tile(np.arange(16, dtype=np.float32), (2, 1)))  # keeps the patch order
    latent, _, _ = mae.forward_encoder(x, 0.0, identity)
    feat = vit(x)[0]                                        # (2, 32, 4, 4)
    tokens = feat.numpy().reshape(2, 32, 16).transpose(0, 2, 1)
    np.testing.assert_allclose(tokens, latent.numpy()[:, 1:], atol=1e-5)


def test_vit_classifier_with_mae_weights(mae_weights):
    vit = VisionTransformer(**TINY_VIT, num_classes=5)      # global pooling: fc_norm + head are new
    report = load_state_dict(vit, mae_encoder_state(mae_weights), ignore_missing=("fc_norm.*", "head.*"),
                             log=None)
    assert report.ok and len(report.allowed_missing) == 4
    vit.eval()
    x = jt.array(np.random.default_rng(0).standard_normal((2, 3, 32, 32)).astype(np.float32))
    assert tuple(vit(x).shape) == (2, 5)
