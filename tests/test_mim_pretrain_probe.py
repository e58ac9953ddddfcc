"""End to end on built-in shards, through the one Trainer: a short MAE pre-training lowers its loss, its
checkpoint feeds a linear probe, and that probe is compared with the same probe of a randomly
initialised encoder, on the built-in task whose label lives in geometry only (``size_label``: the
object's size class, with its kind, colours and shading drawn per sample; chance 33%).

The gain needs ~500 pre-training iterations and a probe trained long enough (README, "Masked image
modelling"). Measured through this test's own pipeline (seed = the pre-training seed), pre-trained vs
random top-1 on its 200 val images:
- 500 iterations, 300-step probe (this test): 52.0 vs 47.5 (seed 0), 56.0 vs 47.5 (seed 1,
  used here), 53.5 vs 47.5 (seed 2); the whole test took 49-60 s at load average 1.3-1.8 (`uptime`,
  2 shared cores, warm Jittor cache).
- 500 iterations, 60-step probe (loss still ~0.95): 44.0 vs 44.5 (seed 0, without crop): the short
  probe hid the gain. 150 iterations: 43.0 vs 44.5 (60 steps), 48.0 vs 47.5 (300 steps): no gain yet.
The pre-trained probe must beat the random one by ``_MARGIN`` points (6 of 200 images)."""
from __future__ import annotations

import json

import numpy as np

import jvision  # noqa: F401
from jvision.config import Config
from jvision.data.builtin_shards import SIZE_CLASSES, make_builtin_shards
from jvision.engine import Trainer

_MEAN, _STD = (123.675, 116.28, 103.53), (58.395, 57.12, 57.375)
_EVAL = [dict(type="Resize", size=32, interpolation="bicubic"), dict(type="CenterCrop", size=32),
         dict(type="ToTensor"), dict(type="Normalize", mean=_MEAN, std=_STD)]
_MARGIN = 3.0     # points of top-1 the pre-trained probe must gain (measured +4.5 / +8.5 / +6.0, docstring)
_PRETRAIN_ITERS = 500   # at 150 there is no gain yet (docstring)
_PROBE_ITERS = 300     # 60 steps leave the probe under-trained and hide the gain
_ENCODER = dict(img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=2)


def _records(work_dir, mode):
    return [json.loads(line) for line in (work_dir / "metrics.jsonl").read_text().splitlines()
            if json.loads(line)["mode"] == mode]


def _run(cfg: dict, work_dir) -> None:
    config = Config(cfg, filename=str(work_dir / "config.py"))
    Trainer.from_config(config, work_dir=work_dir).run()


def _probe(root, work_dir, pretrained):
    shards = dict(type="BuiltinShards", root=str(root), image_size=40, label_key="size_label", photos=False)
    cfg = dict(
        model=dict(type="ImageClassifier", backbone=dict(
            type="VisionTransformer", **_ENCODER, num_classes=len(SIZE_CLASSES), global_pool=True, linear_probe=True,
            pretrained=pretrained)),
        data=dict(batch_size=64, val_batch_size=100, num_workers=1,
                  train=dict(**shards, split="train", num_samples=600, seed=1, shuffle_buffer=200, pipeline=_EVAL),
                  val=dict(**shards, split="val", num_samples=200, shuffle_buffer=0, pipeline=_EVAL)),
        evaluation=dict(metric=dict(type="Accuracy", topk=(1,))),
        optimizer=dict(type="SGD", lr=0.1, momentum=0.9, weight_decay=0.0),
        schedule=dict(type="cosine", warmup_iters=5, warmup_ratio=0.0, anneal_after_warmup=True),
        train=dict(max_iters=_PROBE_ITERS, log_interval=20, seed=0))
    _run(cfg, work_dir)
    return _records(work_dir, "val")[-1]["top1"]


def test_pretraining_loss_falls_and_the_probe_beats_random_init(tmp_path):
    root = tmp_path / "shards"
    train_shards = make_builtin_shards(root, "train", num_samples=600, image_size=40, shard_size=100, photos=False)
    pre = tmp_path / "pretrain"
    cfg = dict(
        model=dict(type="MaskedAutoencoderViT", **_ENCODER, decoder_embed_dim=32, decoder_depth=1,
                   decoder_num_heads=2, norm_pix_loss=True),
        data=dict(batch_size=64, num_workers=2, train=dict(
            type="WebShards", shards=str(train_shards), shuffle_buffer=200, pipeline=[
                dict(type="RandomResizedCrop", size=32, scale=(0.2, 1.0), interpolation="bicubic"),
                dict(type="RandomHorizontalFlip"), dict(type="ToTensor"),
                dict(type="Normalize", mean=_MEAN, std=_STD)])),
        optimizer=dict(type="AdamW", lr=2e-3, betas=(0.9, 0.95), weight_decay=0.05,
                       paramwise=dict(norm_decay_mult=0.0, bias_decay_mult=0.0,
                                      no_decay_keys=("pos_embed", "cls_token", "mask_token"))),
        schedule=dict(type="cosine", warmup_iters=10, warmup_ratio=0.0, anneal_after_warmup=True),
        train=dict(max_iters=_PRETRAIN_ITERS, log_interval=25, seed=1),
        custom_imports=["jvision.mim.training"], custom_hooks=[dict(type="ShardStatsHook")])
    _run(cfg, pre)
    losses = [r["loss"] for r in _records(pre, "train")]
    assert len(losses) == _PRETRAIN_ITERS // 25 and losses[-1] < 0.8 * losses[0], losses
    assert _records(pre, "train")[-1]["data_skipped"] == 0
    pretrained = _probe(root, tmp_path / "probe_mae", str(pre / "latest.pkl"))
    scratch = _probe(root, tmp_path / "probe_random", None)
    assert np.isfinite(pretrained) and np.isfinite(scratch)
    log = (tmp_path / "probe_mae" / "log.txt").read_text() + (tmp_path / "probe_mae" / "config.py").read_text()
    assert "latest.pkl" in log
    assert pretrained >= scratch + _MARGIN, (
        f"size probe: pre-trained {pretrained:.1f}% vs random {scratch:.1f}%: less than {_MARGIN} points of gain")
