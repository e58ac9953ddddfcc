"""Two-view transforms of contrastive pre-training, and the photometric augmentations they use.

``PixelShiftViews`` makes CMAE's pair (official ``cmae_dataset.py`` with ``ShiftPixel``): from one
image already random-resized-cropped to 256 and flipped, the online view ``img`` is its ``size`` crop
at (0, 0) and the target view ``img_t`` the ``size`` crop at a random offset of ``0..shift`` pixels on
each axis, then ``target_transforms`` (CMAE: colour jitter 0.4/0.4/0.4/0.1 with probability 0.8,
grayscale 0.2, Gaussian blur sigma 0.1-2 with probability 0.5); ``transforms`` (ToTensor, Normalize)
then format both. The video counterpart (CMAE-V's temporal shift) is the ``target_view`` of
``jvision.data.video.VideoDataset``.

    pipeline = [dict(type="RandomResizedCrop", size=256, scale=(0.2, 1.0), interpolation="bicubic"),
                dict(type="RandomHorizontalFlip"),
                dict(type="PixelShiftViews", size=224, shift=31)]
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
from PIL import Image, ImageFilter

from ..registry import TRANSFORMS
from .base import Compose
from .transforms import _raw_image

__all__ = ["RandomApply", "RandomGrayscale", "GaussianBlur", "PixelShiftViews", "CMAE_TARGET_TRANSFORMS"]


@TRANSFORMS.register()
class RandomApply:
    """Apply ``transforms`` (in order) with probability ``prob``, else nothing."""

    def __init__(self, transforms: Sequence[dict | Callable], prob: float = 0.5):
        if not 0.0 <= prob <= 1.0:
            raise ValueError(f"RandomApply prob must be in [0, 1], got {prob}")
        self.pipeline, self.prob = Compose(transforms), float(prob)

    def __call__(self, sample: dict, rng: np.random.Generator) -> dict:
        return self.pipeline(sample, rng) if rng.random() < self.prob else sample


@TRANSFORMS.register()
class RandomGrayscale:
    """With probability ``prob`` replace the image by its luma ``0.2989 R + 0.587 G + 0.114 B`` on all
    three channels (mmpretrain's ``RandomGrayscale(keep_channels=True)`` with CMAE's weights)."""

    def __init__(self, prob: float = 0.2, weights: Sequence[float] = (0.2989, 0.587, 0.114)):
        self.prob, self.weights = float(prob), np.asarray(weights, np.float32)

    def __call__(self, sample: dict, rng: np.random.Generator) -> dict:
        if rng.random() < self.prob:
            img = _raw_image(sample, "RandomGrayscale")
            gray = np.clip(img.astype(np.float32) @ self.weights, 0, 255).round().astype(np.uint8)
            sample["img"] = np.repeat(gray[..., None], 3, axis=2)
        return sample


@TRANSFORMS.register()
class GaussianBlur:
    """With probability ``prob`` blur with PIL's Gaussian of radius ``sigma ~ U(sigma_range)``
    (mmpretrain ``GaussianBlur(magnitude_range=(0.1, 2.0), magnitude_std='inf')``)."""

    def __init__(self, sigma_range: Sequence[float] = (0.1, 2.0), prob: float = 0.5):
        if len(sigma_range) != 2 or not 0 < sigma_range[0] <= sigma_range[1]:
            raise ValueError(f"GaussianBlur sigma_range must be (min, max) with 0 < min <= max, got {sigma_range!r}")
        self.sigma_range, self.prob = tuple(float(s) for s in sigma_range), float(prob)

    def __call__(self, sample: dict, rng: np.random.Generator) -> dict:
        if rng.random() < self.prob:
            img = _raw_image(sample, "GaussianBlur")
            sigma = rng.uniform(*self.sigma_range)
            sample["img"] = np.asarray(Image.fromarray(img).filter(ImageFilter.GaussianBlur(radius=sigma)))
        return sample


#: CMAE's augmentation of the target view (``cmae_dataset.py``).
CMAE_TARGET_TRANSFORMS = (
    dict(type="RandomApply", transforms=[dict(type="ColorJitter", brightness=0.4, contrast=0.4, saturation=0.4,
                                               hue=0.1)], prob=0.8),
    dict(type="RandomGrayscale", prob=0.2),
    dict(type="GaussianBlur", sigma_range=(0.1, 2.0), prob=0.5),
)


@TRANSFORMS.register()
class PixelShiftViews:
    """CMAE's online / target views of one raw image (module docstring).

    Args:
        size: side of both views (224). shift: largest offset of the target view (31; the image must
            be larger than ``size + shift``, i.e. 256 for 224).
        target_transforms: applied to the target view only (default CMAE's).
        transforms: applied to each view afterwards (e.g. ToTensor, Normalize; deterministic ones).
    """

    def __init__(self, size: int = 224, shift: int = 31, target_transforms: Sequence[dict | Callable] | None = None,
                 transforms: Sequence[dict | Callable] | None = None):
        self.size, self.shift = int(size), int(shift)
        self.target_pipeline = Compose(list(CMAE_TARGET_TRANSFORMS if target_transforms is None else target_transforms))
        self.pipeline = Compose(transforms or [dict(type="ToTensor"), dict(type="Normalize")])

    def __call__(self, sample: dict, rng: np.random.Generator) -> dict:
        img = _raw_image(sample, "PixelShiftViews")
        h, w = img.shape[:2]
        if min(h, w) < self.size + self.shift + 1:
            raise ValueError(f"PixelShiftViews(size={self.size}, shift={self.shift}) needs an image of at least "
                             f"{self.size + self.shift + 1} px a side (resize/crop to 256 first), got {h}x{w}")
        dy, dx = (int(v) for v in rng.integers(0, self.shift + 1, size=2))
        online = {"img": np.ascontiguousarray(img[:self.size, :self.size])}
        target = {"img": np.ascontiguousarray(img[dy:dy + self.size, dx:dx + self.size])}
        target = self.target_pipeline(target, rng)
        sample["img"] = self.pipeline(online, rng)["img"]
        sample["img_t"] = self.pipeline(target, rng)["img"]
        sample.setdefault("meta", {})["shift"] = (dy, dx)
        return sample
