"""CLIP image tower (jvision.models.clip): official parity, and the three checkpoint layouts users hold
(OpenAI TorchScript .pt, open_clip state dicts, Hugging Face CLIPModel files), all read without torch."""
from __future__ import annotations

import numpy as np
import pytest

import jvision  # noqa: F401
import jittor as jt

from jvision import MODELS
from jvision.convert import load_checkpoint, load_state_dict, read_state_dict, write_torch_file
from jvision.convert.fixtures import check_folder
from jvision.models.clip import CLIPVisionTransformer, clip_visual_state

TINY = dict(input_resolution=32, patch_size=8, width=32, layers=2, heads=2, output_dim=16)


@pytest.fixture(scope="module")
def tiny(parity_dir):
    weights = read_state_dict(parity_dir / "clip/clip_visual_tiny/weights.pth")[0]
    with np.load(parity_dir / "clip/clip_visual_tiny/io.npz") as f:
        io = {k: f[k] for k in f.files}
    return weights, io


def _embedding(model, x):
    model.eval()
    return model(jt.array(x)).numpy()


@pytest.mark.parametrize("fixture", ["clip_visual_tiny", "clip_vit_b16_visual", "clip_vit_l14_visual"])
def test_clip_fixtures_pass_compare(parity_dir, fixture):
    report = check_folder(parity_dir / "clip" / fixture, tol=1e-4)
    assert report.verdict == "PASS", report.format()
    if fixture == "clip_visual_tiny":
        assert {o.name for o in report.outputs} == {"ln_pre_out", "block_0", "tokens", "pooled", "embedding"}


def test_openai_torchscript_archive_loads_without_torch(repo_root):
    """OpenAI ships TorchScript archives (module tree CLIP.visual, fp16); the converter flattens them."""
    path = repo_root / "tests/data/clip_vit_tiny_torchscript.pt"
    state, _ = read_state_dict(path)
    assert "visual.transformer.resblocks.1.attn.in_proj_weight" in state and "text_projection" in state
    model = CLIPVisionTransformer(**TINY)
    report = load_checkpoint(model, path, remap=model.official_remap, log=None)
    assert report.ok and len(report.loaded) == 32
    with np.load(repo_root / "tests/data/clip_vit_tiny_torchscript_io.npz") as f:
        np.testing.assert_allclose(_embedding(model, f["input"]), f["embedding"], atol=1e-4, rtol=1e-4)


def test_open_clip_state_dict_layout(tiny, tmp_path):
    weights, io = tiny
    state = {f"module.visual.{k}": v for k, v in weights.items()}
    state.update({"module.logit_scale": np.ones((), np.float32),
                  "module.transformer.resblocks.0.attn.in_proj_weight": np.zeros((96, 32), np.float32)})
    path = write_torch_file({"epoch": 32, "state_dict": state}, tmp_path / "epoch_32.pt")
    model = CLIPVisionTransformer(**TINY)
    assert load_checkpoint(model, path, remap=model.official_remap, log=None).ok
    np.testing.assert_allclose(_embedding(model, io["input"]), io["embedding"], atol=1e-4, rtol=1e-4)


def _to_hugging_face(weights: dict) -> dict:
    """Our (OpenAI) names -> transformers' CLIPModel names: split q/k/v, Linear projection."""
    hf = {"vision_model.embeddings.class_embedding": weights["class_embedding"],
          "vision_model.embeddings.patch_embedding.weight": weights["conv1.weight"],
          "vision_model.embeddings.position_embedding.weight": weights["positional_embedding"],
          "vision_model.embeddings.position_ids": np.arange(17, dtype=np.int64)[None],
          "vision_model.pre_layrnorm.weight": weights["ln_pre.weight"],
          "vision_model.pre_layrnorm.bias": weights["ln_pre.bias"],
          "vision_model.post_layernorm.weight": weights["ln_post.weight"],
          "vision_model.post_layernorm.bias": weights["ln_post.bias"],
          "visual_projection.weight": weights["proj"].T.copy(),
          "text_projection.weight": np.zeros((16, 8), np.float32), "logit_scale": np.ones((), np.float32)}
    names = {"ln_1": "layer_norm1", "ln_2": "layer_norm2", "mlp.c_fc": "mlp.fc1", "mlp.c_proj": "mlp.fc2",
             "attn.out_proj": "self_attn.out_proj"}
    for i in range(2):
        ours, theirs = f"transformer.resblocks.{i}.", f"vision_model.encoder.layers.{i}."
        for kind in ("weight", "bias"):
            for name, part in zip("qkv", np.split(weights[f"{ours}attn.in_proj_{kind}"], 3)):
                hf[f"{theirs}self_attn.{name}_proj.{kind}"] = part
            for a, b in names.items():
                hf[f"{theirs}{b}.{kind}"] = weights[f"{ours}{a}.{kind}"]
    return hf


def test_hugging_face_layout(tiny, tmp_path):
    weights, io = tiny
    path = write_torch_file(_to_hugging_face(weights), tmp_path / "pytorch_model.bin")
    model = CLIPVisionTransformer(**TINY)
    assert load_checkpoint(model, path, remap=model.official_remap, log=None).ok
    np.testing.assert_allclose(_embedding(model, io["input"]), io["embedding"], atol=1e-4, rtol=1e-4)
    hf = _to_hugging_face(weights)
    hf["vision_model.encoder.layers.0.self_attn.rotary.weight"] = np.zeros(3, np.float32)
    with pytest.raises(KeyError, match="rotary"):
        clip_visual_state(hf)


def test_tokens_for_a_teacher_and_errors(tiny):
    weights, io = tiny
    model = CLIPVisionTransformer(**TINY)
    load_state_dict(model, weights, log=None)
    model.eval()
    x = jt.array(io["input"])
    tokens = model.forward_tokens(x).numpy()
    assert tokens.shape == (2, 16, 16) and model.token_dim == 16 and model.token_grid == (4, 4)
    np.testing.assert_allclose(model.ln_post(jt.array(io["tokens"][:, 1:])).numpy() @ weights["proj"], tokens,
                               atol=1e-4)
    with pytest.raises(ValueError, match="expects"):
        model(jt.zeros((1, 3, 48, 48)))
    with pytest.raises(ValueError, match="ResNet CLIP"):
        clip_visual_state({"visual.layer1.0.conv1.weight": np.zeros(1), "visual.attnpool.c_proj.weight": np.zeros(1)})
    assert {"clip_vit_b16", "clip_vit_l14", "CLIPVisionTransformer"} <= set(MODELS.names())
