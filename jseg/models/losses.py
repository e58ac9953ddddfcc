"""Segmentation losses (registered in ``MODELS``), mmseg's names and semantics.

``CrossEntropyLoss`` is mmseg 0.x's softmax cross-entropy as SegNeXt used it
(``loss_decode=dict(type="CrossEntropyLoss", use_sigmoid=False, loss_weight=1.0)``):

* pixels labelled ``ignore_index`` (255) contribute 0;
* with ``class_weight`` each pixel's loss is multiplied by the weight of its class;
* ``reduction="mean"`` divides by ALL pixels, ignored ones included (mmseg 0.x default,
  ``avg_non_ignore=False``); ``avg_non_ignore=True`` divides by the non-ignored pixels (mmseg's
  recommended setting since v0.23). mmseg does not divide by the sum of the class weights, and
  neither does this.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

import jittor as jt
from jittor import nn

from jvision.ops import resized_argmax, softmax_cross_entropy
from jvision.registry import MODELS

__all__ = ["cross_entropy", "CrossEntropyLoss", "pixel_accuracy"]


def cross_entropy(logits: jt.Var, label: jt.Var, class_weight: jt.Var | None = None, ignore_index: int = 255,
                  reduction: str = "mean", avg_non_ignore: bool = False, align_corners: bool | None = None) -> jt.Var:
    """Softmax cross-entropy of ``logits [N, K, h, w]`` against ``label [N, H, W]`` (see module doc).

    ``align_corners`` given (a bool): logits smaller than the labels are bilinearly resized to them
    inside the loss (``jvision.ops.softmax_cross_entropy``: on the ``kernel`` backend the resized
    logits are never stored). ``None``: the sizes must already match.
    """
    if logits.ndim != 4 or label.ndim != 3:
        raise ValueError(f"cross_entropy expects logits [N, K, H, W] and labels [N, H, W]; got "
                         f"{list(logits.shape)} and {list(label.shape)}")
    if logits.shape[0] != label.shape[0] or (align_corners is None and tuple(logits.shape[2:]) != tuple(label.shape[1:])):
        raise ValueError(f"cross_entropy: logits {list(logits.shape)} and labels {list(label.shape)} differ in "
                         "batch or spatial size (resize the logits to the label first, or pass align_corners)")
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    loss = softmax_cross_entropy(logits, label, class_weight, ignore_index, bool(align_corners))
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    if avg_non_ignore:
        valid = (label != ignore_index).float32()
        return loss.sum() / jt.maximum(valid.sum(), 1.0)
    return loss.mean()


def pixel_accuracy(logits: jt.Var, label: jt.Var, ignore_index: int = 255, align_corners: bool | None = None) -> jt.Var:
    """Top-1 accuracy in percent over non-ignored pixels (mmseg's ``acc_seg``), a scalar ``Var``
    without gradient; 0 when every pixel is ignored. With ``align_corners`` given, logits smaller
    than the labels are resized to them first (``jvision.ops.resized_argmax``)."""
    if align_corners is None and tuple(logits.shape[2:]) != tuple(label.shape[1:]):
        raise ValueError(f"pixel_accuracy: logits {list(logits.shape)} and labels {list(label.shape)} differ in "
                         "spatial size (pass align_corners to resize the logits)")
    pred = resized_argmax(logits, label.shape[1:], bool(align_corners))
    label = label.int32()
    valid = (label != ignore_index).float32()
    correct = ((pred == label).float32() * valid).sum()
    return (correct * 100.0 / jt.maximum(valid.sum(), 1.0)).stop_grad()


@MODELS.register()
class CrossEntropyLoss(nn.Module):
    """mmseg's ``CrossEntropyLoss`` (softmax only).

    Args:
        use_sigmoid, use_mask: must be False (binary/mask variants are not implemented).
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.
        class_weight: one weight per class, or ``None``.
        loss_weight: multiplies the loss.
        loss_name: the key under which the segmentor logs it (``loss_ce``).
        avg_non_ignore: average over non-ignored pixels only (see the module doc).
    """

    def __init__(self, use_sigmoid: bool = False, use_mask: bool = False, reduction: str = "mean",
                 class_weight: Sequence[float] | None = None, loss_weight: float = 1.0,
                 loss_name: str = "loss_ce", avg_non_ignore: bool = False):
        super().__init__()
        if use_sigmoid or use_mask:
            raise NotImplementedError("CrossEntropyLoss: use_sigmoid/use_mask are not implemented (softmax only)")
        if reduction not in ("mean", "sum", "none"):
            raise ValueError(f"CrossEntropyLoss reduction must be mean, sum or none, got {reduction!r}")
        self.reduction, self.loss_weight, self.loss_name = reduction, float(loss_weight), loss_name
        self.avg_non_ignore = bool(avg_non_ignore)
        self._class_weight = None if class_weight is None else np.asarray(class_weight, dtype=np.float32)
        if self._class_weight is not None and (self._class_weight.ndim != 1 or np.any(self._class_weight < 0)):
            raise ValueError(f"CrossEntropyLoss class_weight must be a list of non-negative numbers, got {class_weight}")

    def execute(self, logits, label, ignore_index: int = 255, align_corners: bool | None = None):
        cw = None if self._class_weight is None else jt.array(self._class_weight)
        return self.loss_weight * cross_entropy(logits, label, cw, ignore_index, self.reduction, self.avg_non_ignore,
                                                align_corners)
