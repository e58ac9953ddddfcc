"""iSAID (aerial instance segmentation, used as semantic segmentation): 16 classes with background.

Layout (patches cut by mmsegmentation's ``isaid.py`` converter; label values 0..15)::

    <root>/img_dir/{train,val}/<name>.png
    <root>/ann_dir/{train,val}/<name>_instance_color_RGB.png
"""
from __future__ import annotations

from typing import Callable, Sequence

from jvision.registry import DATASETS

from .base import SegDataset, normalise_split

ISAID_CLASSES = ('background', 'ship', 'store_tank', 'baseball_diamond', 'tennis_court', 'basketball_court',
                 'Ground_Track_Field', 'Bridge', 'Large_Vehicle', 'Small_Vehicle', 'Helicopter', 'Swimming_pool',
                 'Roundabout', 'Soccer_ball_field', 'plane', 'Harbor')

ISAID_PALETTE = [[0, 0, 0], [0, 0, 63], [0, 63, 63], [0, 63, 0], [0, 63, 127], [0, 63, 191], [0, 63, 255],
                 [0, 127, 63], [0, 127, 127], [0, 0, 127], [0, 0, 191], [0, 0, 255], [0, 191, 127],
                 [0, 127, 191], [0, 127, 255], [0, 100, 155]]


@DATASETS.register()
class iSAID(SegDataset):  # noqa: N801  (the dataset's own spelling)
    """iSAID patches (16 classes, background included). ``split``: train or val.

    The converted label files keep the name ``*_instance_color_RGB.png`` but hold class indices;
    an unconverted (colour) file is reported as such.
    """

    CLASSES = ISAID_CLASSES
    PALETTE = ISAID_PALETTE

    def __init__(self, root: str, split: str = "train", pipeline: Sequence[dict | Callable] | None = None,
                 **kwargs):
        split = normalise_split(type(self).__name__, split)
        kwargs.setdefault("img_dir", f"img_dir/{split}")
        kwargs.setdefault("ann_dir", f"ann_dir/{split}")
        kwargs.setdefault("img_suffix", ".png")
        kwargs.setdefault("seg_suffix", "_instance_color_RGB.png")
        self.split = split
        super().__init__(root, pipeline=pipeline, **kwargs)


DATASETS.register("iSAIDDataset", iSAID)
