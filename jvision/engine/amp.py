"""Mixed precision for training: ``train.amp = False | True | "float16" | "bfloat16"`` (True = float16).

On CUDA the forward and backward run under Jittor's automatic mixed precision (``amp_reg``):

* ``float16``: Jittor's level-5 policy (operations and new arrays prefer float16, reductions keep
  float32 accumulation) plus a dynamic ``LossScaler``: the loss is multiplied by the scale before
  the backward, gradients are divided by it before clipping and the update; a step whose gradients
  are not finite is skipped and the scale halved; after ``growth_interval`` finite steps in a row
  the scale doubles. The scaler's state is saved in the checkpoint.
* ``bfloat16``: the float inputs of the batch are cast to bfloat16 and operations prefer 16 bits, so
  Jittor computes in bfloat16 wherever a bfloat16 operand is involved; bfloat16 has float32's range,
  so no loss scaling.

The optimizer update always runs in float32 on float32 weights (outside the precision scope).
On CPU mixed precision is not used: the run goes on in float32 after one warning line. Neither
mode has been run on a GPU in this project yet (no GPU was available); the scaler is tested on CPU.
"""
from __future__ import annotations

import contextlib
import math
from typing import Any

import jittor as jt

__all__ = ["LossScaler", "AmpPolicy", "parse_amp"]


class LossScaler:
    """Dynamic loss scaling for float16 training (PyTorch ``GradScaler``'s rule).

    ``scale`` starts at ``init_scale``; ``update(found_inf)`` after every iteration halves it
    (``backoff_factor``) when a gradient was not finite (that step was skipped) and doubles it
    (``growth_factor``) after ``growth_interval`` consecutive finite steps. ``min_scale``: below it,
    overflow is no longer a float16 range problem but a diverging run, and ``update`` says so.
    """

    def __init__(self, init_scale: float = 2.0 ** 16, growth_factor: float = 2.0, backoff_factor: float = 0.5,
                 growth_interval: int = 2000, min_scale: float = 1.0):
        if init_scale <= 0 or growth_factor <= 1 or not 0 < backoff_factor < 1 or growth_interval < 1:
            raise ValueError("LossScaler needs init_scale > 0, growth_factor > 1, 0 < backoff_factor < 1 and "
                             f"growth_interval >= 1; got {init_scale}, {growth_factor}, {backoff_factor}, "
                             f"{growth_interval}")
        self.scale = float(init_scale)
        self.growth_factor, self.backoff_factor = float(growth_factor), float(backoff_factor)
        self.growth_interval, self.min_scale = int(growth_interval), float(min_scale)
        self.good_steps = 0
        self.skipped = 0

    def update(self, found_inf: bool) -> bool:
        """Record one iteration; returns False when the scale fell below ``min_scale``."""
        if found_inf:
            self.scale *= self.backoff_factor
            self.good_steps = 0
            self.skipped += 1
        else:
            self.good_steps += 1
            if self.good_steps >= self.growth_interval:
                self.scale *= self.growth_factor
                self.good_steps = 0
        return self.scale >= self.min_scale

    def unscale_and_check(self, optimizer) -> bool:
        """Divide ``optimizer``'s gradients by the scale; True when all of them are finite."""
        inv = 1.0 / self.scale
        grads = [g for group in optimizer.param_groups
                 for p, g in zip(group["params"], group.get("grads", [])) if not p.is_stop_grad()]
        if not grads:
            return True
        for g in grads:
            g.update(g * inv)
        # 0 * g is 0 for every finite element and NaN for inf or NaN (no overflow of a sum of squares)
        probe = sum((g * 0.0).sum() for g in grads)
        return math.isfinite(float(probe.item()))

    def state_dict(self) -> dict:
        return {"scale": self.scale, "good_steps": self.good_steps, "skipped": self.skipped}

    def load_state_dict(self, state: dict) -> None:
        self.scale = float(state["scale"])
        self.good_steps = int(state["good_steps"])
        self.skipped = int(state.get("skipped", 0))

    def __repr__(self) -> str:
        return f"LossScaler(scale={self.scale:g}, good_steps={self.good_steps}, skipped={self.skipped})"


def parse_amp(value: Any) -> str | None:
    """``train.amp`` -> None (off), ``"float16"`` or ``"bfloat16"``."""
    if value is False or value is None:
        return None
    if value is True:
        return "float16"
    if value in ("float16", "bfloat16"):
        return value
    raise ValueError(f"train.amp = {value!r}: expected False, True, 'float16' or 'bfloat16'")


class AmpPolicy:
    """What ``train.amp`` does on this device: ``scope()`` around the forward and backward,
    ``cast_batch`` for bfloat16 inputs, and the loss scaler for float16 (``scaler``)."""

    def __init__(self, mode: str | None, on_cuda: bool | None = None):
        on_cuda = bool(jt.flags.use_cuda) if on_cuda is None else on_cuda
        self.requested = mode
        self.warning = None
        if mode is not None and not on_cuda:
            self.warning = (f"train.amp={mode!r} ignored: mixed precision needs CUDA; training in float32 on "
                            "the CPU")
            mode = None
        self.mode = mode
        self.scaler = LossScaler() if mode == "float16" else None

    @contextlib.contextmanager
    def scope(self):
        if self.mode == "float16":
            with jt.flag_scope(auto_mixed_precision_level=5):
                yield
        elif self.mode == "bfloat16":
            with jt.flag_scope(amp_reg=2):  # prefer 16 bits; a bfloat16 operand makes it bfloat16
                yield
        else:
            yield

    @contextlib.contextmanager
    def full_precision(self):
        """Float32 inside a ``scope()`` (the optimizer update)."""
        if self.mode is None:
            yield
        else:
            with jt.flag_scope(auto_mixed_precision_level=0, amp_reg=0):
                yield

    def cast_batch(self, batch: dict) -> dict:
        if self.mode != "bfloat16":
            return batch
        return {k: (v.bfloat16() if isinstance(v, jt.Var) and v.dtype == "float32" else v) for k, v in batch.items()}
