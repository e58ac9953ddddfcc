"""MSCAN: the multi-scale convolutional attention backbone of SegNeXt.

Paper: Meng-Hao Guo, Cheng-Ze Lu, Qibin Hou, Zhengning Liu, Ming-Ming Cheng, Shi-Min Hu,
"SegNeXt: Rethinking Convolutional Attention Design for Semantic Segmentation", NeurIPS 2022
(arXiv:2209.08575).
Official code matched: Visual-Attention-Network/SegNeXt, ``mmseg/models/backbones/mscan.py``
(commit c87bcae). State-dict keys and parameter counts equal the official ones (manifests in
``../shared/parity/segnext``); in a SegNeXt segmentor checkpoint the same keys carry the prefix
``backbone.``, which the converter strips when loading into the backbone alone.

MSCAN is VAN (``jvision.models.van``, whose subclass it is here) with two changes: the first stage embeds with a two-conv stem
(3x3/2 -> BN -> GELU -> 3x3/2 -> BN, keys ``patch_embed1.proj.{0,1,3,4}``), and the gating unit is
MSCA (depthwise 5x5 plus 7/11/21 strip-convolution branches, ``jvision.ops.MultiScaleConvAttention``).
Each stage ends with ``nn.LayerNorm`` at its default eps 1e-5. Norms default to synchronised
BatchNorm, as the official configs (``SyncBN``); with Jittor's data parallelism the dataset batch is
global, so SyncBN reproduces the statistics of the reference "1 GPU x 16 images" setting.
"""
from __future__ import annotations

import re
from typing import Sequence

from jittor import nn

from ..convert.fixtures import (Adapter, build_registered, input_var, official_kwargs, register_adapter,
                                register_parts)
from ..ops import Conv2d, MultiScaleConvAttention
from ..ops.activation import GELU
from ..registry import MODELS
from .layers import build_batchnorm, norm_layer_from_cfg
from .van import VAN

__all__ = ["StemConv", "MSCAN", "DEFAULT_CFGS"]


class StemConv(nn.Module):
    """Stride-4 stem: conv 3x3/2 (C/2) -> BN -> GELU -> conv 3x3/2 (C) -> BN (key ``proj``)."""

    def __init__(self, in_chans: int, out_chans: int, norm_layer: str = "syncbn"):
        super().__init__()
        self.proj = nn.Sequential(
            Conv2d(in_chans, out_chans // 2, 3, stride=2, padding=1),
            build_batchnorm(norm_layer, out_chans // 2),
            GELU(),
            Conv2d(out_chans // 2, out_chans, 3, stride=2, padding=1),
            build_batchnorm(norm_layer, out_chans),
        )

    def execute(self, x):
        return self.proj(x)


@MODELS.register()
class MSCAN(VAN):
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

    The stages, ``feature_info``, freezing and forward are VAN's (no classifier ``head``); the
    official ``init_weights()`` without a pretrained file is VAN's too.
    """

    gating_unit = MultiScaleConvAttention

    def __init__(self, embed_dims: Sequence[int] = (64, 128, 256, 512),
                 mlp_ratios: Sequence[float] = (4, 4, 4, 4), depths: Sequence[int] = (3, 4, 6, 3),
                 in_chans: int = 3, drop_rate: float = 0.0, drop_path_rate: float = 0.0,
                 norm_layer: str = "syncbn", norm_cfg: dict | None = None, ln_eps: float = 1e-5,
                 out_indices: Sequence[int] = (0, 1, 2, 3), frozen_stages: int = -1,
                 num_stages: int = 4, layer_scale_init_value: float = 1e-2):
        super().__init__(embed_dims, mlp_ratios, depths, in_chans=in_chans, num_classes=0, drop_rate=drop_rate,
                         drop_path_rate=drop_path_rate, ln_eps=ln_eps,
                         norm_layer=norm_layer_from_cfg(norm_cfg, norm_layer), out_indices=out_indices,
                         frozen_stages=frozen_stages, num_stages=num_stages,
                         layer_scale_init_value=layer_scale_init_value)

    def _patch_embed(self, i: int, in_chans: int, dim: int, norm_layer: str) -> nn.Module:
        """The two-conv stem first, then VAN's 3x3/2 overlapping patch embeddings."""
        if i == 0:
            return StemConv(in_chans, dim, norm_layer)
        return super()._patch_embed(i, in_chans, dim, norm_layer)


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


# ------------------------------------------------------------------------------------------------
# Parity adapter: the backbone part of the official SegNeXt fixtures (../shared/parity/segnext).
# A SegNeXt manifest holds ``backbone.*`` and ``decode_head.*`` keys; the head's adapter is
# registered by the segmentation toolbox (``jseg.models.segnext``).
# ------------------------------------------------------------------------------------------------
def _parity_build(kwargs: dict, manifest: dict) -> MSCAN:
    args = official_kwargs(kwargs, keep=("embed_dims", "mlp_ratios", "depths", "drop_rate", "drop_path_rate",
                                         "norm_cfg", "in_chans", "num_stages"),
                           ignore=("pretrained", "init_cfg"), family="segnext")
    return MSCAN(**args)


def _parity_build_full(manifest: dict) -> MSCAN:
    """``mscan_t`` for the backbone manifest ``mscan_t`` and for the segmentor ``segnext_t_ade20k``."""
    m = re.fullmatch(r"segnext_([tsbl])_\w+", manifest["name"])
    return build_registered(f"mscan_{m.group(1)}" if m else manifest["name"])


def _parity_run(model: MSCAN, io: dict, upstream: dict, manifest: dict) -> dict:
    return {f"out_{i}": o for i, o in enumerate(model.forward_stages(input_var(io)))}


register_parts("segnext", [("backbone", "backbone."), ("decode_head", "decode_head.")],
               pending={"decode_head": "needs jseg (the LightHamHead adapter is registered by the "
                                       "segmentation toolbox)"})
register_adapter(Adapter("segnext", _parity_build, _parity_build_full, _parity_run, outputs=("out_*",),
                         part="backbone"))
