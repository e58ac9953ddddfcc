"""A short training run on the built-in street scenes: the loss falls and mIoU rises above chance;
the segmentation hook writes its picture grid and overlays."""
from __future__ import annotations

import json

import numpy as np

import jvision  # noqa: F401
import jseg  # noqa: F401
from jvision.config import Config
from jvision.engine import Trainer

MEAN, STD = (123.675, 116.28, 103.53), (58.395, 57.12, 57.375)
SCENES = dict(type="Scenes", num_train=400, num_val=60, size=(256, 192), seed=0)   # generated once per session (conftest)


def _cfg(max_iters: int) -> Config:
    return Config(dict(
        model=dict(type="EncoderDecoder",
                   backbone=dict(type="MSCAN", embed_dims=[16, 32, 64, 128], mlp_ratios=[4, 4, 4, 4], depths=[1, 1, 2, 1]),
                   decode_head=dict(type="LightHamHead", in_channels=[32, 64, 128], channels=64, ham_channels=64,
                                    ham_kwargs=dict(MD_R=8), num_classes=9, norm_cfg=dict(type="GN", num_groups=16)),
                   # validation at the stored 256x192 would cost more than the run: predict from 128x96
                   test_cfg=dict(img_scale=(128, 96))),
        data=dict(batch_size=8, val_batch_size=4, num_workers=2,
                  train=dict(**SCENES, split="train", pipeline=[
                      dict(type="SegResize", img_scale=(128, 96), ratio_range=(0.75, 1.25)),
                      dict(type="RandomCrop", crop_size=(96, 96)),
                      dict(type="RandomFlip"),
                      dict(type="Normalize", mean=MEAN, std=STD),
                      dict(type="Pad", size=(96, 96)),
                      dict(type="PackSegInputs")]),
                  val=dict(**SCENES, split="val", pipeline=[dict(type="Normalize", mean=MEAN, std=STD),
                                                            dict(type="PackSegInputs")])),
        evaluation=dict(metric=dict(type="IoUMetric", dataset="Scenes")),
        optimizer=dict(type="AdamW", lr=3e-3, weight_decay=0.01),
        schedule=dict(type="poly", power=1.0, warmup_iters=5, warmup_ratio=0.1),
        train=dict(max_iters=max_iters, log_interval=1, val_interval=0, ckpt_interval=0, seed=0),
        custom_hooks=[dict(type="SegVisualizationHook", num_images=2, num_overlays=2)]), filename="seg_train.py")


def test_short_training_on_scenes_learns(tmp_path, capsys):
    cfg = _cfg(60)
    trainer = Trainer.from_config(cfg, work_dir=tmp_path)
    before = trainer.evaluate()["mIoU"]
    trainer.run()
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    losses = [r["loss"] for r in records if r["mode"] == "train"]
    val = [r for r in records if r["mode"] == "val"]
    assert len(losses) == 60 and len(val) == 1
    first, last = np.mean(losses[:8]), np.mean(losses[-8:])
    assert last < 0.8 * first, (first, last)
    miou = val[-1]["mIoU"]
    # chance: a uniformly random prediction scores about 1/(2K-1) per class (IoU of p=1/K with the class)
    assert miou > max(before + 0.1, 2.0 / 9), (before, miou)
    assert (tmp_path / "vis" / "iter_60.png").is_file()
    overlays = sorted(p.name for p in (tmp_path / "overlays").iterdir())
    assert len(overlays) == 4 and sum(n.endswith("_pred.png") for n in overlays) == 2
    printed = capsys.readouterr().out
    assert "mIoU" in printed and "overlays of 2 validation images" in printed
