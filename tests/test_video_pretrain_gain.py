"""Issue 10: a short VideoMAE or CMAE-V pre-training on the built-in synthetic actions gives an encoder
whose frozen tokens a linear probe reads the action from far better than from a randomly initialised
encoder's; the script below also runs the full fine-tuning comparison.

The label of ``SyntheticActions`` is the direction of motion (right/left/down/up come in time-reversed
pairs), so no colour or single-frame statistic separates the classes: an encoder has to relate
frames. The runs use the laptop-scale configs (``configs/videomae/videomae_tiny_synthetic_*.py``,
``configs/cmae_v/cmae_v_tiny_synthetic_pretrain.py``) with their model, optimizer and schedule, and
the fine-tuning ViT loads the pre-training checkpoint through ``model.backbone.pretrained`` as a user's
run does. To fit CI, the clips are generated once and the loops call ``train_step`` directly (the
Trainer's own tests are in ``test_videomae_configs.py``).

Why a probe on the token map, fitted to convergence: full fine-tuning of the tiny ViT needs hundreds
of steps before either initialisation leaves chance (README, "Video masked autoencoders", "Measured
here"), beyond CI's budget; a probe on frozen features is deterministic and cheap. It reads the
concatenated output tokens (``forward_tokens``, 64 tokens x 64 channels), not their mean: the class
is *where* the object is at each time, which mean pooling averages away (mean-pooled probes of both
encoders sit near chance, 22-30%, after 300 pre-training steps).
"""
from __future__ import annotations

from pathlib import Path

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
from jvision.models.layers import eval_mode
from jvision.registry import DATASETS, MODELS

import jvision.video.action  # noqa: F401  (registers VideoClassifier)

PRETRAIN = {"videomae": "videomae/videomae_tiny_synthetic_pretrain.py",
            "cmae_v": "cmae_v/cmae_v_tiny_synthetic_pretrain.py"}
FINETUNE = "videomae/videomae_tiny_synthetic_finetune.py"
BATCH = 64
POOL_PER_CLASS = 32        # pre-training clips per class (CMAE-V: with their shifted target views)
TRAIN_PER_CLASS = 128      # probe / fine-tuning clips per class
VAL_PER_CLASS = 32         # validation clips per class (128 in all; chance 25%)
PRE_STEPS = {"videomae": 300, "cmae_v": 300}   # at 100 nothing is learnt yet (measured: below)
PROBE_ITERS = 500
MARGIN = 0.15              # top-1 the pre-trained probe must gain over the better control (measured: below)


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


def _tokens(backbone, clips: np.ndarray) -> np.ndarray:
    """The frozen encoder's output tokens of every clip, concatenated: (num_clips, N * D); the
    encoder is left as it was (``eval_mode``), trainable for the fine-tuning of ``--ft-steps``."""
    with eval_mode(backbone), jt.no_grad():
        return np.concatenate([backbone.forward_tokens(jt.array(clips[i:i + 128])).numpy().reshape(
            len(clips[i:i + 128]), -1) for i in range(0, len(clips), 128)])


