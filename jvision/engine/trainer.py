"""The one training loop of every task.

Tasks differ only in their model and metric. The contract a model implements:

* ``train_step(batch) -> {"loss": Var, **logs}``: the trainer runs the backward of ``loss``, clips
  (``train.grad_clip``), checks finiteness and steps the optimizer; or
* ``train_step(batch, optim) -> {"loss": Var, **logs}``: the model steps its optimizer(s) itself
  through the handle ``optim`` (an ``OptimHandle``): ``optim.step(loss)`` with one optimizer,
  ``optim.step("discriminator", loss_d)`` with several (named in the config, see
  ``jvision.engine.optim``). Each call runs the backward of that loss for that optimizer's
  parameters and, at the last micro-batch of the iteration, clips, checks and updates. The trainer
  then runs no backward of its own; the returned ``loss`` (and every other entry) is only logged.
* ``val_step(batch) -> outputs``, consumed by the metric (``reset / process(batch, outputs) /
  evaluate() -> dict``, all-reduced over MPI ranks).
* optionally ``after_train_iter(iteration, max_iters)``: called after the update(s) of every
  iteration (``iteration`` is the 0-based index of the iteration just done), e.g. for the momentum
  target encoder of CMAE. Keep such state in the model's parameters or buffers: checkpoints and
  resume carry the state dict.
* per-sample randomness (dropout, drop path, masking noise, NMF bases) drawn with
  ``jvision.ops.random.sample_uniform``, which the trainer keys by (seed, iteration, global sample
  index); ``batch["_rng"]`` is a NumPy generator of (seed, iteration, micro-batch, rank) for
  per-batch choices (Mixup's lambda).

Everything else lives here once: the iteration loop, gradient accumulation (``train.accumulate``
micro-batches per update, also with several optimizers), clipping, mixed precision
(``train.amp``, ``jvision.engine.amp``), the LR schedule (per optimizer, from its own base lr),
logging and progress bars, evaluation, checkpoints, exact resume, MPI data parallelism.

Determinism: the model is built under the run's seed (and rank 0's weights broadcast), the data order
and augmentation follow the seed (``jvision.data.loader``), per-sample randomness is keyed by the
global sample index, and Python's, NumPy's and Jittor's generators are re-seeded from (seed,
iteration, rank) at every iteration. A resumed run continues bit-for-bit like an uninterrupted one,
and ``mpirun -np N`` ends where one process with the same global batch ends (up to float rounding
of the gradient all-reduce) unless a model mixes samples within a rank's batch (batch Mixup/CutMix).

Failure: a non-finite loss (or gradient norm) stops every rank at the same iteration (the logged
values are all-reduced first) with ``NonFiniteLossError`` naming the last good checkpoint of this run;
after any error no hook's ``after_iter``/``after_run`` runs (no evaluation, picture or checkpoint of
corrupted weights), only ``after_failure``, and the original error is what the user sees.
"""
from __future__ import annotations

import importlib
import inspect
import math
import os
import random
import time
from pathlib import Path
from typing import Any, Mapping

import numpy as np

import jittor as jt

from ..config import Config, ConfigError
from ..convert import load_state_dict
from ..data.loader import DataLoader
from ..ops.random import sample_context
from ..registry import DATASETS, HOOKS, METRICS, MODELS
from . import checkpoint as ckpt
from .amp import AmpPolicy, LossScaler, parse_amp
from .dist import all_reduce, barrier, broadcast_parameters, get_rank, get_world_size, is_distributed, is_main_process
from .hooks import CheckpointHook, EvalHook, Hook, LoggerHook, LRScheduleHook, dumps_record
from .optim import OptimizerSet, build_optimizer, clip_grad_norm, optimizers_of
from .progress import ProgressBar
from .schedule import build_schedule
from .workdir import prepare_work_dir, truncate_metrics

__all__ = ["Trainer", "OptimHandle", "NonFiniteLossError", "ResumeError", "evaluate", "build_val_loader",
           "import_custom", "load_model_state", "model_config_for_checkpoint"]

