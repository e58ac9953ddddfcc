"""Building blocks shared by the model families: stochastic depth, dropout, initialisers, MLPs, norms.

Stochastic depth and dropout draw their masks with ``jvision.ops.random.sample_uniform``: in the
trainer the draws are keyed by the global sample index, so ``mpirun -np N`` drops exactly what one
process drops for the same samples.

Everything here keeps the parameter names of the timm / mmcv modules the official code uses, so a
model assembled from these blocks has the official ``state_dict`` keys.
"""
from __future__ import annotations

import contextlib
import math
from typing import Sequence

import jittor as jt
from jittor import nn

from ..ops import Conv2d, DepthwiseConv2d, Linear, linear_gelu, scaled_residual
from ..ops.activation import GELU
from ..ops.norm import BatchNorm2d, LayerNorm  # noqa: F401  (LayerNorm: re-exported for the model files)
from ..ops.random import sample_uniform

__all__ = [
    "to_2tuple", "drop_path", "DropPath", "add_scaled_branch", "add_scaled_branch_of", "Dropout", "Dropout2d",
    "trunc_normal_", "zeros_", "eval_mode",
    "ones_",
    "init_conv_fan_out_", "init_linear_trunc_normal_", "LayerNorm", "Linear", "GELU", "build_batchnorm",
    "norm_layer_from_cfg", "NORM_LAYERS", "Mlp",
    "ConvMlpDW", "is_buffer", "count_parameters", "freeze_module", "linear_drop_path_rates",
    "get_submodule", "StagedBackbone",
]


def to_2tuple(x) -> tuple:
    """``7 -> (7, 7)``; a pair stays a pair."""
    if isinstance(x, (tuple, list)):
        if len(x) != 2:
            raise ValueError(f"expected an int or a pair, got {x!r}")
        return tuple(x)
    return (x, x)


def linear_drop_path_rates(drop_path_rate: float, depths: Sequence[int]) -> list[float]:
    """Stochastic-depth rate of every block: linear from 0 to ``drop_path_rate`` over all blocks
    (``torch.linspace(0, rate, sum(depths))``, the rule of timm, VAN, SegNeXt and Conv2Former)."""
    n = int(sum(depths))
    if n <= 1:
        return [0.0] * n
    return [drop_path_rate * i / (n - 1) for i in range(n)]


# ------------------------------------------------------------------------------------------------
# Stochastic depth
# ------------------------------------------------------------------------------------------------
def drop_path(x: jt.Var, drop_prob: float = 0.0, training: bool = False) -> jt.Var:
    """Drop whole samples of a residual branch with probability ``drop_prob`` (scaled by 1/keep)."""
    if drop_prob == 0.0 or not training:
        return x
    keep = 1.0 - drop_prob
    shape = (x.shape[0],) + (1,) * (x.ndim - 1)
    mask = (sample_uniform(shape, dtype=x.dtype) + keep).floor()
    return x / keep * mask


class DropPath(nn.Module):
    """Stochastic depth per sample (timm ``DropPath``); identity in eval mode or at rate 0.

    Unlike ``jittor.nn.DropPath`` it follows the module's train/eval state (``model.train()``).
    """

    def __init__(self, drop_prob: float = 0.0):
        super().__init__()
        self.drop_prob = float(drop_prob)

    def execute(self, x):
        return drop_path(x, self.drop_prob, self.is_training())

    def extra_repr(self) -> str:
        return f"drop_prob={self.drop_prob:.3f}"


def add_scaled_branch(x, branch, scale, drop_path):
    """``x + drop_path(scale.reshape(1, C, 1, 1) * branch)``, the residual of a layer-scaled NCHW
    block, or ``x + drop_path(branch)`` with ``scale=None`` (any layout, e.g. a ViT's tokens): one
    multi-threaded op (``jvision.ops.scaled_residual``) unless ``drop_path`` drops samples now."""
    if isinstance(drop_path, DropPath) and drop_path.drop_prob > 0 and drop_path.is_training():
        return x + drop_path(branch if scale is None else scale.reshape(1, -1, 1, 1) * branch)
    return scaled_residual(x, branch, scale)


def add_scaled_branch_of(x, module, scale, drop_path):
    """``x + drop_path(scale * module(x))`` for a ``module`` whose ``execute(x, residual, scale)``
    takes the residual sum into its last op (a 1x1 projection's epilogue: one pass instead of two
    at inference); the plain sum of :func:`add_scaled_branch` while ``drop_path`` drops samples."""
    if isinstance(drop_path, DropPath) and drop_path.drop_prob > 0 and drop_path.is_training():
        return add_scaled_branch(x, module(x), scale, drop_path)
    return module(x, residual=x, scale=scale)


