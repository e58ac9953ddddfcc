"""Semantic-segmentation metrics from a confusion matrix: per-class IoU / accuracy, mIoU, mAcc, aAcc.

Everything is derived from one ``num_classes x num_classes`` confusion matrix (rows: ground
truth, columns: prediction) accumulated over the images of this rank, summed over MPI ranks in
``evaluate()``. Definitions (mmsegmentation's):

* ``IoU_c  = TP_c / (TP_c + FP_c + FN_c)``; ``Acc_c = TP_c / (TP_c + FN_c)`` (= recall);
* ``aAcc   = sum_c TP_c / (labelled pixels)``;
* ``mIoU``, ``mAcc``: mean over the classes that occur in the ground truth (a class absent from the
  ground truth has ``Acc = NaN`` and, unless predicted, ``IoU = NaN``; NaNs are left out of the mean;
  a class that is predicted but absent from the ground truth has ``IoU = 0`` and counts).
* optional ``mDice`` (``2TP / (2TP + FP + FN)``) and ``mFscore`` (with ``mPrecision``, ``mRecall``).

Pixels whose label is ``ignore_index`` are not counted. A label or prediction outside
``0..num_classes-1`` (other than ``ignore_index`` in the label) is an error, never dropped silently.
Values are fractions in ``[0, 1]``; the table prints percentages.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from jvision.engine.dist import all_reduce_sum, is_main_process
from jvision.registry import DATASETS, METRICS

__all__ = ["confusion_matrix", "metrics_from_confusion", "format_table", "IoUMetric"]


def _to_numpy(x) -> np.ndarray:
    if hasattr(x, "numpy") and not isinstance(x, np.ndarray):
        x = x.numpy()
    return np.asarray(x)


def confusion_matrix(pred, gt, num_classes: int, ignore_index: int = 255, name: str | None = None) -> np.ndarray:
    """``num_classes x num_classes`` int64 counts; ``[i, j]`` = pixels of class ``i`` predicted ``j``."""
    pred, gt = _to_numpy(pred), _to_numpy(gt)
    where = f" for {name!r}" if name else ""
    if pred.shape != gt.shape:
        raise ValueError(f"prediction shape {pred.shape} != label shape {gt.shape}{where}; predictions must be "
                         "at the label's resolution")
    if pred.dtype.kind not in "iub" or gt.dtype.kind not in "iub":
        raise TypeError(f"prediction ({pred.dtype}) and label ({gt.dtype}) must be integer maps{where}")
    gt = gt.astype(np.int64, copy=False).ravel()
    pred = pred.astype(np.int64, copy=False).ravel()
    keep = gt != ignore_index
    gt, pred = gt[keep], pred[keep]
    if gt.size:
        if gt.min() < 0 or gt.max() >= num_classes:
            bad = np.unique(gt[(gt < 0) | (gt >= num_classes)])[:10].tolist()
            raise ValueError(f"label value(s) {bad}{where} are neither a class (0..{num_classes - 1}) nor "
                             f"ignore_index {ignore_index}")
        if pred.min() < 0 or pred.max() >= num_classes:
            bad = np.unique(pred[(pred < 0) | (pred >= num_classes)])[:10].tolist()
            raise ValueError(f"predicted value(s) {bad}{where} are not classes 0..{num_classes - 1}")
    return np.bincount(gt * num_classes + pred, minlength=num_classes * num_classes).reshape(
        num_classes, num_classes)


def metrics_from_confusion(cm: np.ndarray, beta: float = 1.0) -> dict[str, Any]:
    """Per-class arrays (``IoU``, ``Acc``, ``Dice``, ``Precision``, ``Recall``, ``Fscore``,
    ``support`` = labelled pixels per class) and ``aAcc`` from a confusion matrix."""
    cm = np.asarray(cm, dtype=np.float64)
    tp = np.diag(cm)
    gt_count = cm.sum(axis=1)
    pred_count = cm.sum(axis=0)
    union = gt_count + pred_count - tp
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = np.where(union > 0, tp / union, np.nan)
        acc = np.where(gt_count > 0, tp / gt_count, np.nan)
        dice = np.where(gt_count + pred_count > 0, 2 * tp / (gt_count + pred_count), np.nan)
        precision = np.where(pred_count > 0, tp / pred_count, np.nan)
        recall = acc
        b2 = beta * beta
        fscore = (1 + b2) * precision * recall / (b2 * precision + recall)
    total = cm.sum()
    return {"IoU": iou, "Acc": acc, "Dice": dice, "Precision": precision, "Recall": recall, "Fscore": fscore,
            "support": gt_count, "aAcc": float(tp.sum() / total) if total > 0 else float("nan")}


def _nanmean(x: np.ndarray) -> float:
    x = np.asarray(x, dtype=np.float64)
    x = x[~np.isnan(x)]
    return float(x.mean()) if x.size else float("nan")


def _pct(v: float) -> str:
    return "nan" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{100 * v:.2f}"


def format_table(class_names: Sequence[str], per_class: dict[str, np.ndarray], summary: dict[str, float],
                 columns: Sequence[str] = ("IoU", "Acc")) -> str:
    """A plain-text table: one row per class (values in %), then the summary row(s)."""
    rows = [["Class", *columns]]
    for i, name in enumerate(class_names):
        rows.append([str(name), *[_pct(float(per_class[c][i])) for c in columns]])
    widths = [max(len(r[j]) for r in rows) for j in range(len(rows[0]))]
    sep = "+" + "+".join("-" * (w + 2) for w in widths) + "+"

    def line(r):
        cells = (c.ljust(widths[j]) if j == 0 else c.rjust(widths[j]) for j, c in enumerate(r))
        return "| " + " | ".join(cells) + " |"

    out = [sep, line(rows[0]), sep] + [line(r) for r in rows[1:]] + [sep]
    keys = list(summary)
    srows = [keys, [_pct(summary[k]) for k in keys]]
    sw = [max(len(r[j]) for r in srows) for j in range(len(keys))]
    ssep = "+" + "+".join("-" * (w + 2) for w in sw) + "+"
    out += [ssep, "| " + " | ".join(k.rjust(sw[j]) for j, k in enumerate(srows[0])) + " |", ssep,
            "| " + " | ".join(k.rjust(sw[j]) for j, k in enumerate(srows[1])) + " |", ssep]
    return "\n".join(out)


@METRICS.register()
class IoUMetric:
    """Accumulates a confusion matrix over ``process`` calls; ``evaluate`` all-reduces and scores.

    Args:
        num_classes: number of classes; default: ``len(class_names)``.
        class_names: names for the per-class keys and the table; default: those of ``dataset``,
            else ``class_0 ...``.
        dataset: a registered dataset name (e.g. ``"ADE20K"``, ``"Scenes"``) to take class names from.
        ignore_index: label value not scored.
        metrics: any of ``"mIoU"`` (always on), ``"mDice"``, ``"mFscore"``.
        beta: the F-score's beta.
        per_class: put ``IoU.<class>`` / ``Acc.<class>`` (and Dice/Fscore) into ``evaluate``'s result.
        prefix: prepended to every key of the result (e.g. ``"val/"``).
        print_table: also print the per-class table (rank 0 only) at every ``evaluate``. Off by
            default: the segmentation runtime's ``SegVisualizationHook`` prints and logs
            ``table()``; the trainer writes the returned flat dict to ``metrics.jsonl``.

    ``process(batch, outputs)``: ``batch["gt_seg"]`` is an ``NxHxW`` array (numpy or ``jt.Var``) or a
    list of ``HxW`` maps; ``outputs`` the matching predicted label maps (list or ``NxHxW``), at the
    label's resolution. ``evaluate()`` returns flat floats (fractions): ``aAcc``, ``mIoU``, ``mAcc``
    [, ``mDice``, ``mFscore``, ``mPrecision``, ``mRecall``] and the per-class values; classes absent
    from both the labels and the predictions have no per-class keys (their value is undefined).
    ``table()`` formats the last evaluation as text.
    """

    def __init__(self, num_classes: int | None = None, class_names: Sequence[str] | None = None,
                 dataset: str | None = None, ignore_index: int = 255, metrics: Sequence[str] | str = ("mIoU",),
                 beta: float = 1.0, per_class: bool = True, prefix: str = "", print_table: bool = False):
        if class_names is None and dataset is not None:
            cls = DATASETS.get(dataset)
            class_names = list(getattr(cls, "CLASSES", ()) or ())
            if not class_names:
                raise ValueError(f"IoUMetric: dataset {dataset!r} declares no CLASSES; pass class_names")
        if class_names is not None:
            class_names = [str(c) for c in class_names]
            if num_classes is not None and num_classes != len(class_names):
                raise ValueError(f"IoUMetric: num_classes={num_classes} but {len(class_names)} class names")
            num_classes = len(class_names)
        if num_classes is None or int(num_classes) <= 0:
            raise ValueError("IoUMetric needs num_classes, class_names or dataset")
        self.num_classes = int(num_classes)
        self.class_names = class_names or [f"class_{i}" for i in range(self.num_classes)]
        metrics = [metrics] if isinstance(metrics, str) else list(metrics)
        unknown = set(metrics) - {"mIoU", "mDice", "mFscore"}
        if unknown:
            raise ValueError(f"IoUMetric: unknown metric(s) {sorted(unknown)}; choose from mIoU, mDice, mFscore")
        self.metrics = metrics
        self.ignore_index, self.beta, self.per_class, self.prefix = int(ignore_index), float(beta), per_class, prefix
        self.print_table = bool(print_table)
        self.last_results: dict | None = None
        self.reset()

    # Trainers that know the dataset may hand its metainfo over (as mmengine does).
    @property
    def dataset_meta(self) -> dict:
        return {"classes": list(self.class_names)}

    @dataset_meta.setter
    def dataset_meta(self, meta: dict) -> None:
        classes = list(meta.get("classes") or [])
        if classes:
            if len(classes) != self.num_classes:
                raise ValueError(f"IoUMetric: dataset has {len(classes)} classes, metric was built for "
                                 f"{self.num_classes}")
            self.class_names = [str(c) for c in classes]

    def reset(self) -> None:
        self.confusion = np.zeros((self.num_classes, self.num_classes), dtype=np.int64)
        self.num_images = 0

    def process(self, batch: dict, outputs) -> None:
        if "gt_seg" not in batch:
            raise KeyError("IoUMetric.process: the batch has no 'gt_seg' (did the validation set load labels?)")
        gts = batch["gt_seg"]
        gts = list(gts) if isinstance(gts, (list, tuple)) else list(_to_numpy(gts))
        preds = outputs if isinstance(outputs, (list, tuple)) else list(_to_numpy(outputs))
        if len(preds) != len(gts):
            raise ValueError(f"IoUMetric.process: {len(preds)} predictions for {len(gts)} label maps")
        metas = batch.get("meta") or [{}] * len(gts)
        for i, (pred, gt) in enumerate(zip(preds, gts)):
            name = metas[i].get("filename") if i < len(metas) and isinstance(metas[i], dict) else None
            self.confusion += confusion_matrix(pred, gt, self.num_classes, self.ignore_index, name)
        self.num_images += len(gts)

    def compute(self, confusion: np.ndarray) -> dict[str, float]:
        per = metrics_from_confusion(confusion, self.beta)
        summary = {"aAcc": per["aAcc"], "mIoU": _nanmean(per["IoU"]), "mAcc": _nanmean(per["Acc"])}
        columns = ["IoU", "Acc"]
        if "mDice" in self.metrics:
            summary["mDice"] = _nanmean(per["Dice"])
            columns.append("Dice")
        if "mFscore" in self.metrics:
            summary.update(mFscore=_nanmean(per["Fscore"]), mPrecision=_nanmean(per["Precision"]),
                           mRecall=_nanmean(per["Recall"]))
            columns += ["Fscore", "Precision", "Recall"]
        results = dict(summary)
        if self.per_class:
            for c in columns:
                for name, v in zip(self.class_names, per[c]):
                    if not math.isnan(v):
                        results[f"{c}.{name}"] = float(v)
        self.last_results = {"summary": summary, "per_class": per, "columns": columns,
                             "confusion": confusion}
        return {self.prefix + k: float(v) for k, v in results.items()}

    def evaluate(self) -> dict[str, float]:
        confusion = np.asarray(all_reduce_sum(self.confusion)).astype(np.int64)
        if confusion.sum() == 0:
            raise ValueError("IoUMetric.evaluate: no labelled pixels were processed (empty validation set, or "
                             "every label is ignore_index)")
        results = self.compute(confusion)
        if self.print_table and is_main_process():
            print(f"IoUMetric over {int(confusion.sum())} labelled pixels:\n{self.table()}", flush=True)
        return results

    def table(self) -> str:
        """The per-class table of the last ``evaluate`` (percentages)."""
        if self.last_results is None:
            raise RuntimeError("IoUMetric.table: call evaluate() first")
        r = self.last_results
        return format_table(self.class_names, r["per_class"], r["summary"], r["columns"])

    def __repr__(self) -> str:
        return f"IoUMetric(num_classes={self.num_classes}, ignore_index={self.ignore_index}, metrics={self.metrics})"
