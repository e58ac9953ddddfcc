"""Geometric transforms: the image and every label map move together.

Size conventions follow mmsegmentation (so its configs port as they are): ``img_scale`` of
``SegResize`` is ``(w, h)`` (with ``keep_ratio`` only its long and short side matter), ``crop_size`` of
``RandomCrop`` and ``size`` of ``Pad`` are ``(h, w)``.

Label maps are resized with nearest-neighbour sampling at pixel centres (``INTER_NEAREST_EXACT``,
the convention bilinear image resizing uses, so a label stays on its pixels), never interpolated.
"""
from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from jvision.registry import TRANSFORMS

__all__ = ["SegResize", "RandomCrop", "RandomFlip", "Pad", "ResizeToMultiple", "seg_keys", "rescale_size",
           "resize_image", "resize_label"]

_INTERP = {"nearest": cv2.INTER_NEAREST_EXACT, "bilinear": cv2.INTER_LINEAR, "bicubic": cv2.INTER_CUBIC,
           "area": cv2.INTER_AREA, "lanczos": cv2.INTER_LANCZOS4}


def seg_keys(sample: dict) -> list[str]:
    """The label-map keys of a sample: ``sample['seg_fields']`` if given, else ``gt_seg`` if present."""
    keys = sample.get("seg_fields", ("gt_seg",))
    return [k for k in keys if k in sample]


def _pair(x, name: str) -> tuple[int, int]:
    if isinstance(x, (int, np.integer)):
        return int(x), int(x)
    if isinstance(x, (list, tuple)) and len(x) == 2 and all(isinstance(v, (int, np.integer)) for v in x):
        return int(x[0]), int(x[1])
    raise ValueError(f"{name} must be an int or a pair of ints, got {x!r}")


def rescale_size(w: int, h: int, scale: tuple[int, int], keep_ratio: bool) -> tuple[int, int]:
    """New ``(w, h)`` of a ``w x h`` image resized to ``scale`` = ``(w, h)``.

    With ``keep_ratio`` the image is scaled as large as possible while its long side fits
    ``max(scale)`` and its short side fits ``min(scale)`` (mmcv ``imrescale``).
    """
    if not keep_ratio:
        return int(scale[0]), int(scale[1])
    long_edge, short_edge = max(scale), min(scale)
    factor = min(long_edge / max(h, w), short_edge / min(h, w))
    return max(1, int(w * factor + 0.5)), max(1, int(h * factor + 0.5))


def resize_image(img: np.ndarray, size_wh: tuple[int, int], interpolation: str = "bilinear") -> np.ndarray:
    if img.shape[1] == size_wh[0] and img.shape[0] == size_wh[1]:
        return img
    out = cv2.resize(img, size_wh, interpolation=_INTERP[interpolation])
    if img.ndim == 3 and out.ndim == 2:  # cv2 drops a single channel
        out = out[:, :, None]
    return out


def resize_label(seg: np.ndarray, size_wh: tuple[int, int]) -> np.ndarray:
    if seg.shape[1] == size_wh[0] and seg.shape[0] == size_wh[1]:
        return seg
    dtype = seg.dtype
    src = seg if dtype in (np.uint8, np.uint16, np.int16, np.float32) else seg.astype(np.float32)
    out = cv2.resize(src, size_wh, interpolation=cv2.INTER_NEAREST_EXACT)
    return out.astype(dtype, copy=False)


def _check_interp(interpolation: str) -> str:
    if interpolation not in _INTERP:
        raise ValueError(f"interpolation must be one of {sorted(_INTERP)}, got {interpolation!r}")
    return interpolation