class Dropout(nn.Module):
    """Dropout (``torch.nn.Dropout``: zero with probability ``p``, scale the rest by ``1 / (1 - p)``);
    ``channelwise=True`` drops whole channels of NCHW maps (``nn.Dropout2d``). Masks come from
    ``sample_uniform`` (module docstring). Identity in eval mode."""

    def __init__(self, p: float = 0.5, channelwise: bool = False):
        super().__init__()
        if not 0.0 <= float(p) < 1.0:
            raise ValueError(f"dropout probability must be in [0, 1), got {p}")
        self.p, self.channelwise = float(p), bool(channelwise)

    def execute(self, x):
        if self.p == 0.0 or not self.is_training():
            return x
        shape = tuple(x.shape[:2]) + (1,) * (x.ndim - 2) if self.channelwise else tuple(x.shape)
        keep = (sample_uniform(shape) >= self.p).cast(x.dtype)
        return x * keep * (1.0 / (1.0 - self.p))

    def extra_repr(self) -> str:
        return f"p={self.p}" + (", channelwise" if self.channelwise else "")


class Dropout2d(Dropout):
    """Channel dropout of NCHW maps (``torch.nn.Dropout2d``); see ``Dropout``."""

    def __init__(self, p: float = 0.5):
        super().__init__(p, channelwise=True)


# ------------------------------------------------------------------------------------------------
# Initialisers (in place; they keep the Var object so references to it stay valid)
# ------------------------------------------------------------------------------------------------
def trunc_normal_(var: jt.Var, std: float = 1.0, mean: float = 0.0, a: float = -2.0, b: float = 2.0):
    """Normal(mean, std) truncated to [a, b] (absolute bounds, as timm's ``trunc_normal_``)."""
    return jt.init.trunc_normal_(var, mean=mean, std=std, a=a, b=b)


def zeros_(var: jt.Var):
    return jt.init.zero_(var)


def ones_(var: jt.Var):
    return jt.init.one_(var)


def init_conv_fan_out_(conv) -> None:
    """VAN / SegNeXt convolution init: N(0, sqrt(2 / fan_out)), fan_out = kh*kw*out/groups; bias 0."""
    weight = conv.weight
    out_ch, in_per_group, kh, kw = weight.shape
    groups = getattr(conv, "groups", None)
    if groups is None:  # DepthwiseConv2d keeps no ``groups``: one group per channel
        groups = out_ch if in_per_group == 1 and isinstance(conv, DepthwiseConv2d) else 1
    fan_out = kh * kw * out_ch // groups
    jt.init.gauss_(weight, 0.0, math.sqrt(2.0 / fan_out))
    if getattr(conv, "bias", None) is not None:
        zeros_(conv.bias)


def init_linear_trunc_normal_(linear, std: float = 0.02) -> None:
    """timm Linear init: trunc_normal(std) weight, zero bias."""
    trunc_normal_(linear.weight, std=std)
    if getattr(linear, "bias", None) is not None:
        zeros_(linear.bias)


# ------------------------------------------------------------------------------------------------
# Norms
# ------------------------------------------------------------------------------------------------
NORM_LAYERS = ("bn", "syncbn")


def build_batchnorm(kind: str, channels: int, eps: float = 1e-5) -> nn.Module:
    """``"bn"``: plain BatchNorm; ``"syncbn"``: statistics all-reduced across MPI ranks in training.

    ``jvision.ops.norm.BatchNorm2d`` (Jittor's BatchNorm with PyTorch's running-variance update and
    our kernels) has the keys ``weight``, ``bias``, ``running_mean``, ``running_var``; it keeps
    no ``num_batches_tracked`` (the converter drops that entry of PyTorch checkpoints). Without MPI
    both kinds compute the same thing.
    """
    kind = kind.lower()
    if kind not in NORM_LAYERS:
        raise ValueError(f"norm_layer must be one of {NORM_LAYERS}, got {kind!r}")
    return BatchNorm2d(channels, eps=eps, sync=(kind == "syncbn"))


def norm_layer_from_cfg(norm_cfg: dict | None, default: str) -> str:
    """Translate an mmcv-style ``norm_cfg`` (``dict(type="SyncBN")``) into ``"bn"``/``"syncbn"``."""
    if norm_cfg is None:
        return default
    kind = str(norm_cfg.get("type", "")).lower()
    table = {"bn": "bn", "bn2d": "bn", "batchnorm": "bn", "batchnorm2d": "bn",
             "syncbn": "syncbn", "mmsyncbn": "syncbn"}
    if kind not in table:
        raise ValueError(f"norm_cfg type {norm_cfg.get('type')!r} is not supported here "
                         f"(expected BN or SyncBN)")
    if norm_cfg.get("requires_grad", True) is False:
        raise ValueError("norm_cfg requires_grad=False is not supported; use frozen_stages")
    return table[kind]


