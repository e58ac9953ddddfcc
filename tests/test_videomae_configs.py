"""The configs of VideoMAE, CMAE and CMAE-V: official recipes in iterations, every model builds, every
pipeline turns a raw clip (or image) into what its model takes, and the laptop-scale configs train
through the Trainer."""
from __future__ import annotations

import json

import numpy as np
import pytest

import jvision  # noqa: F401

from conftest import REPO
from jvision.config import Config
from jvision.data import Compose
from jvision.engine import Trainer
from jvision.registry import MODELS

CONFIGS = ["videomae/videomae_vit_b_k400_pretrain.py", "videomae/videomae_vit_b_ssv2_pretrain.py",
           "videomae/videomae_vit_b_k400_finetune.py", "videomae/videomae_vit_b_ssv2_finetune.py",
           "videomae/videomae_tiny_synthetic_pretrain.py", "videomae/videomae_tiny_synthetic_finetune.py",
           "cmae/cmae_vit_b_in1k_pretrain.py", "cmae/cmae_vit_b_in1k_finetune.py", "cmae/cmae_tiny_synthetic_pretrain.py",
           "cmae_v/cmae_v_vit_b_k400_pretrain.py", "cmae_v/cmae_v_convvit_b_k400_pretrain.py",
           "cmae_v/cmae_v_vit_b_ssv2_pretrain.py", "cmae_v/convvit_b_k400_finetune.py",
           "cmae_v/cmae_v_tiny_synthetic_pretrain.py"]


def _load(name: str) -> Config:
    cfg = Config.fromfile(REPO / "configs" / name)
    for module in cfg.get("custom_imports", []) or []:
        __import__(module)
    return cfg


@pytest.mark.parametrize("name", CONFIGS)
def test_config_builds_and_its_pipeline_feeds_the_model(name):
    cfg = _load(name)
    model = MODELS.build(cfg.model)
    assert model is not None
    train = dict(cfg.data.train)
    pipeline = Compose(train["pipeline"])
    rng = np.random.default_rng(0)
    if "cmae/" in name:                                           # images
        sample = pipeline({"img": rng.integers(0, 256, (300, 280, 3), dtype=np.uint8)}, rng)
        side = 224 if "in1k" in name else 32
        assert sample["img"].shape == (3, side, side)
        if "pretrain" in name:
            assert sample["img_t"].shape == (3, side, side)
        return
    frames = 16 if "synthetic" not in name else 8
    clip = rng.integers(0, 256, (frames, 256, 320, 3), dtype=np.uint8) if "synthetic" not in name else \
        rng.integers(0, 256, (frames, 32, 32, 3), dtype=np.uint8)
    sample = {"img": clip, "meta": {}}
    if train.get("target_view"):
        sample["img_t"] = clip.copy()
    sample = pipeline(sample, rng)
    side = 224 if "synthetic" not in name else 32
    assert sample["img"].shape == (3, frames, side, side), sample["img"].shape
    if train.get("target_view"):
        assert sample["img_t"].shape == sample["img"].shape


