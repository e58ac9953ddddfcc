"""LightHamHead: SegNeXt's decoder (Hamburger with NMF on concatenated multi-level features).

Paper: Guo et al., "SegNeXt: Rethinking Convolutional Attention Design for Semantic Segmentation",
NeurIPS 2022; the Hamburger is from Geng et al., "Is Attention Better Than Matrix Decomposition?",
ICLR 2021. Official code matched: Visual-Attention-Network/SegNeXt,
``mmseg/models/decode_heads/ham_head.py`` (commit c87bcae); checked against the parity fixture
``segnext/segnext_tiny`` (every intermediate).

Forward (parameter names as the official state dict, under ``decode_head.``):

1. the features of ``in_index`` (stages 2-4: strides 8/16/32) bilinearly resized
   (``align_corners=False``) to the first one's size and concatenated;
2. ``squeeze``: ConvModule 1x1 (sum(in_channels) -> ham_channels) + GN + ReLU;
3. ``hamburger``: ``ham_in`` 1x1 conv with bias, ReLU -> NMF (``jvision.ops.nmf``) -> ``ham_out``
   1x1 conv + GN (no activation) -> ReLU(input + that);
4. ``align``: ConvModule 1x1 (ham_channels -> channels) + GN + ReLU;
5. ``cls_seg``: Dropout2d(0.1) -> ``conv_seg`` 1x1 -> logits at 1/8 of the image.

Per size (official configs): T: in [64, 160, 256], 256/256 channels, MD_R 16; S: in [128, 320, 512],
256/256, MD_R 16; B: 512/512, MD_R 64; L: 1024/1024, MD_R 64; GN with 32 groups.
"""
from __future__ import annotations

from typing import Sequence

import jittor as jt
from jittor import nn

from jvision.ops.nmf import NMF2D
from jvision.registry import MODELS

from ..bricks import ConvModule, resize
from .decode_head import BaseDecodeHead

__all__ = ["Hamburger", "LightHamHead"]


class Hamburger(nn.Module):
    """``ham_in`` (1x1, bias) -> ReLU -> NMF -> ``ham_out`` (1x1 + norm) -> ReLU(x + out)."""

    def __init__(self, ham_channels: int = 512, ham_kwargs: dict | None = None, norm_cfg: dict | None = None):
        super().__init__()
        self.ham_in = ConvModule(ham_channels, ham_channels, 1, norm_cfg=None, act_cfg=None)
        self.ham = NMF2D.from_ham_kwargs(ham_channels, ham_kwargs)
        self.ham_out = ConvModule(ham_channels, ham_channels, 1, norm_cfg=norm_cfg, act_cfg=None)

    def execute(self, x, bases=None, intermediates: dict | None = None):
        enjoy = nn.relu(self.ham_in(x))
        if intermediates is not None:
            intermediates["ham_nmf_in"] = enjoy
        enjoy = self.ham(enjoy, bases)
        if intermediates is not None:
            intermediates["ham_bases_init"] = self.ham.last_bases
            intermediates["ham_nmf_out"] = enjoy
        enjoy = self.ham_out(enjoy)
        return nn.relu(x + enjoy)


@MODELS.register()
class LightHamHead(BaseDecodeHead):
    """SegNeXt's decode head (see the module docstring).

    Args:
        in_channels: channels of the selected stages (T: ``[64, 160, 256]``).
        channels: channels of ``align`` / before ``conv_seg``.
        num_classes: output classes.
        ham_channels: channels of ``squeeze`` and the Hamburger.
        ham_kwargs: NMF settings, official spelling (``dict(MD_R=16)``), mmseg 1.x spelling
            (``md_r``, ``train_steps``, ...) or ours (``grad_through_steps``, ``eval_seed``); see
            ``jvision.ops.nmf``.
        in_index: backbone outputs used (default stages 2-4 = ``[1, 2, 3]``).
        norm_cfg: default ``dict(type="GN", num_groups=32)``.
        Other arguments: ``BaseDecodeHead``.

    ``execute(inputs, nmf_bases=None, intermediates=None)``: ``inputs`` is the backbone's list of
    features; ``nmf_bases`` fixes the NMF's initial bases; a dict passed as ``intermediates`` is
    filled with ``head_concat``, ``head_squeeze``, ``ham_nmf_in``, ``ham_bases_init``,
    ``ham_nmf_out``, ``head_hamburger``, ``head_align`` and ``head_logits`` (the parity fixture's names).
    """

    def __init__(self, in_channels: Sequence[int], channels: int, *, num_classes: int, ham_channels: int = 512,
                 ham_kwargs: dict | None = None, in_index: Sequence[int] = (1, 2, 3), dropout_ratio: float = 0.1,
                 norm_cfg: dict | None = dict(type="GN", num_groups=32, requires_grad=True),
                 act_cfg: dict | None = dict(type="ReLU"), align_corners: bool = False,
                 loss_decode: dict | Sequence[dict] = dict(type="CrossEntropyLoss", use_sigmoid=False, loss_weight=1.0),
                 ignore_index: int = 255, input_transform: str = "multiple_select"):
        super().__init__(list(in_channels), channels, num_classes=num_classes, dropout_ratio=dropout_ratio,
                         norm_cfg=norm_cfg, act_cfg=act_cfg, in_index=list(in_index),
                         input_transform=input_transform, loss_decode=loss_decode, ignore_index=ignore_index,
                         align_corners=align_corners)
        self.ham_channels = int(ham_channels)
        self.squeeze = ConvModule(sum(self.in_channels), self.ham_channels, 1, norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.hamburger = Hamburger(self.ham_channels, ham_kwargs, norm_cfg=norm_cfg)
        self.align = ConvModule(self.ham_channels, self.channels, 1, norm_cfg=norm_cfg, act_cfg=act_cfg)

    def execute(self, inputs, nmf_bases=None, intermediates: dict | None = None):
        feats = self._transform_inputs(inputs)
        size = feats[0].shape[2:]
        feats = [resize(f, size, "bilinear", self.align_corners) for f in feats]
        x = jt.concat(feats, dim=1)
        if intermediates is not None:
            intermediates["head_concat"] = x
        x = self.squeeze(x)
        if intermediates is not None:
            intermediates["head_squeeze"] = x
        x = self.hamburger(x, nmf_bases, intermediates)
        if intermediates is not None:
            intermediates["head_hamburger"] = x
        x = self.align(x)
        if intermediates is not None:
            intermediates["head_align"] = x
        out = self.cls_seg(x)
        if intermediates is not None:
            intermediates["head_logits"] = out
        return out
