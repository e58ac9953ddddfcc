"""Photometric transforms (image only; label maps are untouched).

Normalisation is ``jvision.data.transforms.Normalize`` (registered as ``Normalize``; mean/std in
0-255 units, RGB order, HWC uint8 in -> HWC float32 out), shared with classification.
"""
from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from jvision.registry import TRANSFORMS

__all__ = ["PhotoMetricDistortion"]


def _convert(img: np.ndarray, alpha: float = 1.0, beta: float = 0.0) -> np.ndarray:
    out = img.astype(np.float32) * alpha + beta
    return np.clip(out, 0, 255).astype(np.uint8)


@TRANSFORMS.register()
class PhotoMetricDistortion:
    """Random brightness, contrast, saturation and hue, each applied with probability 1/2.

    The order and ranges are mmsegmentation's: brightness, then contrast either before or after
    (one coin flip) the HSV part (saturation, hue). Works on ``uint8`` RGB images (put it before
    ``Normalize``).
    """

    def __init__(self, brightness_delta: int = 32, contrast_range: Sequence[float] = (0.5, 1.5),
                 saturation_range: Sequence[float] = (0.5, 1.5), hue_delta: int = 18):
        self.brightness_delta = brightness_delta
        self.contrast_lower, self.contrast_upper = contrast_range
        self.saturation_lower, self.saturation_upper = saturation_range
        self.hue_delta = hue_delta

    def __call__(self, sample: dict, rng: np.random.Generator) -> dict:
        img = sample["img"]
        if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
            name = sample.get("meta", {}).get("filename", "?")
            raise ValueError(f"PhotoMetricDistortion expects an HxWx3 uint8 image (put it before Normalize); "
                             f"got {img.dtype} {img.shape} for {name!r}")
        if rng.integers(2):  # brightness
            img = _convert(img, beta=rng.uniform(-self.brightness_delta, self.brightness_delta))
        contrast_first = bool(rng.integers(2))
        if contrast_first and rng.integers(2):
            img = _convert(img, alpha=rng.uniform(self.contrast_lower, self.contrast_upper))
        if rng.integers(2):  # saturation
            hsv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV)
            hsv[:, :, 1] = _convert(hsv[:, :, 1], alpha=rng.uniform(self.saturation_lower, self.saturation_upper))
            img = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
        if rng.integers(2):  # hue (OpenCV 8-bit hue is 0..179)
            hsv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV)
            delta = int(rng.integers(-self.hue_delta, self.hue_delta))
            hsv[:, :, 0] = ((hsv[:, :, 0].astype(np.int32) + delta) % 180).astype(np.uint8)
            img = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
        if not contrast_first and rng.integers(2):
            img = _convert(img, alpha=rng.uniform(self.contrast_lower, self.contrast_upper))
        sample["img"] = img
        return sample

    def __repr__(self) -> str:
        return (f"PhotoMetricDistortion(brightness_delta={self.brightness_delta}, contrast_range="
                f"({self.contrast_lower}, {self.contrast_upper}), saturation_range=({self.saturation_lower}, "
                f"{self.saturation_upper}), hue_delta={self.hue_delta})")
