"""Optimizers with PyTorch's semantics and defaults, and parameter groups built from config.

Why our own: Jittor's ``AdamW`` defaults to ``weight_decay=0`` (PyTorch: 0.01) and its
``state_dict`` does not round-trip the moment estimates and step count needed for an exact resume.
The classes below subclass ``jt.optim.Optimizer`` so gradient computation, accumulation and MPI
gradient averaging stay Jittor's. ``AdamW`` decays weights decoupled from the gradient, ``Adam`` and
``SGD`` add ``weight_decay * param`` to the gradient (L2), all as in PyTorch.

Parameter groups (``paramwise`` in the optimizer config)::

    optimizer = dict(type="AdamW", lr=6e-5, weight_decay=0.01,
                     paramwise=dict(norm_decay_mult=0.0,      # norms: no weight decay
                                    bias_decay_mult=0.0,      # biases: no weight decay
                                    no_decay_keys=("pos_embed", "cls_token", "pos_block"),
                                    custom_keys={"head": dict(lr_mult=10.0)},
                                    layer_decay=None))        # e.g. 0.75 for ViT fine-tuning

Each group carries ``base_lr`` (the optimizer's ``lr``), ``lr_mult`` and ``decay_mult``; the LR
schedule sets ``group["lr"]`` from ``base_lr * lr_mult`` at every iteration.

Several optimizers (a GAN's generator and discriminator): a dict of named optimizer configs, with no
top-level ``type``; each covers the parameters of the model's sub-module of that attribute name, or
of the attribute names listed in ``modules``::

    optimizer = dict(generator=dict(type="Adam", lr=1e-4, betas=(0.0, 0.99)),
                     discriminator=dict(type="Adam", lr=1e-4, betas=(0.0, 0.99), modules=["netD"]))

``build_optimizer`` then returns an ``OptimizerSet`` (name -> optimizer). The model steps them in its
``train_step(batch, optim)`` (see ``jvision.engine.trainer``).
"""
from __future__ import annotations

import re
from typing import Callable

import jittor as jt
from jittor import nn

from ..ops.multi_tensor import adamw_update, sgd_update  # one fused update per step (kernel backend)

_NORM_TYPES = tuple(t for t in (getattr(nn, n, None) for n in (
    "BatchNorm", "BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "LayerNorm", "GroupNorm",
    "InstanceNorm", "InstanceNorm2d")) if isinstance(t, type))


#: Group entries that come from the config (a resume keeps the config's values, e.g. a new base lr).
_FROM_CONFIG = ("base_lr", "lr_mult", "decay_mult", "names", "optimizer")


class _StatefulOptimizer(jt.optim.Optimizer):
    """Adds exact ``state_dict``/``load_state_dict`` (moments as numpy, step count, group values)."""

    _buffers: tuple[str, ...] = ()
    _hyper: tuple[str, ...] = ()

    def __init__(self, params, lr: float):
        super().__init__(params, lr)
        self.step_count = 0
        for group in self.param_groups:
            group.setdefault("lr", lr)
            group.setdefault("base_lr", lr)
            group.setdefault("lr_mult", 1.0)
            group.setdefault("decay_mult", 1.0)
            for name in self._buffers:
                group[name] = [jt.zeros(p.shape, p.dtype).stop_grad() for p in group["params"]]

    def add_param_group(self, group):
        for name in self._buffers:
            group[name] = [jt.zeros(p.shape, p.dtype).stop_grad() for p in group["params"]]
        self.param_groups.append(group)

    def state_dict(self) -> dict:
        groups = []
        for group in self.param_groups:
            entry = {k: v for k, v in group.items() if k not in ("params", "grads") + self._buffers}
            for name in self._buffers:
                entry[name] = [b.numpy() for b in group[name]]
            entry["shapes"] = [tuple(p.shape) for p in group["params"]]
            groups.append(entry)
        return {"type": type(self).__name__, "step_count": self.step_count, "lr": self.lr,
                "param_groups": groups}

    def load_state_dict(self, state: dict) -> None:
        if state.get("type") != type(self).__name__:
            raise ValueError(f"optimizer state is for {state.get('type')!r}, this optimizer is "
                             f"{type(self).__name__!r}")
        if len(state["param_groups"]) != len(self.param_groups):
            raise ValueError(f"optimizer state has {len(state['param_groups'])} parameter groups, "
                             f"this optimizer has {len(self.param_groups)}")
        for i, (group, saved) in enumerate(zip(self.param_groups, state["param_groups"])):
            shapes = [tuple(p.shape) for p in group["params"]]
            if [tuple(s) for s in saved["shapes"]] != shapes:
                raise ValueError(f"optimizer state group {i}: parameter shapes differ from the model's "
                                 f"({len(saved['shapes'])} saved vs {len(shapes)} now)")
            for key, value in saved.items():
                if key in self._buffers:
                    for buf, arr in zip(group[key], value):
                        buf.assign(jt.array(arr))
                elif key not in ("shapes",) + _FROM_CONFIG:
                    group[key] = value
        self.step_count = int(state["step_count"])
        self.lr = state["lr"]

    def _live(self):
        """(group, param, grad, *buffers) for every parameter that is trained."""
        for group in self.param_groups:
            bufs = [group[name] for name in self._buffers]
            for i, (p, g) in enumerate(zip(group["params"], group["grads"])):
                if p.is_stop_grad():
                    continue
                yield (group, p, g) + tuple(b[i] for b in bufs)


