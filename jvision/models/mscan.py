"""MSCAN: the multi-scale convolutional attention backbone of SegNeXt.

Paper: Meng-Hao Guo, Cheng-Ze Lu, Qibin Hou, Zhengning Liu, Ming-Ming Cheng, Shi-Min Hu,
"SegNeXt: Rethinking Convolutional Attention Design for Semantic Segmentation", NeurIPS 2022
(arXiv:2209.08575).
Official code matched: Visual-Attention-Network/SegNeXt, ``mmseg/models/backbones/mscan.py``
(commit c87bcae). State-dict keys and parameter counts equal the official ones (manifests in
``../shared/parity/segnext``); in a SegNeXt segmentor checkpoint the same keys carry the prefix
``backbone.``, which the converter strips when loading into the backbone alone.

MSCAN is VAN (``jvision.models.van``) with two changes: the first stage embeds with a two-conv stem
(3x3/2 -> BN -> GELU -> 3x3/2 -> BN, keys ``patch_embed1.proj.{0,1,3,4}``), and the gating unit is
MSCA (depthwise 5x5 plus 7/11/21 strip-convolution branches, ``jvision.ops.MultiScaleConvAttention``).
Each stage ends with ``nn.LayerNorm`` at its default eps 1e-5. Norms default to synchronised
BatchNorm, as the official configs (``SyncBN``); with Jittor's data parallelism the dataset batch is
global, so SyncBN reproduces the statistics of the reference "1 GPU x 16 images" setting.
"""
from __future__ import annotations

from typing import Sequence

from jittor import nn

from ..ops import MultiScaleConvAttention, LayerNorm2d
from ..ops.activation import GELU
from ..registry import MODELS
from .layers import build_batchnorm, freeze_module, linear_drop_path_rates, norm_layer_from_cfg
from .van import OverlapPatchEmbed, VANBlock, init_van_weights

__all__ = ["StemConv", "MSCAN", "DEFAULT_CFGS"]


