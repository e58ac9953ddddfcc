"""The data protocol every task shares.

A dataset is map-style: ``len(ds)`` samples, ``ds.load(i)`` returns the raw sample as a dict
(``img``: HxWx3 uint8 RGB, plus task keys such as ``gt_label`` or ``gt_seg`` and a ``meta`` dict with
at least ``filename``), and ``ds.prepare(i, rng)`` runs the pipeline on it.

A transform is a callable ``t(sample: dict, rng: np.random.Generator) -> dict``. Every random choice
draws from ``rng``; the loader derives ``rng`` from (seed, epoch, index), so augmentation is
reproducible, independent of worker count, and resumes exactly. Transforms are registered in
``TRANSFORMS`` and built from config dicts by ``Compose``.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from ..registry import TRANSFORMS


class Compose:
    """Apply transforms in order; each item is a callable or a ``TRANSFORMS`` config dict."""

    def __init__(self, transforms: Sequence[dict | Callable] | None = None):
        self.transforms = []
        for t in transforms or []:
            self.transforms.append(TRANSFORMS.build(t) if isinstance(t, dict) else t)

    def __call__(self, sample: dict, rng: np.random.Generator) -> dict:
        for t in self.transforms:
            sample = t(sample, rng)
            if sample is None:
                raise ValueError(f"transform {type(t).__name__} returned None")
        return sample

    def __repr__(self) -> str:
        return "Compose(" + ", ".join(type(t).__name__ for t in self.transforms) + ")"


class BaseDataset:
    """Map-style dataset of sample dicts with a pipeline (see the module docstring)."""

    def __init__(self, pipeline: Sequence[dict | Callable] | None = None):
        self.pipeline = Compose(pipeline)

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must define __len__")

    def load(self, idx: int) -> dict:
        raise NotImplementedError(f"{type(self).__name__} must define load(idx)")

    def prepare(self, idx: int, rng: np.random.Generator | None = None) -> dict:
        if rng is None:
            rng = np.random.default_rng(idx)
        return self.pipeline(self.load(idx), rng)

    def __getitem__(self, idx: int) -> dict:
        return self.prepare(idx)
