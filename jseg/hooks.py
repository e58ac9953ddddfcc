"""Trainer hooks of the segmentation toolbox (registered in ``HOOKS``).

``SegVisualizationHook`` (list it in ``custom_hooks``): after every evaluation it prints the
per-class IoU table and saves ``work_dir/vis/iter_<n>.png``, a picture grid ``image | ground truth |
prediction`` of the first ``num_images`` validation images; after the run it writes, for the first
``num_overlays`` validation images, a colour overlay ``overlays/<name>.png`` and the raw predicted
label map ``overlays/<name>_pred.png`` (class indices), and prints where everything is.
It costs ``num_images`` extra forward passes per evaluation (the validation images are small).
Only rank 0 writes and predicts.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

import jittor as jt

from jvision.data.loader import collate
from jvision.engine.dist import is_main_process
from jvision.engine.hooks import Hook
from jvision.registry import HOOKS

from .visualize import compare, make_grid, overlay, save_image

__all__ = ["SegVisualizationHook", "predict_samples"]


def predict_samples(model, dataset, indices) -> list[tuple[dict, np.ndarray]]:
    """``(raw sample, predicted label map)`` of ``dataset`` items ``indices`` (eval mode, no grad);
    the raw sample is ``dataset.load(i)`` (original image and labels)."""
    was_training = model.is_training()
    model.eval()
    out = []
    try:
        with jt.no_grad():
            for i in indices:
                prepared = dataset.prepare(int(i), np.random.default_rng(int(i)))
                pred = model.val_step(collate([prepared]))[0]
                out.append((dataset.load(int(i)), np.asarray(pred)))
    finally:
        if was_training:
            model.train()
    return out


def _fit(label: np.ndarray, shape) -> np.ndarray:
    if label.shape == tuple(shape):
        return label
    return cv2.resize(label.astype(np.uint8), (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST)


@HOOKS.register()
class SegVisualizationHook(Hook):
    """See the module docstring.

    Args:
        num_images: validation images in the grid after each evaluation (0: no grid).
        num_overlays: validation images written as overlays + raw label PNGs at the end (0: none).
        out_dir: grid folder inside the work dir.
        overlay_dir: overlay folder inside the work dir.
        alpha: weight of the label colours in overlays.
        print_table: print (and log) the per-class IoU table after each evaluation.
    """

    priority = 75  # after EvalHook (70) has produced the metrics, before checkpointing

    def __init__(self, num_images: int = 4, num_overlays: int = 8, out_dir: str = "vis",
                 overlay_dir: str = "overlays", alpha: float = 0.6, print_table: bool = True):
        if num_images < 0 or num_overlays < 0:
            raise ValueError("SegVisualizationHook: num_images and num_overlays must be >= 0")
        if not 0 <= alpha <= 1:
            raise ValueError(f"SegVisualizationHook: alpha must be in [0, 1], got {alpha}")
        self.num_images, self.num_overlays = int(num_images), int(num_overlays)
        self.out_dir, self.overlay_dir = out_dir, overlay_dir
        self.alpha, self.print_table = float(alpha), bool(print_table)
        self.last_grid: Path | None = None
        self.overlay_paths: list[Path] = []

    @staticmethod
    def _dataset(trainer):
        loader = getattr(trainer, "val_loader", None)
        return None if loader is None else loader.dataset

    @staticmethod
    def _palette(ds, num_classes: int):
        palette = getattr(ds, "palette", None)
        if palette is None or len(palette) < num_classes:
            from .datasets import random_palette
            palette = random_palette(num_classes)
        names = list(getattr(ds, "classes", []) or [f"class_{i}" for i in range(num_classes)])
        return palette, names

    def after_val(self, trainer, metrics: dict) -> None:
        if not is_main_process():
            return
        metric = getattr(trainer, "metric", None)
        if self.print_table and metric is not None and hasattr(metric, "table"):
            try:
                table = metric.table()
            except RuntimeError:
                table = None
            if table:
                text = f"evaluation at iteration {trainer.iter}:\n{table}"
                print(text, flush=True)
                trainer.log_text(text)
        ds = self._dataset(trainer)
        if ds is None or self.num_images == 0:
            return
        n = min(self.num_images, len(ds))
        num_classes = getattr(trainer.model, "num_classes", None) or len(getattr(ds, "classes", []))
        palette, names = self._palette(ds, num_classes)
        rows = []
        for raw, pred in predict_samples(trainer.model, ds, range(n)):
            img = raw["img"]
            gt = raw.get("gt_seg")
            pred = _fit(pred, img.shape[:2])
            title = Path(str(raw.get("meta", {}).get("filename", ""))).name or None
            rows.append(compare(img, None if gt is None else _fit(np.asarray(gt), img.shape[:2]), pred, palette,
                                names, alpha=self.alpha, title=title))
        path = Path(trainer.work_dir) / self.out_dir / f"iter_{trainer.iter}.png"
        save_image(path, make_grid(rows, ncols=1))
        self.last_grid = path
        trainer.log_text(f"saved picture grid (image | ground truth | prediction) {path}")

    def after_run(self, trainer) -> None:
        if not is_main_process():
            return
        ds = self._dataset(trainer)
        lines = []
        if ds is not None and self.num_overlays > 0:
            num_classes = getattr(trainer.model, "num_classes", None) or len(getattr(ds, "classes", []))
            palette, _ = self._palette(ds, num_classes)
            folder = Path(trainer.work_dir) / self.overlay_dir
            folder.mkdir(parents=True, exist_ok=True)
            n = min(self.num_overlays, len(ds))
            self.overlay_paths = []
            for raw, pred in predict_samples(trainer.model, ds, range(n)):
                img = raw["img"]
                pred = _fit(pred, img.shape[:2])
                stem = Path(str(raw.get("meta", {}).get("filename", f"image_{len(self.overlay_paths)}"))).stem
                self.overlay_paths.append(save_image(folder / f"{stem}.png", overlay(img, pred, palette, self.alpha)))
                if not cv2.imwrite(str(folder / f"{stem}_pred.png"), pred.astype(np.uint8)):
                    raise OSError(f"could not write {folder / f'{stem}_pred.png'}")
            lines.append(f"overlays of {n} validation images (colour: <name>.png, raw labels: <name>_pred.png): "
                         f"{folder.resolve()}")
        if self.last_grid is not None:
            lines.append(f"picture grid (image | ground truth | prediction) of the last evaluation: "
                         f"{self.last_grid.resolve()}")
        for line in lines:
            print(line, flush=True)
            trainer.log_text(line)