class AdamW(_StatefulOptimizer):
    """AdamW (decoupled weight decay) with PyTorch's defaults: betas (0.9, 0.999), eps 1e-8, wd 0.01."""

    _buffers = ("exp_avg", "exp_avg_sq")

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.01):
        self.betas, self.eps, self.weight_decay = tuple(betas), eps, weight_decay
        super().__init__(params, lr)

    def step(self, loss=None, retain_graph: bool = False):
        self.pre_step(loss, retain_graph)
        self.step_count += 1
        live = list(self._live())
        adamw_update([x[1] for x in live], [x[2] for x in live], [x[3] for x in live], [x[4] for x in live],
                     [x[0]["lr"] for x in live], [self.weight_decay * x[0].get("decay_mult", 1.0) for x in live],
                     self.betas, self.eps, self.step_count)
        self.post_step()


class Adam(_StatefulOptimizer):
    """Adam with PyTorch's semantics: ``weight_decay`` is L2 added to the gradient (coupled), defaults
    betas (0.9, 0.999), eps 1e-8, no weight decay."""

    _buffers = ("exp_avg", "exp_avg_sq")

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0):
        self.betas, self.eps, self.weight_decay = tuple(betas), eps, weight_decay
        super().__init__(params, lr)

    def step(self, loss=None, retain_graph: bool = False):
        self.pre_step(loss, retain_graph)
        self.step_count += 1
        b1, b2 = self.betas
        bc1 = 1 - b1 ** self.step_count
        bc2 = 1 - b2 ** self.step_count
        for group, p, g, m, v in self._live():
            wd = self.weight_decay * group.get("decay_mult", 1.0)
            if wd:
                g = g + wd * p
            m.update(b1 * m + (1 - b1) * g)
            v.update(b2 * v + (1 - b2) * g * g)
            denom = jt.sqrt(v) / (bc2 ** 0.5) + self.eps
            p.update(p - (group["lr"] / bc1) * m / denom)
        self.post_step()


class SGD(_StatefulOptimizer):
    """SGD with momentum and (coupled) weight decay, PyTorch semantics."""

    _buffers = ("momentum_buffer",)

    def __init__(self, params, lr: float = 0.01, momentum: float = 0.0, weight_decay: float = 0.0,
                 nesterov: bool = False):
        self.momentum, self.weight_decay, self.nesterov = momentum, weight_decay, nesterov
        super().__init__(params, lr)

    def step(self, loss=None, retain_graph: bool = False):
        self.pre_step(loss, retain_graph)
        first = self.step_count == 0
        self.step_count += 1
        live = list(self._live())
        sgd_update([x[1] for x in live], [x[2] for x in live], [x[3] for x in live], [x[0]["lr"] for x in live],
                   [self.weight_decay * x[0].get("decay_mult", 1.0) for x in live], self.momentum, self.nesterov, first)
        self.post_step()


class LARS(_StatefulOptimizer):
    """LARS as MAE's linear probe uses it (``util/lars.py``): for tensors with more than one dimension
    the update ``g + wd * p`` is scaled by ``trust_coefficient * |p| / |g + wd * p|`` (1 when either
    norm is 0); biases and norm parameters get neither decay nor scaling; then heavy-ball momentum
    ``mu = momentum * mu + update`` and ``p -= lr * mu``. Defaults are MAE's (momentum 0.9, trust
    0.001, no weight decay)."""

    _buffers = ("mu",)

    def __init__(self, params, lr: float = 0.0, weight_decay: float = 0.0, momentum: float = 0.9,
                 trust_coefficient: float = 0.001):
        self.weight_decay, self.momentum, self.trust_coefficient = weight_decay, momentum, trust_coefficient
        super().__init__(params, lr)

    def step(self, loss=None, retain_graph: bool = False):
        self.pre_step(loss, retain_graph)
        self.step_count += 1
        for group, p, g, mu in self._live():
            d = g
            if p.ndim > 1:
                wd = self.weight_decay * group.get("decay_mult", 1.0)
                if wd:
                    d = d + wd * p
                p_norm, d_norm = jt.sqrt((p * p).sum()), jt.sqrt((d * d).sum())
                trust = jt.ternary((p_norm > 0) & (d_norm > 0),
                                   self.trust_coefficient * p_norm / jt.maximum(d_norm, 1e-30), jt.ones_like(p_norm))
                d = d * trust
            mu.update(self.momentum * mu + d)
            p.update(p - group["lr"] * mu)
        self.post_step()