@TRANSFORMS.register()
class SegResize:
    """Resize the image (bilinear) and label maps (nearest); mmsegmentation's ``Resize``.

    (Registered as ``SegResize``: the name ``Resize`` belongs to the classification transform of
    ``jvision.data.transforms``, which sets a shorter side and leaves labels alone.)

    Args:
        img_scale: target ``(w, h)``, or a list of them (one is drawn per sample). ``None`` with a
            ``ratio_range``: scale relative to the image's own size.
        ratio_range: ``(lo, hi)``: the target is ``img_scale * r`` with ``r ~ U(lo, hi)``
            (SegNeXt ADE20K: ``img_scale=(2048, 512), ratio_range=(0.5, 2.0)``).
        keep_ratio: keep the aspect ratio (fit long/short side, see ``rescale_size``); otherwise
            resize to exactly ``(w, h)``.
        interpolation: for the image: bilinear (default), bicubic, area, nearest, lanczos.

    Meta: ``img_shape``, ``scale_factor`` = ``(new_w / w, new_h / h)``, ``keep_ratio``.
    """

    def __init__(self, img_scale: Sequence[int] | Sequence[Sequence[int]] | None = None,
                 ratio_range: Sequence[float] | None = None, keep_ratio: bool = True,
                 interpolation: str = "bilinear"):
        if img_scale is None and ratio_range is None:
            raise ValueError("SegResize needs img_scale, ratio_range, or both")
        if img_scale is None:
            self.img_scales = None
        elif isinstance(img_scale, (list, tuple)) and img_scale and isinstance(img_scale[0], (list, tuple)):
            self.img_scales = [_pair(s, "SegResize img_scale") for s in img_scale]
        else:
            self.img_scales = [_pair(img_scale, "SegResize img_scale")]
        if ratio_range is not None:
            lo, hi = float(ratio_range[0]), float(ratio_range[1])
            if not 0 < lo <= hi:
                raise ValueError(f"SegResize ratio_range must satisfy 0 < lo <= hi, got {ratio_range!r}")
            if self.img_scales is not None and len(self.img_scales) > 1:
                raise ValueError("SegResize: give one img_scale together with ratio_range, not a list")
            self.ratio_range = (lo, hi)
        else:
            self.ratio_range = None
        self.keep_ratio = bool(keep_ratio)
        self.interpolation = _check_interp(interpolation)

    def target_scale(self, w: int, h: int, rng: np.random.Generator) -> tuple[int, int]:
        if self.ratio_range is not None:
            base = self.img_scales[0] if self.img_scales else (w, h)
            lo, hi = self.ratio_range
            ratio = lo + rng.random() * (hi - lo)
            return int(base[0] * ratio), int(base[1] * ratio)
        if len(self.img_scales) == 1:
            return self.img_scales[0]
        return self.img_scales[int(rng.integers(len(self.img_scales)))]

    def __call__(self, sample: dict, rng: np.random.Generator) -> dict:
        img = sample["img"]
        h, w = img.shape[:2]
        new_w, new_h = rescale_size(w, h, self.target_scale(w, h, rng), self.keep_ratio)
        sample["img"] = resize_image(img, (new_w, new_h), self.interpolation)
        for key in seg_keys(sample):
            sample[key] = resize_label(sample[key], (new_w, new_h))
        meta = sample.setdefault("meta", {})
        meta["img_shape"] = (new_h, new_w)
        meta["scale_factor"] = (new_w / w, new_h / h)
        meta["keep_ratio"] = self.keep_ratio
        return sample

    def __repr__(self) -> str:
        return (f"SegResize(img_scale={self.img_scales}, ratio_range={self.ratio_range}, "
                f"keep_ratio={self.keep_ratio})")


@TRANSFORMS.register()
class RandomCrop:
    """Crop a random ``crop_size = (h, w)`` window (the whole side where the image is smaller).

    ``cat_max_ratio < 1``: redraw the window (up to 10 times, as mmsegmentation) until no single
    class covers more than this fraction of the labelled pixels in it (``ignore_index`` not counted).
    """

    def __init__(self, crop_size: int | Sequence[int], cat_max_ratio: float = 1.0, ignore_index: int = 255):
        self.crop_size = _pair(crop_size, "RandomCrop crop_size")
        if min(self.crop_size) <= 0:
            raise ValueError(f"RandomCrop crop_size must be positive, got {crop_size!r}")
        if not 0 < cat_max_ratio <= 1:
            raise ValueError(f"RandomCrop cat_max_ratio must be in (0, 1], got {cat_max_ratio}")
        self.cat_max_ratio = float(cat_max_ratio)
        self.ignore_index = int(ignore_index)

    def _bbox(self, h: int, w: int, rng: np.random.Generator) -> tuple[int, int, int, int]:
        ch, cw = self.crop_size
        y = int(rng.integers(0, max(h - ch, 0) + 1))
        x = int(rng.integers(0, max(w - cw, 0) + 1))
        return y, min(y + ch, h), x, min(x + cw, w)

    def __call__(self, sample: dict, rng: np.random.Generator) -> dict:
        h, w = sample["img"].shape[:2]
        box = self._bbox(h, w, rng)
        if self.cat_max_ratio < 1.0 and "gt_seg" in sample:
            seg = sample["gt_seg"]
            for _ in range(10):
                y1, y2, x1, x2 = box
                labels, counts = np.unique(seg[y1:y2, x1:x2], return_counts=True)
                counts = counts[labels != self.ignore_index]
                if len(counts) > 1 and counts.max() / counts.sum() < self.cat_max_ratio:
                    break
                box = self._bbox(h, w, rng)
        y1, y2, x1, x2 = box
        sample["img"] = np.ascontiguousarray(sample["img"][y1:y2, x1:x2])
        for key in seg_keys(sample):
            sample[key] = np.ascontiguousarray(sample[key][y1:y2, x1:x2])
        meta = sample.setdefault("meta", {})
        meta["img_shape"] = (y2 - y1, x2 - x1)
        meta["crop_bbox"] = (y1, y2, x1, x2)
        return sample

    def __repr__(self) -> str:
        return f"RandomCrop(crop_size={self.crop_size}, cat_max_ratio={self.cat_max_ratio})"


