"""A small generated ImageFolder dataset of distinguishable classes (shapes and textures).

Used by the demo config and the tests: no download, a few hundred PNGs, deterministic from the
seed. Each image is a random background (colour + noise) with one object of the class drawn in a
random colour, size and position, so colour carries no information and a network has to look at
shape or texture. Classes, in order (the first ``num_classes`` are used)::

    circle, square, triangle, cross, hstripes, vstripes, checker, ring

``make_synthetic_dataset`` writes ``<root>/train/<class>/<n>.png`` and ``<root>/val/<class>/...``
into a cache folder (``$JVISION_CACHE/synthetic`` or ``~/.cache/jvision/synthetic``) named after its
parameters. The folder is built under a temporary name and renamed into place, so concurrent
processes (MPI ranks, parallel tests) never see a half-written dataset; an existing complete
folder is reused. ``SyntheticShapes`` (registered in ``DATASETS``) is an ``ImageFolder`` over one
split that generates the data on first use::

    train=dict(type="SyntheticShapes", split="train", num_classes=4, pipeline=[...])
"""
from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Callable, Sequence

import cv2
import numpy as np

from ..registry import DATASETS
from .folder import ImageFolder

__all__ = ["SYNTHETIC_CLASSES", "make_synthetic_dataset", "render_sample", "SyntheticShapes",
           "default_cache_dir"]

SYNTHETIC_CLASSES = ("circle", "square", "triangle", "cross", "hstripes", "vstripes", "checker", "ring")
_VERSION = 1  # bump when the drawing changes, so cached folders are regenerated


