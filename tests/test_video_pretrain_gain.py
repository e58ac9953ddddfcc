"""Issue 10: a short VideoMAE or CMAE-V pre-training on the built-in synthetic actions, then fine-tuning,
beats the same fine-tuning from random initialisation with the same budget.

The label of ``SyntheticActions`` is the direction of motion (right/left/down/up come in time-reversed
pairs), so no colour or single-frame statistic separates the classes: an encoder has to relate
frames. The runs use the laptop-scale configs (``configs/videomae/videomae_tiny_synthetic_*.py``,
``configs/cmae_v/cmae_v_tiny_synthetic_pretrain.py``) with their model, optimizer and schedule, and
fine-tuning starts from the pre-training checkpoint through ``model.backbone.pretrained`` as a user's
run does. To fit CI, the clips are generated once and the loops call ``train_step`` directly (the
Trainer's own tests are in ``test_videomae_configs.py``): Jittor's per-step overhead dominates at this
size, so few steps of large batches are the cheap way to see many clips.
"""
from __future__ import annotations

import numpy as np
import pytest

import jvision  # noqa: F401
import jittor as jt

from conftest import REPO
from jvision.config import Config
from jvision.engine.checkpoint import save_checkpoint
from jvision.engine.optim import build_optimizer
from jvision.engine.schedule import build_schedule
from jvision.engine.trainer import seed_everything
from jvision.registry import DATASETS, MODELS

import jvision.video.action  # noqa: F401  (registers VideoClassifier)

PRETRAIN = {"videomae": "videomae/videomae_tiny_synthetic_pretrain.py",
            "cmae_v": "cmae_v/cmae_v_tiny_synthetic_pretrain.py"}
FINETUNE = "videomae/videomae_tiny_synthetic_finetune.py"
BATCH = 64
POOL_PER_CLASS = 32        # pre-training clips per class (CMAE-V: with their shifted target views)
FT_PER_CLASS = 64          # fine-tuning clips per class
PRE_STEPS, FT_STEPS = 120, 80
MARGIN = 0.1


def _load(name: str) -> Config:
    return Config.fromfile(REPO / "configs" / name)


def _clips(data_cfg: dict, keys, **overrides) -> dict:
    """Every sample of the dataset ``data_cfg`` (with ``overrides``) stacked: ``keys`` -> arrays."""
    dataset = DATASETS.build(dict(data_cfg, **overrides))
    samples = [dataset[i] for i in range(len(dataset))]
    return {k: np.stack([np.asarray(s[k]) for s in samples]) for k in keys}


