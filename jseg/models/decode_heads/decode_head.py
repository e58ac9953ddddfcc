"""``BaseDecodeHead``: what every mmseg decode head shares (mmseg 0.x ``decode_head.py`` semantics).

It selects the backbone features it uses (``in_index`` / ``input_transform``), ends with
``cls_seg`` = ``Dropout2d(dropout_ratio)`` -> ``conv_seg`` (1x1 conv to ``num_classes``; weights
N(0, 0.01), bias 0), and computes its loss: logits bilinearly resized to the label size, then each
``loss_decode`` (summed), plus the pixel accuracy ``acc_seg``.
"""
from __future__ import annotations

from typing import Sequence

import jittor as jt
from jittor import nn

from jvision.models.layers import Dropout2d
from jvision.ops import Conv2d
from jvision.registry import MODELS

from ..losses import pixel_accuracy

__all__ = ["BaseDecodeHead"]


class BaseDecodeHead(nn.Module):
    """Args (mmseg's):
        in_channels: channels of the selected input(s) (a list with ``multiple_select``).
        channels: channels before ``conv_seg``.
        num_classes: output classes.
        dropout_ratio: ``Dropout2d`` before ``conv_seg`` (0: none).
        norm_cfg, act_cfg: for the head's ``ConvModule`` s.
        in_index: which backbone outputs to use (int, or list with ``multiple_select``).
        input_transform: ``None`` (one input) or ``"multiple_select"`` (a list).
        loss_decode: a loss config, or a list of them (their values are summed and logged by name).
        ignore_index: label ignored by the loss and the accuracy.
        align_corners: of every bilinear resize in the head and the loss.
    """

    def __init__(self, in_channels: int | Sequence[int], channels: int, *, num_classes: int,
                 dropout_ratio: float = 0.1, norm_cfg: dict | None = None, act_cfg: dict | None = dict(type="ReLU"),
                 in_index: int | Sequence[int] = -1, input_transform: str | None = None,
                 loss_decode: dict | Sequence[dict] = dict(type="CrossEntropyLoss", use_sigmoid=False, loss_weight=1.0),
                 ignore_index: int = 255, align_corners: bool = False):
        super().__init__()
        if input_transform not in (None, "multiple_select"):
            raise ValueError(f"input_transform must be None or 'multiple_select', got {input_transform!r} "
                             "('resize_concat' is not implemented)")
        if input_transform == "multiple_select":
            if not isinstance(in_channels, (list, tuple)) or not isinstance(in_index, (list, tuple)):
                raise ValueError("input_transform='multiple_select' needs lists in_channels and in_index")
            if len(in_channels) != len(in_index):
                raise ValueError(f"in_channels {list(in_channels)} and in_index {list(in_index)} differ in length")
            in_channels, in_index = [int(c) for c in in_channels], [int(i) for i in in_index]
        elif isinstance(in_channels, (list, tuple)) or isinstance(in_index, (list, tuple)):
            raise ValueError("a single-input head takes an int in_channels and in_index")
        if int(num_classes) < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        if not 0 <= float(dropout_ratio) < 1:
            raise ValueError(f"dropout_ratio must be in [0, 1), got {dropout_ratio}")
        self.in_channels, self.in_index, self.input_transform = in_channels, in_index, input_transform
        self.channels, self.num_classes = int(channels), int(num_classes)
        self.dropout_ratio = float(dropout_ratio)
        self.norm_cfg, self.act_cfg = norm_cfg, act_cfg
        self.ignore_index, self.align_corners = int(ignore_index), bool(align_corners)
        cfgs = [loss_decode] if isinstance(loss_decode, dict) else list(loss_decode)
        if not cfgs:
            raise ValueError("loss_decode is empty")
        self.loss_decode = nn.ModuleList([MODELS.build(c) for c in cfgs])
        self.conv_seg = Conv2d(self.channels, self.num_classes, 1)
        self.dropout = Dropout2d(self.dropout_ratio) if self.dropout_ratio > 0 else None
        jt.init.gauss_(self.conv_seg.weight, 0.0, 0.01)
        jt.init.zero_(self.conv_seg.bias)

    def _transform_inputs(self, inputs: Sequence) -> list | jt.Var:
        n = len(inputs)
        idx = self.in_index if isinstance(self.in_index, list) else [self.in_index]
        for i in idx:
            if not -n <= i < n:
                raise IndexError(f"{type(self).__name__}: in_index {i} but the backbone returned {n} feature maps")
        if self.input_transform == "multiple_select":
            feats = [inputs[i] for i in idx]
            for f, c, i in zip(feats, self.in_channels, idx):
                if f.shape[1] != c:
                    raise ValueError(f"{type(self).__name__}: feature {i} has {f.shape[1]} channels, in_channels "
                                     f"says {c}")
            return feats
        f = inputs[self.in_index]
        if f.shape[1] != self.in_channels:
            raise ValueError(f"{type(self).__name__}: feature {self.in_index} has {f.shape[1]} channels, "
                             f"in_channels says {self.in_channels}")
        return f

    def cls_seg(self, feat):
        if self.dropout is not None:
            feat = self.dropout(feat)
        return self.conv_seg(feat)

    def losses(self, seg_logits, seg_label) -> dict:
        """``{"loss_ce": ..., "acc_seg": ...}`` of logits (any size) against labels ``[N, H, W]``."""
        # The losses and the accuracy resize the logits to the label size themselves, so that the
        # full-resolution logits need not be stored (jvision.ops.softmax_cross_entropy).
        out = {}
        for loss in self.loss_decode:
            name = getattr(loss, "loss_name", type(loss).__name__)
            value = loss(seg_logits, seg_label, ignore_index=self.ignore_index, align_corners=self.align_corners)
            out[name] = out[name] + value if name in out else value
        out["acc_seg"] = pixel_accuracy(seg_logits, seg_label, self.ignore_index, self.align_corners)
        return out