# ------------------------------------------------------------------------------------------------
# MLPs
# ------------------------------------------------------------------------------------------------
class Mlp(nn.Module):
    """Transformer MLP on tokens (timm ``Mlp``): ``fc1`` -> GELU -> drop -> ``fc2`` -> drop."""

    def __init__(self, in_features: int, hidden_features: int | None = None,
                 out_features: int | None = None, drop: float = 0.0):
        super().__init__()
        hidden_features = hidden_features or in_features
        out_features = out_features or in_features
        self.fc1 = Linear(in_features, hidden_features)
        self.act = GELU()
        self.fc2 = Linear(hidden_features, out_features)
        self.drop = Dropout(drop) if drop > 0 else nn.Identity()

    def execute(self, x):
        # self.act(self.fc1(x)) as one op (self.act is that GELU; it holds no parameters)
        return self.drop(self.fc2(self.drop(linear_gelu(self.fc1, x))))


class _DepthwiseConv3x3(nn.Module):
    """The ``DWConv`` wrapper of VAN / SegNeXt (hence the key ``dwconv.dwconv``)."""

    def __init__(self, channels: int):
        super().__init__()
        self.dwconv = DepthwiseConv2d(channels, 3, padding=1)

    def execute(self, x):
        return self.dwconv(x)


class ConvMlpDW(nn.Module):
    """The VAN / SegNeXt MLP on NCHW maps: 1x1 ``fc1`` -> depthwise 3x3 -> GELU -> drop -> 1x1 ``fc2``.

    Keys: ``fc1``, ``dwconv.dwconv``, ``fc2``.
    """

    def __init__(self, in_features: int, hidden_features: int, drop: float = 0.0):
        super().__init__()
        self.fc1 = Conv2d(in_features, hidden_features, 1)
        self.dwconv = _DepthwiseConv3x3(hidden_features)
        self.act = GELU()
        self.fc2 = Conv2d(hidden_features, in_features, 1)
        self.drop = Dropout(drop) if drop > 0 else nn.Identity()

    def execute(self, x):
        x = self.drop(self.act(self.dwconv(self.fc1(x))))
        return self.drop(self.fc2(x))


# ------------------------------------------------------------------------------------------------
# Bookkeeping
# ------------------------------------------------------------------------------------------------
BUFFER_SUFFIXES = ("running_mean", "running_var")


def is_buffer(name: str, var: jt.Var) -> bool:
    """Running statistics and ``register_buffer`` entries: state that is not a parameter."""
    return name.rsplit(".", 1)[-1] in BUFFER_SUFFIXES or hasattr(var, "persistent")


def count_parameters(model: nn.Module) -> dict:
    """Element counts comparable with PyTorch's: ``total`` (every parameter, frozen ones included),
    ``trainable`` (not stop-grad when the model was last in train mode) and ``buffers``."""
    state = model.state_dict()
    backup = getattr(model, "backup_grad_state", {})  # set by Module.eval()
    total = trainable = buffers = 0
    for name, var in state.items():
        n = int(math.prod(var.shape))
        if is_buffer(name, var):
            buffers += n
            continue
        total += n
        requires_grad = backup.get(id(var), not var.is_stop_grad())
        if requires_grad:
            trainable += n
    return {"total": total, "trainable": trainable, "buffers": buffers}


@contextlib.contextmanager
def eval_mode(module: nn.Module):
    """``with eval_mode(m):`` -- ``m`` in evaluation mode inside, and afterwards exactly as before:
    every submodule's train/eval flag and every parameter's stop-grad state. Jittor's ``eval()``
    stop-grads the parameters and only the same module's ``train()`` restores them (from a record
    taken at its first ``eval()``), so ``submodule.eval()`` followed by ``parent.train()`` -- an
    evaluation inside a training run -- would leave the submodule silently frozen."""
    modes = [(m, m.is_training()) for m in module.modules()]
    grads = [(p, p.is_stop_grad()) for p in module.parameters()]
    module.eval()
    try:
        yield module
    finally:
        for m, training in modes:
            m.is_train = training
        for p, stopped in grads:
            if stopped:
                p.stop_grad()
            else:
                p.start_grad()


