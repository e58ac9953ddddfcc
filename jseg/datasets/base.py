"""``SegDataset``: image/label-map pairs in folders, checked on construction.

Every standard segmentation set is one of these with its folder names, file suffixes, class names
and palette filled in (see the thin subclasses beside this file). The layout is

    <root>/<img_dir>/<stem><img_suffix>      (any depth below img_dir)
    <root>/<ann_dir>/<stem><seg_suffix>

optionally restricted (and ordered) by a split file listing one ``<stem>`` per line. Several
``(img_dir, ann_dir, split_file)`` parts can be concatenated (Pascal VOC with its augmented set).

What is checked, and when:

* construction: the folders and split files exist, every image has its label file, and (with the
  default ``verify="header"``) every file opens as an image, every label map is single-channel and
  has the size of its image. Pillow reads only the headers, so this costs one small read per file.
  ``verify="full"`` decodes everything (slow; ``tools/check_dataset.py`` does that with a progress
  bar), ``verify="none"`` only pairs the names.
* ``load(idx)``: a file that fails to decode, a label of the wrong size or with values that are
  neither a class nor ``ignore_index`` raise ``SegDatasetError`` naming the path.

Label conventions (as mmsegmentation): label maps hold class indices ``0..K-1`` and
``ignore_index`` (255) for unlabelled pixels. With ``reduce_zero_label=True`` (ADE20K, Pascal
Context 59, the built-in scenes) the stored 0 means "other/unlabelled" and classes are stored as
``1..K``: ``load`` maps 0 to 255 and ``v`` to ``v-1``, so ``gt_seg`` is always in ``0..K-1`` plus 255.
Label files are read with Pillow so that palette ("P" mode) PNGs give their indices, not colours.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from jvision.data.base import BaseDataset
from jvision.data.image_io import ImageReadError, exif_orientation, read_image
from jvision.registry import DATASETS

__all__ = ["SegDataset", "SegDatasetError", "read_label", "random_palette", "VERIFY_MODES"]

VERIFY_MODES = ("none", "header", "full")

# Pillow modes that hold one value per pixel (class indices).
_SINGLE_CHANNEL_MODES = ("1", "L", "P", "I", "I;16", "I;16B", "I;16L", "I;16N", "F")


class SegDatasetError(ValueError):
    """A dataset on disk is not what the reader expects; ``path`` names the offending file/folder."""

    def __init__(self, message: str, path: str | os.PathLike | None = None):
        super().__init__(message)
        self.path = None if path is None else str(path)


def random_palette(num_classes: int, seed: int = 0) -> list[list[int]]:
    """A deterministic palette for datasets without one of their own."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(num_classes, 3)).tolist()


def _open_header(path: Path, what: str):
    """Open ``path`` with Pillow without decoding the pixels; errors name the path.

    Returns ``(mode, (w, h), orientation)``: for an image, ``(w, h)`` is the size ``read_image``
    returns (EXIF orientation applied) and ``orientation`` the EXIF value; labels are read as
    stored (orientation 1).
    """
    from PIL import Image, UnidentifiedImageError
    if not path.is_file():
        raise SegDatasetError(f"{what} file {str(path)!r} does not exist", path)
    if path.stat().st_size == 0:
        raise SegDatasetError(f"{what} file {str(path)!r} is empty (0 bytes)", path)
    try:
        with Image.open(path) as im:
            mode, size = im.mode, im.size
            orientation = exif_orientation(im) if what == "image" else 1
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise SegDatasetError(f"{what} file {str(path)!r} is not a readable image: {exc}", path) from exc
    if orientation in (5, 6, 7, 8):
        size = (size[1], size[0])
    return mode, size, orientation  # size is (w, h)


def _size_mismatch(seg_path, seg_hw, img_path, img_hw, orientation: int) -> SegDatasetError:
    msg = (f"label file {str(seg_path)!r} is {seg_hw[0]}x{seg_hw[1]} but its image {str(img_path)!r} is "
           f"{img_hw[0]}x{img_hw[1]} (HxW)")
    if orientation in (5, 6, 7, 8) and tuple(seg_hw) == (img_hw[1], img_hw[0]):
        msg += (f"; the image carries EXIF orientation {orientation} and is read upright (rotated), so its "
                "label map must be drawn on the upright image (or strip the orientation tag)")
    return SegDatasetError(msg, seg_path)


