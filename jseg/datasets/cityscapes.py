"""Cityscapes (fine annotations): 19 training classes.

Layout (after ``cityscapesscripts/preparation/createTrainIdLabelImgs.py``)::

    <root>/leftImg8bit/{train,val,test}/<city>/<name>_leftImg8bit.png
    <root>/gtFine/{train,val,test}/<city>/<name>_gtFine_labelTrainIds.png   (0..18, 255 = ignore)
"""
from __future__ import annotations

from typing import Callable, Sequence

from jvision.registry import DATASETS

from .base import SegDataset, normalise_split

CITYSCAPES_CLASSES = ('road', 'sidewalk', 'building', 'wall', 'fence', 'pole', 'traffic light', 'traffic sign',
                      'vegetation', 'terrain', 'sky', 'person', 'rider', 'car', 'truck', 'bus', 'train',
                      'motorcycle', 'bicycle')

CITYSCAPES_PALETTE = [[128, 64, 128], [244, 35, 232], [70, 70, 70], [102, 102, 156], [190, 153, 153],
                      [153, 153, 153], [250, 170, 30], [220, 220, 0], [107, 142, 35], [152, 251, 152],
                      [70, 130, 180], [220, 20, 60], [255, 0, 0], [0, 0, 142], [0, 0, 70], [0, 60, 100],
                      [0, 80, 100], [0, 0, 230], [119, 11, 32]]


@DATASETS.register()
class Cityscapes(SegDataset):
    """Cityscapes with ``*_gtFine_labelTrainIds.png`` labels. ``split``: train, val or test.

    A missing label folder or label file usually means the trainId maps were not generated; the
    error names the expected file.
    """

    CLASSES = CITYSCAPES_CLASSES
    PALETTE = CITYSCAPES_PALETTE

    def __init__(self, root: str, split: str = "train", pipeline: Sequence[dict | Callable] | None = None,
                 **kwargs):
        split = normalise_split(type(self).__name__, split, ("train", "val", "test"))
        kwargs.setdefault("img_dir", f"leftImg8bit/{split}")
        kwargs.setdefault("ann_dir", f"gtFine/{split}")
        kwargs.setdefault("img_suffix", "_leftImg8bit.png")
        kwargs.setdefault("seg_suffix", "_gtFine_labelTrainIds.png")
        self.split = split
        super().__init__(root, pipeline=pipeline, **kwargs)


DATASETS.register("CityscapesDataset", Cityscapes)