def freeze_module(module: nn.Module) -> None:
    """Eval mode (BatchNorm uses running statistics, dropout off) and no gradients, recursively."""
    module.eval()
    for p in module.parameters():
        p.stop_grad()


# ------------------------------------------------------------------------------------------------
# Staged backbones
# ------------------------------------------------------------------------------------------------
def get_submodule(module: nn.Module, path: str) -> nn.Module:
    """``"stages.0"`` -> ``module.stages[0]``: the submodule at a dotted ``state_dict``-style path."""
    for part in path.split("."):
        module = module[int(part)] if part.isdigit() else getattr(module, part)
    return module


class StagedBackbone(nn.Module):
    """What every hierarchical backbone (VAN, MSCAN, Conv2Former) does with its stages.

    A subclass names the modules of stage ``i`` in ``_stage_names(i)`` (run in that order; a
    ``ModuleList``/``Sequential`` runs its members one after the other) and its classifier modules in
    ``_head_names()``; it calls ``_init_stages`` first in ``__init__`` (checks the arguments, sets
    ``num_stages``, ``out_indices``, ``frozen_stages`` and ``feature_info``) and ``_freeze_stages``
    last, after its weights are initialised. It then has:

    * ``forward_stages(x, last_stage)``: every stage output up to ``last_stage``;
    * ``forward_backbone(x)``: the outputs of the stages in ``out_indices`` (the backbone contract);
    * ``stage_modules()``: group -> module names (``stage0``...; ``head``), for analysis tools;
    * ``frozen_stages``: stages ``0..frozen_stages`` get no gradients and keep their BatchNorms in eval
      mode, also after ``train()``;
    * ``feature_info``: per stage ``num_chs``, ``reduction`` (4, 8, 16, 32...) and the ``module``
      producing the output.
    """

    def _stage_names(self, i: int) -> list[str]:
        raise NotImplementedError(f"{type(self).__name__} must name the modules of each stage (_stage_names)")

    def _head_names(self) -> list[str]:
        return []

    def _init_stages(self, num_stages: int, out_indices: Sequence[int], frozen_stages: int,
                     channels: Sequence[int], per_stage: dict[str, Sequence]) -> None:
        """Check the per-stage arguments (``per_stage``: name -> list, one entry per stage at least,
        all of one length), ``out_indices`` and ``frozen_stages``; set the stage attributes."""
        lengths = {len(v) for v in per_stage.values()}
        if len(lengths) != 1 or min(lengths) < num_stages or num_stages < 1:
            *first, last = [f"{k} {list(v)}" for k, v in per_stage.items()]
            raise ValueError(f"{', '.join(first)} and {last} must have one entry per stage "
                             f"(num_stages={num_stages})")
        out_indices = tuple(out_indices)
        if not out_indices or any(not isinstance(i, int) or not 0 <= i < num_stages for i in out_indices):
            raise ValueError(f"out_indices {list(out_indices)} must be stage numbers in [0, {num_stages})")
        if not isinstance(frozen_stages, int) or not -1 <= frozen_stages < num_stages:
            raise ValueError(f"frozen_stages={frozen_stages!r} must be -1 (none) or a stage number in "
                             f"[0, {num_stages})")
        self.num_stages = num_stages
        self.out_indices = out_indices
        self.frozen_stages = frozen_stages
        self.feature_info = [dict(num_chs=int(channels[i]), reduction=4 * 2 ** i, module=self._stage_names(i)[-1])
                             for i in range(num_stages)]

    def stage_modules(self) -> dict:
        """Group name -> module names: ``stage0``... and, with a classifier, ``head``."""
        groups = {f"stage{i}": self._stage_names(i) for i in range(self.num_stages)}
        if self._head_names():
            groups["head"] = self._head_names()
        return groups

    def _freeze_stages(self) -> None:
        for i in range(self.frozen_stages + 1):
            for name in self._stage_names(i):
                freeze_module(get_submodule(self, name))

    def train(self):
        super().train()
        self._freeze_stages()  # frozen stages stay in eval mode without gradients
        return self

    def forward_stages(self, x, last_stage: int | None = None) -> list:
        """Every stage output up to ``last_stage`` (default: the last), NCHW."""
        last = self.num_stages - 1 if last_stage is None else last_stage
        outs = []
        for i in range(last + 1):
            for name in self._stage_names(i):
                x = get_submodule(self, name)(x)
            outs.append(x)
        return outs

    def forward_backbone(self, x) -> list:
        """The outputs of the stages in ``out_indices``, in that order."""
        outs = self.forward_stages(x, last_stage=max(self.out_indices))
        return [outs[i] for i in self.out_indices]