OPTIMIZERS: dict[str, Callable] = {"AdamW": AdamW, "Adam": Adam, "SGD": SGD, "LARS": LARS}


# -- parameter groups -------------------------------------------------------------------------

def _is_norm_param(module_of: dict, name: str) -> bool:
    owner = name.rsplit(".", 1)[0] if "." in name else ""
    return isinstance(module_of.get(owner), _NORM_TYPES) or \
        type(module_of.get(owner)).__name__ in ("LayerNorm2d", "GroupNorm", "LayerNorm")


def vit_layer_id(name: str, num_layers: int) -> int:
    """Layer index for layer-wise lr decay (BEiT/MAE rule): embeddings 0, block i -> i+1, rest last.
    A wrapper's ``backbone.`` prefix (``ImageClassifier``) is ignored. ConvMAE's hybrid ConvViT: the
    conv stages ``blocks1`` / ``blocks2`` count as embedding, ``blocks3.i`` as block i."""
    if name.startswith("backbone."):
        name = name[len("backbone."):]
    if name.startswith(("cls_token", "pos_embed", "patch_embed", "mask_token", "dist_token", "blocks1.", "blocks2.")):
        return 0
    m = re.match(r"(?:blocks|layers|blocks3)\.(\d+)\.", name)
    if m:
        return int(m.group(1)) + 1
    return num_layers + 1


def build_param_groups(model: nn.Module, base_lr: float, paramwise: dict | None = None,
                       modules: list[str] | None = None) -> list[dict]:
    """Split ``model``'s trainable parameters (only those under the attribute names ``modules``, if
    given) into groups with ``lr_mult`` / ``decay_mult``."""
    paramwise = dict(paramwise or {})
    norm_decay_mult = paramwise.pop("norm_decay_mult", 1.0)
    bias_decay_mult = paramwise.pop("bias_decay_mult", 1.0)
    no_decay_keys = tuple(paramwise.pop("no_decay_keys", ()))
    custom_keys = dict(paramwise.pop("custom_keys", {}))
    layer_decay = paramwise.pop("layer_decay", None)
    num_layers = paramwise.pop("num_layers", None)
    if paramwise:
        raise KeyError(f"optimizer.paramwise has unknown key(s) {sorted(paramwise)}; known: "
                       "norm_decay_mult, bias_decay_mult, no_decay_keys, custom_keys, layer_decay, num_layers")
    if layer_decay is not None and num_layers is None:
        owner = getattr(model, "backbone", model)
        blocks = getattr(model, "blocks", None) or getattr(owner, "blocks", None) or getattr(owner, "blocks3", None)
        num_layers = len(blocks or []) or None
        if num_layers is None:
            raise ValueError("optimizer.paramwise.layer_decay needs num_layers (the model has no `blocks`)")
    module_of = {name: m for name, m in model.named_modules()}
    prefixes = tuple(f"{m}." for m in modules) if modules is not None else None
    groups: dict[tuple, dict] = {}
    for name, p in model.named_parameters():
        if p.is_stop_grad() or (prefixes is not None and not name.startswith(prefixes)):
            continue
        lr_mult, decay_mult = 1.0, 1.0
        if p.ndim <= 1 and name.endswith("bias"):
            decay_mult = bias_decay_mult
        if _is_norm_param(module_of, name):
            decay_mult = norm_decay_mult
        if any(k in name for k in no_decay_keys):
            decay_mult = 0.0
        for key in sorted(custom_keys, key=len, reverse=True):  # longest key wins, as in mmcv
            if key in name:
                lr_mult *= custom_keys[key].get("lr_mult", 1.0)
                decay_mult *= custom_keys[key].get("decay_mult", 1.0)
                break
        if layer_decay is not None:
            lr_mult *= layer_decay ** (num_layers + 1 - vit_layer_id(name, num_layers))
        key = (lr_mult, decay_mult)
        if key not in groups:
            groups[key] = {"params": [], "names": [], "lr_mult": lr_mult, "decay_mult": decay_mult,
                           "lr": base_lr * lr_mult, "base_lr": base_lr}
        groups[key]["params"].append(p)
        groups[key]["names"].append(name)
    if not groups:
        where = f" under {', '.join(modules)}" if modules is not None else ""
        raise ValueError(f"the model has no trainable parameters{where}")
    return list(groups.values())


def is_multi_optimizer_config(cfg: dict) -> bool:
    """A dict of named optimizer configs (no top-level ``type`` or ``lr``, every value a dict)."""
    return bool(cfg) and "type" not in cfg and "lr" not in cfg and all(isinstance(v, dict) for v in cfg.values())


