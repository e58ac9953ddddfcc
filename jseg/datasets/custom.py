"""Your own segmentation data, in mmsegmentation's ``CustomDataset`` convention.

Layout (every name configurable)::

    <data_root>/<img_dir>/<name><img_suffix>          e.g. images/train/0001.jpg  (any depth)
    <data_root>/<ann_dir>/<name><seg_map_suffix>      e.g. labels/train/0001.png  (class indices)
    <data_root>/<split>                               optional: one <name> per line (no suffix)

A label map is a single-channel PNG (or any single-channel image) holding the class index of
every pixel, ``0..K-1``, and ``255`` for pixels to ignore; palette PNGs give their indices. With
``reduce_zero_label=True`` the files store 0 for "unlabelled/other" and the classes as ``1..K``
(ADE20K's convention). Colour-coded annotations must be converted to indices first.

Config (the keys are mmsegmentation's, so its dataset configs carry over)::

    data = dict(train=dict(type="CustomDataset", data_root="data/my_set",
                           img_dir="images/train", ann_dir="labels/train",
                           img_suffix=".jpg", seg_map_suffix=".png",
                           split=None,                        # or "splits/train.txt"
                           classes=("background", "road", "car"),   # or "classes.txt", one per line
                           palette=[[0, 0, 0], [128, 64, 128], [0, 0, 142]],   # optional
                           reduce_zero_label=False, pipeline=[...]))

``python tools/check_dataset.py CONFIG`` validates it before training (every bad file reported);
``configs/custom/segnext_t_custom.py`` is a complete example.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Sequence

from jvision.registry import DATASETS

from .base import SegDataset, SegDatasetError

__all__ = ["CustomDataset", "read_class_names"]


def read_class_names(classes: str | os.PathLike | Sequence[str], data_root: str | os.PathLike | None = None,
                     owner: str = "CustomDataset") -> list[str]:
    """Class names from a sequence, or from a text file with one name per line (a relative path
    is looked up in ``data_root`` first, then in the working directory)."""
    if isinstance(classes, (str, os.PathLike)):
        path = Path(os.path.expanduser(str(classes)))
        candidates = [path] if path.is_absolute() or data_root is None else [Path(data_root) / path, path]
        for cand in candidates:
            if cand.is_file():
                names = [ln.strip() for ln in cand.read_text().splitlines() if ln.strip()]
                if not names:
                    raise SegDatasetError(f"{owner}: class file {str(cand)!r} lists no class names", cand)
                return names
        raise SegDatasetError(f"{owner}: classes={str(classes)!r} is neither a sequence of names nor an existing "
                              f"file (looked in {[str(c) for c in candidates]})", candidates[0])
    names = [str(c) for c in classes]
    if not names:
        raise ValueError(f"{owner}: classes is empty; give the class names in index order")
    return names


@DATASETS.register()
class CustomDataset(SegDataset):
    """Image/label folders of your own (mmsegmentation's ``CustomDataset`` arguments).

    Args:
        data_root: folder that ``img_dir``, ``ann_dir``, ``split`` and a ``classes`` file are
            relative to (absolute paths are used as given). Default: the working directory.
        img_dir: image folder; every ``*<img_suffix>`` below it, sorted, unless ``split`` is given.
        ann_dir: label folder (``None`` with ``test_mode=True``: images without labels).
        img_suffix, seg_map_suffix: file endings; ``<name><img_suffix>`` pairs with
            ``<name><seg_map_suffix>`` (``name`` may contain sub-folders).
        split: text file listing one ``<name>`` per line (selects and orders the samples).
        classes: class names in index order, or a text file with one name per line (required).
        palette: one ``[r, g, b]`` per class for overlays (default: a fixed random palette).
        reduce_zero_label: the files store 0 for "unlabelled" and class ``i`` as ``i + 1``.
        ignore_index: label value of pixels not scored (255).
        pipeline, test_mode, verify, errors: as ``SegDataset``.
    """

    def __init__(self, data_root: str | os.PathLike | None = None, img_dir: str = "images",
                 ann_dir: str | None = "annotations", img_suffix: str = ".jpg", seg_map_suffix: str = ".png",
                 split: str | None = None, classes: str | Sequence[str] | None = None,
                 palette: Sequence[Sequence[int]] | None = None, reduce_zero_label: bool = False,
                 ignore_index: int = 255, pipeline: Sequence[dict | Callable] | None = None,
                 test_mode: bool = False, verify: str = "header", errors: str = "raise"):
        root = Path(os.path.expanduser(str(data_root))) if data_root is not None else Path.cwd()
        if classes is None:
            raise ValueError("CustomDataset: classes is required: the class names in index order "
                             "(label value i = classes[i]), or a text file with one name per line")
        self.data_root = str(root)
        super().__init__(root, img_dir=img_dir, ann_dir=ann_dir, img_suffix=img_suffix, seg_suffix=seg_map_suffix,
                         split_file=split, pipeline=pipeline, classes=read_class_names(classes, root),
                         palette=palette, reduce_zero_label=reduce_zero_label, ignore_index=ignore_index,
                         verify=verify, test_mode=test_mode, errors=errors)

    @property
    def seg_map_suffix(self) -> str:
        return self.seg_suffix
