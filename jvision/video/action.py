"""Action recognition: fine-tuning a video backbone on clips, through the classification machinery.

``VideoClassifier`` is ``jvision.models.classifier.ImageClassifier`` (the loss with label smoothing,
timm's batch Mixup/CutMix -- on a clip one box or one blend for every frame, as VideoMAE's
``mixup.py`` in batch mode -- and the ``Accuracy`` metric's top-1/top-5) for (B, C, T, H, W) clips,
plus VideoMAE's multi-view test: a test batch of (B, V, C, T, H, W) views (``num_views`` in the
batch; ``jvision.data.video.VideoDataset(test_mode=True)``: clips x crops) is classified view by view
and the softmax is averaged over the views (the official ``merge``), so top-k and the loss are those
of the averaged prediction. The rest of the recipe lives where it does for images: layer-wise lr
decay in ``optimizer.paramwise.layer_decay``, stochastic depth in the backbone's ``drop_path_rate``.

    model = dict(type="VideoClassifier", backbone=dict(type="videomae_vit_base_patch16_224",
                 num_classes=400, drop_path_rate=0.1, pretrained="checkpoint-1599.pth"),
                 loss=dict(label_smoothing=0.1), mixup=dict(mixup_alpha=0.8, cutmix_alpha=1.0))
"""
from __future__ import annotations

import numpy as np
import jittor as jt
from jittor import nn

from ..models.classifier import ImageClassifier
from ..registry import MODELS

__all__ = ["VideoClassifier", "average_views"]


def average_views(logits: jt.Var, num_views: int) -> np.ndarray:
    """(B * V, K) logits of V views per sample -> (B, K) log of the view-averaged softmax."""
    probs = nn.softmax(logits, dim=1).numpy().astype(np.float64)
    probs = probs.reshape(-1, num_views, probs.shape[1]).mean(axis=1)
    return np.log(np.maximum(probs, 1e-300)).astype(np.float32)


@MODELS.register()
class VideoClassifier(ImageClassifier):
    """``ImageClassifier`` for clips, with multi-view testing (module docstring)."""

    def execute(self, img: jt.Var) -> jt.Var:
        if img.ndim != 5:
            raise ValueError(f"VideoClassifier expects clips (B, C, T, H, W), got shape {tuple(img.shape)}"
                             + (" (views: give the batch num_views)" if img.ndim == 6 else ""))
        return self.backbone(img)

    def val_step(self, batch: dict) -> np.ndarray:
        img = batch["img"]
        if "num_views" not in batch:
            return super().val_step(batch)
        if img.ndim != 6:
            raise ValueError(f"a batch with num_views needs views (B, V, C, T, H, W), got shape {tuple(img.shape)}")
        b, v = int(img.shape[0]), int(img.shape[1])
        logits = self(img.reshape((b * v,) + tuple(img.shape[2:])))
        self._check_logits(logits)
        return average_views(logits, v)
