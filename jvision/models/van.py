"""VAN: the Visual Attention Network with Large Kernel Attention (LKA).

Paper: Meng-Hao Guo, Cheng-Ze Lu, Zheng-Ning Liu, Ming-Ming Cheng, Shi-Min Hu,
"Visual Attention Network", Computational Visual Media 2023 (arXiv:2202.09741).
Official code matched: Visual-Attention-Network/VAN-Classification, ``models/van.py`` (commit e19779b).
State-dict keys and parameter counts equal the official ones (checked against the manifests in
``../shared/parity/van``); official checkpoints load with the converter and no key remapping.

Layout: four stages; each starts with an overlapping patch embedding (conv + BatchNorm; 7x7/4 then
3x3/2), runs ``depths[i]`` blocks ``x + ls1 * LKA-attention(BN(x))``, ``x + ls2 * MLP(BN(x))``
(layer scale 1e-2) and ends with a LayerNorm over channels (eps 1e-6; VAN-Segmentation uses 1e-5,
``ln_eps``). The classifier averages the last stage and applies ``head``.
"""
from __future__ import annotations

from typing import Sequence

import jittor as jt
from jittor import nn

from ..convert.fixtures import (Adapter, build_registered, input_var, official_kwargs, official_norm_eps,
                                register_adapter)
from ..ops import Conv2d, DepthwiseConv2d, LargeKernelAttention, LayerNorm2d, conv_gelu, scaled_residual
from ..ops.activation import GELU
from ..registry import MODELS
from .layers import (ConvMlpDW, DropPath, LayerNorm, StagedBackbone, add_scaled_branch, build_batchnorm,
                     init_conv_fan_out_, init_linear_trunc_normal_, linear_drop_path_rates, ones_, to_2tuple, zeros_)

__all__ = ["OverlapPatchEmbed", "SpatialAttention", "VANBlock", "VAN", "DEFAULT_CFGS"]

# VAN's models take timm 0.4.12's ViT default config (``vision_transformer._cfg``), which the
# training and evaluation scripts read: Inception mean/std 0.5, crop 0.9, bicubic.
VAN_MEAN = (0.5, 0.5, 0.5)
VAN_STD = (0.5, 0.5, 0.5)


