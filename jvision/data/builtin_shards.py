"""A built-in web-style shard collection for demos, tests and the laptop-scale MIM study.

Generated once (deterministic from its parameters) into ``$JVISION_CACHE/shards`` or
``~/.cache/jvision/shards``, in the img2dataset layout of Coyo-700M: ``{00000..}.tar`` holding
``KEY.jpg``, ``KEY.txt`` (caption) and ``KEY.json`` (per-sample metadata), plus ``index.json``.

Content: one procedural object per image (``SYNTHETIC_CLASSES``: 5 shapes and 3 striped/chequered
patches) in one of three size classes (``SIZE_CLASSES``), at a random position; the colours and the
shading (flat, gradient or wide stripes at a random angle) of the object and of the background are
drawn per sample. And, when a package that ships sample photographs is installed (scikit-image,
scikit-learn, matplotlib), random crops of those photographs (class ``photo``). Images have varying
sizes (``image_size`` to 1.5x), so size-based subset strategies have something to choose from.

The labelled task of the MIM study and its test is ``size_label`` (small / medium / large: the object's
extent relative to the image; photos have -1, so use ``photos=False``): colour, shading and the object's
kind vary freely within a class, so a probe must read geometry, not colour statistics.

Per-sample JSON, with Coyo's field names where they apply: ``key``, ``url``, ``caption``,
``width``, ``height``, ``original_width``, ``original_height``, ``status``, ``clip_similarity_vitb32``
and ``aesthetic_score_laion_v2`` (stand-ins computed from the image: caption/shape agreement and
contrast, so a metadata strategy selects something measurable), ``watermark_score``, plus ``label``
(0-7 the synthetic classes, 8 ``photo``), ``label_name``, ``size_label`` and ``source``.

    python -c "from jvision.data.builtin_shards import make_builtin_shards; print(make_builtin_shards())"
    data.train = dict(type="BuiltinShards", split="train", num_samples=2000, image_size=64, pipeline=[...])
"""
from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import uuid
from pathlib import Path
from typing import Callable, Sequence

import cv2
import numpy as np

from ..registry import DATASETS
from .shards import INDEX_NAME, ShardWriter, WebShards
from .synthetic import SYNTHETIC_CLASSES

__all__ = ["BUILTIN_CLASSES", "SIZE_CLASSES", "find_sample_photos", "make_builtin_shards", "BuiltinShards"]

BUILTIN_CLASSES = SYNTHETIC_CLASSES + ("photo",)
#: The labelled task whose label lives in geometry only (``label_key="size_label"``; photos get -1).
SIZE_CLASSES = ("small", "medium", "large")
_SIZE_RANGES = ((0.10, 0.15), (0.20, 0.26), (0.32, 0.42))       # object half-size / image side, per class
_VERSION = 2
_SPLIT_SEED = {"train": 0, "val": 1}
_PHOTO_FOLDERS = (("skimage", "data"), ("sklearn", "datasets/images"), ("matplotlib", "mpl-data/sample_data"))
_NOT_PHOTOS = re.compile(r"logo|color|minduka", re.IGNORECASE)      # drawings and charts among the samples
_COLOURS = {"red": (220, 40, 40), "green": (40, 180, 60), "blue": (40, 70, 220), "yellow": (230, 210, 40),
            "black": (20, 20, 20), "white": (235, 235, 235), "grey": (128, 128, 128), "orange": (240, 140, 30),
            "purple": (140, 50, 170), "brown": (120, 80, 40)}


def default_cache_dir() -> Path:
    base = os.environ.get("JVISION_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "jvision")
    return Path(base) / "shards"


def find_sample_photos() -> list[tuple[str, Path]]:
    """``(name, path)`` of the colour photographs shipped inside installed packages (found on disk,
    without importing the packages), sorted; empty when none is installed."""
    found = []
    for package, folder in _PHOTO_FOLDERS:
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            continue
        root = Path(list(spec.submodule_search_locations)[0]) / folder
        if not root.is_dir():
            continue
        for path in sorted(root.iterdir()):
            if path.suffix.lower() not in (".jpg", ".jpeg", ".png") or _NOT_PHOTOS.search(path.stem):
                continue
            img = _read_rgb(path)
            if img is None or min(img.shape[:2]) < 128 or _is_grey(img):
                continue
            found.append((f"{package}/{path.stem}", path))
    return found


def _read_rgb(path: Path) -> np.ndarray | None:
    from PIL import Image   # quiet about the colour profiles of some sample PNGs, unlike libpng via cv2
    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))
    except OSError:
        return None


def _is_grey(img: np.ndarray) -> bool:
    return float(np.abs(img.astype(np.int16) - img.mean(axis=2, keepdims=True)).mean()) < 2.0