def read_label(path: str | os.PathLike) -> np.ndarray:
    """Read a label map as an ``HxW`` integer array (uint8 when the values fit).

    Palette PNGs give their indices (not their colours). A colour (RGB) label map is an error: it
    must first be converted to class indices (e.g. Cityscapes ``*_gtFine_labelTrainIds.png``).
    """
    from PIL import Image, UnidentifiedImageError
    p = Path(path)
    if not p.is_file():
        raise SegDatasetError(f"label file {str(p)!r} does not exist", p)
    try:
        with Image.open(p) as im:
            im.load()
            mode = im.mode
            if mode not in _SINGLE_CHANNEL_MODES:
                raise SegDatasetError(
                    f"label file {str(p)!r} has {len(im.getbands())} channels (Pillow mode {mode!r}); a label "
                    "map must be single-channel class indices (colour-coded annotations need converting "
                    "first, e.g. Cityscapes *_gtFine_labelTrainIds.png, iSAID/COCO-Stuff converters)", p)
            if mode == "1":
                im = im.convert("L")
            arr = np.asarray(im)
    except SegDatasetError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise SegDatasetError(f"label file {str(p)!r} cannot be decoded: {exc}", p) from exc
    if arr.ndim != 2:
        raise SegDatasetError(f"label file {str(p)!r} decoded to shape {arr.shape}; expected HxW", p)
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
            raise SegDatasetError(f"label file {str(p)!r} holds non-integer values", p)
    if arr.dtype != np.uint8:
        if arr.min() < 0:
            raise SegDatasetError(f"label file {str(p)!r} holds negative values (min {arr.min()})", p)
        arr = arr.astype(np.uint8 if arr.max() <= 255 else np.int32)
    return np.ascontiguousarray(arr)


def _as_list(x) -> list:
    if x is None:
        return [None]
    if isinstance(x, (list, tuple)):
        return list(x)
    return [x]