# ------------------------------------------------------------------------------------------------
# Blocks
# ------------------------------------------------------------------------------------------------
class OverlapPatchEmbed(nn.Module):
    """Strided conv with padding ``k // 2`` followed by BatchNorm (keys ``proj``, ``norm``). NCHW in/out."""

    def __init__(self, in_chans: int, embed_dim: int, patch_size: int = 7, stride: int = 4,
                 norm_layer: str = "bn"):
        super().__init__()
        kh, kw = to_2tuple(patch_size)
        self.proj = Conv2d(in_chans, embed_dim, (kh, kw), stride=stride, padding=(kh // 2, kw // 2))
        self.norm = build_batchnorm(norm_layer, embed_dim)

    def execute(self, x):
        return self.norm(self.proj(x))


class SpatialAttention(nn.Module):
    """``proj_1`` (1x1) -> GELU -> gating unit -> ``proj_2`` (1x1), plus the inner residual.

    The gating unit multiplies its input by a large-kernel attention map: LKA for VAN
    (``jvision.ops.LargeKernelAttention``), MSCA for SegNeXt's MSCAN.
    """

    def __init__(self, dim: int, gating_unit: type = LargeKernelAttention):
        super().__init__()
        self.proj_1 = Conv2d(dim, dim, 1)
        self.activation = GELU()
        self.spatial_gating_unit = gating_unit(dim)
        self.proj_2 = Conv2d(dim, dim, 1)

    def execute(self, x):
        # GELU(proj_1(x)) as one op (self.activation is that GELU; it holds no parameters)
        return scaled_residual(x, self.proj_2(self.spatial_gating_unit(conv_gelu(self.proj_1, x))))


class VANBlock(nn.Module):
    """Pre-norm residual block on NCHW maps with BatchNorm and per-channel layer scale.

    Keys: ``norm1``, ``attn``, ``norm2``, ``mlp``, ``layer_scale_1``, ``layer_scale_2``.
    """

    def __init__(self, dim: int, mlp_ratio: float = 4.0, drop: float = 0.0, drop_path: float = 0.0,
                 norm_layer: str = "bn", layer_scale_init_value: float = 1e-2,
                 gating_unit: type = LargeKernelAttention):
        super().__init__()
        self.norm1 = build_batchnorm(norm_layer, dim)
        self.attn = SpatialAttention(dim, gating_unit)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.norm2 = build_batchnorm(norm_layer, dim)
        self.mlp = ConvMlpDW(dim, int(dim * mlp_ratio), drop=drop)
        self.layer_scale_1 = jt.full((dim,), layer_scale_init_value, dtype="float32")
        self.layer_scale_2 = jt.full((dim,), layer_scale_init_value, dtype="float32")

    def execute(self, x):
        x = add_scaled_branch(x, self.attn(self.norm1(x)), self.layer_scale_1, self.drop_path)
        x = add_scaled_branch(x, self.mlp(self.norm2(x)), self.layer_scale_2, self.drop_path)
        return x


def init_van_weights(model: nn.Module) -> None:
    """The official init: Linear trunc_normal(0.02); conv N(0, sqrt(2/fan_out)); norms 1/0."""
    for m in model.modules():
        if isinstance(m, nn.Linear):
            init_linear_trunc_normal_(m, 0.02)
        elif isinstance(m, (nn.Conv2d, DepthwiseConv2d)):
            init_conv_fan_out_(m)
        elif isinstance(m, (LayerNorm, LayerNorm2d, nn.LayerNorm)):
            ones_(m.weight)
            zeros_(m.bias)


# ------------------------------------------------------------------------------------------------
# Network
# ------------------------------------------------------------------------------------------------
@MODELS.register()
class VAN(StagedBackbone):
    """Visual Attention Network.

    Args:
        embed_dims, mlp_ratios, depths: per-stage width, MLP expansion and number of blocks.
        in_chans: input channels.
        num_classes: size of the ``head`` classifier; 0 builds the backbone only, whose ``execute``
            returns the stage features listed in ``out_indices``.
        drop_rate: dropout inside the MLPs; drop_path_rate: stochastic depth, linear over blocks.
        ln_eps: eps of the LayerNorm closing each stage (1e-6 classification, 1e-5 VAN-Segmentation).
        norm_layer: ``"bn"`` or ``"syncbn"`` (statistics all-reduced across MPI ranks) for the
            patch embeddings and blocks.
        out_indices: stages returned by the backbone (0..3).
        frozen_stages: stages 0..frozen_stages get no gradients and keep BatchNorm in eval mode
            (-1: none).
        num_stages: number of stages built (4 in every published variant).
        layer_scale_init_value: initial value of ``layer_scale_1/2``.

    Stage ``i`` is ``patch_embed{i+1}``, ``block{i+1}``, ``norm{i+1}``; ``feature_info`` describes the
    stage outputs (``jvision.models.layers.StagedBackbone``). MSCAN (``jvision.models.mscan``) is this
    network with another first patch embedding (``_patch_embed``) and gating unit (``gating_unit``).
    """

    gating_unit = LargeKernelAttention

    def __init__(self, embed_dims: Sequence[int] = (64, 128, 256, 512),
                 mlp_ratios: Sequence[float] = (4, 4, 4, 4), depths: Sequence[int] = (3, 4, 6, 3),
                 in_chans: int = 3, num_classes: int = 1000, drop_rate: float = 0.0,
                 drop_path_rate: float = 0.0, ln_eps: float = 1e-6, norm_layer: str = "bn",
                 out_indices: Sequence[int] = (0, 1, 2, 3), frozen_stages: int = -1,
                 num_stages: int = 4, layer_scale_init_value: float = 1e-2):
        super().__init__()
        self._init_stages(num_stages, out_indices, frozen_stages, embed_dims,
                          dict(embed_dims=embed_dims, mlp_ratios=mlp_ratios, depths=depths))
        self.embed_dims = list(embed_dims)
        self.depths = list(depths)
        self.num_classes = num_classes

        dpr = linear_drop_path_rates(drop_path_rate, depths[:num_stages])
        cur = 0
        for i in range(num_stages):
            patch_embed = self._patch_embed(i, in_chans if i == 0 else embed_dims[i - 1], embed_dims[i], norm_layer)
            blocks = nn.ModuleList([
                VANBlock(embed_dims[i], mlp_ratios[i], drop=drop_rate, drop_path=dpr[cur + j],
                         norm_layer=norm_layer, layer_scale_init_value=layer_scale_init_value,
                         gating_unit=self.gating_unit)
                for j in range(depths[i])])
            cur += depths[i]
            setattr(self, f"patch_embed{i + 1}", patch_embed)
            setattr(self, f"block{i + 1}", blocks)
            setattr(self, f"norm{i + 1}", LayerNorm2d(embed_dims[i], eps=ln_eps))
        self.head = nn.Linear(embed_dims[num_stages - 1], num_classes) if num_classes > 0 else None
        init_van_weights(self)
        self._freeze_stages()

    def _patch_embed(self, i: int, in_chans: int, dim: int, norm_layer: str) -> nn.Module:
        """Stage ``i``'s downsampling: overlapping patch embedding, 7x7/4 first, then 3x3/2."""
        return OverlapPatchEmbed(in_chans, dim, patch_size=7 if i == 0 else 3, stride=4 if i == 0 else 2,
                                 norm_layer=norm_layer)

    def _stage_names(self, i: int) -> list[str]:
        return [f"patch_embed{i + 1}", f"block{i + 1}", f"norm{i + 1}"]

    def _head_names(self) -> list[str]:
        return ["head"] if self.head is not None else []

    def forward_features(self, x):
        """Mean over the positions of the last stage: (B, C)."""
        return self.forward_stages(x)[-1].mean(dims=(2, 3))

    def execute(self, x):
        if self.head is not None:
            return self.head(self.forward_features(x))
        return self.forward_backbone(x)

    forward = execute


# ------------------------------------------------------------------------------------------------
# Published variants. params_m / macs_g: ImageNet-1K classifier at 224 (README "GFLOPs" are MACs).
# ------------------------------------------------------------------------------------------------
_HF = "https://huggingface.co/Visual-Attention-Network"
DEFAULT_CFGS = {
    "van_b0": dict(input_size=(3, 224, 224), mean=VAN_MEAN, std=VAN_STD, crop_pct=0.9,
                   params_m=4.1, macs_g=0.9, top1=75.4, drop_path_rate=0.1,
                   url=f"{_HF}/VAN-Tiny/resolve/main/van_tiny_754.pth.tar"),
    "van_b1": dict(input_size=(3, 224, 224), mean=VAN_MEAN, std=VAN_STD, crop_pct=0.9,
                   params_m=13.9, macs_g=2.5, top1=81.1, drop_path_rate=0.1,
                   url=f"{_HF}/VAN-Small/resolve/main/van_small_811.pth.tar"),
    "van_b2": dict(input_size=(3, 224, 224), mean=VAN_MEAN, std=VAN_STD, crop_pct=0.9,
                   params_m=26.6, macs_g=5.0, top1=82.8, drop_path_rate=0.1,
                   url=f"{_HF}/VAN-Base/resolve/main/van_base_828.pth.tar"),
    "van_b3": dict(input_size=(3, 224, 224), mean=VAN_MEAN, std=VAN_STD, crop_pct=0.9,
                   params_m=44.8, macs_g=9.0, top1=83.9, drop_path_rate=0.2,
                   url=f"{_HF}/VAN-Large/resolve/main/van_large_839.pth.tar"),
    "van_b4": dict(input_size=(3, 224, 224), mean=VAN_MEAN, std=VAN_STD, crop_pct=0.9,
                   params_m=60.3, macs_g=12.2, top1=84.2),
    "van_b5": dict(input_size=(3, 224, 224), mean=VAN_MEAN, std=VAN_STD, crop_pct=0.9,
                   params_m=90.0, note="ImageNet-22K pre-trained"),
    "van_b6": dict(input_size=(3, 224, 224), mean=VAN_MEAN, std=VAN_STD, crop_pct=0.9,
                   params_m=199.8, top1=87.8, note="ImageNet-22K pre-trained"),
}


def _van(name: str, **kwargs) -> VAN:
    model = VAN(**kwargs)
    model.default_cfg = dict(DEFAULT_CFGS[name], architecture=name)
    return model


@MODELS.register()
def van_b0(**kwargs) -> VAN:
    return _van("van_b0", **{"embed_dims": (32, 64, 160, 256), "mlp_ratios": (8, 8, 4, 4),
                             "depths": (3, 3, 5, 2), **kwargs})


@MODELS.register()
def van_b1(**kwargs) -> VAN:
    return _van("van_b1", **{"embed_dims": (64, 128, 320, 512), "mlp_ratios": (8, 8, 4, 4),
                             "depths": (2, 2, 4, 2), **kwargs})


@MODELS.register()
def van_b2(**kwargs) -> VAN:
    return _van("van_b2", **{"embed_dims": (64, 128, 320, 512), "mlp_ratios": (8, 8, 4, 4),
                             "depths": (3, 3, 12, 3), **kwargs})


@MODELS.register()
def van_b3(**kwargs) -> VAN:
    return _van("van_b3", **{"embed_dims": (64, 128, 320, 512), "mlp_ratios": (8, 8, 4, 4),
                             "depths": (3, 5, 27, 3), **kwargs})


@MODELS.register()
def van_b4(**kwargs) -> VAN:
    return _van("van_b4", **{"embed_dims": (64, 128, 320, 512), "mlp_ratios": (8, 8, 4, 4),
                             "depths": (3, 6, 40, 3), **kwargs})


@MODELS.register()
def van_b5(**kwargs) -> VAN:
    return _van("van_b5", **{"embed_dims": (96, 192, 480, 768), "mlp_ratios": (8, 8, 4, 4),
                             "depths": (3, 3, 24, 3), **kwargs})


@MODELS.register()
def van_b6(**kwargs) -> VAN:
    return _van("van_b6", **{"embed_dims": (96, 192, 384, 768), "mlp_ratios": (8, 8, 4, 4),
                             "depths": (6, 6, 90, 6), **kwargs})


# ------------------------------------------------------------------------------------------------
# Parity adapter: the official model's fixtures (../shared/parity/van) through tools/compare.py
# ------------------------------------------------------------------------------------------------
def _parity_build(kwargs: dict, manifest: dict) -> VAN:
    """The official ``VAN(**constructor_kwargs)``; its ``norm_layer`` is the stage-closing LayerNorm."""
    args = official_kwargs(kwargs, keep=("embed_dims", "mlp_ratios", "depths", "num_classes", "in_chans",
                                         "num_stages", "drop_rate", "drop_path_rate"),
                           ignore=("norm_layer", "img_size", "flag"), family="van")
    return VAN(ln_eps=official_norm_eps(kwargs.get("norm_layer"), 1e-5), **args)


def _parity_run(model: VAN, io: dict, upstream: dict, manifest: dict) -> dict:
    outs = model.forward_stages(input_var(io))
    result = {f"out_{i}": o for i, o in enumerate(outs)}
    result["features"] = outs[-1].mean(dims=(2, 3))
    if model.head is not None:
        result["logits"] = model.head(result["features"])
    return result


register_adapter(Adapter("van", _parity_build, lambda manifest: build_registered(manifest["name"]), _parity_run,
                         outputs=("out_*", "features", "logits")))