#: Model config keys that may change between a run and its resume.
RESUME_FREE_MODEL_KEYS = ("pretrained", "init_cfg", "test_cfg")


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or infinite; the message names the iteration and the last good checkpoint."""


class ResumeError(ValueError):
    """The checkpoint does not belong to the run the config describes; the message lists what differs."""


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


def _takes_optim(model) -> bool:
    params = [p for p in inspect.signature(model.train_step).parameters.values()
              if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(params) >= 2


def _plain(value):
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _differences(saved, now, path: str) -> list[str]:
    if isinstance(saved, dict) and isinstance(now, dict):
        out = []
        for key in sorted(set(saved) | set(now), key=str):
            out += _differences(saved.get(key, "<absent>"), now.get(key, "<absent>"), f"{path}.{key}")
        return out
    return [] if saved == now else [f"{path} {saved!r} (checkpoint) vs {now!r} (config)"]


def model_config_for_checkpoint(model_cfg) -> dict:
    """``model_cfg`` without its initialisation sources (``pretrained`` / ``init_cfg`` at any depth):
    for building a model whose weights all come from a checkpoint next (testing, inference,
    conversion), so a training-time file such as a backbone's ImageNet weights or the E2FGVI
    demo's warm-up run need not exist and is not read for nothing."""
    if isinstance(model_cfg, Mapping):
        return {k: model_config_for_checkpoint(v) for k, v in model_cfg.items() if k not in ("pretrained", "init_cfg")}
    if isinstance(model_cfg, (list, tuple)):
        return type(model_cfg)(model_config_for_checkpoint(v) for v in model_cfg)
    return model_cfg


def import_custom(cfg: Config) -> None:
    """Import the packages a config names in ``custom_imports`` (so their registries fill)."""
    for module in cfg.get("custom_imports", []) or []:
        importlib.import_module(module)


def build_val_loader(cfg: Config, split: str = "val") -> DataLoader | None:
    """The evaluation loader of ``data.<split>``: each rank takes every world-th sample of the whole
    set (batches of ``ceil(val_batch_size / world_size)``), so no rank idles."""
    data = cfg.get("data", {})
    if not data.get(split):
        return None
    return DataLoader(DATASETS.build(data[split]), batch_size=data.get("val_batch_size", 1), shuffle=False,
                      drop_last=False, seed=cfg.get("train", {}).get("seed", 0),
                      num_workers=data.get("num_workers", 0), rank=get_rank(), world_size=get_world_size())


def evaluate(model, loader: DataLoader, metric, desc: str = "val") -> dict:
    """Run ``model.val_step`` over ``loader`` (this rank's shard) with a progress bar on rank 0 and
    return the all-reduced metrics."""
    was_training = model.is_training()
    model.eval()
    metric.reset()
    bar = ProgressBar(loader.num_batches(), desc, unit="batch")
    try:
        with jt.no_grad():
            for batch in loader:
                metric.process(batch, model.val_step(batch))
                bar.update()
        return metric.evaluate()
    finally:
        bar.close()
        if was_training:
            model.train()


def load_model_state(model, state: dict, source: str = "state dict") -> None:
    """Strictly load one of our checkpoints' ``{name: array}`` (no prefix guessing, no table on success)."""
    load_state_dict(model, state, strict=True, prefix=None, source=source, log=None)


class OptimHandle:
    """What ``train_step(batch, optim)`` steps its optimizer(s) with (see the module docstring).

    ``step(loss)`` / ``step(name, loss)``: backward of ``loss`` for that optimizer's parameters
    (scaled for gradient accumulation and, in float16 training, by the loss scale); at the last
    micro-batch of the iteration also unscale and check (float16), clip (``train.grad_clip``), check
    the norm is finite, and update. ``names``: the optimizers the config defines.
    """

    def __init__(self, trainer: "Trainer"):
        self._trainer = trainer
        self.micro = 0
        self.stepped: set[str] = set()
        self.logs: dict[str, float] = {}
        self.found_inf = False

    @property
    def names(self) -> list[str]:
        return list(self._trainer.optimizers)

    def _resolve(self, name: str | None) -> str:
        names = self.names
        if name is None:
            if len(names) > 1:
                raise TypeError(f"optim.step(loss) needs the optimizer's name: the config defines {', '.join(names)} "
                                f"(optim.step({names[0]!r}, loss))")
            return names[0]
        if name not in self._trainer.optimizers:
            if len(names) == 1:
                raise KeyError(f"optim.step({name!r}, ...): the config defines one optimizer; call optim.step(loss)")
            raise KeyError(f"optim.step({name!r}, ...): no such optimizer; the config defines {', '.join(names)}")
        return name

    def step(self, name_or_loss, loss=None, retain_graph: bool = False) -> None:
        name = None if loss is None else name_or_loss
        loss = name_or_loss if loss is None else loss
        name = self._resolve(name)
        t = self._trainer
        opt = t.optimizers[name]
        scaler = t.loss_scaler
        if t.sync_after_forward:
            # A graph cut: run the forward now; the backward graph is built on computed values.
            value = t.all_reduce_mean(_scalar(loss))
            if not math.isfinite(value):
                if scaler is None:
                    raise t.non_finite(f"loss is {value}", before_update=True)
                self.found_inf = True
        scale = (scaler.scale if scaler is not None else 1.0) / t.accumulate
        with t.amp.scope():
            opt.backward(loss * scale if scale != 1.0 else loss, retain_graph)
        self.stepped.add(name)
        if self.micro == t.accumulate - 1:
            t.update(name, opt, self)