@TRANSFORMS.register()
class RandomFlip:
    """Flip with probability ``prob``; ``direction``: ``"horizontal"`` or ``"vertical"``."""

    def __init__(self, prob: float = 0.5, direction: str = "horizontal"):
        if not 0 <= prob <= 1:
            raise ValueError(f"RandomFlip prob must be in [0, 1], got {prob}")
        if direction not in ("horizontal", "vertical"):
            raise ValueError(f"RandomFlip direction must be 'horizontal' or 'vertical', got {direction!r}")
        self.prob, self.direction = float(prob), direction

    def __call__(self, sample: dict, rng: np.random.Generator) -> dict:
        flip = bool(rng.random() < self.prob)
        if flip:
            axis = 1 if self.direction == "horizontal" else 0
            sample["img"] = np.ascontiguousarray(np.flip(sample["img"], axis=axis))
            for key in seg_keys(sample):
                sample[key] = np.ascontiguousarray(np.flip(sample[key], axis=axis))
        meta = sample.setdefault("meta", {})
        meta["flip"] = flip
        meta["flip_direction"] = self.direction
        return sample

    def __repr__(self) -> str:
        return f"RandomFlip(prob={self.prob}, direction={self.direction!r})"


@TRANSFORMS.register()
class Pad:
    """Pad bottom/right to ``size = (h, w)`` or to a multiple of ``size_divisor``.

    The image is padded with ``pad_val`` (0: after ``Normalize`` that is the mean colour), label
    maps with ``seg_pad_val`` (255 = ignored). An image larger than ``size`` is an error.
    """

    def __init__(self, size: int | Sequence[int] | None = None, size_divisor: int | None = None,
                 pad_val: float = 0, seg_pad_val: int = 255):
        if (size is None) == (size_divisor is None):
            raise ValueError("Pad needs exactly one of size=(h, w) and size_divisor")
        self.size = None if size is None else _pair(size, "Pad size")
        if size_divisor is not None and int(size_divisor) <= 0:
            raise ValueError(f"Pad size_divisor must be positive, got {size_divisor}")
        self.size_divisor = None if size_divisor is None else int(size_divisor)
        self.pad_val, self.seg_pad_val = pad_val, seg_pad_val

    def target(self, h: int, w: int) -> tuple[int, int]:
        if self.size is not None:
            return self.size
        d = self.size_divisor
        return -(-h // d) * d, -(-w // d) * d

    def __call__(self, sample: dict, rng: np.random.Generator) -> dict:
        img = sample["img"]
        h, w = img.shape[:2]
        th, tw = self.target(h, w)
        if h > th or w > tw:
            name = sample.get("meta", {}).get("filename", "?")
            raise ValueError(f"Pad: image {name!r} is {h}x{w}, larger than the pad size {th}x{tw} (HxW); "
                             "crop or resize it first")
        if (th, tw) != (h, w):
            widths = ((0, th - h), (0, tw - w)) + ((0, 0),) * (img.ndim - 2)
            sample["img"] = np.pad(img, widths, mode="constant", constant_values=self.pad_val)
            for key in seg_keys(sample):
                sample[key] = np.pad(sample[key], ((0, th - h), (0, tw - w)), mode="constant",
                                     constant_values=self.seg_pad_val)
        sample.setdefault("meta", {})["pad_shape"] = (th, tw)
        return sample

    def __repr__(self) -> str:
        return f"Pad(size={self.size}, size_divisor={self.size_divisor}, seg_pad_val={self.seg_pad_val})"


@TRANSFORMS.register()
class ResizeToMultiple:
    """Resize so that height and width are multiples of ``size_divisor`` (rounding up).

    Label maps follow (nearest). For evaluation at the label's original resolution, let the
    segmentor resize instead (``jseg.transforms.TestTimeAug(size_divisor=...)``).
    """

    def __init__(self, size_divisor: int = 32, interpolation: str = "bilinear"):
        if int(size_divisor) <= 0:
            raise ValueError(f"ResizeToMultiple size_divisor must be positive, got {size_divisor}")
        self.size_divisor = int(size_divisor)
        self.interpolation = _check_interp(interpolation)

    def __call__(self, sample: dict, rng: np.random.Generator) -> dict:
        img = sample["img"]
        h, w = img.shape[:2]
        d = self.size_divisor
        nh, nw = -(-h // d) * d, -(-w // d) * d
        sample["img"] = resize_image(img, (nw, nh), self.interpolation)
        for key in seg_keys(sample):
            sample[key] = resize_label(sample[key], (nw, nh))
        meta = sample.setdefault("meta", {})
        meta["img_shape"] = (nh, nw)
        return sample

    def __repr__(self) -> str:
        return f"ResizeToMultiple(size_divisor={self.size_divisor})"