def _colour_name(rgb) -> str:
    rgb = np.asarray(rgb, float)
    return min(_COLOURS, key=lambda n: float(np.sum((np.asarray(_COLOURS[n]) - rgb) ** 2)))


def _texture(size: int, rng: np.random.Generator, avoid=None) -> np.ndarray:
    """A ``size x size x 3`` float fill: a random colour, flat or shaded (a linear gradient or wide stripes
    at a random angle, towards a second colour). ``avoid``: an RGB mean the colour keeps >= 120 from."""
    base = rng.integers(0, 256, 3).astype(np.float32)
    for _ in range(100):
        if avoid is None or np.linalg.norm(base - avoid) >= 120:
            break
        base = rng.integers(0, 256, 3).astype(np.float32)
    other = rng.integers(0, 256, 3).astype(np.float32)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size - 0.5
    angle = rng.uniform(0, 2 * np.pi)
    along = np.cos(angle) * xx + np.sin(angle) * yy
    kind = int(rng.integers(3))
    if kind == 0:
        weight = np.zeros_like(along)
    elif kind == 1:
        weight = (along + 0.5).clip(0, 1)
    else:
        weight = (np.sin(along * 2 * np.pi * rng.uniform(2, 5)) > 0).astype(np.float32)
    weight = weight * rng.uniform(0.0, 0.5)
    return base * (1 - weight[..., None]) + other * weight[..., None]


