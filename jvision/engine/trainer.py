"""The one training loop of every task.

Tasks differ only in their model's ``train_step(batch) -> {"loss": Var, ...}`` and
``val_step(batch) -> outputs``, and in the metric that consumes those outputs
(``reset / process(batch, outputs) / evaluate() -> dict``). Everything else — the iteration loop,
gradient accumulation and clipping, the LR schedule, logging, evaluation, checkpoints, exact resume,
MPI data parallelism — lives here once.

Determinism: the model is built under the run's seed on every rank (and rank 0's weights are
broadcast), the data order and augmentation follow the seed (``jvision.data.loader``), and the
random state of Python, numpy and Jittor is re-seeded from ``(seed, iteration, rank)`` at every
iteration. A run resumed from a checkpoint therefore continues bit-for-bit like an uninterrupted one.
"""
from __future__ import annotations

import importlib
import math
import os
import random
import time
from pathlib import Path
from typing import Any

import numpy as np

import jittor as jt

from ..config import Config
from ..data.loader import DataLoader
from ..registry import DATASETS, HOOKS, METRICS, MODELS
from . import checkpoint as ckpt
from .dist import barrier, broadcast_parameters, get_rank, get_world_size, is_main_process
from .hooks import CheckpointHook, EvalHook, Hook, LoggerHook, LRScheduleHook, dumps_record
from ..convert import load_state_dict
from .optim import build_optimizer, clip_grad_norm
from .schedule import build_schedule

TRAIN_KEYS = {"max_iters", "log_interval", "val_interval", "ckpt_interval", "keep_ckpts", "grad_clip",
              "accumulate", "amp", "seed"}
