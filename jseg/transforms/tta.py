"""Test-time geometry: multi-scale + flip views and sliding windows.

The segmentor predicts at the resolution of the label map it is scored against. It does that by
describing the views with ``TestTimeAug`` (which sizes, which flips) and tiling large inputs with
``slide_windows``; the numpy functions ``aug_predict`` and ``slide_predict`` are the reference
behaviour (and usable as is with any ``logits_fn`` that maps an NCHW numpy batch to NKHW logits):

* each view resizes the image (bilinear) to its size, optionally flips it, predicts logits,
  un-flips, resizes the logits back to the input size (bilinear), and takes the softmax;
* the views' probabilities are averaged (mmsegmentation's ``aug_test``);
* a sliding window predicts overlapping crops on the grid ``slide_windows`` returns and averages
  the logits where windows overlap (mmsegmentation's ``slide_inference``).

Example (SegNeXt ADE20K, multi-scale + flip)::

    tta = TestTimeAug(img_scale=(2048, 512), ratios=(0.5, 0.75, 1.0, 1.25, 1.5, 1.75), flip=True)
    for view in tta.views(h, w): ...     # view.size = (h', w'), view.flip
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import cv2
import numpy as np

from .geometric import _pair, rescale_size

__all__ = ["View", "TestTimeAug", "slide_windows", "slide_predict", "aug_predict", "softmax"]


@dataclass(frozen=True)
class View:
    """One test-time view: resize to ``size = (h, w)``, then flip if ``flip`` (along ``flip_direction``)."""

    size: tuple[int, int]
    flip: bool = False
    flip_direction: str = "horizontal"
    ratio: float = 1.0

    @property
    def flip_axis(self) -> int:
        """Axis of an ``...xHxW`` array to flip."""
        return -1 if self.flip_direction == "horizontal" else -2


class TestTimeAug:
    """Which views to predict at test time.

    Args:
        img_scale: base ``(w, h)`` scale (as ``SegResize``); ``None``: the input's own size.
        ratios: multipliers of ``img_scale`` (``(1.0,)`` = single scale).
        flip: add a flipped copy of every scale.
        flip_direction: ``"horizontal"`` or ``"vertical"``.
        keep_ratio: keep the aspect ratio when resizing to a scale (as ``SegResize``).
        size_divisor: round each view's size up to a multiple of this (SegNeXt: 32); ``None``: off.
    """

    __test__ = False  # not a pytest test class, despite the name

    def __init__(self, img_scale: Sequence[int] | None = None, ratios: Sequence[float] = (1.0,),
                 flip: bool = False, flip_direction: str = "horizontal", keep_ratio: bool = True,
                 size_divisor: int | None = None):
        self.img_scale = None if img_scale is None else _pair(img_scale, "TestTimeAug img_scale")
        self.ratios = tuple(float(r) for r in ratios)
        if not self.ratios or min(self.ratios) <= 0:
            raise ValueError(f"TestTimeAug ratios must be positive, got {ratios!r}")
        if flip_direction not in ("horizontal", "vertical"):
            raise ValueError(f"TestTimeAug flip_direction must be 'horizontal' or 'vertical', got {flip_direction!r}")
        self.flip, self.flip_direction, self.keep_ratio = bool(flip), flip_direction, bool(keep_ratio)
        if size_divisor is not None and int(size_divisor) <= 0:
            raise ValueError(f"TestTimeAug size_divisor must be positive, got {size_divisor}")
        self.size_divisor = None if size_divisor is None else int(size_divisor)

    def views(self, h: int, w: int) -> list[View]:
        """The views of an ``h x w`` input, scales in ``ratios`` order, unflipped before flipped."""
        out = []
        for r in self.ratios:
            base = self.img_scale if self.img_scale is not None else (w, h)
            scale = (int(base[0] * r), int(base[1] * r))
            nw, nh = rescale_size(w, h, scale, self.keep_ratio)
            if self.size_divisor:
                d = self.size_divisor
                nh, nw = -(-nh // d) * d, -(-nw // d) * d
            out.append(View((nh, nw), False, self.flip_direction, r))
            if self.flip:
                out.append(View((nh, nw), True, self.flip_direction, r))
        return out

    @property
    def is_identity(self) -> bool:
        """True when the only view is the input itself (no resize, no flip)."""
        return (self.img_scale is None and self.ratios == (1.0,) and not self.flip and not self.size_divisor)

    def __repr__(self) -> str:
        return (f"TestTimeAug(img_scale={self.img_scale}, ratios={self.ratios}, flip={self.flip}, "
                f"keep_ratio={self.keep_ratio}, size_divisor={self.size_divisor})")


def slide_windows(h: int, w: int, crop_size: int | Sequence[int], stride: int | Sequence[int]
                  ) -> list[tuple[int, int, int, int]]:
    """Windows ``(y1, y2, x1, x2)`` of size ``crop_size = (h, w)`` every ``stride = (h, w)`` pixels,
    covering the whole ``h x w`` input; the last row/column is shifted back to end at the border
    (mmsegmentation's grid). Smaller inputs give one window clipped to the input.
    """
    ch, cw = _pair(crop_size, "crop_size")
    sh, sw = _pair(stride, "stride")
    if min(ch, cw, sh, sw) <= 0:
        raise ValueError(f"slide_windows: crop_size {crop_size!r} and stride {stride!r} must be positive")
    if sh > ch or sw > cw:
        raise ValueError(f"slide_windows: stride {stride!r} larger than crop_size {crop_size!r} leaves gaps")
    rows = max(h - ch + sh - 1, 0) // sh + 1
    cols = max(w - cw + sw - 1, 0) // sw + 1
    out = []
    for r in range(rows):
        for c in range(cols):
            y1, x1 = r * sh, c * sw
            y2, x2 = min(y1 + ch, h), min(x1 + cw, w)
            out.append((max(y2 - ch, 0), y2, max(x2 - cw, 0), x2))
    return out


def softmax(x: np.ndarray, axis: int = 1) -> np.ndarray:
    z = x - x.max(axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


def _resize_nchw(x: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    n, c, h, w = x.shape
    if (h, w) == tuple(size):
        return x
    out = np.empty((n, c) + tuple(size), dtype=np.float32)
    for i in range(n):
        for j in range(c):
            out[i, j] = cv2.resize(x[i, j].astype(np.float32), (size[1], size[0]), interpolation=cv2.INTER_LINEAR)
    return out


def slide_predict(img: np.ndarray, logits_fn: Callable[[np.ndarray], np.ndarray], num_classes: int,
                  crop_size: int | Sequence[int], stride: int | Sequence[int]) -> np.ndarray:
    """Reference sliding-window inference on an NCHW batch: NKHW logits averaged over overlaps."""
    n, _, h, w = img.shape
    out = np.zeros((n, num_classes, h, w), dtype=np.float32)
    count = np.zeros((1, 1, h, w), dtype=np.float32)
    for y1, y2, x1, x2 in slide_windows(h, w, crop_size, stride):
        logits = np.asarray(logits_fn(img[:, :, y1:y2, x1:x2]), dtype=np.float32)
        if logits.shape != (n, num_classes, y2 - y1, x2 - x1):
            raise ValueError(f"slide_predict: logits_fn returned {logits.shape} for a window of "
                             f"{(n, img.shape[1], y2 - y1, x2 - x1)}; expected {(n, num_classes, y2 - y1, x2 - x1)}")
        out[:, :, y1:y2, x1:x2] += logits
        count[:, :, y1:y2, x1:x2] += 1
    return out / count


def aug_predict(img: np.ndarray, logits_fn: Callable[[np.ndarray], np.ndarray], tta: TestTimeAug) -> np.ndarray:
    """Reference multi-scale/flip inference on an NCHW batch: NKHW class probabilities at the input
    size, averaged over ``tta.views``. ``logits_fn`` may return logits at any resolution."""
    n, _, h, w = img.shape
    total = None
    views = tta.views(h, w)
    for view in views:
        x = _resize_nchw(img, view.size)
        if view.flip:
            x = np.flip(x, axis=view.flip_axis)
        logits = np.asarray(logits_fn(np.ascontiguousarray(x)), dtype=np.float32)
        if view.flip:
            logits = np.flip(logits, axis=view.flip_axis)
        probs = softmax(_resize_nchw(np.ascontiguousarray(logits), (h, w)), axis=1)
        total = probs if total is None else total + probs
    return total / len(views)
