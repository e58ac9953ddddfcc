"""The config sections the engine reads, declared for ``Config.validate`` (see ``jvision.config``).

``model``, ``data``, ``optimizer``, ``schedule``, ``train``, ``evaluation``, ``custom_hooks``,
``custom_imports`` and ``work_dir``. Anything built from a registry (the model, datasets and their
pipelines, the metric, hooks) is checked against the constructor's signature: unknown arguments and
values of the wrong simple type are named before anything is built.
"""
from __future__ import annotations

from ..config import ConfigError, Field, Schema, check_buildable, register_section
from ..registry import DATASETS, HOOKS, METRICS, MODELS, TRANSFORMS, check_arguments
from .optim import OPTIMIZERS, is_multi_optimizer_config
from .schedule import LRSchedule

__all__ = ["TRAIN", "DATA", "SCHEDULE", "OptimizerSection"]


def _amp_value(value) -> str | None:
    return None if value in (False, True, "float16", "bfloat16") else "expected False, True, 'float16' or 'bfloat16'"


TRAIN = Schema({
    "max_iters": Field(int, min=1, doc="iterations to train"),
    "log_interval": Field(int, min=1),
    "val_interval": Field(int, min=0, doc="0: evaluate only after the last iteration"),
    "ckpt_interval": Field(int, min=0, doc="0: save only after the last iteration"),
    "keep_ckpts": Field(int, min=1, doc="this run's newest checkpoints to keep"),
    "grad_clip": Field((float, dict), nullable=True, greater=0.0,
                       expect="a number > 0, dict(max_norm=number > 0) or None",
                       check=lambda v: None if not isinstance(v, dict) or (set(v) == {"max_norm"} and isinstance(
                           v["max_norm"], (int, float)) and v["max_norm"] > 0)
                       else "expected a number > 0, dict(max_norm=number > 0) or None"),
    "accumulate": Field(int, min=1, doc="micro-batches per optimizer step"),
    "amp": Field((bool, str), check=_amp_value, expect="False, True, 'float16' or 'bfloat16'"),
    "seed": Field(int, min=0),
    "sync_after_forward": Field(bool, doc="run the forward before building the backward (default True)"),
}, doc="training loop settings")


def _check_pipelines(data: dict, path: str) -> None:
    for split in ("train", "val", "test"):
        spec = data.get(split)
        if not isinstance(spec, dict) or not isinstance(spec.get("pipeline"), (list, tuple)):
            continue
        for i, step in enumerate(spec["pipeline"]):
            if isinstance(step, dict):
                check_buildable(step, TRANSFORMS, f"{path}.{split}.pipeline.{i}")


DATA = Schema({
    "batch_size": Field(int, min=1, doc="global training batch, split across MPI ranks"),
    "val_batch_size": Field(int, min=1, doc="global evaluation batch"),
    "num_workers": Field(int, min=0),
    "train": Field(dict, registry=DATASETS, nullable=True),
    "val": Field(dict, registry=DATASETS, nullable=True),
    "test": Field(dict, registry=DATASETS, nullable=True),
}, check=_check_pipelines, doc="datasets and batches")

SCHEDULE = Schema({
    "type": Field(str, choices=("constant", "poly", "cosine", "step")),
    "power": Field(float, min=0.0),
    "min_lr": Field(float, min=0.0),
    "steps": Field(list, items=Field(int, min=0)),
    "gamma": Field(float, greater=0.0),
    "warmup_iters": Field(int, min=0),
    "warmup_ratio": Field(float, min=0.0, max=1.0),
    "anneal_after_warmup": Field(bool),
}, doc="learning-rate schedule")
assert set(SCHEDULE.fields) == set(LRSchedule.__dataclass_fields__) - {"base_lr", "max_iters"}

_FRACTION = Field(float, min=0.0, max=1.0)
PARAMWISE = Schema({
    "norm_decay_mult": Field(float, min=0.0),
    "bias_decay_mult": Field(float, min=0.0),
    "no_decay_keys": Field(list, items=Field(str)),
    "custom_keys": Field(dict, check=lambda v: next((
        f"custom_keys[{k!r}] = {m!r}: expected dict(lr_mult=number >= 0, decay_mult=number >= 0)"
        for k, m in v.items() if not isinstance(m, dict) or set(m) - {"lr_mult", "decay_mult"}
        or any(not isinstance(x, (int, float)) or isinstance(x, bool) or x < 0 for x in m.values())), None)),
    "layer_decay": Field(float, greater=0.0, max=1.0, nullable=True),
    "num_layers": Field(int, min=1, nullable=True),
}, doc="per-parameter lr and weight-decay multipliers")

#: Ranges of the hyper-parameters the optimizers share; other arguments are checked by signature.
OPTIMIZER_FIELDS = {
    "lr": Field(float, greater=0.0, required=True),
    "weight_decay": Field(float, min=0.0),
    "betas": Field(list, length=2, items=Field(float, min=0.0, max=0.999999)),
    "eps": Field(float, greater=0.0),
    "momentum": _FRACTION,
    "nesterov": Field(bool),
}


class OptimizerSection:
    """``optimizer``: one optimizer config, or a dict of named ones (``jvision.engine.optim``)."""

    required = False
    doc = "optimizer(s)"

    def validate(self, value, path: str) -> None:
        if not isinstance(value, dict):
            raise ConfigError(f"{path} = {value!r}: expected a dict such as dict(type='AdamW', lr=1e-3)")
        if is_multi_optimizer_config(value):
            for name, sub in value.items():
                self._one(sub, f"{path}.{name}", allow_modules=True)
        else:
            self._one(value, path, allow_modules=False)

    @staticmethod
    def _one(cfg: dict, path: str, allow_modules: bool) -> None:
        typ = cfg.get("type", "AdamW")
        if typ not in OPTIMIZERS:
            raise ConfigError(f"{path}.type = {typ!r}: expected one of {', '.join(map(repr, sorted(OPTIMIZERS)))}")
        cls = OPTIMIZERS[typ]
        args = {k: v for k, v in cfg.items() if k not in ("type", "paramwise", "modules")}
        if "modules" in cfg:
            if not allow_modules:
                raise ConfigError(f"unknown key {path}.modules: 'modules' belongs to one of several named "
                                  "optimizers, optimizer=dict(NAME=dict(type=..., lr=..., modules=[...]))")
            Field(list, items=Field(str)).validate(cfg["modules"], f"{path}.modules")
        if "lr" not in args:
            raise ConfigError(f"{path}.lr is required (the base learning rate)")
        for key, value in args.items():
            if key in OPTIMIZER_FIELDS:
                OPTIMIZER_FIELDS[key].validate(value, f"{path}.{key}")
        try:
            check_arguments(cls, {"params": None, **args}, "optimizer")
        except TypeError as exc:
            raise ConfigError(f"{path}: {exc.args[0]}") from None
        if "paramwise" in cfg and cfg["paramwise"] is not None:
            PARAMWISE.validate(cfg["paramwise"], f"{path}.paramwise")


register_section("model", Field(dict, registry=MODELS, doc="the network"))
register_section("data", DATA)
register_section("optimizer", OptimizerSection())
register_section("schedule", SCHEDULE)
register_section("train", TRAIN)
register_section("evaluation", Schema({"metric": Field(dict, registry=METRICS, required=True)}, doc="the metric"))
register_section("custom_hooks", Field(list, items=Field(dict, registry=HOOKS)))
register_section("custom_imports", Field(list, items=Field(str)))
register_section("work_dir", Field(str, nullable=True))