class StemConv(nn.Module):
    """Stride-4 stem: conv 3x3/2 (C/2) -> BN -> GELU -> conv 3x3/2 (C) -> BN (key ``proj``)."""

    def __init__(self, in_chans: int, out_chans: int, norm_layer: str = "syncbn"):
        super().__init__()
        self.proj = nn.Sequential(
            nn.Conv2d(in_chans, out_chans // 2, 3, stride=2, padding=1),
            build_batchnorm(norm_layer, out_chans // 2),
            GELU(),
            nn.Conv2d(out_chans // 2, out_chans, 3, stride=2, padding=1),
            build_batchnorm(norm_layer, out_chans),
        )

    def execute(self, x):
        return self.proj(x)


@MODELS.register()
class MSCAN(nn.Module):
    """Multi-Scale Convolutional Attention Network (backbone; returns the stage features).

    Args:
        embed_dims, mlp_ratios, depths: per-stage width, MLP expansion and number of blocks.
        in_chans: input channels.
        drop_rate: dropout inside the MLPs; drop_path_rate: stochastic depth, linear over blocks.
        norm_layer: ``"syncbn"`` (default, as the official configs) or ``"bn"``.
        norm_cfg: mmseg-style alternative to ``norm_layer`` (``dict(type="SyncBN")``), accepted so
            configs ported from SegNeXt build unchanged.
        ln_eps: eps of the LayerNorm closing each stage (1e-5 in the official code).
        out_indices: stages returned (0..3); frozen_stages: stages 0..k frozen (-1: none).
    """

    def __init__(self, embed_dims: Sequence[int] = (64, 128, 256, 512),
                 mlp_ratios: Sequence[float] = (4, 4, 4, 4), depths: Sequence[int] = (3, 4, 6, 3),
                 in_chans: int = 3, drop_rate: float = 0.0, drop_path_rate: float = 0.0,
                 norm_layer: str = "syncbn", norm_cfg: dict | None = None, ln_eps: float = 1e-5,
                 out_indices: Sequence[int] = (0, 1, 2, 3), frozen_stages: int = -1,
                 num_stages: int = 4, layer_scale_init_value: float = 1e-2):
        super().__init__()
        norm_layer = norm_layer_from_cfg(norm_cfg, norm_layer)
        if not len(embed_dims) == len(mlp_ratios) == len(depths) >= num_stages:
            raise ValueError(f"embed_dims {list(embed_dims)}, mlp_ratios {list(mlp_ratios)} and depths "
                             f"{list(depths)} must have one entry per stage (num_stages={num_stages})")
        if any(not 0 <= i < num_stages for i in out_indices):
            raise ValueError(f"out_indices {list(out_indices)} must lie in [0, {num_stages})")
        self.embed_dims = list(embed_dims)
        self.depths = list(depths)
        self.num_stages = num_stages
        self.out_indices = tuple(out_indices)
        self.frozen_stages = frozen_stages

        dpr = linear_drop_path_rates(drop_path_rate, depths[:num_stages])
        cur = 0
        for i in range(num_stages):
            if i == 0:
                patch_embed = StemConv(in_chans, embed_dims[0], norm_layer)
            else:
                patch_embed = OverlapPatchEmbed(embed_dims[i - 1], embed_dims[i], patch_size=3, stride=2,
                                                norm_layer=norm_layer)
            blocks = nn.ModuleList([
                VANBlock(embed_dims[i], mlp_ratios[i], drop=drop_rate, drop_path=dpr[cur + j],
                         norm_layer=norm_layer, layer_scale_init_value=layer_scale_init_value,
                         gating_unit=MultiScaleConvAttention)
                for j in range(depths[i])])
            cur += depths[i]
            setattr(self, f"patch_embed{i + 1}", patch_embed)
            setattr(self, f"block{i + 1}", blocks)
            setattr(self, f"norm{i + 1}", LayerNorm2d(embed_dims[i], eps=ln_eps))
        self.feature_info = [dict(num_chs=embed_dims[i], reduction=4 * 2 ** i, module=f"norm{i + 1}")
                             for i in range(num_stages)]
        init_van_weights(self)  # the official init_weights() (no pretrained file) is VAN's
        self._freeze_stages()

    def stage_modules(self) -> dict:
        return {f"stage{i}": [f"patch_embed{i + 1}", f"block{i + 1}", f"norm{i + 1}"]
                for i in range(self.num_stages)}

    def _freeze_stages(self) -> None:
        for i in range(min(self.frozen_stages + 1, self.num_stages)):
            for name in (f"patch_embed{i + 1}", f"block{i + 1}", f"norm{i + 1}"):
                freeze_module(getattr(self, name))

    def train(self):
        super().train()
        self._freeze_stages()
        return self

    def forward_stages(self, x, last_stage: int | None = None) -> list:
        """Every stage output (after its LayerNorm) up to ``last_stage``, NCHW."""
        last = self.num_stages - 1 if last_stage is None else last_stage
        outs = []
        for i in range(last + 1):
            x = getattr(self, f"patch_embed{i + 1}")(x)
            for blk in getattr(self, f"block{i + 1}"):
                x = blk(x)
            x = getattr(self, f"norm{i + 1}")(x)
            outs.append(x)
        return outs

    def execute(self, x) -> list:
        outs = self.forward_stages(x, last_stage=max(self.out_indices))
        return [outs[i] for i in self.out_indices]

    forward = execute


# ------------------------------------------------------------------------------------------------
# Published variants. drop_path_rate: the ADE20K configs' value. Segmentation results are SegNeXt
# (MSCAN + LightHamHead) on ADE20K, single scale, 512x512, 160k iterations (README).
# ------------------------------------------------------------------------------------------------
ADE_MEAN = (123.675 / 255, 116.28 / 255, 103.53 / 255)
ADE_STD = (58.395 / 255, 57.12 / 255, 57.375 / 255)
DEFAULT_CFGS = {
    "mscan_t": dict(input_size=(3, 512, 512), mean=ADE_MEAN, std=ADE_STD, params_m=3.90,
                    drop_path_rate=0.1, segnext_ade20k_miou=41.1, segnext_macs_g=7),
    "mscan_s": dict(input_size=(3, 512, 512), mean=ADE_MEAN, std=ADE_STD, params_m=13.45,
                    drop_path_rate=0.1, segnext_ade20k_miou=44.3, segnext_macs_g=16),
    "mscan_b": dict(input_size=(3, 512, 512), mean=ADE_MEAN, std=ADE_STD, params_m=26.28,
                    drop_path_rate=0.1, segnext_ade20k_miou=48.5, segnext_macs_g=35),
    "mscan_l": dict(input_size=(3, 512, 512), mean=ADE_MEAN, std=ADE_STD, params_m=44.64,
                    drop_path_rate=0.3, segnext_ade20k_miou=51.0, segnext_macs_g=70),
}


def _mscan(name: str, **kwargs) -> MSCAN:
    model = MSCAN(**kwargs)
    model.default_cfg = dict(DEFAULT_CFGS[name], architecture=name)
    return model


@MODELS.register()
def mscan_t(**kwargs) -> MSCAN:
    return _mscan("mscan_t", **{"embed_dims": (32, 64, 160, 256), "mlp_ratios": (8, 8, 4, 4),
                                "depths": (3, 3, 5, 2), **kwargs})


@MODELS.register()
def mscan_s(**kwargs) -> MSCAN:
    return _mscan("mscan_s", **{"embed_dims": (64, 128, 320, 512), "mlp_ratios": (8, 8, 4, 4),
                                "depths": (2, 2, 4, 2), **kwargs})


@MODELS.register()
def mscan_b(**kwargs) -> MSCAN:
    return _mscan("mscan_b", **{"embed_dims": (64, 128, 320, 512), "mlp_ratios": (8, 8, 4, 4),
                                "depths": (3, 3, 12, 3), **kwargs})


@MODELS.register()
def mscan_l(**kwargs) -> MSCAN:
    return _mscan("mscan_l", **{"embed_dims": (64, 128, 320, 512), "mlp_ratios": (8, 8, 4, 4),
                                "depths": (3, 5, 27, 3), **kwargs})
