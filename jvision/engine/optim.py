"""Optimizers with PyTorch's semantics and defaults, and parameter groups built from config.

Why our own: Jittor's ``AdamW`` defaults to ``weight_decay=0`` (PyTorch: 0.01) and its
``state_dict`` does not round-trip the moment estimates and step count needed for an exact resume.
The classes below subclass ``jt.optim.Optimizer`` so gradient computation, accumulation and MPI
gradient averaging stay Jittor's.

Parameter groups (``paramwise`` in the optimizer config)::

    optimizer = dict(type="AdamW", lr=6e-5, weight_decay=0.01,
                     paramwise=dict(norm_decay_mult=0.0,      # norms: no weight decay
                                    bias_decay_mult=0.0,      # biases: no weight decay
                                    no_decay_keys=("pos_embed", "cls_token", "pos_block"),
                                    custom_keys={"head": dict(lr_mult=10.0)},
                                    layer_decay=None))        # e.g. 0.75 for ViT fine-tuning

Each group carries ``lr_mult`` and ``decay_mult``; the LR schedule sets ``group["lr"]`` from the
optimizer's base lr times ``lr_mult`` at every iteration.
"""
from __future__ import annotations

import re
from typing import Callable

import jittor as jt
from jittor import nn

_NORM_TYPES = tuple(t for t in (getattr(nn, n, None) for n in (
    "BatchNorm", "BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "LayerNorm", "GroupNorm",
    "InstanceNorm", "InstanceNorm2d")) if isinstance(t, type))


class _StatefulOptimizer(jt.optim.Optimizer):
    """Adds exact ``state_dict``/``load_state_dict`` (moments as numpy, step count, group values)."""

    _buffers: tuple[str, ...] = ()
    _hyper: tuple[str, ...] = ()

    def __init__(self, params, lr: float):
        super().__init__(params, lr)
        self.step_count = 0
        for group in self.param_groups:
            group.setdefault("lr", lr)
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
                elif key != "shapes":
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
        b1, b2 = self.betas
        bc1 = 1 - b1 ** self.step_count
        bc2 = 1 - b2 ** self.step_count
        for group, p, g, m, v in self._live():
            lr = group["lr"]
            wd = self.weight_decay * group.get("decay_mult", 1.0)
            if wd:
                p.update(p * (1 - lr * wd))
            m.update(b1 * m + (1 - b1) * g)
            v.update(b2 * v + (1 - b2) * g * g)
            denom = jt.sqrt(v) / (bc2 ** 0.5) + self.eps
            p.update(p - (lr / bc1) * m / denom)
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
        for group, p, g, buf in self._live():
            wd = self.weight_decay * group.get("decay_mult", 1.0)
            d = g + p * wd if wd else g
            if self.momentum:
                buf.update(d if first else self.momentum * buf + d)
                d = d + self.momentum * buf if self.nesterov else buf
            p.update(p - group["lr"] * d)
        self.post_step()


OPTIMIZERS: dict[str, Callable] = {"AdamW": AdamW, "SGD": SGD}


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


def build_param_groups(model: nn.Module, base_lr: float, paramwise: dict | None = None) -> list[dict]:
    """Split ``model``'s trainable parameters into groups with ``lr_mult`` / ``decay_mult``."""
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
    groups: dict[tuple, dict] = {}
    for name, p in model.named_parameters():
        if p.is_stop_grad():
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
                           "lr": base_lr * lr_mult}
        groups[key]["params"].append(p)
        groups[key]["names"].append(name)
    if not groups:
        raise ValueError("the model has no trainable parameters")
    return list(groups.values())


def build_optimizer(model: nn.Module, cfg: dict) -> _StatefulOptimizer:
    cfg = dict(cfg)
    typ = cfg.pop("type", "AdamW")
    if typ not in OPTIMIZERS:
        raise KeyError(f"optimizer type {typ!r} unknown; available: {sorted(OPTIMIZERS)}")
    paramwise = cfg.pop("paramwise", None)
    lr = cfg.get("lr")
    if lr is None:
        raise KeyError("optimizer config needs 'lr'")
    groups = build_param_groups(model, lr, paramwise)
    try:
        return OPTIMIZERS[typ](groups, **cfg)
    except TypeError as exc:
        raise TypeError(f"optimizer {typ}: {exc}") from exc


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


def optimizer_lrs(optimizer) -> list[float]:
    return [float(g["lr"]) for g in optimizer.param_groups]