DATA_KEYS = {"batch_size", "val_batch_size", "num_workers", "train", "val", "test"}


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or infinite; the message names the iteration and the last good checkpoint."""


def _check_keys(section: dict, known: set, name: str) -> None:
    unknown = set(section) - known
    if unknown:
        raise KeyError(f"config section {name!r} has unknown key(s) {sorted(unknown)}; known: {sorted(known)}")


def seed_everything(seed: int) -> None:
    seed = int(seed) % (2 ** 31)
    random.seed(seed)
    np.random.seed(seed)
    jt.set_seed(seed)


def _iteration_seed(seed: int, iteration: int, rank: int) -> int:
    return int(np.random.SeedSequence([seed, iteration, rank]).generate_state(1)[0]) % (2 ** 31)


def _scalar(value: Any) -> float:
    if isinstance(value, jt.Var):
        return float(value.item())
    return float(value)


def import_custom(cfg: Config) -> None:
    """Import the packages a config names in ``custom_imports`` (so their registries fill)."""
    for module in cfg.get("custom_imports", []) or []:
        importlib.import_module(module)


def build_dataset(cfg: dict):
    return DATASETS.build(cfg)


def build_val_loader(cfg: Config, split: str = "val") -> DataLoader | None:
    data = cfg.get("data", {})
    if not data.get(split):
        return None
    return DataLoader(build_dataset(data[split]), batch_size=data.get("val_batch_size", 1), shuffle=False,
                      drop_last=False, seed=cfg.get("train", {}).get("seed", 0),
                      num_workers=data.get("num_workers", 0), rank=get_rank(), world_size=get_world_size())


def evaluate(model, loader: DataLoader, metric) -> dict:
    """Run ``model.val_step`` over ``loader`` (this rank's shard) and return the all-reduced metrics."""
    was_training = model.is_training()
    model.eval()
    metric.reset()
    try:
        with jt.no_grad():
            for batch in loader:
                metric.process(batch, model.val_step(batch))
        return metric.evaluate()
    finally:
        if was_training:
            model.train()


class Trainer:
    """Iteration-based trainer (see the module docstring). Build it with ``Trainer.from_config``."""

    def __init__(self, model, optimizer, train_loader: DataLoader, *, max_iters: int, work_dir: str | os.PathLike,
                 schedule=None, val_loader: DataLoader | None = None, metric=None, cfg: Config | None = None,
                 seed: int = 0, log_interval: int = 10, val_interval: int = 0, ckpt_interval: int = 0,
                 keep_ckpts: int = 3, grad_clip: float | dict | None = None, accumulate: int = 1,
                 amp: bool = False, hooks: list[Hook] | None = None, name: str | None = None):
        if accumulate < 1:
            raise ValueError(f"train.accumulate must be >= 1, got {accumulate}")
        self.model, self.optimizer = model, optimizer
        self.train_loader, self.val_loader, self.metric = train_loader, val_loader, metric
        if val_loader is not None and metric is None:
            raise ValueError("a validation set was given without a metric (config key evaluation.metric)")
        self.max_iters, self.seed, self.accumulate = int(max_iters), int(seed), int(accumulate)
        self.schedule = schedule or build_schedule(None, optimizer.lr, self.max_iters)
        self.grad_clip = grad_clip.get("max_norm") if isinstance(grad_clip, dict) else grad_clip
        self.amp = amp
        self.cfg = cfg
        self.name = name or (cfg.name if cfg is not None else "run")
        self.work_dir = Path(work_dir)
        self.rank, self.world_size = get_rank(), get_world_size()
        self.iter, self.epoch = 0, 0
        self.samples_per_iter = train_loader.batch_size * self.accumulate
        self.hooks = sorted([LRScheduleHook(), LoggerHook(log_interval), EvalHook(val_interval),
                             CheckpointHook(ckpt_interval, keep_ckpts)] + list(hooks or []),
                            key=lambda h: h.priority)
        if is_main_process():
            self.work_dir.mkdir(parents=True, exist_ok=True)

    # -- construction from a config ------------------------------------------------------------
    @classmethod
    def from_config(cls, cfg: Config, work_dir: str | os.PathLike | None = None,
                    resume: str | os.PathLike | bool | None = None) -> "Trainer":
        import_custom(cfg)
        train_cfg = dict(cfg.get("train", {}))
        _check_keys(train_cfg, TRAIN_KEYS, "train")
        data_cfg = dict(cfg.get("data", {}))
        _check_keys(data_cfg, DATA_KEYS, "data")
        if "max_iters" not in train_cfg:
            raise KeyError("config section 'train' needs 'max_iters'")
        for key in ("model", "optimizer"):
            if key not in cfg:
                raise KeyError(f"config {cfg.filename} has no {key!r} section")
        if "train" not in data_cfg or "batch_size" not in data_cfg:
            raise KeyError("config section 'data' needs 'train' and 'batch_size'")
        seed = int(train_cfg.get("seed", 0))
        work_dir = Path(work_dir or cfg.get("work_dir") or Path("work_dirs") / cfg.name)

        seed_everything(seed)  # same initial weights on every rank
        model = MODELS.build(cfg.model)
        # Jittor draws random initial values lazily, when a parameter is first computed: materialise
        # them now, under the run's seed, before the per-iteration re-seeding starts.
        jt.sync(list(model.state_dict().values()))
        broadcast_parameters(model)
        optimizer = build_optimizer(model, cfg.optimizer)
        schedule = build_schedule(cfg.get("schedule"), optimizer.lr, train_cfg["max_iters"])
        train_loader = DataLoader(build_dataset(data_cfg["train"]), batch_size=data_cfg["batch_size"],
                                  shuffle=True, drop_last=True, seed=seed,
                                  num_workers=data_cfg.get("num_workers", 0), rank=get_rank(),
                                  world_size=get_world_size())
        val_loader = build_val_loader(cfg, "val")
        metric = None
        if cfg.get("evaluation"):
            metric = METRICS.build(cfg.evaluation["metric"])
        hooks = [HOOKS.build(h) for h in cfg.get("custom_hooks", []) or []]
        trainer = cls(model, optimizer, train_loader, max_iters=train_cfg["max_iters"], work_dir=work_dir,
                      schedule=schedule, val_loader=val_loader, metric=metric, cfg=cfg, seed=seed,
                      log_interval=train_cfg.get("log_interval", 10),
                      val_interval=train_cfg.get("val_interval", 0),
                      ckpt_interval=train_cfg.get("ckpt_interval", 0),
                      keep_ckpts=train_cfg.get("keep_ckpts", 3), grad_clip=train_cfg.get("grad_clip"),
                      accumulate=train_cfg.get("accumulate", 1), amp=train_cfg.get("amp", False),
                      hooks=hooks)
        if is_main_process():
            cfg.dump(work_dir / "config.py")
        if resume:
            path = None if resume is True else Path(resume)
            trainer.resume(path)
        return trainer

    # -- logging ---------------------------------------------------------------------------------
    def log_record(self, record: dict) -> None:
        if not is_main_process():
            return
        line = dumps_record(record)
        with open(self.work_dir / "metrics.jsonl", "a") as f:
            f.write(line + "\n")
        self.log_text(line)

    def log_text(self, text: str) -> None:
        if not is_main_process():
            return
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        with open(self.work_dir / "log.txt", "a") as f:
            f.write(f"{stamp} {text}\n")

    # -- checkpoints -----------------------------------------------------------------------------
    def save_checkpoint(self, keep: int | None = 3) -> Path | None:
        if not is_main_process():
            return None
        meta = {"epoch": self.epoch, "seed": self.seed, "world_size": self.world_size,
                "config": self.cfg.pretty_text if self.cfg is not None else None}
        path = ckpt.save_checkpoint(self.work_dir, self.iter, self.model, self.optimizer, meta, keep=keep)
        self.log_text(f"saved checkpoint {path}")
        return path

    def resume(self, path: str | os.PathLike | None = None) -> None:
        """Continue from ``path`` (default: the work dir's latest checkpoint)."""
        if path is None:
            path = ckpt.find_latest(self.work_dir)
            if path is None:
                self.log_text(f"--resume: no checkpoint in {self.work_dir}, starting from scratch")
                if is_main_process():
                    print(f"--resume: no checkpoint in {self.work_dir}; starting from iteration 0")
                return
        state = ckpt.load_checkpoint(path)
        load_model_state(self.model, state["model"], source=str(path))
        if state.get("optimizer") is not None:
            self.optimizer.load_state_dict(state["optimizer"])
        meta = state["meta"]
        self.iter = int(meta["iter"])
        self.epoch = int(meta.get("epoch", 0))
        if meta.get("seed", self.seed) != self.seed:
            raise ValueError(f"checkpoint {path} was trained with seed {meta['seed']}, the config says "
                             f"{self.seed}; an exact resume needs the same seed")
        self.log_text(f"resumed from {path} at iteration {self.iter}")

    # -- the loop --------------------------------------------------------------------------------
    def _call(self, event: str, *args) -> None:
        for hook in self.hooks:
            getattr(hook, event)(self, *args)

    def _seed_iteration(self) -> None:
        seed_everything(_iteration_seed(self.seed, self.iter, self.rank))

    def train_iteration(self, data_iter) -> dict:
        """One optimizer step over ``accumulate`` batches; returns the logged scalars."""
        logs: dict[str, float] = {}
        losses = []
        for micro in range(self.accumulate):
            self.epoch, batch = next(data_iter)
            batch["_rng"] = np.random.default_rng([self.seed, self.iter, micro, self.rank])
            outputs = self.model.train_step(batch)
            if not isinstance(outputs, dict) or "loss" not in outputs:
                raise TypeError(f"{type(self.model).__name__}.train_step must return a dict with 'loss', "
                                f"got {type(outputs).__name__}")
            loss = outputs["loss"]
            self.optimizer.backward(loss / self.accumulate if self.accumulate > 1 else loss)
            losses.append(loss)
            for key, value in outputs.items():
                if key != "loss":
                    logs[key] = logs.get(key, 0.0) + _scalar(value) / self.accumulate
        if self.grad_clip:
            logs["grad_norm"] = clip_grad_norm(self.optimizer, self.grad_clip)
        self.optimizer.step()
        jt.sync_all()
        loss_value = sum(_scalar(v) for v in losses) / len(losses)
        if not math.isfinite(loss_value):
            last = ckpt.find_latest(self.work_dir)
            raise NonFiniteLossError(
                f"loss is {loss_value} at iteration {self.iter + 1}; stopping. Last good checkpoint: "
                f"{last if last else 'none saved yet'}" + (" (continue with --resume)" if last else ""))
        logs["loss"] = loss_value
        return logs

    def run(self) -> None:
        if self.amp:
            if jt.flags.use_cuda:
                jt.flags.auto_mixed_precision_level = 5
            else:
                self.log_text("train.amp ignored: mixed precision needs CUDA")
        self.model.train()
        self._call("before_run")
        data_iter = self.train_loader.iter_from(self.iter * self.accumulate)
        try:
            while self.iter < self.max_iters:
                self._call("before_iter")
                self._seed_iteration()
                logs = self.train_iteration(data_iter)
                self.iter += 1
                self._call("after_iter", logs)
        finally:
            self._call("after_run")
            self.train_loader.close()
        barrier()

    def evaluate(self) -> dict:
        return evaluate(self.model, self.val_loader, self.metric)



def load_model_state(model, state: dict, source: str = "state dict") -> None:
    """Strictly load one of our checkpoints' ``{name: array}`` (no prefix guessing, no table on success)."""
    load_state_dict(model, state, strict=True, prefix=None, source=source, log=None)
