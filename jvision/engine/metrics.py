"""Evaluation metrics (registered in ``METRICS``): ``reset()``, ``process(batch, outputs)``,
``evaluate() -> {name: float}``. Each keeps counts on its rank and all-reduces them in ``evaluate``,
so data-parallel evaluation over shards gives the same numbers as one process over everything.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

import jittor as jt

from ..registry import METRICS
from .dist import all_reduce_sum

__all__ = ["Accuracy"]


def _to_numpy(x) -> np.ndarray:
    if isinstance(x, jt.Var):
        return x.numpy()
    return np.asarray(x)


@METRICS.register()
class Accuracy:
    """Top-k accuracy in percent (timm's convention) and the mean cross-entropy of the logits.

    ``outputs`` of ``val_step`` are the logits ``[B, K]`` (numpy or ``jt.Var``), or a dict holding
    them under ``output_key``. Labels come from ``batch[label_key]``. A ``k`` larger than the number
    of classes counts as ``K`` (so top-5 of a 4-class problem is 100%), as in timm.

    ``evaluate()`` returns ``{"top1": ..., "top5": ..., "loss": ..., "count": N}``.
    """

    def __init__(self, topk: int | Sequence[int] = (1, 5), label_key: str = "gt_label",
                 output_key: str = "logits"):
        topk = (topk,) if isinstance(topk, int) else tuple(int(k) for k in topk)
        if not topk or any(k < 1 for k in topk):
            raise ValueError(f"Accuracy topk must be positive integers, got {topk!r}")
        self.topk, self.label_key, self.output_key = topk, label_key, output_key
        self.reset()

    def reset(self) -> None:
        self.correct = np.zeros(len(self.topk), dtype=np.float64)
        self.loss_sum = 0.0
        self.count = 0

    def process(self, batch: dict, outputs) -> None:
        if isinstance(outputs, dict):
            if self.output_key not in outputs:
                raise KeyError(f"Accuracy: val_step outputs have no {self.output_key!r} key "
                               f"(keys: {sorted(outputs)})")
            outputs = outputs[self.output_key]
        logits = _to_numpy(outputs).astype(np.float64)
        if self.label_key not in batch:
            raise KeyError(f"Accuracy: the batch has no {self.label_key!r} (keys: {sorted(batch)})")
        labels = _to_numpy(batch[self.label_key]).astype(np.int64).reshape(-1)
        if logits.ndim != 2 or logits.shape[0] != labels.shape[0]:
            raise ValueError(f"Accuracy expects logits [B, K] and labels [B]; got {list(logits.shape)} "
                             f"and {list(labels.shape)}")
        num_classes = logits.shape[1]
        if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
            raise ValueError(f"Accuracy: label {int(labels.max())} out of range for {num_classes} classes")
        # rank of the true class: number of classes with a strictly larger logit (ties favour the
        # true class, like a stable top-k); correct@k <=> rank < k
        true_logit = logits[np.arange(labels.size), labels][:, None]
        rank = (logits > true_logit).sum(axis=1)
        for i, k in enumerate(self.topk):
            self.correct[i] += float((rank < min(k, num_classes)).sum())
        shifted = logits - logits.max(axis=1, keepdims=True)
        log_z = np.log(np.exp(shifted).sum(axis=1))
        self.loss_sum += float((log_z - shifted[np.arange(labels.size), labels]).sum())
        self.count += int(labels.size)

    def evaluate(self) -> dict:
        totals = all_reduce_sum(np.concatenate([[self.count, self.loss_sum], self.correct]).astype(np.float64))
        count = int(round(totals[0]))
        if count == 0:
            raise ValueError("Accuracy.evaluate: no samples were processed (empty validation set?)")
        out = {f"top{k}": float(100.0 * c / count) for k, c in zip(self.topk, totals[2:])}
        out["loss"] = float(totals[1] / count)
        out["count"] = count
        return out
