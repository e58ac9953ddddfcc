"""VideoMAE against the official PyTorch numbers (../shared/parity/videomae through the fixture
checks of tools/compare.py), its checkpoint layouts, tube masking and the video classifier."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import jvision  # noqa: F401
import jittor as jt

from conftest import REPO
from jvision.convert import fixtures, read_state_dict, write_torch_file
from jvision.models.videomae import (PretrainVisionTransformer, VideoVisionTransformer, get_sinusoid_encoding_table,
                                     videomae_encoder_state)
from jvision.registry import MODELS

TINY = ["videomae_pretrain_tiny", "videomae_finetune_tiny"]
FULL = [f"pretrain_videomae_{s}_patch16_224" for s in ("small", "base", "large")] + \
       [f"vit_{s}_patch16_224" for s in ("small", "base", "large")]


@pytest.mark.parametrize("fixture", TINY)
def test_tiny_fixture_matches_official(parity_dir, fixture):
    report = fixtures.check_folder(parity_dir / "videomae" / fixture, tol=1e-4)
    assert not report.failed and not report.unchecked, report.format()
    names = {o.name for o in report.outputs if o.status == "ok"}
    expected = {"x_vis", "pred", "labels", "loss", "loss_unnorm", "pos_embed", "decoder_pos_embed"} \
        if "pretrain" in fixture else {"tokens", "features", "logits", "pos_embed"}
    assert expected <= names, report.format()
    assert report.loads and all(load["ok"] for load in report.loads)


@pytest.mark.parametrize("manifest", FULL)
def test_full_size_manifest_keys_shapes_counts(parity_dir, manifest):
    report = fixtures.check_folder(parity_dir / "videomae" / manifest)
    assert not report.failed, report.format()
    assert len(report.parts) == 1 and report.parts[0].status == "ok", report.format()
    assert all(a == b for a, b in report.parts[0].counts.values())


def test_compare_tool_on_videomae(parity_dir, tmp_path):
    out = subprocess.run([sys.executable, "tools/compare.py", str(parity_dir / "videomae" / "vit_small_patch16_224"),
                          "--json", str(tmp_path / "r.json")], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert "1 passed" in out.stdout


def test_sinusoid_table_is_videomaes():
    table = get_sinusoid_encoding_table(5, 6)
    pos, j = 3, 4
    assert table[pos, j] == pytest.approx(np.sin(pos / 10000 ** (2 * (j // 2) / 6)), abs=1e-7)
    assert table[pos, j + 1] == pytest.approx(np.cos(pos / 10000 ** (2 * (j // 2) / 6)), abs=1e-7)


def test_tube_masking_of_the_model_has_the_exact_ratio_and_shape():
    model = MODELS.build(dict(type="pretrain_videomae_small_patch16_224"))
    assert model.grid == (8, 14, 14)
    mask = model.masking(3, np.random.default_rng(0))
    per_frame = mask.reshape(3, 8, 196)
    assert mask.shape == (3, 1568) and (per_frame.sum(-1) == int(0.9 * 196)).all()
    assert (per_frame == per_frame[:, :1]).all()


def test_checkpoints_module_key_and_finetuning_from_pretraining(parity_dir, tmp_path):
    """An official pre-training checkpoint under 'module' initialises the fine-tuning ViT as
    run_class_finetuning.py does: encoder.* only, pre-trained norm dropped, fc_norm/head new."""
    state, _ = read_state_dict(parity_dir / "videomae" / "videomae_pretrain_tiny" / "weights.pth")
    path = write_torch_file({"module": state, "epoch": 799}, tmp_path / "checkpoint-799.pth")
    geo = dict(img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=2, num_classes=5, all_frames=16)
    model = VideoVisionTransformer(pretrained=str(path), **geo)
    ours = model.state_dict()
    for key in ("blocks.1.attn.q_bias", "patch_embed.proj.weight", "blocks.0.mlp.fc2.weight"):
        np.testing.assert_array_equal(ours[key].numpy(), state["encoder." + key])
    mapped = videomae_encoder_state(state)
    assert "norm.weight" not in mapped and not any(k.startswith(("decoder", "mask_token", "encoder_to")) for k in mapped)
    # the fine-tuning tokens are the pre-training encoder's on an unmasked clip (before its norm)
    pre = PretrainVisionTransformer(img_size=32, patch_size=8, encoder_embed_dim=32, encoder_depth=2,
                                    encoder_num_heads=2, decoder_embed_dim=16, decoder_depth=1, decoder_num_heads=2,
                                    decoder_num_classes=384)
    from jvision.convert import load_state_dict
    load_state_dict(pre, state, log=None)
    x = jt.array(np.random.default_rng(0).standard_normal((1, 3, 16, 32, 32)).astype(np.float32))
    pre.encoder.norm, norm = None, pre.encoder.norm
    np.testing.assert_allclose(model.forward_tokens(x).numpy(), pre.encoder(x).numpy(), atol=1e-5)
    pre.encoder.norm = norm
    with pytest.raises(ValueError, match="4 frames of 32x32 does not match the model's 16 frames"):
        model(jt.zeros((1, 3, 4, 32, 32)))


def test_decoder_prediction_size_must_match_the_target():
    with pytest.raises(ValueError, match="decoder_num_classes=100"):
        PretrainVisionTransformer(img_size=32, patch_size=8, encoder_embed_dim=32, encoder_depth=1, encoder_num_heads=2,
                                  decoder_embed_dim=16, decoder_depth=1, decoder_num_heads=2, decoder_num_classes=100)
