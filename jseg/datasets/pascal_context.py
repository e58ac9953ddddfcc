"""Pascal Context, 59-class version (background excluded, ``reduce_zero_label``).

Layout (``VOCdevkit/VOC2010`` after mmsegmentation's ``pascal_context.py`` converter)::

    <root>/JPEGImages/<id>.jpg
    <root>/SegmentationClassContext/<id>.png      (0 = background/ignored, classes 1..59)
    <root>/ImageSets/SegmentationContext/{train,val}.txt
"""
from __future__ import annotations

from typing import Callable, Sequence

from jvision.registry import DATASETS

from .ade import ADE20K_PALETTE
from .base import SegDataset, normalise_split

PASCAL_CONTEXT59_CLASSES = (
    'aeroplane', 'bag', 'bed', 'bedclothes', 'bench', 'bicycle', 'bird', 'boat', 'book', 'bottle', 'building',
    'bus', 'cabinet', 'car', 'cat', 'ceiling', 'chair', 'cloth', 'computer', 'cow', 'cup', 'curtain', 'dog',
    'door', 'fence', 'floor', 'flower', 'food', 'grass', 'ground', 'horse', 'keyboard', 'light', 'motorbike',
    'mountain', 'mouse', 'person', 'plate', 'platform', 'pottedplant', 'road', 'rock', 'sheep', 'shelves',
    'sidewalk', 'sign', 'sky', 'snow', 'sofa', 'table', 'track', 'train', 'tree', 'truck', 'tvmonitor', 'wall',
    'water', 'window', 'wood')

# mmsegmentation gives Pascal Context the first 60 ADE20K colours; the 59-class set drops the
# background's, so class i gets ADE colour i + 1.
PASCAL_CONTEXT59_PALETTE = [list(c) for c in ADE20K_PALETTE[1:60]]


@DATASETS.register()
class PascalContext59(SegDataset):
    """Pascal Context with 59 classes. ``split``: train or val."""

    CLASSES = PASCAL_CONTEXT59_CLASSES
    PALETTE = PASCAL_CONTEXT59_PALETTE

    def __init__(self, root: str, split: str = "train", pipeline: Sequence[dict | Callable] | None = None,
                 **kwargs):
        split = normalise_split(type(self).__name__, split)
        kwargs.setdefault("img_dir", "JPEGImages")
        kwargs.setdefault("ann_dir", "SegmentationClassContext")
        kwargs.setdefault("split_file", f"ImageSets/SegmentationContext/{split}.txt")
        kwargs.setdefault("img_suffix", ".jpg")
        kwargs.setdefault("seg_suffix", ".png")
        kwargs.setdefault("reduce_zero_label", True)
        self.split = split
        super().__init__(root, pipeline=pipeline, **kwargs)


DATASETS.register("PascalContext", PascalContext59)
DATASETS.register("PascalContextDataset59", PascalContext59)