class Trainer:
    """Iteration-based trainer (see the module docstring). Build it with ``Trainer.from_config``."""

    def __init__(self, model, optimizer, train_loader: DataLoader, *, max_iters: int, work_dir: str | os.PathLike,
                 schedule=None, val_loader: DataLoader | None = None, metric=None, cfg: Config | None = None,
                 seed: int = 0, log_interval: int = 10, val_interval: int = 0, ckpt_interval: int = 0,
                 keep_ckpts: int = 3, grad_clip: float | dict | None = None, accumulate: int = 1,
                 amp: bool | str = False, sync_after_forward: bool = True, loss_scaler: LossScaler | None = None,
                 hooks: list[Hook] | None = None, name: str | None = None):
        if accumulate < 1:
            raise ValueError(f"train.accumulate must be >= 1, got {accumulate}")
        self.model, self.optimizer = model, optimizer
        self.optimizers = optimizers_of(optimizer)
        self.takes_optim = _takes_optim(model)
        if isinstance(optimizer, OptimizerSet) and not self.takes_optim:
            raise TypeError(f"the config defines several optimizers ({', '.join(self.optimizers)}), so "
                            f"{type(model).__name__}.train_step must take a second argument and step them: "
                            "train_step(self, batch, optim) with optim.step(name, loss)")
        self.train_loader, self.val_loader, self.metric = train_loader, val_loader, metric
        if val_loader is not None and metric is None:
            raise ValueError("a validation set was given without a metric (config key evaluation.metric)")
        self.max_iters, self.seed, self.accumulate = int(max_iters), int(seed), int(accumulate)
        self.schedule = schedule or build_schedule(None, optimizer.lr, self.max_iters)
        self.grad_clip = grad_clip.get("max_norm") if isinstance(grad_clip, dict) else grad_clip
        self.amp = AmpPolicy(parse_amp(amp))
        self.loss_scaler = loss_scaler if loss_scaler is not None else self.amp.scaler
        self.sync_after_forward = bool(sync_after_forward)
        self.keep_ckpts = int(keep_ckpts)
        self.cfg = cfg
        self.name = name or (cfg.name if cfg is not None else "run")
        self.work_dir = Path(work_dir)
        self.rank, self.world_size = get_rank(), get_world_size()
        self.iter, self.epoch = 0, 0
        self.samples_per_iter = train_loader.batch_size * self.accumulate
        self.run_checkpoints: list[Path] = []  # this run's checkpoints, oldest first (pruned to keep_ckpts)
        self.progress: ProgressBar | None = None  # the training bar while it is shown
        self.hooks = sorted([LRScheduleHook(), LoggerHook(log_interval), EvalHook(val_interval),
                             CheckpointHook(ckpt_interval, keep_ckpts)] + list(hooks or []),
                            key=lambda h: h.priority)
        if is_main_process():
            self.work_dir.mkdir(parents=True, exist_ok=True)

    # -- construction from a config ------------------------------------------------------------
    @classmethod
    def from_config(cls, cfg: Config, work_dir: str | os.PathLike | None = None,
                    resume: str | os.PathLike | bool | None = None, force: bool = False) -> "Trainer":
        """Validate ``cfg``, prepare the work dir (``jvision.engine.workdir``), build everything and,
        with ``resume``, continue from the work dir's latest checkpoint (``True``) or a file."""
        import_custom(cfg)
        cfg.validate()
        train_cfg = dict(cfg.get("train", {}))
        data_cfg = dict(cfg.get("data", {}))
        where = f"config {cfg.filename}: " if cfg.filename else "config: "
        for key in ("model", "optimizer"):
            if key not in cfg:
                raise ConfigError(f"{where}section {key!r} is required for training")
        if "max_iters" not in train_cfg:
            raise ConfigError(f"{where}train.max_iters is required for training")
        if not data_cfg.get("train") or "batch_size" not in data_cfg:
            raise ConfigError(f"{where}data.train and data.batch_size are required for training")
        seed = int(train_cfg.get("seed", 0))
        work_dir = Path(work_dir or cfg.get("work_dir") or Path("work_dirs") / cfg.name)
        archived = prepare_work_dir(work_dir, resume, force, is_main_process())
        if archived is not None:
            print(f"--force: the previous run in {work_dir} moved to {archived}")

        seed_everything(seed)  # same initial weights on every rank
        model = MODELS.build(cfg.model)
        # Jittor draws random initial values lazily, when a parameter is first computed: materialise
        # them now, under the run's seed, before the per-iteration re-seeding starts.
        jt.sync(list(model.state_dict().values()))
        broadcast_parameters(model)
        optimizer = build_optimizer(model, cfg.optimizer)
        schedule = build_schedule(cfg.get("schedule"), optimizer.lr, train_cfg["max_iters"])
        train_loader = DataLoader(DATASETS.build(data_cfg["train"]), batch_size=data_cfg["batch_size"],
                                  shuffle=True, drop_last=True, seed=seed,
                                  num_workers=data_cfg.get("num_workers", 0), rank=get_rank(),
                                  world_size=get_world_size())
        val_loader = build_val_loader(cfg, "val")
        metric = METRICS.build(cfg.evaluation["metric"]) if cfg.get("evaluation") else None
        hooks = [HOOKS.build(h) for h in cfg.get("custom_hooks", []) or []]
        trainer = cls(model, optimizer, train_loader, max_iters=train_cfg["max_iters"], work_dir=work_dir,
                      schedule=schedule, val_loader=val_loader, metric=metric, cfg=cfg, seed=seed,
                      log_interval=train_cfg.get("log_interval", 10),
                      val_interval=train_cfg.get("val_interval", 0),
                      ckpt_interval=train_cfg.get("ckpt_interval", 0),
                      keep_ckpts=train_cfg.get("keep_ckpts", 3), grad_clip=train_cfg.get("grad_clip"),
                      accumulate=train_cfg.get("accumulate", 1), amp=train_cfg.get("amp", False),
                      sync_after_forward=train_cfg.get("sync_after_forward", True), hooks=hooks)
        if resume:
            trainer.resume(None if resume is True else resume)
        if is_main_process():
            cfg.dump(work_dir / "config.py")
        return trainer

    # -- console and logs ------------------------------------------------------------------------
    def console(self, text: str) -> None:
        """A line for the user (rank 0), above the progress bar when one is shown, and in log.txt."""
        if not is_main_process():
            return
        if self.progress is not None:
            self.progress.write(text)
        else:
            print(text, flush=True)
        self.log_text(text)

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
    def run_record(self) -> dict:
        """What a resume must find unchanged (checked by ``resume``)."""
        model_cfg = _plain(self.cfg.to_dict().get("model")) if self.cfg is not None else None
        return {"max_iters": self.max_iters, "global_batch": self.samples_per_iter, "world_size": self.world_size,
                "seed": self.seed, "model": model_cfg}

    def save_checkpoint(self, keep: int | None = None) -> Path | None:
        """Save this iteration's checkpoint and keep this run's newest ``keep`` (default train.keep_ckpts).
        Rank 0 writes; every rank records the path (error messages name it on every rank)."""
        if not is_main_process():
            path = self.work_dir / f"iter_{self.iter:07d}.pkl"
            self.run_checkpoints = (self.run_checkpoints + [path])[-(keep or self.keep_ckpts):]
            return None
        meta = {"epoch": self.epoch, "seed": self.seed, "world_size": self.world_size,
                "config": self.cfg.pretty_text if self.cfg is not None else None, "run": self.run_record(),
                "loss_scaler": self.loss_scaler.state_dict() if self.loss_scaler is not None else None}
        path = ckpt.save_checkpoint(self.work_dir, self.iter, self.model, self.optimizer, meta)
        if path not in self.run_checkpoints:
            self.run_checkpoints.append(path)
        self.run_checkpoints = ckpt.prune_checkpoints(self.run_checkpoints, keep or self.keep_ckpts)
        self.log_text(f"saved checkpoint {path}")
        return path

    def _check_resume(self, path: Path, meta: dict) -> None:
        run = meta.get("run")
        if not isinstance(run, dict):
            self.console(f"warning: {path} carries no run record (an older checkpoint): max_iters, batch and model "
                         "cannot be checked against the config")
            return
        now = self.run_record()
        problems = []
        for key, label in (("max_iters", "train.max_iters"), ("global_batch", "global batch (data.batch_size x "
                                                                               "train.accumulate)"),
                           ("seed", "train.seed")):
            if run.get(key) != now[key]:
                problems.append(f"{label} {run.get(key)!r} (checkpoint) vs {now[key]!r} (config)")
        if run.get("model") is not None and now["model"] is not None:
            saved = {k: v for k, v in run["model"].items() if k not in RESUME_FREE_MODEL_KEYS}
            current = {k: v for k, v in now["model"].items() if k not in RESUME_FREE_MODEL_KEYS}
            problems += _differences(saved, current, "model")
        if problems:
            raise ResumeError(f"cannot resume from {path}: it belongs to another run: {'; '.join(problems)}. Resume "
                              f"with that run's config ({path.parent / 'config.py'}), or start a new run "
                              "with --force")
        if run.get("world_size") != self.world_size:
            self.console(f"warning: {path} was trained by {run.get('world_size')} process(es), this run has "
                         f"{self.world_size}: data order and per-sample randomness are the same, sums are rounded "
                         "differently, and batch Mixup/CutMix pairs other images")

    def resume(self, path: str | os.PathLike | None = None) -> None:
        """Continue from ``path`` (default: the work dir's latest readable checkpoint), after checking
        it belongs to this run (``max_iters``, global batch, seed, model); says so on the console."""
        if path is None:
            found = ckpt.read_latest(self.work_dir, warn=self.console)
            if found is None:
                self.console(f"--resume: no checkpoint in {self.work_dir}; starting from iteration 0")
                if is_main_process():
                    truncate_metrics(self.work_dir / "metrics.jsonl", 0)
                return
            path, state = found
        else:
            path = Path(path)
            state = ckpt.read_training_checkpoint(path)
        meta = state["meta"]
        self._check_resume(path, meta)
        load_model_state(self.model, state["model"], source=str(path))
        if state.get("optimizer") is not None:
            try:
                self.optimizer.load_state_dict(state["optimizer"])
            except (ValueError, KeyError) as exc:
                raise ResumeError(f"cannot resume the optimizer from {path}: {exc}") from None
        if self.loss_scaler is not None and meta.get("loss_scaler"):
            self.loss_scaler.load_state_dict(meta["loss_scaler"])
        self.iter = int(meta["iter"])
        self.epoch = int(meta.get("epoch", 0))
        if path.resolve().parent == self.work_dir.resolve():
            self.run_checkpoints = [p for p in ckpt.list_checkpoints(self.work_dir)
                                    if (ckpt.checkpoint_iteration(p) or 0) <= self.iter]
        if is_main_process():
            truncate_metrics(self.work_dir / "metrics.jsonl", self.iter)
        self.console(f"resumed from {path} at iteration {self.iter} of {self.max_iters}")

    # -- the loop --------------------------------------------------------------------------------
    def _call(self, event: str, *args) -> None:
        for hook in self.hooks:
            getattr(hook, event)(self, *args)

    def _call_failure(self, exc: BaseException) -> None:
        for hook in self.hooks:
            try:
                hook.after_failure(self, exc)
            except Exception as second:  # noqa: BLE001 - never hide the original error
                self.log_text(f"hook {type(hook).__name__} failed while handling the error: {second!r}")

    def _seed_iteration(self) -> None:
        seed_everything(_iteration_seed(self.seed, self.iter, self.rank))

    def all_reduce_mean(self, value: float) -> float:
        """``value`` averaged over ranks (itself with one process): a NaN anywhere is a NaN everywhere."""
        return float(all_reduce(np.array([value], np.float64), "mean")[0]) if is_distributed() else value

    def non_finite(self, what: str, before_update: bool = False) -> NonFiniteLossError:
        last = self.run_checkpoints[-1] if self.run_checkpoints else None
        state = " (the weights in memory were not updated)" if before_update else ""
        return NonFiniteLossError(
            f"{what} at iteration {self.iter + 1}; stopping{state}. Last good checkpoint: "
            f"{last if last else 'none saved yet'}" + (" (continue with --resume)" if last else ""))

    def update(self, name: str, opt, handle: OptimHandle) -> None:
        """Unscale and check (float16), clip, check and step one optimizer (its gradients are ready)."""
        if self.loss_scaler is not None and not self.loss_scaler.unscale_and_check(opt):
            opt.zero_grad()  # skip this step; the scaler halves its scale at the end of the iteration
            handle.found_inf = True
            return
        if self.grad_clip:
            norm = clip_grad_norm(opt, self.grad_clip)
            handle.logs["grad_norm" if len(self.optimizers) == 1 else f"grad_norm.{name}"] = norm
            if not math.isfinite(norm):
                raise self.non_finite(f"gradient norm of optimizer {name!r} is {norm}", before_update=True)
        with self.amp.full_precision():
            opt.step()

    def train_iteration(self, data_iter) -> dict:
        """One update (``accumulate`` micro-batches); returns the logged scalars, averaged over ranks."""
        handle = OptimHandle(self)
        values: dict[str, list] = {}
        micro_batch = self.train_loader.batch_size
        for micro in range(self.accumulate):
            self.epoch, batch = next(data_iter)
            handle.micro = micro
            batch["_rng"] = np.random.default_rng([self.seed, self.iter, micro, self.rank])
            offset = micro * micro_batch + self.rank * self.train_loader.local_batch
            with sample_context(self.seed, self.iter, offset):
                with self.amp.scope():
                    batch = self.amp.cast_batch(batch)
                    outputs = self.model.train_step(batch, handle) if self.takes_optim else self.model.train_step(batch)
                if not isinstance(outputs, dict) or "loss" not in outputs:
                    raise TypeError(f"{type(self.model).__name__}.train_step must return a dict with 'loss', "
                                    f"got {type(outputs).__name__}")
                loss = outputs["loss"]
                for key, value in outputs.items():
                    values.setdefault(key, []).append(value)
                del outputs, batch  # the backward needs the graph, not these references
                if not self.takes_optim:
                    handle.step(loss)
        if self.takes_optim:
            missing = set(self.optimizers) - handle.stepped
            if missing == set(self.optimizers):
                raise RuntimeError(f"{type(self.model).__name__}.train_step(batch, optim) returned without calling "
                                   "optim.step(...): nothing was trained")
        jt.sync_all()
        logs = {key: sum(_scalar(v) for v in vs) / len(vs) for key, vs in values.items()}
        logs.update(handle.logs)
        if self.loss_scaler is not None:
            logs["loss_scale"] = self.loss_scaler.scale      # the scale this iteration used
            logs["step_skipped"] = float(handle.found_inf)
        if is_distributed():
            keys = sorted(logs)
            reduced = all_reduce(np.array([logs[k] for k in keys], np.float64), "mean")
            logs = {k: float(v) for k, v in zip(keys, reduced)}
        if self.loss_scaler is not None:
            if not self.loss_scaler.update(handle.found_inf):
                raise self.non_finite(f"the float16 loss scale fell to {self.loss_scaler.scale:g} after "
                                      f"{self.loss_scaler.skipped} skipped steps (the loss is {logs['loss']})")
        elif not math.isfinite(logs["loss"]):
            raise self.non_finite(f"loss is {logs['loss']}")
        if hasattr(self.model, "after_train_iter"):
            self.model.after_train_iter(self.iter, self.max_iters)
        return logs

    def run(self) -> None:
        if self.amp.warning:
            self.console(f"warning: {self.amp.warning}")
        if self.iter >= self.max_iters:
            self.console(f"the run in {self.work_dir} is complete (iteration {self.iter} of {self.max_iters}); "
                         "nothing to train")
            return
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
        except BaseException as exc:
            self._call_failure(exc)
            raise
        finally:
            self.train_loader.close()
        self._call("after_run")
        barrier()

    def evaluate(self) -> dict:
        return evaluate(self.model, self.val_loader, self.metric)