def _build_one(model: nn.Module, cfg: dict, name: str = "optimizer", modules: list[str] | None = None):
    cfg = dict(cfg)
    typ = cfg.pop("type", "AdamW")
    if typ not in OPTIMIZERS:
        raise KeyError(f"{name}.type {typ!r} unknown; available: {sorted(OPTIMIZERS)}")
    paramwise = cfg.pop("paramwise", None)
    lr = cfg.get("lr")
    if lr is None:
        raise KeyError(f"{name} needs 'lr'")
    groups = build_param_groups(model, lr, paramwise, modules)
    try:
        return OPTIMIZERS[typ](groups, **cfg)
    except TypeError as exc:
        raise TypeError(f"{name} ({typ}): {exc}") from exc


class OptimizerSet:
    """Several named optimizers stepping in one iteration (see the module docstring).

    ``param_groups`` lists every group of every optimizer (each tagged with ``"optimizer": name``),
    so the LR schedule and the logger treat the set like one optimizer; ``state_dict`` holds each
    optimizer's exact state by name.
    """

    def __init__(self, optimizers: dict[str, _StatefulOptimizer]):
        if not optimizers:
            raise ValueError("OptimizerSet needs at least one optimizer")
        self.optimizers = dict(optimizers)
        for name, opt in self.optimizers.items():
            for group in opt.param_groups:
                group["optimizer"] = name

    def __getitem__(self, name: str) -> _StatefulOptimizer:
        if name not in self.optimizers:
            raise KeyError(f"no optimizer named {name!r}; the config defines {', '.join(self.optimizers)}")
        return self.optimizers[name]

    def __iter__(self):
        return iter(self.optimizers)

    def items(self):
        return self.optimizers.items()

    @property
    def param_groups(self) -> list[dict]:
        return [g for opt in self.optimizers.values() for g in opt.param_groups]

    @property
    def lr(self) -> float:
        return next(iter(self.optimizers.values())).lr

    def state_dict(self) -> dict:
        return {"type": "OptimizerSet", "optimizers": {n: o.state_dict() for n, o in self.optimizers.items()}}

    def load_state_dict(self, state: dict) -> None:
        if state.get("type") != "OptimizerSet":
            raise ValueError(f"optimizer state is for one {state.get('type')!r} optimizer; the config defines "
                             f"several ({', '.join(self.optimizers)})")
        saved = state["optimizers"]
        if set(saved) != set(self.optimizers):
            raise ValueError(f"optimizer state holds {sorted(saved)}; the config defines {sorted(self.optimizers)}")
        for name, opt in self.optimizers.items():
            try:
                opt.load_state_dict(saved[name])
            except ValueError as exc:
                raise ValueError(f"optimizer {name!r}: {exc}") from None


def build_optimizer(model: nn.Module, cfg: dict):
    """One optimizer, or an ``OptimizerSet`` for a dict of named optimizer configs."""
    cfg = dict(cfg)
    if not is_multi_optimizer_config(cfg):
        return _build_one(model, cfg)
    optimizers, owner = {}, {}
    for name, sub in cfg.items():
        sub = dict(sub)
        modules = list(sub.pop("modules", None) or [name])
        for m in modules:
            if not isinstance(getattr(model, m, None), nn.Module):
                raise KeyError(f"optimizer.{name}: the model ({type(model).__name__}) has no sub-module {m!r}"
                               + ("" if "modules" in cfg[name] else "; name its sub-modules with modules=[...]"))
        opt = _build_one(model, sub, f"optimizer.{name}", modules)
        for group in opt.param_groups:
            for pname in group["names"]:
                if pname in owner:
                    raise ValueError(f"parameter {pname} is in both optimizer.{owner[pname]} and optimizer.{name}")
                owner[pname] = name
        optimizers[name] = opt
    return OptimizerSet(optimizers)


def optimizers_of(optimizer) -> dict:
    """``{name: optimizer}`` of an ``OptimizerSet``, or ``{"optimizer": optimizer}`` for one."""
    return dict(optimizer.items()) if isinstance(optimizer, OptimizerSet) else {"optimizer": optimizer}


def clip_grad_norm(optimizer: jt.optim.Optimizer, max_norm: float) -> float:
    """Clip the global L2 norm of all gradients to ``max_norm``; returns the norm before clipping."""
    grads = [g for group in optimizer.param_groups
             for p, g in zip(group["params"], group.get("grads", [])) if not p.is_stop_grad()]
    if not grads:
        return 0.0
    total = jt.sqrt(sum((g * g).sum() for g in grads))
    coef = jt.minimum(max_norm / (total + 1e-6), 1.0)
    for g in grads:
        g.update(g * coef)
    return float(total.item())