def linear_probe(train_x, train_y, val_x, val_y, iters: int = PROBE_ITERS, lr: float = 0.05,
                 weight_decay: float = 1e-3) -> dict:
    """Multinomial logistic regression on standardised features, full batch, Adam for ``iters`` steps
    from zeros (deterministic): its train and val top-1 and the final gradient norm (how converged)."""
    mean, std = train_x.mean(0), train_x.std(0) + 1e-6
    a, b = (train_x - mean) / std, (val_x - mean) / std
    onehot = np.eye(int(train_y.max()) + 1)[train_y]
    weight, bias = np.zeros((a.shape[1], onehot.shape[1])), np.zeros(onehot.shape[1])
    m, v = np.zeros_like(weight), np.zeros_like(weight)
    for it in range(1, iters + 1):
        z = a @ weight + bias
        p = np.exp(z - z.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        grad = a.T @ (p - onehot) / len(a) + weight_decay * weight
        m, v = 0.9 * m + 0.1 * grad, 0.999 * v + 0.001 * grad * grad
        weight -= lr * (m / (1 - 0.9 ** it)) / (np.sqrt(v / (1 - 0.999 ** it)) + 1e-8)
        bias -= lr * (p - onehot).mean(0)
    return {"train": float(((a @ weight + bias).argmax(1) == train_y).mean()),
            "val": float(((b @ weight + bias).argmax(1) == val_y).mean()),
            "grad_norm": float(np.linalg.norm(grad))}


def measure(kind: str, pre_steps: int, ft_steps: int, seed: int, work_dir, ft_options=()) -> dict:
    """Pre-train ``kind`` for ``pre_steps``; then, for three initialisations of the fine-tuning ViT --
    ``pretrained`` (that checkpoint), ``untrained`` (the pre-training model's own initialisation, saved
    before its first step: the control that isolates what the steps taught, since the two models
    initialise differently) and ``random`` (the fine-tuning ViT's own initialisation, a user's run
    without ``pretrained``) -- the token probe's top-1, and with ``ft_steps`` > 0 the validation top-1
    after fine-tuning for ``ft_steps`` (same head init and batches for all)."""
    pre = _load(PRETRAIN[kind])
    seed_everything(seed)
    ft = _load(FINETUNE)
    train = _clips(ft.data.train, ("img", "gt_label"), samples_per_class=TRAIN_PER_CLASS, seed=seed)
    val = _clips(ft.data.train, ("img", "gt_label"), samples_per_class=VAL_PER_CLASS, split="val", seed=seed)
    keys = ("img", "img_t") if kind == "cmae_v" else ("img",)
    pool = _clips(pre.data.train, keys, samples_per_class=POOL_PER_CLASS, seed=seed + 100)
    model = MODELS.build(pre.model)
    untrained = save_checkpoint(Path(work_dir) / "untrained", 0, model)
    losses = _train(model, pre, pre_steps, pool, np.random.default_rng(seed))
    ckpt = save_checkpoint(work_dir, pre_steps, model)
    probe, top1 = {}, {}
    for init, path in (("pretrained", ckpt), ("untrained", untrained), ("random", None)):
        cfg = _load(FINETUNE)
        cfg.merge_from_list(list(ft_options) + ([f"model.backbone.pretrained={path}"] if path else []))
        seed_everything(seed + 1)                       # the same head init and batches for both
        classifier = MODELS.build(cfg.model)
        probe[init] = linear_probe(_tokens(classifier.backbone, train["img"]), train["gt_label"],
                                   _tokens(classifier.backbone, val["img"]), val["gt_label"])
        if ft_steps > 0:
            _train(classifier, cfg, ft_steps, train, np.random.default_rng(seed + 1))
            top1[init] = _top1(classifier, val)
    result = {"pretrain_loss_first": losses[0], "pretrain_loss_last5": float(np.mean(losses[-5:])), "probe": probe}
    return dict(result, finetune_top1=top1) if top1 else result


# Measured under load (`uptime` load average 6-13 on 2 shared cores), 2026-11-30, token-probe val top-1
# on 128 clips (chance 0.25), seeds 0 / 1 / 2 (the test runs seed 0); train top-1 1.0 but one (0.85):
#   VideoMAE, 300 pre-training steps (loss 1.14 -> 0.76-0.80): 0.875 / 0.898 / 0.859
#   VideoMAE, 100 steps (loss 1.14 -> 0.92-0.95):             0.500 / 0.477 / 0.539  (no gain yet)
#   CMAE-V, 300 steps, InfoNCE weight 1 (loss 1.91 -> 1.08-1.09): 0.555 / 0.516 / -      (no gain)
#   CMAE-V, 300 steps, model.ct_weight=0.25:                  0.500 / 0.570 / -      (no gain)
#   untrained (the pre-training model's init, 0 steps):       0.555 / 0.578 / 0.594
#   random (the fine-tuning ViT's init):                      0.422 / 0.484 / 0.453
# VideoMAE gains 26-32 points over the better control in every seed; MARGIN leaves room for noise.
# CMAE-V (2026-11-30, load average 7-13): at weight 1 its contrastive gradient on the encoder is ~115x
# the reconstruction gradient at initialisation (3.89 vs 0.034, ``encoder_gradient_norms``); AdamW
# follows it alone and the reconstruction loss stalls at 0.96 (seed 0; 0.78 with model.ct_weight=0,
# probe 0.945). The synthetic config therefore weights InfoNCE 0.01 (loss_rc 1.14 -> 0.77-0.79):
#   CMAE-V, 300 steps, ct_weight 0.01 (the config):          0.836 / 0.797 / 0.930  (gain 22-34 points)
#   CMAE-V, 300 steps, ct_weight 0.03:                        0.773 / - / -
# The VideoMAE case's cost is its 300 pre-training steps: 0.37 s a step at load average 0.6 (~2
# minutes); it passed in 206 s under load (pytest --durations, load average 5.8 -> 0.7) and 48 s on the
# idle machine. The CMAE-V case passed in 1839 s at load average 7-13 (three such runs sharing the 2
# cores); its idle time is still to be measured (a CMAE-V step also runs the target encoder on whole clips).
@pytest.mark.parametrize("kind", ["videomae", "cmae_v"])
def test_pretraining_beats_random_initialisation_token_probe(kind, tmp_path):
    """The linear probe on the frozen tokens of the pre-trained encoder beats those on the untrained
    (pre-training model's init) and the randomly initialised encoders by ``MARGIN`` top-1."""
    result = measure(kind, PRE_STEPS[kind], 0, 0, tmp_path)
    assert result["pretrain_loss_last5"] < result["pretrain_loss_first"], f"{kind}: the pre-training loss {result}"
    probe = result["probe"]
    best_control = max(probe["untrained"]["val"], probe["random"]["val"])
    assert probe["pretrained"]["val"] >= best_control + MARGIN, f"{kind}: token-probe top-1 {probe}"


def encoder_gradient_norms(cfg: Config, seed: int = 0) -> dict:
    """Norms of the gradients of CMAE-V's ``loss_rc`` and ``loss_ct`` on the online encoder's parameters
    at initialisation, for one batch of ``BATCH`` pre-training clips of ``cfg``."""
    seed_everything(seed)
    pool = _clips(cfg.data.train, ("img", "img_t"), samples_per_class=BATCH // cfg.data.train["num_classes"],
                  seed=seed + 100)
    model = MODELS.build(cfg.model)
    model.train()
    out = model.train_step({k: jt.array(v) for k, v in pool.items()})
    params = [p for p in model.backbone.parameters() if not p.is_stop_grad()]
    return {name: float(np.sqrt(sum(float((g * g).sum().item()) for g in jt.grad(out[name], params))))
            for name in ("loss_rc", "loss_ct")}


def test_cmae_v_synthetic_config_balances_encoder_gradients():
    """The reason the synthetic CMAE-V config weights InfoNCE 0.01: at CMAE's weight 1 the contrastive
    gradient on the encoder is ~115x the reconstruction one (3.89 vs 0.034; 1.15x at 0.01), AdamW
    follows it alone and pre-training teaches the probe nothing. The config must keep them within 5x."""
    grads = encoder_gradient_norms(_load(PRETRAIN["cmae_v"]))
    ratio = grads["loss_ct"] / grads["loss_rc"]
    assert 0.2 < ratio < 5.0, f"{PRETRAIN['cmae_v']}: encoder gradient norms {grads} (ct / rc = {ratio:.1f})"


if __name__ == "__main__":
    import argparse
    import json
    import tempfile

    parser = argparse.ArgumentParser(description="pre-training vs random initialisation on the synthetic actions: "
                                                 "token probe, and full fine-tuning with --ft-steps")
    parser.add_argument("kind", choices=sorted(PRETRAIN))
    parser.add_argument("--pre-steps", type=int, default=None, help="default: the test's")
    parser.add_argument("--ft-steps", type=int, default=0, help="fine-tuning steps (0: the probe only)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--ft-options", nargs="*", default=[], metavar="KEY=VALUE",
                        help="overrides of the fine-tuning config, e.g. optimizer.lr=3e-4")
    args = parser.parse_args()
    pre_steps = PRE_STEPS[args.kind] if args.pre_steps is None else args.pre_steps
    for seed in args.seeds:
        with tempfile.TemporaryDirectory() as tmp:
            print(json.dumps({"kind": args.kind, "seed": seed, "pre_steps": pre_steps, "ft_steps": args.ft_steps,
                              "ft_options": args.ft_options,
                              **measure(args.kind, pre_steps, args.ft_steps, seed, tmp, args.ft_options)}), flush=True)
