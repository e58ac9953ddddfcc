"""The last step of a pipeline: arrays in the layout the models take."""
from __future__ import annotations

import numpy as np

from jvision.registry import TRANSFORMS

from .geometric import seg_keys

__all__ = ["PackSegInputs"]


@TRANSFORMS.register()
class PackSegInputs:
    """``img`` HxWxC -> CxHxW float32 (contiguous); label maps -> int32 HxW (255 stays 255).

    The trainer's loader stacks equal-shaped arrays into batches (``img``: NCHW, ``gt_seg``: NHW).
    (The classification ``ToTensor`` of ``jvision.data.transforms`` leaves label maps as they are.)
    """

    def __call__(self, sample: dict, rng: np.random.Generator) -> dict:
        img = np.asarray(sample["img"])
        if img.ndim == 2:
            img = img[:, :, None]
        if img.ndim != 3:
            name = sample.get("meta", {}).get("filename", "?")
            raise ValueError(f"PackSegInputs: expected an HxWxC image for {name!r}, got shape {img.shape}")
        sample["img"] = np.ascontiguousarray(img.transpose(2, 0, 1), dtype=np.float32)
        for key in seg_keys(sample):
            sample[key] = np.ascontiguousarray(sample[key], dtype=np.int32)
        return sample

    def __repr__(self) -> str:
        return "PackSegInputs()"