def _train(model, cfg: Config, steps: int, data: dict, rng: np.random.Generator) -> list[float]:
    """``steps`` updates of ``model`` with the config's optimizer and schedule (warm-up a tenth of the
    run) on batches drawn from ``data``; the model's ``after_train_iter`` (the EMA) as the Trainer."""
    optimizer = build_optimizer(model, cfg.optimizer)
    schedule = build_schedule(dict(cfg.schedule, warmup_iters=max(1, steps // 10)), cfg.optimizer["lr"], steps)
    model.train()
    losses = []
    n = len(next(iter(data.values())))
    for it in range(steps):
        schedule.apply(optimizer, it)
        idx = rng.choice(n, BATCH, replace=False)
        out = model.train_step({k: jt.array(v[idx]) for k, v in data.items()})
        optimizer.step(out["loss"])
        losses.append(float(out["loss"].item()))
        if hasattr(model, "after_train_iter"):
            model.after_train_iter(it + 1, steps)
    return losses


def _top1(model, data: dict) -> float:
    model.eval()
    with jt.no_grad():
        logits = np.concatenate([model(jt.array(data["img"][i:i + 128])).numpy()
                                 for i in range(0, len(data["img"]), 128)])
    return float((logits.argmax(1) == data["gt_label"]).mean())


def measure(kind: str, pre_steps: int, ft_steps: int, seed: int, work_dir) -> dict:
    """Pre-train ``kind`` for ``pre_steps``, then fine-tune from its checkpoint and from random
    initialisation for ``ft_steps`` each (same head init, same batches); the pre-training losses and
    the validation top-1 of both."""
    pre = _load(PRETRAIN[kind])
    seed_everything(seed)
    ft = _load(FINETUNE)
    train = _clips(ft.data.train, ("img", "gt_label"), samples_per_class=FT_PER_CLASS, seed=seed)
    val = _clips(ft.data.train, ("img", "gt_label"), samples_per_class=32, split="val", seed=seed)
    keys = ("img", "img_t") if kind == "cmae_v" else ("img",)
    pool = _clips(pre.data.train, keys, samples_per_class=POOL_PER_CLASS, seed=seed + 100)
    model = MODELS.build(pre.model)
    losses = _train(model, pre, pre_steps, pool, np.random.default_rng(seed))
    ckpt = save_checkpoint(work_dir, pre_steps, model)
    top1 = {}
    for init, path in (("pretrained", ckpt), ("random", None)):
        cfg = _load(FINETUNE)
        cfg.merge_from_list([f"model.backbone.pretrained={path}"] if path else [])
        seed_everything(seed + 1)                       # the same head init and batches for both
        classifier = MODELS.build(cfg.model)
        _train(classifier, cfg, ft_steps, train, np.random.default_rng(seed + 1))
        top1[init] = _top1(classifier, val)
    return {"pretrain_loss_first": losses[0], "pretrain_loss_last5": float(np.mean(losses[-5:])), "top1": top1}


# NOT YET A PASSING SETTING. Measured under load (load average 10-15 on 2 cores), seed 0, batch 64,
# 256 fine-tuning clips, 128 validation clips, chance 0.25 (scratch runs of this procedure):
#   VideoMAE, norm-pix target, 100 pre-training steps (loss 1.145 -> 0.950), 40 fine-tuning steps:
#     top-1 pretrained 0.23, random 0.31.
#   VideoMAE, pixel target (model.normalize_target=False), 100 steps (loss 0.485 -> 0.023), 40
#     fine-tuning steps: pretrained 0.33, random 0.31; 120 / 80 steps: pretrained 0.28.
#   CMAE-V, 120 pre-training steps (loss 1.907 -> 1.232), 80 fine-tuning steps: pretrained 0.27.
#   Random initialisation: 0.289 after 2, 80 and 200 fine-tuning steps alike. Three 40-step
#     rounds from random init (schedule restarted each round) on the 256 clips: loss 1.387 -> 1.395,
#     1.384 -> 1.380, 1.371 -> 1.349; train top-1 0.29, 0.30, 0.35; validation 0.25, 0.28, 0.22 --
#     the classifier has barely begun to fit even its training clips after 120 steps.
# Fine-tuning at these budgets stays near chance from either initialisation, so the comparison does
# not separate them; one step costs about 1.3-2.5 s under that load (Jittor's per-step overhead, not
# the batch size), which puts the budget where it might (hundreds of steps) beyond CI's.
@pytest.mark.skip(reason="no pre-training/fine-tuning budget found yet, within CI's time, where pre-training "
                         "wins clearly; see the comment above and the README (issue 10)")
@pytest.mark.parametrize("kind", ["videomae", "cmae_v"])
def test_pretraining_beats_random_initialisation(kind, tmp_path):
    result = measure(kind, PRE_STEPS, FT_STEPS, 0, tmp_path)
    assert result["pretrain_loss_last5"] < result["pretrain_loss_first"], f"{kind}: the pre-training loss {result}"
    top1 = result["top1"]
    assert top1["pretrained"] >= top1["random"] + MARGIN, f"{kind}: top-1 after fine-tuning {top1}"


if __name__ == "__main__":
    import argparse
    import json
    import tempfile

    parser = argparse.ArgumentParser(description="pre-training vs random initialisation on the synthetic actions")
    parser.add_argument("kind", choices=sorted(PRETRAIN))
    parser.add_argument("--pre-steps", type=int, default=PRE_STEPS)
    parser.add_argument("--ft-steps", type=int, default=FT_STEPS)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    args = parser.parse_args()
    for seed in args.seeds:
        with tempfile.TemporaryDirectory() as tmp:
            print(json.dumps({"kind": args.kind, "seed": seed, "pre_steps": args.pre_steps, "ft_steps": args.ft_steps,
                              **measure(args.kind, args.pre_steps, args.ft_steps, seed, tmp)}), flush=True)