@DATASETS.register()
class SegDataset(BaseDataset):
    """Semantic segmentation pairs from ``<root>/<img_dir>`` and ``<root>/<ann_dir>``.

    Args:
        root: dataset root folder; ``img_dir``, ``ann_dir`` and ``split_file`` are relative to it
            (absolute paths are used as given).
        img_dir: image folder, or a list of folders (one per part).
        ann_dir: label folder (or list, one per part); ``None`` with ``test_mode=True`` for
            unlabelled images.
        img_suffix: file ending of the images (e.g. ``".jpg"``, ``"_leftImg8bit.png"``).
        seg_suffix: file ending of the label maps (``<stem><seg_suffix>``).
        split_file: text file(s) listing one stem per line (restricts and orders the samples);
            default: every ``*<img_suffix>`` under ``img_dir``, sorted.
        pipeline: transforms applied by ``prepare``.
        classes, palette: override the class names / colours (same length).
        reduce_zero_label: stored 0 means "unlabelled", classes are stored as 1..K (see module doc).
        ignore_index: label value of unlabelled pixels after loading.
        verify: ``"header"`` (default), ``"full"`` or ``"none"`` (see module doc).
        test_mode: labels are optional (samples without a label file carry no ``gt_seg``).
        errors: ``"raise"`` (default): the first bad pair (image without label, unreadable file,
            size mismatch) raises ``SegDatasetError``; ``"collect"``: every bad pair is left out and
            its error kept in ``problems`` (``tools/check_dataset.py`` reports them all). Missing
            folders and split files raise either way.

    A sample from ``load``: ``img`` (HxWx3 uint8 RGB), ``gt_seg`` (HxW uint8, or int32 when values
    exceed 255), ``meta`` = ``filename``, ``seg_filename``, ``ori_shape``, ``img_shape``, ``idx``.
    """

    CLASSES: tuple[str, ...] = ()
    PALETTE: list[list[int]] | None = None

    def __init__(self, root: str | os.PathLike, img_dir: str | Sequence[str] = "images",
                 ann_dir: str | Sequence[str] | None = "annotations", img_suffix: str = ".jpg",
                 seg_suffix: str = ".png", split_file: str | Sequence[str] | None = None,
                 pipeline: Sequence[dict | Callable] | None = None, classes: Sequence[str] | None = None,
                 palette: Sequence[Sequence[int]] | None = None, reduce_zero_label: bool = False,
                 ignore_index: int = 255, verify: str = "header", test_mode: bool = False, errors: str = "raise"):
        super().__init__(pipeline)
        if verify not in VERIFY_MODES:
            raise ValueError(f"{type(self).__name__}: verify must be one of {VERIFY_MODES}, got {verify!r}")
        if errors not in ("raise", "collect"):
            raise ValueError(f"{type(self).__name__}: errors must be 'raise' or 'collect', got {errors!r}")
        self.errors = errors
        self.problems: list[SegDatasetError] = []
        self.root = Path(os.path.expanduser(str(root)))
        self.img_suffix, self.seg_suffix = img_suffix, seg_suffix
        self.reduce_zero_label = bool(reduce_zero_label)
        self.ignore_index = int(ignore_index)
        self.test_mode = bool(test_mode)
        self.verify = verify

        self.classes = list(classes) if classes is not None else list(self.CLASSES)
        if not self.classes:
            raise ValueError(f"{type(self).__name__}: no class names (pass classes=[...])")
        if len(set(self.classes)) != len(self.classes):
            raise ValueError(f"{type(self).__name__}: class names are not unique: {self.classes}")
        if palette is None:
            palette = self.PALETTE if (self.PALETTE and len(self.PALETTE) == len(self.classes)) else None
        if palette is None:
            palette = random_palette(len(self.classes))
        if len(palette) != len(self.classes):
            raise ValueError(f"{type(self).__name__}: {len(palette)} palette colours for "
                             f"{len(self.classes)} classes")
        self.palette = [[int(c) for c in colour] for colour in palette]

        if not self.root.is_dir():
            raise SegDatasetError(f"{type(self).__name__}: dataset root {str(self.root)!r} does not exist "
                                  "or is not a directory", self.root)
        img_dirs, ann_dirs, splits = _as_list(img_dir), _as_list(ann_dir), _as_list(split_file)
        n = max(len(img_dirs), len(ann_dirs), len(splits))
        for name, lst in (("img_dir", img_dirs), ("ann_dir", ann_dirs), ("split_file", splits)):
            if len(lst) not in (1, n):
                raise ValueError(f"{type(self).__name__}: {name} has {len(lst)} entries, expected 1 or {n}")
        img_dirs, ann_dirs, splits = (lst * n if len(lst) == 1 else lst for lst in (img_dirs, ann_dirs, splits))

        self.samples: list[tuple[str, str | None]] = []
        for i_dir, a_dir, split in zip(img_dirs, ann_dirs, splits):
            self.samples.extend(self._collect(i_dir, a_dir, split))
        if not self.samples and not self.problems:
            where = ", ".join(repr(str(self._path(d))) for d in img_dirs)
            raise SegDatasetError(f"{type(self).__name__}: no images ending in {img_suffix!r} found in {where}",
                                  self._path(img_dirs[0]))
        if verify != "none":
            bad = set()
            for idx in range(len(self.samples)):
                try:
                    self.check_sample(idx, decode=(verify == "full"))
                except SegDatasetError as exc:
                    self._problem(exc)
                    bad.add(idx)
            if bad:
                self.samples = [pair for i, pair in enumerate(self.samples) if i not in bad]

    def _problem(self, exc: SegDatasetError) -> None:
        """Raise ``exc``, or keep it in ``problems`` with ``errors="collect"``."""
        if self.errors == "raise":
            raise exc
        self.problems.append(exc)

    # -- collecting the pairs --------------------------------------------------------------------
    def _path(self, p: str | os.PathLike) -> Path:
        p = Path(os.path.expanduser(str(p)))
        return p if p.is_absolute() else self.root / p

    def _collect(self, img_dir, ann_dir, split_file) -> list[tuple[str, str | None]]:
        idir = self._path(img_dir)
        if not idir.is_dir():
            raise SegDatasetError(f"{type(self).__name__}: image folder {str(idir)!r} does not exist", idir)
        adir = None
        if ann_dir is not None:
            adir = self._path(ann_dir)
            if not adir.is_dir():
                if not self.test_mode:
                    raise SegDatasetError(f"{type(self).__name__}: label folder {str(adir)!r} does not exist",
                                          adir)
                adir = None
        elif not self.test_mode:
            raise ValueError(f"{type(self).__name__}: ann_dir is None; pass test_mode=True for images "
                             "without labels")
        if split_file is not None:
            sfile = self._path(split_file)
            if not sfile.is_file():
                raise SegDatasetError(f"{type(self).__name__}: split file {str(sfile)!r} does not exist", sfile)
            stems = [ln.strip() for ln in sfile.read_text().splitlines() if ln.strip()]
            if not stems:
                raise SegDatasetError(f"{type(self).__name__}: split file {str(sfile)!r} lists no samples", sfile)
            pairs = []
            for stem in stems:
                img = idir / (stem + self.img_suffix)
                if not img.is_file():
                    self._problem(SegDatasetError(f"{type(self).__name__}: image {str(img)!r} listed in "
                                                  f"{str(sfile)!r} does not exist", img))
                    continue
                pairs.append(self._pair(img, stem, adir))
            return [p for p in pairs if p is not None]
        stems = []
        for dirpath, dirnames, filenames in os.walk(idir, followlinks=True):
            dirnames.sort()
            rel = os.path.relpath(dirpath, idir)
            for f in filenames:
                if f.endswith(self.img_suffix) and not f.startswith("."):
                    stem = f[: len(f) - len(self.img_suffix)]
                    stems.append(stem if rel == "." else os.path.join(rel, stem))
        pairs = [self._pair(idir / (s + self.img_suffix), s, adir) for s in sorted(stems)]
        return [p for p in pairs if p is not None]

    def _pair(self, img: Path, stem: str, adir: Path | None) -> tuple[str, str | None] | None:
        if adir is None:
            return str(img), None
        seg = adir / (stem + self.seg_suffix)
        if not seg.is_file():
            if self.test_mode:
                return str(img), None
            self._problem(SegDatasetError(f"{type(self).__name__}: image {str(img)!r} has no label file: expected "
                                          f"{str(seg)!r}", seg))
            return None
        return str(img), str(seg)

    # -- checking --------------------------------------------------------------------------------
    def check_sample(self, idx: int, decode: bool = True) -> np.ndarray | None:
        """Check one pair; with ``decode`` also decode both files and return the per-class pixel
        counts (``num_classes + 1`` entries, the last one counting ``ignore_index``).

        Raises ``SegDatasetError`` naming the offending file.
        """
        img_path, seg_path = self.samples[idx]
        if not decode:
            _, img_size, orientation = _open_header(Path(img_path), "image")
            if seg_path is not None:
                mode, seg_size, _ = _open_header(Path(seg_path), "label")
                if mode not in _SINGLE_CHANNEL_MODES:
                    raise SegDatasetError(
                        f"label file {seg_path!r} is not single-channel (Pillow mode {mode!r}); label maps must "
                        "hold class indices (colour-coded annotations need converting first)", seg_path)
                if seg_size != img_size:
                    raise _size_mismatch(seg_path, seg_size[::-1], img_path, img_size[::-1], orientation)
            return None
        sample = self.load(idx)
        if "gt_seg" not in sample:
            return None
        seg = sample["gt_seg"]
        k = len(self.classes)
        counts = np.bincount(np.where(seg == self.ignore_index, k, seg).ravel().astype(np.int64), minlength=k + 1)
        return counts[: k + 1]

    # -- the dataset protocol --------------------------------------------------------------------
    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def metainfo(self) -> dict:
        return {"classes": list(self.classes), "palette": [list(c) for c in self.palette],
                "ignore_index": self.ignore_index, "reduce_zero_label": self.reduce_zero_label}

    def __len__(self) -> int:
        return len(self.samples)

    def load(self, idx: int) -> dict:
        if not -len(self.samples) <= idx < len(self.samples):
            raise IndexError(f"{type(self).__name__} index {idx} out of range for {len(self)} samples")
        img_path, seg_path = self.samples[idx]
        try:
            img = read_image(img_path)
        except (ImageReadError, FileNotFoundError) as exc:
            raise SegDatasetError(str(exc), img_path) from exc
        h, w = img.shape[:2]
        meta = {"filename": img_path, "seg_filename": seg_path, "ori_shape": (h, w), "img_shape": (h, w),
                "idx": int(idx) % len(self.samples)}
        sample = {"img": img, "meta": meta}
        if seg_path is not None:
            seg = read_label(seg_path)
            if seg.shape != (h, w):
                try:
                    orientation = _open_header(Path(img_path), "image")[2]
                except SegDatasetError:
                    orientation = 1
                raise _size_mismatch(seg_path, seg.shape, img_path, (h, w), orientation)
            sample["gt_seg"] = self._convert_label(seg, seg_path)
        return sample

    def _convert_label(self, seg: np.ndarray, seg_path: str) -> np.ndarray:
        k, ign = len(self.classes), self.ignore_index
        if self.reduce_zero_label:
            seg = seg.astype(np.int32)
            out = seg - 1
            out[(seg == 0) | (seg == ign)] = ign
            seg = out
        bad = (seg >= k) & (seg != ign)
        if bad.any():
            values = np.unique(seg[bad])[:10].tolist()
            stored = [v + 1 for v in values] if self.reduce_zero_label else values
            raise SegDatasetError(f"label file {seg_path!r} holds value(s) {stored} (stored) that are neither a class "
                                  f"(0..{k - 1}{' after reduce_zero_label' if self.reduce_zero_label else ''}) "
                                  f"nor ignore_index {ign}", seg_path)
        return seg.astype(np.uint8 if (k <= 255 and ign <= 255) else np.int32)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(root={str(self.root)!r}, {len(self)} samples, {len(self.classes)} classes, "
                f"reduce_zero_label={self.reduce_zero_label})")


SPLIT_ALIASES = {"train": "train", "training": "train", "val": "val", "validation": "val", "test": "test"}


def normalise_split(name: str, split: str, allowed: Sequence[str] = ("train", "val")) -> str:
    """``'training'`` -> ``'train'`` etc.; an unknown split names the allowed ones."""
    s = SPLIT_ALIASES.get(str(split).lower())
    if s not in allowed:
        raise ValueError(f"{name}: split must be one of {list(allowed)}, got {split!r}")
    return s
