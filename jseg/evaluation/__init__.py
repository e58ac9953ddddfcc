"""Segmentation evaluation: ``IoUMetric`` (registered in ``METRICS``) and its confusion-matrix helpers."""
from .iou_metric import IoUMetric, confusion_matrix, format_table, metrics_from_confusion  # noqa: F401
