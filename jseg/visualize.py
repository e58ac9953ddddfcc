"""Pictures of segmentations: colour label maps, overlays, legends and ``image | gt | pred`` grids.

All images are ``HxWx3`` uint8 **RGB**; ``save_image`` writes them (creating the folder) and raises
naming the path if it cannot.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

__all__ = ["colorize", "overlay", "legend", "make_grid", "compare", "save_image", "to_uint8_image"]


def colorize(label: np.ndarray, palette: Sequence[Sequence[int]], ignore_index: int = 255,
             ignore_color: Sequence[int] = (0, 0, 0)) -> np.ndarray:
    """Colour an ``HxW`` label map with ``palette``; ``ignore_index`` (and values without a colour)
    get ``ignore_color``."""
    if hasattr(label, "numpy") and not isinstance(label, np.ndarray):
        label = label.numpy()
    label = np.asarray(label)
    if label.ndim != 2:
        raise ValueError(f"colorize: expected an HxW label map, got shape {label.shape}")
    pal = np.asarray(palette, dtype=np.uint8).reshape(-1, 3)
    lab = label.astype(np.int64)
    out = np.empty(label.shape + (3,), dtype=np.uint8)
    out[:] = np.asarray(ignore_color, dtype=np.uint8)
    valid = (lab >= 0) & (lab < len(pal)) & (lab != ignore_index)
    out[valid] = pal[lab[valid]]
    return out


def to_uint8_image(img: np.ndarray, mean: Sequence[float] | None = None,
                   std: Sequence[float] | None = None) -> np.ndarray:
    """An image for display: CHW -> HWC, de-normalised with ``mean``/``std`` if given, clipped to uint8."""
    img = np.asarray(img.numpy() if hasattr(img, "numpy") and not isinstance(img, np.ndarray) else img)
    if img.ndim == 3 and img.shape[0] in (1, 3) and img.shape[2] not in (1, 3):
        img = img.transpose(1, 2, 0)
    img = img.astype(np.float32)
    if std is not None:
        img = img * np.asarray(std, dtype=np.float32)
    if mean is not None:
        img = img + np.asarray(mean, dtype=np.float32)
    if img.ndim == 2:
        img = img[:, :, None]
    if img.shape[2] == 1:
        img = np.repeat(img, 3, axis=2)
    return np.clip(img + 0.5, 0, 255).astype(np.uint8)


def overlay(img: np.ndarray, label: np.ndarray, palette: Sequence[Sequence[int]], alpha: float = 0.5,
            ignore_index: int = 255) -> np.ndarray:
    """Blend the coloured label over ``img`` (``alpha`` = weight of the colours); ignored pixels
    keep the image."""
    img = to_uint8_image(img)
    if img.shape[:2] != np.asarray(label).shape:
        raise ValueError(f"overlay: image {img.shape[:2]} and label {np.asarray(label).shape} differ in size")
    colour = colorize(label, palette, ignore_index)
    out = img.astype(np.float32)
    mask = np.asarray(label) != ignore_index
    out[mask] = (1 - alpha) * out[mask] + alpha * colour[mask].astype(np.float32)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def legend(class_names: Sequence[str], palette: Sequence[Sequence[int]], classes: Sequence[int] | None = None,
           width: int = 220, row: int = 16) -> np.ndarray:
    """Colour swatches with names, one row per class (all, or those in ``classes``)."""
    idx = list(range(len(class_names))) if classes is None else [int(c) for c in classes]
    out = np.full((max(1, len(idx)) * row + 4, width, 3), 255, dtype=np.uint8)
    for r, c in enumerate(idx):
        y = 2 + r * row
        cv2.rectangle(out, (4, y + 2), (4 + row - 4, y + row - 2), tuple(int(v) for v in palette[c]), -1)
        cv2.putText(out, f"{c}: {class_names[c]}", (row + 6, y + row - 4), cv2.FONT_HERSHEY_SIMPLEX, 0.4,
                    (0, 0, 0), 1, cv2.LINE_AA)
    return out


def _titled(img: np.ndarray, title: str | None, bar: int = 16) -> np.ndarray:
    if not title:
        return img
    top = np.full((bar, img.shape[1], 3), 255, dtype=np.uint8)
    cv2.putText(top, title[: max(1, img.shape[1] // 7)], (3, bar - 4), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1,
                cv2.LINE_AA)
    return np.concatenate([top, img], axis=0)


def make_grid(panels: Sequence[np.ndarray], titles: Sequence[str] | None = None, ncols: int | None = None,
              pad: int = 4) -> np.ndarray:
    """Lay RGB panels out in a grid (row-major), each with an optional title bar; white padding."""
    if not panels:
        raise ValueError("make_grid: no panels")
    panels = [to_uint8_image(p) for p in panels]
    titles = list(titles) if titles is not None else [None] * len(panels)
    panels = [_titled(p, t) for p, t in zip(panels, titles)]
    ncols = ncols or len(panels)
    nrows = -(-len(panels) // ncols)
    ch = max(p.shape[0] for p in panels)
    cw = max(p.shape[1] for p in panels)
    grid = np.full((nrows * (ch + pad) + pad, ncols * (cw + pad) + pad, 3), 255, dtype=np.uint8)
    for i, p in enumerate(panels):
        r, c = divmod(i, ncols)
        y, x = pad + r * (ch + pad), pad + c * (cw + pad)
        grid[y:y + p.shape[0], x:x + p.shape[1]] = p
    return grid


def compare(img: np.ndarray, gt: np.ndarray | None, pred: np.ndarray | None, palette: Sequence[Sequence[int]],
            class_names: Sequence[str] | None = None, alpha: float = 0.6, ignore_index: int = 255,
            title: str | None = None) -> np.ndarray:
    """``image | gt overlay | pred overlay`` (whichever are given) plus a legend of the classes shown."""
    img = to_uint8_image(img)
    panels, titles, present = [img], [title or "image"], set()
    for name, lab in (("ground truth", gt), ("prediction", pred)):
        if lab is None:
            continue
        lab = np.asarray(lab.numpy() if hasattr(lab, "numpy") and not isinstance(lab, np.ndarray) else lab)
        panels.append(overlay(img, lab, palette, alpha, ignore_index))
        titles.append(name)
        present |= {int(v) for v in np.unique(lab) if v != ignore_index and 0 <= v < len(palette)}
    if class_names is not None and present:
        leg = legend(class_names, palette, sorted(present))
        panels.append(leg[: max(img.shape[0], 16)])
        titles.append("classes")
    return make_grid(panels, titles)


def save_image(path: str | os.PathLike, rgb: np.ndarray) -> Path:
    """Write an RGB image (format from the suffix); creates the folder; returns the path."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    arr = to_uint8_image(rgb)
    ok = cv2.imwrite(str(p), cv2.cvtColor(arr, cv2.COLOR_RGB2BGR))
    if not ok:
        raise OSError(f"could not write image {str(p)!r} (unsupported suffix or unwritable folder)")
    return p
