"""ImageNet-layout classification datasets.

Two layouts, one class:

* **class sub-folders** (``root/<class name>/**/<image>``): classes are the sorted names of the
  non-hidden sub-folders of ``root`` (torchvision / timm order, so label ``i`` of an official
  ImageNet checkpoint is the ``i``-th synset in sorted order); images are found recursively and
  sorted, so the sample order is the same on every machine.
* **file list** (``ann_file``): one ``<relative/path> <integer label>`` per line, paths relative to
  ``root`` (mmcls ``meta/train.txt`` / ``meta/val.txt`` style). Blank lines and lines starting with
  ``#`` are skipped; a path may contain spaces (the label is the last field).

Checks happen on construction and name the path at fault: a missing ``root``, a requested class
without a folder, a class folder without images, a malformed line (file and line number), a
label out of range, listed files that do not exist. A corrupt image is reported when it is read,
with its path (see ``jvision.data.image_io``).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..registry import DATASETS
from .base import BaseDataset
from .image_io import IMAGE_EXTENSIONS, read_image

__all__ = ["ImageFolder", "find_classes", "scan_image_folder", "read_file_list"]


def find_classes(root: str | os.PathLike) -> list[str]:
    """Sorted names of the non-hidden sub-folders of ``root``."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"dataset root {str(root)!r} does not exist or is not a directory")
    with os.scandir(root) as it:
        classes = sorted(e.name for e in it if e.is_dir() and not e.name.startswith("."))
    if not classes:
        raise FileNotFoundError(f"dataset root {str(root)!r} has no class sub-folders "
                                "(expected root/<class name>/<image files>, or pass ann_file=...)")
    return classes


def _walk_images(folder: Path, extensions: tuple[str, ...]) -> list[str]:
    found = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in filenames:
            if not name.startswith(".") and name.lower().endswith(extensions):
                found.append(os.path.join(dirpath, name))
    found.sort()
    return found


def scan_image_folder(root: str | os.PathLike, classes: Sequence[str],
                      extensions: tuple[str, ...] = IMAGE_EXTENSIONS) -> list[tuple[str, int]]:
    """``(path, label)`` for every image under ``root/<class>``; errors name missing/empty folders."""
    root = Path(root)
    missing = [c for c in classes if not (root / c).is_dir()]
    if missing:
        shown = ", ".join(repr(str(root / c)) for c in missing[:5])
        more = f" (and {len(missing) - 5} more)" if len(missing) > 5 else ""
        raise FileNotFoundError(f"missing class folder(s) {shown}{more} under dataset root {str(root)!r}")
    samples: list[tuple[str, int]] = []
    empty = []
    for label, cls in enumerate(classes):
        files = _walk_images(root / cls, extensions)
        if not files:
            empty.append(str(root / cls))
        samples.extend((f, label) for f in files)
    if empty:
        shown = ", ".join(map(repr, empty[:5]))
        more = f" (and {len(empty) - 5} more)" if len(empty) > 5 else ""
        raise FileNotFoundError(f"class folder(s) {shown}{more} contain no image files with "
                                f"extensions {', '.join(extensions)}")
    return samples