def default_cache_dir() -> Path:
    base = os.environ.get("JVISION_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "jvision")
    return Path(base) / "synthetic"


def _colours(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Background and foreground colours at least ~100 apart (in RGB distance)."""
    bg = rng.integers(0, 256, size=3)
    for _ in range(100):
        fg = rng.integers(0, 256, size=3)
        if np.linalg.norm(fg.astype(float) - bg) > 100:
            break
    return bg, fg


def render_sample(cls: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """One ``size x size x 3`` uint8 RGB image of class ``cls`` (index into SYNTHETIC_CLASSES)."""
    name = SYNTHETIC_CLASSES[cls]
    bg, fg = _colours(rng)
    img = np.empty((size, size, 3), np.float32)
    img[:] = bg
    img += rng.normal(0, 12, size=(size, size, 3))
    s4 = size * 4                                      # the object mask is drawn at 4x, then averaged
    big = np.zeros((s4, s4), np.uint8)
    r = rng.uniform(0.22, 0.38) * s4                   # object half-size
    cx = rng.uniform(r, s4 - r)
    cy = rng.uniform(r, s4 - r)
    c = (int(cx), int(cy))
    thick = max(4, int(r * 0.35))
    if name == "circle":
        cv2.circle(big, c, int(r), 255, -1)
    elif name == "square":
        ang = rng.uniform(-20, 20)
        box = cv2.boxPoints(((cx, cy), (1.6 * r, 1.6 * r), ang)).astype(np.int32)
        cv2.fillPoly(big, [box], 255)
    elif name == "triangle":
        a0 = rng.uniform(0, 2 * np.pi)
        pts = np.array([[cx + r * np.cos(a0 + k * 2 * np.pi / 3), cy + r * np.sin(a0 + k * 2 * np.pi / 3)]
                        for k in range(3)], np.int32)
        cv2.fillPoly(big, [pts], 255)
    elif name == "cross":
        cv2.line(big, (int(cx - r), int(cy)), (int(cx + r), int(cy)), 255, thick)
        cv2.line(big, (int(cx), int(cy - r)), (int(cx), int(cy + r)), 255, thick)
    elif name == "ring":
        cv2.circle(big, c, int(r), 255, thick)
    else:                                              # textures fill a large square patch
        x0, y0, x1, y1 = int(cx - r * 1.2), int(cy - r * 1.2), int(cx + r * 1.2), int(cy + r * 1.2)
        yy, xx = np.mgrid[0:s4, 0:s4]
        period = int(rng.integers(10, 16))
        if name == "hstripes":
            pat = (yy // period) % 2 == 0
        elif name == "vstripes":
            pat = (xx // period) % 2 == 0
        else:  # checker
            pat = ((yy // period) + (xx // period)) % 2 == 0
        inside = (xx >= x0) & (xx < x1) & (yy >= y0) & (yy < y1)
        big[pat & inside] = 255
    canvas = cv2.resize(big, (size, size), interpolation=cv2.INTER_AREA)
    alpha = canvas.astype(np.float32)[..., None] / 255.0
    img = img * (1 - alpha) + fg.astype(np.float32) * alpha
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def _resolve_classes(num_classes: int | None, classes) -> tuple[str, ...]:
    if classes is not None:
        names = tuple(str(c) for c in classes)
        unknown = [c for c in names if c not in SYNTHETIC_CLASSES]
        if unknown or not names or len(set(names)) != len(names):
            raise ValueError(f"synthetic classes must be distinct names from {SYNTHETIC_CLASSES}, got {list(names)}")
        if num_classes is not None and num_classes != len(names):
            raise ValueError(f"num_classes={num_classes} but {len(names)} classes were named: {list(names)}")
        return names
    num_classes = 4 if num_classes is None else num_classes
    if not 1 <= num_classes <= len(SYNTHETIC_CLASSES):
        raise ValueError(f"num_classes must be in 1..{len(SYNTHETIC_CLASSES)}, got {num_classes}")
    return SYNTHETIC_CLASSES[:num_classes]


def _folder_name(names, train_per_class, val_per_class, image_size, seed) -> str:
    if names == SYNTHETIC_CLASSES[:len(names)]:
        tag = f"c{len(names)}"
    else:
        tag = "c" + "".join(str(SYNTHETIC_CLASSES.index(n)) for n in names)
    return f"shapes-v{_VERSION}-{tag}-s{image_size}-tr{train_per_class}-va{val_per_class}-seed{seed}"


def make_synthetic_dataset(root: str | os.PathLike | None = None, num_classes: int | None = None,
                           train_per_class: int = 64, val_per_class: int = 16,
                           image_size: int = 32, seed: int = 0,
                           classes: Sequence[str] | None = None) -> Path:
    """Write (or reuse) the dataset and return its folder (containing ``train/`` and ``val/``).

    ``root`` is the parent folder (default ``default_cache_dir()``); the dataset lives in a
    sub-folder named after the parameters. The classes are the first ``num_classes`` (default 4) of
    ``SYNTHETIC_CLASSES``, or the names in ``classes``. Identical parameters give identical files.
    """
    names = _resolve_classes(num_classes, classes)
    if image_size < 8 or train_per_class < 1 or val_per_class < 1:
        raise ValueError("image_size must be >= 8 and the per-class counts >= 1, got "
                         f"{image_size}, {train_per_class}, {val_per_class}")
    parent = Path(root) if root is not None else default_cache_dir()
    final = parent / _folder_name(names, train_per_class, val_per_class, image_size, seed)
    if (final / "manifest.json").is_file():
        return final
    parent.mkdir(parents=True, exist_ok=True)
    tmp = parent / f".{final.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        for split_idx, (split, per_class) in enumerate((("train", train_per_class), ("val", val_per_class))):
            for name in names:
                cls = SYNTHETIC_CLASSES.index(name)
                folder = tmp / split / name
                folder.mkdir(parents=True)
                rng = np.random.default_rng([seed, split_idx, cls])
                for i in range(per_class):
                    img = render_sample(cls, image_size, rng)
                    ok, buf = cv2.imencode(".png", cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
                    if not ok:  # pragma: no cover
                        raise RuntimeError(f"could not encode synthetic image {folder / f'{i:04d}.png'}")
                    (folder / f"{i:04d}.png").write_bytes(buf.tobytes())
        manifest = dict(version=_VERSION, classes=list(names), train_per_class=train_per_class,
                        val_per_class=val_per_class, image_size=image_size, seed=seed)
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1))
        try:
            os.rename(tmp, final)
        except OSError:
            # another process finished first: theirs is identical, keep it
            if not (final / "manifest.json").is_file():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final


@DATASETS.register()
class SyntheticShapes(ImageFolder):
    """``ImageFolder`` over one split of ``make_synthetic_dataset(...)`` (generated on first use).

    ``num_classes`` (default 4) takes the first classes of ``SYNTHETIC_CLASSES``; ``classes`` names
    them instead (e.g. ``("hstripes", "vstripes", "checker")``).
    """

    def __init__(self, split: str = "train", pipeline: Sequence[dict | Callable] | None = None,
                 root: str | None = None, num_classes: int | None = None, train_per_class: int = 64,
                 val_per_class: int = 16, image_size: int = 32, seed: int = 0,
                 classes: Sequence[str] | None = None):
        if split not in ("train", "val"):
            raise ValueError(f"SyntheticShapes split must be 'train' or 'val', got {split!r}")
        folder = make_synthetic_dataset(root, num_classes, train_per_class, val_per_class, image_size,
                                        seed, classes)
        self.split = split
        names = _resolve_classes(num_classes, classes)
        super().__init__(str(folder / split), pipeline=pipeline, classes=list(names))