def _object_mask(name: str, size: int, rng: np.random.Generator, scale: tuple[float, float]) -> np.ndarray:
    """Coverage in [0, 1] of one object of class ``name`` whose half-size is ``scale`` x the image side
    (drawn at 4x, then averaged), at a random position and angle."""
    s4 = size * 4
    big = np.zeros((s4, s4), np.uint8)
    r = rng.uniform(*scale) * s4
    cx, cy = rng.uniform(r, s4 - r, 2)
    thick = max(4, int(r * 0.35))
    if name == "circle":
        cv2.circle(big, (int(cx), int(cy)), int(r), 255, -1)
    elif name == "ring":
        cv2.circle(big, (int(cx), int(cy)), int(r), 255, thick)
    elif name == "square":
        box = cv2.boxPoints(((cx, cy), (1.6 * r, 1.6 * r), rng.uniform(-20, 20))).astype(np.int32)
        cv2.fillPoly(big, [box], 255)
    elif name == "triangle":
        a0 = rng.uniform(0, 2 * np.pi)
        pts = [[cx + r * np.cos(a0 + k * 2 * np.pi / 3), cy + r * np.sin(a0 + k * 2 * np.pi / 3)] for k in range(3)]
        cv2.fillPoly(big, [np.array(pts, np.int32)], 255)
    elif name == "cross":
        cv2.line(big, (int(cx - r), int(cy)), (int(cx + r), int(cy)), 255, thick)
        cv2.line(big, (int(cx), int(cy - r)), (int(cx), int(cy + r)), 255, thick)
    else:                                              # a striped / chequered square patch
        yy, xx = np.mgrid[0:s4, 0:s4]
        period = max(4, int(r * rng.uniform(0.25, 0.4)))
        pattern = {"hstripes": (yy // period) % 2 == 0, "vstripes": (xx // period) % 2 == 0,
                   "checker": ((yy // period) + (xx // period)) % 2 == 0}[name]
        inside = (np.abs(xx - cx) < r) & (np.abs(yy - cy) < r)
        big[pattern & inside] = 255
    return cv2.resize(big, (size, size), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0


def _synthetic(cls: int, size_class: int, size: int, rng: np.random.Generator) -> tuple[np.ndarray, str, float]:
    """One object of class ``cls`` and size class ``size_class`` on a background; colours and shading
    of both are drawn per sample, so only the object's geometry tells its size (and shape)."""
    name = SYNTHETIC_CLASSES[cls]
    background = _texture(size, rng)
    coverage = _object_mask(name, size, rng, _SIZE_RANGES[size_class])[..., None]
    foreground = _texture(size, rng, avoid=background.reshape(-1, 3).mean(0))
    img = background * (1 - coverage) + foreground * coverage + rng.normal(0, 3, (size, size, 3))
    img = np.clip(np.round(img), 0, 255).astype(np.uint8)
    extras = ["", "close-up", "drawn by hand", "on a shaded background", "with soft light"]
    words = [f"a {SIZE_CLASSES[size_class]} {_colour_name(foreground.reshape(-1, 3).mean(0))} {name}",
             f"on a {_colour_name(background.reshape(-1, 3).mean(0))} background"]
    words += [str(rng.choice(extras)) for _ in range(int(rng.integers(0, 3)))]
    caption = " ".join(w for w in words if w)
    agreement = 0.3 if rng.random() < 0.8 else 0.15                  # a few captions are "wrong"
    if agreement < 0.3:
        caption = caption.replace(name, str(rng.choice([c for c in SYNTHETIC_CLASSES if c != name])))
    return img, caption, agreement


def _photo(photos, size: int, rng: np.random.Generator, cache: dict) -> tuple[np.ndarray, str, float, str]:
    name, path = photos[int(rng.integers(len(photos)))]
    if name not in cache:
        cache[name] = _read_rgb(path)
    full = cache[name]
    h, w = full.shape[:2]
    side = int(min(h, w) * rng.uniform(0.3, 0.8))
    top, left = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
    crop = cv2.resize(full[top:top + side, left:left + side], (size, size), interpolation=cv2.INTER_AREA)
    caption = f"a photograph, detail of {name.split('/')[-1].replace('_', ' ')}"
    return crop, caption, 0.3, name


def make_builtin_shards(root: str | os.PathLike | None = None, split: str = "train", num_samples: int = 2000,
                        image_size: int = 64, seed: int = 0, shard_size: int = 250, photos: bool = True,
                        photo_fraction: float = 0.25) -> Path:
    """Write (or reuse) one split and return its folder (``index.json`` + ``{00000..}.tar``)."""
    if split not in _SPLIT_SEED:
        raise ValueError(f"builtin shards split must be one of {sorted(_SPLIT_SEED)}, got {split!r}")
    if num_samples < 1 or image_size < 16:
        raise ValueError(f"num_samples must be >= 1 and image_size >= 16, got {num_samples}, {image_size}")
    found = find_sample_photos() if photos else []
    parent = Path(root) if root is not None else default_cache_dir()
    tag = f"p{len(found)}" if found else "p0"
    final = parent / f"builtin-v{_VERSION}-{split}-n{num_samples}-s{image_size}-seed{seed}-{tag}"
    if (final / INDEX_NAME).is_file():
        return final
    parent.mkdir(parents=True, exist_ok=True)
    tmp = parent / f".{final.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    cache: dict = {}
    try:
        with ShardWriter(tmp, maxcount=shard_size) as writer:
            for i in range(num_samples):
                rng = np.random.default_rng([seed, _SPLIT_SEED[split], i])
                size = int(image_size * rng.uniform(1.0, 1.5))
                if found and rng.random() < photo_fraction:
                    img, caption, agreement, source = _photo(found, size, rng, cache)
                    label, size_label = len(SYNTHETIC_CLASSES), -1
                else:
                    label = int(rng.integers(len(SYNTHETIC_CLASSES)))
                    size_label = int(rng.integers(len(SIZE_CLASSES)))
                    img, caption, agreement = _synthetic(label, size_label, size, rng)
                    source = "synthetic"
                ok, jpg = cv2.imencode(".jpg", cv2.cvtColor(img, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])
                if not ok:  # pragma: no cover
                    raise RuntimeError(f"could not encode builtin sample {i}")
                key = f"{i // shard_size:05d}{i % shard_size:04d}"
                contrast = float(img.std()) / 64.0
                meta = {"key": key, "url": f"builtin://{source}/{split}/{i}", "caption": caption,
                        "width": size, "height": size, "original_width": size, "original_height": size,
                        "status": "success", "label": label, "label_name": BUILTIN_CLASSES[label],
                        "size_label": size_label,
                        "source": source,
                        "clip_similarity_vitb32": round(agreement + float(rng.normal(0, 0.02)), 5),
                        "aesthetic_score_laion_v2": round(3.0 + 3.0 * min(contrast, 1.0) + float(rng.normal(0, 0.2)), 5),
                        "watermark_score": round(float(rng.uniform(0, 0.2)), 5)}
                writer.write(key, {"jpg": jpg.tobytes(), "txt": caption, "json": meta})
            writer.close(meta={"classes": list(BUILTIN_CLASSES), "split": split, "image_size": image_size,
                               "seed": seed, "photos": [n for n, _ in found], "version": _VERSION})
        try:
            os.rename(tmp, final)
        except OSError:
            if not (final / INDEX_NAME).is_file():     # another process finished first: keep theirs
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final


@DATASETS.register()
class BuiltinShards(WebShards):
    """``WebShards`` over ``make_builtin_shards(...)`` (generated on first use). With
    ``label_key="label"`` samples carry ``gt_label`` (9 classes: ``BUILTIN_CLASSES``)."""

    num_classes = len(BUILTIN_CLASSES)

    def __init__(self, split: str = "train", num_samples: int = 2000, image_size: int = 64, seed: int = 0,
                 shard_size: int = 250, photos: bool = True, root: str | None = None,
                 pipeline: Sequence[dict | Callable] | None = None, **kwargs):
        folder = make_builtin_shards(root, split, num_samples, image_size, seed, shard_size, photos)
        self.folder = folder
        self.classes = list(json.loads((folder / INDEX_NAME).read_text()).get("classes", BUILTIN_CLASSES))
        super().__init__(str(folder), pipeline=pipeline, **kwargs)