def read_file_list(ann_file: str | os.PathLike, root: str | os.PathLike) -> list[tuple[str, int]]:
    """Parse ``<relative path> <label>`` lines; errors name the file and the line number."""
    ann_file = Path(ann_file)
    if not ann_file.is_file():
        raise FileNotFoundError(f"file list {str(ann_file)!r} does not exist")
    samples = []
    with open(ann_file, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            parts = text.rsplit(maxsplit=1)
            if len(parts) != 2:
                raise ValueError(f"{ann_file}:{lineno}: expected '<relative path> <integer label>', "
                                 f"got {text!r}")
            rel, label_text = parts
            try:
                label = int(label_text)
            except ValueError:
                raise ValueError(f"{ann_file}:{lineno}: label {label_text!r} is not an integer "
                                 f"(line {text!r})") from None
            if label < 0:
                raise ValueError(f"{ann_file}:{lineno}: label {label} is negative (line {text!r})")
            samples.append((os.path.join(str(root), rel), label))
    if not samples:
        raise ValueError(f"file list {str(ann_file)!r} lists no samples")
    return samples


def _load_class_names(classes) -> list[str] | None:
    if classes is None:
        return None
    if isinstance(classes, (str, os.PathLike)):
        path = Path(classes)
        if not path.is_file():
            raise FileNotFoundError(f"class-name file {str(path)!r} does not exist")
        names = [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
        if not names:
            raise ValueError(f"class-name file {str(path)!r} is empty")
        return names
    names = [str(c) for c in classes]
    if len(set(names)) != len(names):
        raise ValueError(f"class names are not unique: {names}")
    return names


@DATASETS.register()
class ImageFolder(BaseDataset):
    """A classification dataset of image files (class sub-folders or a file list).

    Args:
        root: dataset folder (``root/<class>/...``), or the folder the file-list paths are
            relative to.
        pipeline: transforms (``TRANSFORMS`` configs or callables) applied by ``prepare``.
        ann_file: optional file list; a relative path that does not exist as given is looked up
            under ``root``.
        classes: optional class names, as a list or a text file with one name per line. With
            sub-folders it selects (and orders) the class folders; with a file list it names the
            labels (and bounds them). Default: all sub-folders / ``"0".."max label"``.
        extensions: image file endings considered in sub-folder mode.
        check_files: with a file list, check on construction that every listed file exists
            (one ``stat`` per file: a few seconds for ImageNet-train on a local disk).

    Attributes: ``classes`` (list of names), ``class_to_idx``, ``samples`` (list of
    ``(path, label)``), ``gt_labels`` (int64 array).
    """

    def __init__(self, root: str, pipeline: Sequence[dict | Callable] | None = None,
                 ann_file: str | None = None, classes: Sequence[str] | str | None = None,
                 extensions: Sequence[str] = IMAGE_EXTENSIONS, check_files: bool = True):
        super().__init__(pipeline)
        self.root = str(root)
        root_p = Path(root)
        if not root_p.is_dir():
            raise FileNotFoundError(f"dataset root {self.root!r} does not exist or is not a directory")
        self.extensions = tuple(e.lower() if e.startswith(".") else "." + e.lower() for e in extensions)
        names = _load_class_names(classes)
        self.ann_file = None
        if ann_file is None:
            self.classes = names if names is not None else find_classes(root_p)
            self.samples = scan_image_folder(root_p, self.classes, self.extensions)
        else:
            ann = Path(ann_file)
            if not ann.is_file() and not ann.is_absolute() and (root_p / ann).is_file():
                ann = root_p / ann
            self.ann_file = str(ann)
            self.samples = read_file_list(ann, root_p)
            max_label = max(label for _, label in self.samples)
            if names is None:
                names = [str(i) for i in range(max_label + 1)]
            elif max_label >= len(names):
                bad = next(p for p, label in self.samples if label >= len(names))
                raise ValueError(f"file list {self.ann_file!r}: label {max_label} (e.g. for {bad!r}) is "
                                 f"out of range for {len(names)} classes")
            self.classes = names
            if check_files:
                missing = [p for p, _ in self.samples if not os.path.isfile(p)]
                if missing:
                    shown = ", ".join(map(repr, missing[:5]))
                    raise FileNotFoundError(f"file list {self.ann_file!r}: {len(missing)} listed file(s) "
                                            f"do not exist, e.g. {shown}")
        self.class_to_idx = {c: i for i, c in enumerate(self.classes)}
        self.gt_labels = np.array([label for _, label in self.samples], dtype=np.int64)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def __len__(self) -> int:
        return len(self.samples)

    def load(self, idx: int) -> dict:
        if not -len(self.samples) <= idx < len(self.samples):
            raise IndexError(f"{type(self).__name__} index {idx} out of range for {len(self)} samples")
        path, label = self.samples[idx]
        img = read_image(path)
        return {"img": img, "gt_label": int(label),
                "meta": {"filename": path, "ori_shape": img.shape[:2], "idx": int(idx)}}

    def __repr__(self) -> str:
        src = f"ann_file={self.ann_file!r}" if self.ann_file else "sub-folders"
        return (f"{type(self).__name__}(root={self.root!r}, {src}, {len(self)} images, "
                f"{self.num_classes} classes, pipeline={self.pipeline!r})")
