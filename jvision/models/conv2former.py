"""Conv2Former: a transformer-style ConvNet built on convolutional modulation (ConvMod).

Paper: Qibin Hou, Cheng-Ze Lu, Ming-Ming Cheng, Jiashi Feng, "Conv2Former: A Simple
Transformer-Style ConvNet for Visual Recognition", TPAMI 2024 (arXiv:2211.11943).
Official code matched: HVision-NKU/Conv2Former, ``models/conv2former.py`` (commit 94fd1c4), the
PyTorch model. (The repository's ``jittor_models/conv2former.py`` is a different network: its GELUs
are identities and its head has no 1280-d projection, so PyTorch checkpoints do not fit it.)
State-dict keys and parameter counts equal the official ones (manifests in
``../shared/parity/conv2former``); official checkpoints load with no key remapping.

Layout: a stride-4 stem (conv 3x3/2 -> GELU -> BN -> conv 3x3 -> GELU -> BN -> conv 2x2/2, no conv
biases), then four stages of blocks ``x + ls1 * ConvMod(x)``, ``x + ls2 * MLP(x)`` (layer scale 1e-6;
each sub-module starts with a channels-first LayerNorm), stages joined by LayerNorm + conv 2x2/2.
ConvMod is ``proj(att(x) * v(x))`` with ``att`` = 1x1 conv, GELU, depthwise k x k (k = 7 for
Conv2Former-N and -B-22K, 11 otherwise). The MLP adds a depthwise 3x3 positional branch. The
classifier: conv 1x1 to 1280 -> GELU -> LayerNorm -> global mean -> ``pred``.
"""
from __future__ import annotations

from typing import Sequence

import jittor as jt
from jittor import nn

from ..convert.fixtures import Adapter, build_registered, input_var, official_kwargs, register_adapter
from ..ops import (Conv2d, ConvModulation, DepthwiseConv2d, LayerNorm2d, conv_gelu, conv_residual,
                   depthwise_residual_gelu)
from ..ops.activation import GELU
from ..registry import MODELS
from .layers import (DropPath, StagedBackbone, add_scaled_branch_of, build_batchnorm, linear_drop_path_rates, ones_,
                     trunc_normal_, zeros_)