def test_official_recipes_in_iterations():
    pre = _load("videomae/videomae_vit_b_k400_pretrain.py")
    assert pre.model.mask_ratio == 0.9 and pre.model.decoder_depth == 4 and pre.data.batch_size == 2048
    assert pre.optimizer.lr == pytest.approx(1.5e-4 * 2048 / 256) and pre.optimizer.betas == (0.9, 0.95)
    assert pre.train.max_iters == 93900 and pre.schedule.warmup_iters == 4700     # 800 and 40 epochs of 117.4
    assert pre.data.train.sampling == dict(type="dense", clip_len=16, frame_interval=4)
    ssv2 = _load("videomae/videomae_vit_b_ssv2_pretrain.py")
    assert ssv2.data.train.sampling["frame_interval"] == 2 and ssv2.data.train.type == "SomethingSomethingV2"
    ft = _load("videomae/videomae_vit_b_k400_finetune.py")
    assert ft.optimizer.paramwise.layer_decay == 0.75 and ft.model.backbone.drop_path_rate == 0.1
    assert ft.model.loss.label_smoothing == 0.1 and ft.model.mixup["cutmix_alpha"] == 1.0
    assert (ft.data.test.num_clips, ft.data.test.num_crops) == (5, 3)
    assert _load("videomae/videomae_vit_b_ssv2_finetune.py").data.test.num_clips == 2
    cmae = _load("cmae/cmae_vit_b_in1k_pretrain.py")
    assert cmae.model.mask_ratio == 0.65 and cmae.model.temperature == 0.07 and cmae.model.base_momentum == 0.996
    assert cmae.optimizer.lr == pytest.approx(1.5e-4 * 4096 / 256)
    cmae_v = _load("cmae_v/cmae_v_vit_b_k400_pretrain.py")
    assert cmae_v.data.train.target_view == dict(shift=(0, 8)) and cmae_v.model.mask_ratio == 0.9


def test_synthetic_configs_train_and_test_through_the_engine(tmp_path):
    """VideoMAE pre-training and fine-tuning on the built-in actions run through the Trainer, and the
    fine-tuned checkpoint starts from the pre-trained one; the multi-view validation reports top-1/5."""
    pre = _load("videomae/videomae_tiny_synthetic_pretrain.py")
    pre.merge_from_list(["train.max_iters=4", "train.ckpt_interval=4", "data.batch_size=4",
                         "data.train.samples_per_class=2", "model.encoder_embed_dim=32", "model.encoder_depth=1"])
    trainer = Trainer.from_config(pre, work_dir=tmp_path / "pre")
    trainer.run()
    ckpt = tmp_path / "pre" / "latest.pkl"
    assert ckpt.exists()
    ft = _load("videomae/videomae_tiny_synthetic_finetune.py")
    ft.merge_from_list(["train.max_iters=4", "train.val_interval=4", "train.ckpt_interval=4", "data.batch_size=4",
                        "data.train.samples_per_class=2", "data.val.samples_per_class=2", "data.val.num_clips=2",
                        "model.backbone.embed_dim=32", "model.backbone.depth=1", f"model.backbone.pretrained={ckpt}"])
    trainer = Trainer.from_config(ft, work_dir=tmp_path / "ft")
    from jvision.convert import read_state_dict
    state, _ = read_state_dict(ckpt)
    np.testing.assert_array_equal(trainer.model.backbone.blocks[0].attn.v_bias.numpy(),
                                  state["encoder.blocks.0.attn.v_bias"])
    trainer.run()
    records = [json.loads(ln) for ln in (tmp_path / "ft" / "metrics.jsonl").read_text().splitlines()]
    val = [r for r in records if r.get("mode") == "val"][-1]
    assert val["count"] == 8 and {"top1", "top5", "loss"} <= set(val)


@pytest.mark.parametrize("name", ["cmae_v/cmae_v_tiny_synthetic_pretrain.py", "cmae/cmae_tiny_synthetic_pretrain.py"])
def test_contrastive_configs_train_through_the_engine(name, tmp_path):
    cfg = _load(name)
    options = ["train.max_iters=2", "train.ckpt_interval=2", "data.batch_size=4", "model.embed_dim=32",
               "model.depth=1"]
    options += (["data.train.samples_per_class=2"] if "cmae_v" in name else
                [f"data.train.root={tmp_path / 'shapes'}", "data.train.train_per_class=2", "data.train.val_per_class=1"])
    cfg.merge_from_list(options)
    trainer = Trainer.from_config(cfg, work_dir=tmp_path / "run")
    trainer.run()
    records = [json.loads(ln) for ln in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert records and all(np.isfinite(r["loss"]) and {"loss_rc", "loss_ct"} <= set(r) for r in records)
    assert (tmp_path / "run" / "latest.pkl").exists()
