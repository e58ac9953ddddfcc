"""Pascal VOC 2012 with the augmented set (SBD): 21 classes including background.

Layout (``VOCdevkit/VOC2012``; ``SegmentationClassAug`` and ``aug.txt`` as made by
mmsegmentation's ``tools/dataset_converters/voc_aug.py``)::

    <root>/JPEGImages/<id>.jpg
    <root>/SegmentationClass/<id>.png           (palette PNG, 0..20, 255 = boundary/ignore)
    <root>/SegmentationClassAug/<id>.png        (0..20, 255)
    <root>/ImageSets/Segmentation/{train,val,aug}.txt

``split="train"`` with ``aug=True`` (default) is the 10,582-image "trainaug" set:
``train.txt`` with ``SegmentationClass`` plus ``aug.txt`` with ``SegmentationClassAug``.
``aug=False`` or ``split="val"`` read ``SegmentationClass`` only.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Sequence

from jvision.registry import DATASETS

from .base import SegDataset, SegDatasetError, normalise_split

VOC_CLASSES = ('background', 'aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car', 'cat', 'chair', 'cow',
               'diningtable', 'dog', 'horse', 'motorbike', 'person', 'pottedplant', 'sheep', 'sofa', 'train',
               'tvmonitor')


def voc_colormap(n: int = 256) -> list[list[int]]:
    """The standard VOC colour map (bits of the class index spread over R, G, B)."""
    out = []
    for i in range(n):
        r = g = b = 0
        c = i
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        out.append([r, g, b])
    return out


VOC_PALETTE = voc_colormap(21)


@DATASETS.register()
class PascalVOC(SegDataset):
    """Pascal VOC 2012 segmentation (21 classes); ``split``: train or val; ``aug``: use SBD for train."""

    CLASSES = VOC_CLASSES
    PALETTE = VOC_PALETTE

    def __init__(self, root: str, split: str = "train", aug: bool = True,
                 pipeline: Sequence[dict | Callable] | None = None, **kwargs):
        split = normalise_split(type(self).__name__, split)
        self.split, self.aug = split, bool(aug and split == "train")
        kwargs.setdefault("img_dir", "JPEGImages")
        kwargs.setdefault("img_suffix", ".jpg")
        kwargs.setdefault("seg_suffix", ".png")
        if self.aug:
            base = Path(os.path.expanduser(str(root)))
            for need in ("SegmentationClassAug", "ImageSets/Segmentation/aug.txt"):
                if base.is_dir() and not (base / need).exists():
                    raise SegDatasetError(
                        f"PascalVOC(aug=True): {str(base / need)!r} does not exist; build the augmented set "
                        "(SBD) with the VOC-aug converter, or pass aug=False for VOC 2012 alone", base / need)
            kwargs.setdefault("ann_dir", ["SegmentationClass", "SegmentationClassAug"])
            kwargs.setdefault("split_file", ["ImageSets/Segmentation/train.txt", "ImageSets/Segmentation/aug.txt"])
        else:
            kwargs.setdefault("ann_dir", "SegmentationClass")
            kwargs.setdefault("split_file", f"ImageSets/Segmentation/{split}.txt")
        super().__init__(root, pipeline=pipeline, **kwargs)


DATASETS.register("VOC", PascalVOC)
DATASETS.register("PascalVOCDataset", PascalVOC)