__all__ = ["Conv2FormerMLP", "Conv2FormerBlock", "Conv2Former", "DEFAULT_CFGS"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


# ------------------------------------------------------------------------------------------------
# Blocks
# ------------------------------------------------------------------------------------------------
class Conv2FormerMLP(nn.Module):
    """LayerNorm -> ``fc1`` 1x1 -> GELU -> ``x + GELU(pos(x))`` (depthwise 3x3) -> ``fc2`` 1x1."""

    def __init__(self, dim: int, mlp_ratio: int = 4):
        super().__init__()
        hidden = int(dim * mlp_ratio)
        self.norm = LayerNorm2d(dim, eps=1e-6)
        self.fc1 = Conv2d(dim, hidden, 1)
        self.pos = DepthwiseConv2d(hidden, 3, padding=1)
        self.fc2 = Conv2d(hidden, dim, 1)
        self.act = GELU()

    def execute(self, x, residual=None, scale=None):
        x = conv_gelu(self.fc1, self.norm(x))     # self.act(self.fc1(...)) as one op
        x = depthwise_residual_gelu(x, self.pos.weight, self.pos.bias, self.pos.padding)   # x + act(pos(x))
        return self.fc2(x) if residual is None else conv_residual(self.fc2, x, residual, scale)


class Conv2FormerBlock(nn.Module):
    """``x + ls1 * attn(x)``, ``x + ls2 * mlp(x)``; ``attn`` is ConvMod with its LayerNorm inside.

    Keys: ``layer_scale_1``, ``layer_scale_2``, ``attn`` (norm, att.0, att.2, v, proj), ``mlp``.
    """

    def __init__(self, dim: int, kernel_size: int, mlp_ratio: int = 4, drop_path: float = 0.0,
                 layer_scale_init_value: float = 1e-6):
        super().__init__()
        self.attn = ConvModulation(dim, kernel_size)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.mlp = Conv2FormerMLP(dim, mlp_ratio)
        self.layer_scale_1 = jt.full((dim,), layer_scale_init_value, dtype="float32")
        self.layer_scale_2 = jt.full((dim,), layer_scale_init_value, dtype="float32")

    def execute(self, x):
        x = add_scaled_branch_of(x, self.attn, self.layer_scale_1, self.drop_path)
        return add_scaled_branch_of(x, self.mlp, self.layer_scale_2, self.drop_path)


def _stem(in_chans: int, dim: int) -> nn.Sequential:
    half = dim // 2
    return nn.Sequential(
        Conv2d(in_chans, half, 3, stride=2, padding=1, bias=False), GELU(), build_batchnorm("bn", half),
        Conv2d(half, half, 3, stride=1, padding=1, bias=False), GELU(), build_batchnorm("bn", half),
        Conv2d(half, dim, 2, stride=2, bias=False))


def _downsample(in_dim: int, out_dim: int) -> nn.Sequential:
    return nn.Sequential(LayerNorm2d(in_dim, eps=1e-6), Conv2d(in_dim, out_dim, 2, stride=2))


# ------------------------------------------------------------------------------------------------
# Network
# ------------------------------------------------------------------------------------------------
@MODELS.register()
class Conv2Former(StagedBackbone):
    """Conv2Former.

    Args:
        kernel_size: depthwise kernel of ConvMod (7 or 11 in the published variants).
        dims, depths, mlp_ratios: per-stage width, number of blocks and MLP expansion.
        in_chans: input channels.
        num_classes: classes of ``pred``; 0 builds the backbone only (no ``head``/``pred``), whose
            ``execute`` returns the stage outputs listed in ``out_indices`` (NCHW, no extra norm).
        head_dim: width of the classifier's 1x1 projection (1280).
        drop_path_rate: stochastic depth, linear over blocks.
        out_indices, frozen_stages: as in the other backbones (frozen stage i includes
            ``downsample_layers[i]``).
        layer_scale_init_value: initial layer scale (the official code always uses 1e-6).

    Stage ``i`` is ``downsample_layers.{i}`` then ``stages.{i}`` (the stem is ``downsample_layers.0``);
    the stage plumbing is ``jvision.models.layers.StagedBackbone``'s.
    """

    def __init__(self, kernel_size: int = 11, dims: Sequence[int] = (96, 192, 384, 768),
                 depths: Sequence[int] = (3, 3, 9, 3), mlp_ratios: Sequence[int] = (4, 4, 4, 4),
                 in_chans: int = 3, num_classes: int = 1000, head_dim: int = 1280,
                 drop_path_rate: float = 0.0, out_indices: Sequence[int] = (0, 1, 2, 3),
                 frozen_stages: int = -1, layer_scale_init_value: float = 1e-6):
        super().__init__()
        num_stages = len(dims)
        self._init_stages(num_stages, out_indices, frozen_stages, dims,
                          dict(dims=dims, depths=depths, mlp_ratios=mlp_ratios))
        self.dims = list(dims)
        self.depths = list(depths)
        self.num_classes = num_classes

        self.downsample_layers = nn.ModuleList(
            [_stem(in_chans, dims[0])] + [_downsample(dims[i], dims[i + 1]) for i in range(num_stages - 1)])
        dpr = linear_drop_path_rates(drop_path_rate, depths)
        self.stages = nn.ModuleList()
        cur = 0
        for i in range(num_stages):
            self.stages.append(nn.Sequential(*[
                Conv2FormerBlock(dims[i], kernel_size, mlp_ratios[i], drop_path=dpr[cur + j],
                                 layer_scale_init_value=layer_scale_init_value)
                for j in range(depths[i])]))
            cur += depths[i]
        if num_classes > 0:
            self.head = nn.Sequential(Conv2d(dims[-1], head_dim, 1), GELU(),
                                      LayerNorm2d(head_dim, eps=1e-6))
            self.pred = nn.Linear(head_dim, num_classes)
        else:
            self.head = self.pred = None
        self._init_weights()
        self._freeze_stages()

    def _init_weights(self) -> None:
        """Official init: trunc_normal(0.02) for every conv and linear weight, zero biases."""
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear, DepthwiseConv2d)):
                trunc_normal_(m.weight, std=0.02)
                if getattr(m, "bias", None) is not None:
                    zeros_(m.bias)
            elif isinstance(m, LayerNorm2d):
                ones_(m.weight)
                zeros_(m.bias)

    def _stage_names(self, i: int) -> list[str]:
        return [f"downsample_layers.{i}", f"stages.{i}"]

    def _head_names(self) -> list[str]:
        return ["head", "pred"] if self.head is not None else []

    def forward_features(self, x):
        """Head projection (1x1 -> GELU -> LayerNorm) averaged over positions: (B, head_dim)."""
        if self.head is None:
            raise RuntimeError("forward_features needs the classifier head (num_classes > 0)")
        return self.head(self.forward_stages(x)[-1]).mean(dims=(2, 3))

    def execute(self, x):
        if self.pred is not None:
            return self.pred(self.forward_features(x))
        return self.forward_backbone(x)

    forward = execute


