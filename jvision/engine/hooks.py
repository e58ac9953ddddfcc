"""Trainer hooks: the LR schedule, logging and the progress bar, periodic evaluation, checkpointing.

A hook overrides any of ``before_run``, ``before_iter``, ``after_iter(logs)``, ``after_val(metrics)``,
``after_run`` and ``after_failure(exc)``; each gets the trainer. Hooks run in ascending ``priority``.
``after_run`` runs only when the run completed; after an error (a non-finite loss, an exception in a
hook, Ctrl-C) only ``after_failure`` runs, so no hook evaluates, draws or saves weights that may be
corrupted, and the original error is what the user sees (an error inside ``after_failure`` is
logged, never raised). Custom hooks are registered in ``HOOKS`` and listed in the config as
``custom_hooks = [dict(type="MyHook", ...)]``.
"""
from __future__ import annotations

import json
import time

from ..registry import HOOKS
from .progress import ProgressBar


class Hook:
    priority = 50

    def before_run(self, trainer) -> None: ...

    def before_iter(self, trainer) -> None: ...

    def after_iter(self, trainer, logs: dict) -> None: ...

    def after_val(self, trainer, metrics: dict) -> None: ...

    def after_run(self, trainer) -> None: ...

    def after_failure(self, trainer, exc: BaseException) -> None: ...


def _every(trainer, interval: int) -> bool:
    """True after the iteration that completes a multiple of ``interval``, and after the last one."""
    done = trainer.iter  # iterations completed
    return done == trainer.max_iters or (interval > 0 and done % interval == 0)


@HOOKS.register()
class LRScheduleHook(Hook):
    priority = 10

    def before_iter(self, trainer) -> None:
        trainer.schedule.apply(trainer.optimizer, trainer.iter)


@HOOKS.register()
class LoggerHook(Hook):
    """Progress bar (loss, lr, ETA without the compiling first step), ``log.txt`` and
    ``metrics.jsonl`` (rank 0 only; one record every ``interval`` iterations and after the last)."""

    priority = 60

    def __init__(self, interval: int = 10):
        self.interval = max(1, interval)
        self._t_last = None
        self._samples = 0

    def before_run(self, trainer) -> None:
        self._t_last = time.perf_counter()
        trainer.progress = ProgressBar(trainer.max_iters, trainer.name, initial=trainer.iter)

    def after_iter(self, trainer, logs: dict) -> None:
        self._samples += trainer.samples_per_iter
        lr = trainer.optimizer.param_groups[0]["lr"]
        if trainer.progress is not None:
            trainer.progress.set_postfix(loss=f"{logs.get('loss', float('nan')):.4f}", lr=f"{lr:.2e}")
            trainer.progress.update(1)
        if not (trainer.iter % self.interval == 0 or trainer.iter == trainer.max_iters):
            return
        now = time.perf_counter()
        elapsed = max(now - self._t_last, 1e-9)
        record = {"mode": "train", "iter": trainer.iter, "epoch": trainer.epoch, "lr": lr}
        if len(trainer.optimizers) > 1:
            for name, opt in trainer.optimizers.items():
                record[f"lr.{name}"] = opt.param_groups[0]["lr"]
        record.update(logs)
        record.update(samples_per_s=self._samples / elapsed,
                      time_per_iter=elapsed * trainer.samples_per_iter / max(self._samples, 1))
        self._t_last, self._samples = now, 0
        trainer.log_record(record)

    def after_val(self, trainer, metrics: dict) -> None:
        record = {"mode": "val", "iter": trainer.iter, "epoch": trainer.epoch, **metrics}
        trainer.log_record(record)

    def _close(self, trainer) -> None:
        if trainer.progress is not None:
            trainer.progress.close()
            trainer.progress = None

    def after_run(self, trainer) -> None:
        self._close(trainer)

    def after_failure(self, trainer, exc: BaseException) -> None:
        self._close(trainer)


@HOOKS.register()
class EvalHook(Hook):
    """Evaluate every ``interval`` iterations and after the last one (0: only at the end)."""

    priority = 70

    def __init__(self, interval: int = 0):
        self.interval = interval

    def after_iter(self, trainer, logs: dict) -> None:
        if trainer.val_loader is None or not _every(trainer, self.interval):
            return
        metrics = trainer.evaluate()
        for hook in trainer.hooks:
            hook.after_val(trainer, metrics)


@HOOKS.register()
class CheckpointHook(Hook):
    """Save every ``interval`` iterations and after the last one; keep this run's newest ``keep``."""

    priority = 80

    def __init__(self, interval: int = 0, keep: int = 3):
        self.interval, self.keep = interval, keep

    def after_iter(self, trainer, logs: dict) -> None:
        if _every(trainer, self.interval):
            trainer.save_checkpoint(keep=self.keep)


def dumps_record(record: dict) -> str:
    """One JSON line; numpy scalars and non-finite floats are written as plain JSON-compatible values."""
    def clean(v):
        if hasattr(v, "item") and getattr(v, "ndim", 1) == 0:
            v = v.item()
        if isinstance(v, float) and v != v:
            return None
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [clean(x) for x in v]
        return v
    return json.dumps({k: clean(v) for k, v in record.items()})
