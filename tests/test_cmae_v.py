"""CMAE-V: the video branches (ViT and hybrid ConvViT backbones), masked convolution that keeps hidden
tubelets from leaking, the temporal-shift pair, and fine-tuning from its checkpoints."""
from __future__ import annotations

import numpy as np
import pytest

import jvision  # noqa: F401
import jittor as jt

from jvision.convert import save_state_dict
from jvision.models.cmae_v import CMAEV, ConvViTVideo
from jvision.models.videomae import VideoVisionTransformer

BRANCHES = dict(decoder_embed_dim=16, decoder_depth=1, decoder_num_heads=2, proj_hidden=32, proj_dim=16,
                pred_hidden=32, norm="bn", mask_ratio=0.75)
VIT = dict(backbone="vit", img_size=32, patch_size=8, num_frames=4, embed_dim=32, depth=2, num_heads=2, **BRANCHES)
HYBRID = dict(backbone="hybrid", img_size=32, num_frames=4, hybrid=dict(embed_dims=(8, 16, 32), depths=(1, 1, 1),
                                                                       patch_sizes=(2, 2, 2), num_heads=2), **BRANCHES)


def _clip(seed=0, shape=(2, 3, 4, 32, 32)):
    return jt.array(np.random.default_rng(seed).standard_normal(shape).astype(np.float32))


@pytest.mark.parametrize("config", [VIT, HYBRID], ids=["vit", "hybrid"])
def test_hidden_tubelets_do_not_reach_the_online_encoder(config):
    """Changing the pixels under the mask leaves the online latent unchanged (the hybrid's masked
    convolution: no hidden content leaks through the conv stages)."""
    jt.set_seed(0)
    model = CMAEV(**config)
    model.eval()
    mask = model.masking(2, np.random.default_rng(1))
    gt, gh, gw = model.masking.grid
    patch = 32 // gh
    hidden = np.kron(mask.reshape(2, gt, gh, gw).astype(np.float32), np.ones((2, patch, patch), np.float32))
    x = _clip(0)
    noise = _clip(5) * jt.array(hidden[:, None])
    a, _, _ = model.forward_online(x, mask)
    b, _, _ = model.forward_online(x + noise * 3.0, mask)
    np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-5)
    # the visible tubelets do matter
    c, _, _ = model.forward_online(x + _clip(6) * jt.array(1.0 - hidden[:, None]), mask)
    assert float(np.abs(a.numpy() - c.numpy()).max()) > 1e-3


@pytest.mark.parametrize("config", [VIT, HYBRID], ids=["vit", "hybrid"])
def test_training_step_ema_and_finetuning_from_the_checkpoint(config, tmp_path):
    jt.set_seed(0)
    model = CMAEV(**config)
    x, x_t = _clip(0), _clip(1)
    out = model.train_step({"img": x, "img_t": x_t, "_rng": np.random.default_rng(0)})
    assert set(out) == {"loss", "loss_rc", "loss_ct"} and np.isfinite(out["loss"].item())
    assert model.target_backbone.norm is None and "target_backbone.norm.weight" not in model.state_dict()
    names = [n for n, _, _ in model.ema_pairs()]
    assert len(names) == len(model.target_backbone.state_dict()) + 5    # + the projector's 5 parameters
    path = save_state_dict(model.state_dict(), tmp_path / "cmae_v.pkl")
    if config["backbone"] == "vit":
        clf = VideoVisionTransformer(img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=2, num_classes=3,
                                     all_frames=4, pretrained=str(path))
        ref = model.backbone.blocks[1].attn.q_bias.numpy()
        np.testing.assert_array_equal(clf.blocks[1].attn.q_bias.numpy(), ref)
    else:
        clf = ConvViTVideo(img_size=32, num_frames=4, num_classes=3, pretrained=str(path), **config["hybrid"])
        np.testing.assert_array_equal(clf.blocks1[0].attn.weight.numpy(), model.backbone.blocks1[0].attn.weight.numpy())
    assert tuple(clf(x).shape) == (2, 3)


def test_hybrid_layout_follows_convmae():
    model = ConvViTVideo(img_size=32, num_frames=4, num_classes=0, embed_dims=(8, 16, 32), depths=(1, 1, 2),
                         patch_sizes=(2, 2, 2), num_heads=2)
    keys = set(model.state_dict())
    for key in ("patch_embed1.proj.weight", "patch_embed1.norm.weight", "patch_embed2.proj.weight",
                "patch_embed4.weight", "stage1_output_decode.weight", "stage2_output_decode.weight",
                "blocks1.0.attn.weight", "blocks1.0.conv1.weight", "blocks1.0.mlp.fc1.weight",
                "blocks3.1.attn.qkv.weight", "norm.weight"):
        assert key in keys, key
    assert tuple(model.state_dict()["patch_embed1.proj.weight"].shape) == (8, 3, 2, 2, 2)
    assert model.grid == (2, 4, 4) and tuple(model(_clip(0)).shape) == (2, 32, 32)
    with pytest.raises(ValueError, match="backbone must be"):
        CMAEV(backbone="resnet")
