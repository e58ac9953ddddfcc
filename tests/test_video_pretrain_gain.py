"""Issue 10: a short VideoMAE or CMAE-V pre-training on the built-in synthetic actions, then full
fine-tuning, beats the same fine-tuning from a random initialisation with the same budget.

The label of ``SyntheticActions`` is the direction of motion (right/left/down/up come in time-reversed
pairs, starting anywhere and wrapping around the frame), so no colour, position or single frame
separates the classes: an encoder has to relate frames. The runs use the laptop-scale configs
(``configs/videomae/videomae_tiny_synthetic_*.py``, ``configs/cmae_v/cmae_v_tiny_synthetic_pretrain.py``)
with their model, optimizer and schedule, and the fine-tuning ViT loads the pre-training checkpoint
through ``model.backbone.pretrained`` as a user's run does. To fit CI, the clips are generated once and
the loops call ``train_step`` directly (the Trainer's own tests are in ``test_videomae_configs.py``).

The fine-tuning budget is short (``FT_STEPS``): from the pre-trained encoder the fine-tuning fits in
a few dozen steps; from a random one it gets there too, but several times later (README, "Video masked
autoencoders", "Measured here"). Run as a script, the file also reports a linear probe on the frozen
tokens (``--probe``) and any budget (``--ft-steps``).
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
PRE_STEPS = {"videomae": 300, "cmae_v": 300}
FT_STEPS = 60              # fine-tuning steps, the same for every initialisation
PROBE_ITERS = 500
MARGIN = 0.15              # top-1 the pre-trained model must gain over the better control (measured: below)


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


_RANDOM_FT: dict = {}       # the random-init fine-tuning of a (seed, budget, options): one run for both kinds


def measure(kind: str, pre_steps: int, ft_steps: int, seed: int, work_dir, ft_options=(), probe: bool = True) -> dict:
    """Pre-train ``kind`` for ``pre_steps``; then, for three initialisations of the fine-tuning ViT --
    ``pretrained`` (that checkpoint), ``untrained`` (the pre-training model's own initialisation, saved
    before its first step: the control that isolates what the steps taught, since the two models
    initialise differently) and ``random`` (the fine-tuning ViT's own initialisation, a user's run
    without ``pretrained``) -- with ``probe`` the token probe's top-1, and with ``ft_steps`` > 0 the
    validation top-1 after fine-tuning for ``ft_steps`` (same head init and batches for all)."""
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
    probes, top1 = {}, {}
    random_key = (seed, ft_steps, tuple(ft_options))
    for init, path in (("pretrained", ckpt), ("untrained", untrained), ("random", None)):
        if init == "random" and not probe and random_key in _RANDOM_FT:
            top1[init] = _RANDOM_FT[random_key]
            continue
        cfg = _load(FINETUNE)
        cfg.merge_from_list(list(ft_options) + ([f"model.backbone.pretrained={path}"] if path else []))
        seed_everything(seed + 1)                       # the same head init and batches for all
        classifier = MODELS.build(cfg.model)
        if probe:
            probes[init] = linear_probe(_tokens(classifier.backbone, train["img"]), train["gt_label"],
                                        _tokens(classifier.backbone, val["img"]), val["gt_label"])
        if ft_steps > 0:
            _train(classifier, cfg, ft_steps, train, np.random.default_rng(seed + 1))
            top1[init] = _top1(classifier, val)
    if "random" in top1:
        _RANDOM_FT[random_key] = top1["random"]
    result = {"pretrain_loss_first": losses[0], "pretrain_loss_last5": float(np.mean(losses[-5:]))}
    return dict(result, **({"probe": probes} if probe else {}), **({"finetune_top1": top1} if top1 else {}))


# Measured under load (load average 6-10 on 2 shared cores), 2026-11-30, validation top-1 after 60
# fine-tuning steps (chance 0.25), pre-trained / untrained / random:
#   VideoMAE seed 0: 0.938 / 0.664 / 0.273; seed 1: 0.797 / 0.422 / 0.273
#   CMAE-V   seed 1: 0.906 / 0.422 / 0.273   (seed 0: the test passed, figures not printed; seed 2 not run)
# Before the clips' change (class = position over time) 300 steps stayed at chance from every init.
# The gain over the better control is 27-48 points; MARGIN leaves room for noise.
@pytest.mark.parametrize("kind", ["videomae", "cmae_v"])
def test_pretraining_beats_random_initialisation_finetuning(kind, tmp_path):
    """After ``FT_STEPS`` of full fine-tuning (the synthetic fine-tuning config), the ViT initialised
    from ``kind``'s pre-training beats the untrained (pre-training model's init) and the randomly
    initialised ViTs by ``MARGIN`` validation top-1."""
    result = measure(kind, PRE_STEPS[kind], FT_STEPS, 0, tmp_path, probe=False)
    assert result["pretrain_loss_last5"] < result["pretrain_loss_first"], f"{kind}: the pre-training loss {result}"
    top1 = result["finetune_top1"]
    best_control = max(top1["untrained"], top1["random"])
    assert top1["pretrained"] >= best_control + MARGIN, f"{kind}: fine-tuned top-1 after {FT_STEPS} steps {top1}"


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
    gradient on the encoder is ~115x the reconstruction one (3.89 vs 0.034; 1.15x at 0.01; measured on the
    former, positional clips), AdamW follows it alone and pre-training teaches the encoder nothing a
    probe reads. The config must keep them within 5x."""
    grads = encoder_gradient_norms(_load(PRETRAIN["cmae_v"]))
    ratio = grads["loss_ct"] / grads["loss_rc"]
    assert 0.2 < ratio < 5.0, f"{PRETRAIN['cmae_v']}: encoder gradient norms {grads} (ct / rc = {ratio:.1f})"


if __name__ == "__main__":
    import argparse
    import json
    import tempfile

    parser = argparse.ArgumentParser(description="pre-training vs random initialisation on the synthetic actions: "
                                                 "full fine-tuning, and with --probe a linear probe on the frozen tokens")
    parser.add_argument("kind", choices=sorted(PRETRAIN))
    parser.add_argument("--pre-steps", type=int, default=None, help="default: the test's")
    parser.add_argument("--ft-steps", type=int, default=FT_STEPS, help="fine-tuning steps (0: none); default: the test's")
    parser.add_argument("--probe", action="store_true", help="also the linear probe on the frozen tokens")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--ft-options", nargs="*", default=[], metavar="KEY=VALUE",
                        help="overrides of the fine-tuning config, e.g. optimizer.lr=3e-4")
    args = parser.parse_args()
    pre_steps = PRE_STEPS[args.kind] if args.pre_steps is None else args.pre_steps
    for seed in args.seeds:
        with tempfile.TemporaryDirectory() as tmp:
            print(json.dumps({"kind": args.kind, "seed": seed, "pre_steps": pre_steps, "ft_steps": args.ft_steps,
                              "ft_options": args.ft_options,
                              **measure(args.kind, pre_steps, args.ft_steps, seed, tmp, args.ft_options,
                                        probe=args.probe)}), flush=True)