# ------------------------------------------------------------------------------------------------
# Published variants (README; "GFLOPs" there are MACs). Weights are on Baidu Pan only.
# ------------------------------------------------------------------------------------------------
DEFAULT_CFGS = {
    "conv2former_n": dict(input_size=(3, 224, 224), mean=IMAGENET_MEAN, std=IMAGENET_STD,
                          params_m=15.0, macs_g=2.2, top1=81.5),
    "conv2former_t": dict(input_size=(3, 224, 224), mean=IMAGENET_MEAN, std=IMAGENET_STD,
                          params_m=26.7, macs_g=4.4, top1=83.2),
    "conv2former_s": dict(input_size=(3, 224, 224), mean=IMAGENET_MEAN, std=IMAGENET_STD,
                          params_m=50.0, macs_g=8.7, top1=84.1),
    "conv2former_b": dict(input_size=(3, 224, 224), mean=IMAGENET_MEAN, std=IMAGENET_STD,
                          params_m=90.0, macs_g=15.9, top1=84.4),
    "conv2former_b_22k": dict(input_size=(3, 224, 224), mean=IMAGENET_MEAN, std=IMAGENET_STD,
                              params_m=88.8, top1=86.2, note="ImageNet-22K pre-trained, kernel 7"),
    "conv2former_l": dict(input_size=(3, 224, 224), mean=IMAGENET_MEAN, std=IMAGENET_STD,
                          params_m=198.9, macs_g=36.0, top1=87.0, note="ImageNet-22K pre-trained"),
}


def _conv2former(name: str, **kwargs) -> Conv2Former:
    model = Conv2Former(**kwargs)
    model.default_cfg = dict(DEFAULT_CFGS[name], architecture=name)
    return model


@MODELS.register()
def conv2former_n(**kwargs) -> Conv2Former:
    return _conv2former("conv2former_n", **{"kernel_size": 7, "dims": (64, 128, 256, 512),
                                            "depths": (2, 2, 8, 2), **kwargs})


@MODELS.register()
def conv2former_t(**kwargs) -> Conv2Former:
    return _conv2former("conv2former_t", **{"kernel_size": 11, "dims": (72, 144, 288, 576),
                                            "depths": (3, 3, 12, 3), **kwargs})


@MODELS.register()
def conv2former_s(**kwargs) -> Conv2Former:
    return _conv2former("conv2former_s", **{"kernel_size": 11, "dims": (72, 144, 288, 576),
                                            "depths": (4, 4, 32, 4), **kwargs})


@MODELS.register()
def conv2former_b(**kwargs) -> Conv2Former:
    return _conv2former("conv2former_b", **{"kernel_size": 11, "dims": (96, 192, 384, 768),
                                            "depths": (4, 4, 34, 4), **kwargs})


@MODELS.register()
def conv2former_b_22k(**kwargs) -> Conv2Former:
    return _conv2former("conv2former_b_22k", **{"kernel_size": 7, "dims": (96, 192, 384, 768),
                                                "depths": (4, 4, 34, 4), **kwargs})


@MODELS.register()
def conv2former_l(**kwargs) -> Conv2Former:
    return _conv2former("conv2former_l", **{"kernel_size": 11, "dims": (128, 256, 512, 1024),
                                            "depths": (4, 4, 48, 4), **kwargs})


# ------------------------------------------------------------------------------------------------
# Parity adapter: the official model's fixtures (../shared/parity/conv2former) through tools/compare.py
# ------------------------------------------------------------------------------------------------
def _parity_build(kwargs: dict, manifest: dict) -> Conv2Former:
    args = official_kwargs(kwargs, keep=("kernel_size", "dims", "depths", "mlp_ratios", "num_classes", "in_chans",
                                         "drop_path_rate"),
                           ignore=("img_size", "window_sizes", "num_heads", "layer_scale_init_value",
                                   "head_init_scale", "drop_rate"), family="conv2former")
    return Conv2Former(**args)


def _parity_run(model: Conv2Former, io: dict, upstream: dict, manifest: dict) -> dict:
    x = input_var(io)
    result = {"stem_out": model.downsample_layers[0](x)}
    outs = model.forward_stages(x)
    result.update({f"out_{i}": o for i, o in enumerate(outs)})
    if model.head is not None:
        result["features"] = model.head(outs[-1]).mean(dims=(2, 3))
        result["logits"] = model.pred(result["features"])
    return result


register_adapter(Adapter("conv2former", _parity_build, lambda manifest: build_registered(manifest["name"]),
                         _parity_run, outputs=("stem_out", "out_*", "features", "logits")))
