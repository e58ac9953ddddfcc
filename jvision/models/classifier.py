"""Image classification: a backbone with its head, timm's Mixup/CutMix and soft-target cross-entropy.

Matches the training objective of timm's ``train.py`` (0.4.12) used by VAN and Conv2Former:
``--mixup 0.8 --cutmix 1.0 --mixup-prob 1.0 --mixup-switch-prob 0.5 --mixup-mode batch
--smoothing 0.1``. With mixup/cutmix active the targets are ``lam * onehot(y) + (1 - lam) *
onehot(y_flipped)`` built from label-smoothed one-hots (off value ``s / K``, on value
``1 - s + s / K``) and the loss is the soft-target cross-entropy; without mixup it is
label-smoothing cross-entropy (the same formula with ``lam = 1``), or plain cross-entropy when the
smoothing is 0.

Randomness: ``train_step`` draws from ``batch["_rng"]`` (a ``numpy.random.Generator`` the trainer
seeds from (seed, iteration, micro-batch, rank)); without it, from numpy's global state.

    model = dict(type="ImageClassifier",
                 backbone=dict(type="van_b0", num_classes=1000, drop_path_rate=0.1),
                 loss=dict(label_smoothing=0.1),
                 mixup=dict(mixup_alpha=0.8, cutmix_alpha=1.0, prob=1.0, switch_prob=0.5))
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

import jittor as jt
from jittor import nn

from ..registry import MODELS

__all__ = ["ImageClassifier", "Mixup", "soft_target_cross_entropy", "smoothed_one_hot", "rand_bbox"]


def smoothed_one_hot(labels: np.ndarray, num_classes: int, smoothing: float = 0.0) -> np.ndarray:
    """``[B, K]`` float32 one-hots with label smoothing (off ``s/K``, on ``1 - s + s/K``)."""
    labels = np.asarray(labels, dtype=np.int64).reshape(-1)
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        bad = labels[(labels < 0) | (labels >= num_classes)][0]
        raise ValueError(f"label {int(bad)} is out of range for a classifier with {num_classes} classes")
    off = smoothing / num_classes
    out = np.full((labels.size, num_classes), off, dtype=np.float32)
    out[np.arange(labels.size), labels] = 1.0 - smoothing + off
    return out


def soft_target_cross_entropy(logits: jt.Var, targets: jt.Var) -> jt.Var:
    """``mean_b sum_k -t[b,k] * log_softmax(logits)[b,k]``."""
    return (-(targets * nn.log_softmax(logits, dim=1)).sum(dim=1)).mean()


def rand_bbox(hw: tuple[int, int], lam: float, rng: np.random.Generator,
              minmax: Sequence[float] | None = None) -> tuple[int, int, int, int]:
    """CutMix box ``(y0, y1, x0, x1)``: area ``~(1 - lam)`` centred uniformly (clipped at the border),
    or, with ``minmax``, a box whose sides are uniform fractions of the image, placed inside it."""
    h, w = hw
    if minmax is not None:
        lo, hi = minmax
        ch = int(rng.integers(int(h * lo), max(int(h * hi), int(h * lo) + 1)))
        cw = int(rng.integers(int(w * lo), max(int(w * hi), int(w * lo) + 1)))
        y0 = int(rng.integers(0, h - ch + 1))
        x0 = int(rng.integers(0, w - cw + 1))
        return y0, y0 + ch, x0, x0 + cw
    ratio = math.sqrt(1.0 - lam)
    ch, cw = int(h * ratio), int(w * ratio)
    cy, cx = int(rng.integers(0, h)), int(rng.integers(0, w))
    y0, y1 = int(np.clip(cy - ch // 2, 0, h)), int(np.clip(cy + ch // 2, 0, h))
    x0, x1 = int(np.clip(cx - cw // 2, 0, w)), int(np.clip(cx + cw // 2, 0, w))
    return y0, y1, x0, x1


class Mixup:
    """timm's batch-mode Mixup/CutMix: each batch is mixed with its reverse.

    Per batch, with probability ``prob``: CutMix with probability ``switch_prob`` (when both alphas
    are > 0), ``lam ~ Beta(alpha, alpha)`` of the chosen method. CutMix pastes a box of the reversed
    batch; with ``correct_lam`` the ``lam`` used for the targets is recomputed from the clipped box.

    Args:
        mixup_alpha, cutmix_alpha: Beta parameters (0 disables that method).
        cutmix_minmax: optional (min, max) box-size fractions (then ``lam`` is always corrected).
        prob: probability of mixing a batch at all. switch_prob: probability of CutMix vs Mixup.
        correct_lam: recompute ``lam`` from the clipped CutMix box.
        mode: only ``"batch"`` (timm's default) is implemented.
    """

    def __init__(self, mixup_alpha: float = 0.8, cutmix_alpha: float = 1.0,
                 cutmix_minmax: Sequence[float] | None = None, prob: float = 1.0,
                 switch_prob: float = 0.5, correct_lam: bool = True, mode: str = "batch"):
        if mode != "batch":
            raise ValueError(f"mixup mode {mode!r} is not implemented; only 'batch' (timm's default)")
        if mixup_alpha < 0 or cutmix_alpha < 0:
            raise ValueError(f"mixup_alpha and cutmix_alpha must be >= 0, got {mixup_alpha}, {cutmix_alpha}")
        if cutmix_minmax is not None:
            if len(cutmix_minmax) != 2 or not 0 <= cutmix_minmax[0] < cutmix_minmax[1] <= 1:
                raise ValueError(f"cutmix_minmax must be (min, max) with 0 <= min < max <= 1, got {cutmix_minmax!r}")
            cutmix_alpha = 1.0 if cutmix_alpha == 0 else cutmix_alpha
            correct_lam = True
        if not 0.0 <= prob <= 1.0 or not 0.0 <= switch_prob <= 1.0:
            raise ValueError(f"mixup prob and switch_prob must be in [0, 1], got {prob}, {switch_prob}")
        self.mixup_alpha, self.cutmix_alpha = float(mixup_alpha), float(cutmix_alpha)
        self.cutmix_minmax = tuple(cutmix_minmax) if cutmix_minmax is not None else None
        self.prob, self.switch_prob, self.correct_lam = float(prob), float(switch_prob), bool(correct_lam)

    @property
    def enabled(self) -> bool:
        return self.prob > 0 and (self.mixup_alpha > 0 or self.cutmix_alpha > 0)

    def sample(self, hw: tuple[int, int], rng: np.random.Generator):
        """``(lam, box)``: ``box`` is ``(y0, y1, x0, x1)`` for CutMix, ``None`` for Mixup / no mixing."""
        if not self.enabled or rng.random() >= self.prob:
            return 1.0, None
        if self.mixup_alpha > 0 and self.cutmix_alpha > 0:
            use_cutmix = rng.random() < self.switch_prob
        else:
            use_cutmix = self.cutmix_alpha > 0
        lam = float(rng.beta(self.cutmix_alpha, self.cutmix_alpha) if use_cutmix
                    else rng.beta(self.mixup_alpha, self.mixup_alpha))
        if not use_cutmix:
            return lam, None
        box = rand_bbox(hw, lam, rng, self.cutmix_minmax)
        if self.correct_lam:
            y0, y1, x0, x1 = box
            lam = 1.0 - (y1 - y0) * (x1 - x0) / float(hw[0] * hw[1])
        return lam, box

    def __call__(self, img: jt.Var, labels: np.ndarray, num_classes: int, smoothing: float,
                 rng: np.random.Generator) -> tuple[jt.Var, np.ndarray, float]:
        """Mix ``img`` [B, C, H, W] with its reverse; returns (mixed image, soft targets, lam)."""
        lam, box = self.sample(tuple(img.shape[-2:]), rng)
        y1 = smoothed_one_hot(labels, num_classes, smoothing)
        if lam >= 1.0:
            return img, y1, 1.0
        flipped = img[::-1]
        if box is None:
            img = img * lam + flipped * (1.0 - lam)
        else:
            y0, y1_, x0, x1 = box
            mask = np.zeros((1, 1) + tuple(img.shape[-2:]), dtype=np.float32)
            mask[..., y0:y1_, x0:x1] = 1.0
            m = jt.array(mask)
            img = img * (1.0 - m) + flipped * m
        targets = y1 * lam + y1[::-1] * (1.0 - lam)
        return img, targets.astype(np.float32), lam

    def __repr__(self) -> str:
        return (f"Mixup(mixup_alpha={self.mixup_alpha}, cutmix_alpha={self.cutmix_alpha}, prob={self.prob}, "
                f"switch_prob={self.switch_prob}, cutmix_minmax={self.cutmix_minmax})")


@MODELS.register()
class ImageClassifier(nn.Module):
    """A classification backbone (built from ``MODELS``, with its own head) and the training loss.

    Args:
        backbone: config of a model whose ``execute(x)`` returns logits ``[B, num_classes]`` (e.g.
            ``van_b0``, ``conv2former_t`` with ``num_classes``).
        num_classes: passed to the backbone when its config does not set ``num_classes``; checked
            against it otherwise.
        loss: ``dict(label_smoothing=s)``.
        mixup: Mixup/CutMix options (see ``Mixup``), or None for no mixing.
    """

    def __init__(self, backbone: dict, num_classes: int | None = None, loss: dict | None = None,
                 mixup: dict | None = None):
        super().__init__()
        backbone = dict(backbone)
        if num_classes is not None:
            if "num_classes" in backbone and backbone["num_classes"] != num_classes:
                raise ValueError(f"model.num_classes={num_classes} but model.backbone.num_classes="
                                 f"{backbone['num_classes']}")
            backbone["num_classes"] = num_classes
        self.backbone = MODELS.build(backbone)
        self.num_classes = num_classes or backbone.get("num_classes") or getattr(self.backbone, "num_classes", None)
        if not self.num_classes:
            raise ValueError(f"ImageClassifier needs a backbone with a classification head: set "
                             f"num_classes in model.backbone ({backbone.get('type')!r})")
        loss = dict(loss or {})
        self.label_smoothing = float(loss.pop("label_smoothing", 0.0))
        if loss:
            raise KeyError(f"model.loss has unknown key(s) {sorted(loss)}; known: label_smoothing")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ValueError(f"model.loss.label_smoothing must be in [0, 1), got {self.label_smoothing}")
        self.mixup = Mixup(**mixup) if mixup else None

    # -- inference -------------------------------------------------------------------------------
    def execute(self, img: jt.Var) -> jt.Var:
        """Logits ``[B, num_classes]``."""
        return self.backbone(img)

    def official_checkpoint_module(self) -> nn.Module:
        """The module an official (PyTorch) classification checkpoint describes: the backbone with
        its head, whose keys carry no ``backbone.`` prefix (used by ``tools/test.py``)."""
        return self.backbone

    # -- training / evaluation -------------------------------------------------------------------
    def _check_logits(self, logits: jt.Var) -> None:
        if logits.ndim != 2 or logits.shape[1] != self.num_classes:
            raise ValueError(f"backbone {type(self.backbone).__name__} returned shape {list(logits.shape)}, "
                             f"expected [batch, {self.num_classes}] logits")

    def train_step(self, batch: dict) -> dict:
        img, labels = batch["img"], batch["gt_label"]
        labels_np = labels.numpy() if isinstance(labels, jt.Var) else np.asarray(labels)
        labels_np = labels_np.astype(np.int64).reshape(-1)
        rng = batch.get("_rng")
        if rng is None:
            rng = np.random.default_rng(np.random.randint(0, 2 ** 31))
        if self.mixup is not None and self.mixup.enabled:
            img, targets, _ = self.mixup(img, labels_np, self.num_classes, self.label_smoothing, rng)
            logits = self(img)
            self._check_logits(logits)
            loss = soft_target_cross_entropy(logits, jt.array(targets))
        elif self.label_smoothing > 0:
            logits = self(img)
            self._check_logits(logits)
            targets = smoothed_one_hot(labels_np, self.num_classes, self.label_smoothing)
            loss = soft_target_cross_entropy(logits, jt.array(targets))
        else:
            logits = self(img)
            self._check_logits(logits)
            smoothed_one_hot(labels_np, self.num_classes)  # range check with a clear error
            loss = nn.cross_entropy_loss(logits, jt.array(labels_np))
        return {"loss": loss}

    def val_step(self, batch: dict) -> np.ndarray:
        """Logits as a numpy array ``[B, num_classes]`` (consumed by ``Accuracy``)."""
        logits = self(batch["img"])
        self._check_logits(logits)
        return logits.numpy()
