"""Iteration-based learning-rate schedules: linear warm-up followed by poly, cosine or step decay.

The schedule is a pure function of the iteration, so resuming needs no schedule state::

    schedule = dict(type="poly", power=1.0, min_lr=0.0, warmup_iters=1500, warmup_ratio=1e-6)
    schedule = dict(type="cosine", min_lr=1e-6, warmup_iters=6255, warmup_ratio=1e-3)
    schedule = dict(type="step", steps=[80000, 120000], gamma=0.1)
    schedule = dict(type="constant")

Warm-up follows mmcv's linear rule: ``lr = regular_lr * (1 - (1 - it / warmup_iters) * (1 - ratio))``.
Each parameter group decays from its own ``base_lr`` (the ``lr`` of its optimizer; several
optimizers each keep theirs) times its ``lr_mult``; ``min_lr`` is absolute and scaled by ``lr_mult``.

``anneal_after_warmup=True`` starts the decay when the warm-up ends (its progress runs over
``max_iters - warmup_iters``), the rule of MAE / BEiT / timm: with ``warmup_ratio=0`` and ``cosine``
this is MAE's ``lr_sched.adjust_learning_rate`` applied per iteration::

    schedule = dict(type="cosine", warmup_iters=..., warmup_ratio=0.0, min_lr=0.0, anneal_after_warmup=True)
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass
class LRSchedule:
    base_lr: float
    max_iters: int
    type: str = "constant"
    power: float = 1.0
    min_lr: float = 0.0
    steps: list = field(default_factory=list)
    gamma: float = 0.1
    warmup_iters: int = 0
    warmup_ratio: float = 1e-6
    anneal_after_warmup: bool = False

    def __post_init__(self):
        if self.type not in ("constant", "poly", "cosine", "step"):
            raise ValueError(f"schedule.type {self.type!r} unknown; expected constant, poly, cosine or step")
        if self.max_iters <= 0:
            raise ValueError(f"schedule needs max_iters > 0, got {self.max_iters}")
        if self.warmup_iters < 0:
            raise ValueError(f"schedule.warmup_iters must be >= 0, got {self.warmup_iters}")

    def regular_lr(self, it: int, base: float, min_lr: float) -> float:
        if self.anneal_after_warmup:
            span = max(self.max_iters - self.warmup_iters, 1)
            progress = min(max(it - self.warmup_iters, 0), span) / span
        else:
            progress = min(it, self.max_iters) / self.max_iters
        if self.type == "poly":
            return (base - min_lr) * (1 - progress) ** self.power + min_lr
        if self.type == "cosine":
            return min_lr + (base - min_lr) * 0.5 * (1 + math.cos(math.pi * progress))
        if self.type == "step":
            return base * self.gamma ** sum(it >= s for s in self.steps)
        return base

    def lr_at(self, it: int, lr_mult: float = 1.0, base_lr: float | None = None) -> float:
        """Learning rate at (0-based) iteration ``it`` of a group with ``lr_mult`` whose optimizer's
        lr is ``base_lr`` (default: the schedule's)."""
        base = self.base_lr if base_lr is None else base_lr
        lr = self.regular_lr(it, base * lr_mult, self.min_lr * lr_mult)
        if it < self.warmup_iters:
            lr *= 1 - (1 - it / self.warmup_iters) * (1 - self.warmup_ratio)
        return lr

    def apply(self, optimizer, it: int) -> None:
        for group in optimizer.param_groups:
            group["lr"] = self.lr_at(it, group.get("lr_mult", 1.0), group.get("base_lr"))


def build_schedule(cfg: dict | None, base_lr: float, max_iters: int) -> LRSchedule:
    cfg = dict(cfg or {"type": "constant"})
    known = set(LRSchedule.__dataclass_fields__) - {"base_lr", "max_iters"}
    unknown = set(cfg) - known
    if unknown:
        raise KeyError(f"schedule has unknown key(s) {sorted(unknown)}; known: {sorted(known)}")
    return LRSchedule(base_lr=base_lr, max_iters=max_iters, **cfg)
