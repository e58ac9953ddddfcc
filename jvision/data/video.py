"""Video data: Kinetics-400 and Something-Something-v2 layouts, built-in synthetic actions, frame
sampling, multi-view testing and clip transforms.

Decoding is OpenCV's (FFmpeg inside ``opencv-python-headless``): a video file is read sequentially
up to the last frame a clip needs (``grab`` skips, ``retrieve`` decodes only the frames kept); a
folder of frames (``img_00001.jpg`` ...) is read file by file. Frames come out RGB ``uint8``.

Frame sampling (``sampling`` of every dataset), the rules of the official VideoMAE code:

* ``dense`` (Kinetics-400: ``frame_interval=4``; SSv2 pre-training: 2): ``clip_len`` frames
  ``frame_interval`` apart from a random start in ``[0, n - clip_len * interval]`` (VideoMAE
  ``_sample_train_indices`` + ``_video_TSN_decord_batch_loader``: the index stops advancing before the
  last frame of a short video). Test: the video subsampled every ``interval`` frames, ``num_clips``
  windows of ``clip_len`` evenly spaced over it (``kinetics.py`` test mode; one clip: the centre one).
* ``segment`` (SSv2 fine-tuning, TSN): ``num_segments`` equal segments, one random frame of each;
  test: clip ``c`` of ``V`` takes frame ``int(tick * x + tick * c / V)`` of segment ``x``,
  ``tick = n / num_segments`` (``ssv2.py``: for ``V = 2`` the segment starts and midpoints).

Views: in training a sample is one clip (``img``: the pipeline's output, (C, T, H, W) after
``ClipApply([... ToTensor, Normalize])``); with ``test_mode`` it is ``num_clips x num_crops`` clips
stacked as (V, C, T, H, W) with ``num_views`` = V (``ImageClassifier.val_step`` averages the softmax
over them, as VideoMAE's test merge does). ``target_view=dict(shift=(lo, hi))`` adds ``img_t``: the
same clip shifted by ``d ~ U{lo..hi}`` frames (CMAE-V's temporal-shift target view); a ``ClipApply``
listing both keys gives both clips the same crop, one listing ``img_t`` alone augments it alone.

Unreadable videos (missing, empty, truncated, undecodable: the known field failure of Kinetics
copies) never stop a run: the sample is replaced by another one drawn from the sample's generator,
and the file is counted and named (``stats["skipped"]``, ``skipped_log``, a line on stderr) --
the same counters as ``jvision.data.shards.WebShards``, which the MIM shard-statistics hook writes to
the run's log.

Clip transforms: ``ClipApply(transforms=[...])`` runs any image transform (``RandomResizedCrop``,
``ColorJitter``, ``ToTensor``, ``Normalize``, ...) on every frame with the same random draws, so a
clip is cropped, flipped and jittered as one; ``MultiScaleCrop`` (VideoMAE's pre-training crop) and
``UniformCrop`` (the test crops) are added here.
"""
from __future__ import annotations

import collections
import csv
import json
import math
import sys
import threading
from pathlib import Path
from typing import Callable, Sequence

import cv2
import numpy as np

from ..registry import DATASETS, TRANSFORMS
from .base import BaseDataset, Compose
from .transforms import _pair, _raw_image, _resize

__all__ = ["VideoReadError", "VideoReader", "dense_indices", "dense_sample", "dense_test_indices",
           "segment_indices", "segment_test_indices", "VideoDataset", "Kinetics400", "SomethingSomethingV2",
           "SyntheticActions", "ACTION_CLASSES", "render_action", "ClipApply", "MultiScaleCrop", "UniformCrop",
           "write_video"]

VIDEO_EXTENSIONS = (".mp4", ".webm", ".avi", ".mkv", ".mov", ".m4v")
FRAME_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


# ------------------------------------------------------------------------------------------------
# Reading
# ------------------------------------------------------------------------------------------------
class VideoReadError(ValueError):
    """A video cannot be read (missing, empty, truncated, undecodable); the message names the file."""


class VideoReader:
    """Frames of a video file (OpenCV) or of a folder of frame images, by index.

    ``len(reader)`` is the frame count (the container's for files); ``read(indices)`` returns
    ``(len(indices), H, W, 3)`` uint8 RGB. A stream that ends before a requested index (containers
    often overstate their count) repeats its last decoded frame; one that decodes no frame at all,
    or a file that does not open, raises ``VideoReadError``.
    """

    def __init__(self, path):
        self.path = Path(path)
        self.frames: list[Path] | None = None
        if self.path.is_dir():
            self.frames = sorted(p for p in self.path.iterdir() if p.suffix.lower() in FRAME_EXTENSIONS)
            if not self.frames:
                raise VideoReadError(f"{self.path}: no frame images ({', '.join(FRAME_EXTENSIONS)}) in this folder")
            self.num_frames = len(self.frames)
            return
        if not self.path.is_file():
            raise VideoReadError(f"{self.path}: no such video file or frame folder")
        if self.path.stat().st_size == 0:
            raise VideoReadError(f"{self.path}: empty file (0 bytes)")
        cap = cv2.VideoCapture(str(self.path))
        try:
            if not cap.isOpened():
                raise VideoReadError(f"{self.path}: OpenCV cannot open this video (corrupt or unknown format)")
            self.num_frames = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
            self.fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        finally:
            cap.release()
        if self.num_frames <= 0:
            raise VideoReadError(f"{self.path}: the container reports no frames (corrupt or truncated)")

    def __len__(self) -> int:
        return self.num_frames

    def read(self, indices: Sequence[int]) -> np.ndarray:
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        if idx.size == 0:
            raise ValueError("VideoReader.read: no frame indices")
        if idx.min() < 0:
            raise ValueError(f"{self.path}: negative frame index {int(idx.min())}")
        wanted = np.unique(idx)
        decoded = self._read_folder(wanted) if self.frames is not None else self._read_file(wanted)
        return np.stack([decoded[int(i)] for i in idx])

    def _read_folder(self, wanted: np.ndarray) -> dict:
        out = {}
        for i in wanted:
            path = self.frames[min(int(i), self.num_frames - 1)]
            img = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if img is None:
                raise VideoReadError(f"{path}: cannot decode this frame image (frame {int(i)} of {self.path})")
            out[int(i)] = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
        return out

    def _read_file(self, wanted: np.ndarray) -> dict:
        cap = cv2.VideoCapture(str(self.path))
        out, last, pos, shape = {}, None, 0, None
        try:
            if not cap.isOpened():
                raise VideoReadError(f"{self.path}: OpenCV cannot open this video")
            for target in wanted:
                while pos <= target:
                    if not cap.grab():
                        break
                    if pos == target:
                        ok, img = cap.retrieve()
                        if not ok or img is None:
                            raise VideoReadError(f"{self.path}: frame {pos} does not decode")
                        if shape is not None and img.shape != shape:
                            raise VideoReadError(f"{self.path}: frame {pos} is {img.shape}, earlier frames {shape}")
                        shape = img.shape
                        last = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
                    pos += 1
                if pos <= target:          # the stream ended early: repeat the last decoded frame
                    if last is None:
                        raise VideoReadError(f"{self.path}: no frame decodes (the container claims "
                                             f"{self.num_frames}; corrupt or truncated)")
                out[int(target)] = last
        finally:
            cap.release()
        return out


class VideoWriter:
    """Writes RGB uint8 frames one at a time with OpenCV; the codec follows the extension (``.mp4``:
    mp4v, ``.webm``: VP80, ``.avi``: MJPG). Frames must all be ``size_hw`` (H, W)."""

    FOURCC = {".mp4": "mp4v", ".webm": "VP80", ".avi": "MJPG"}

    def __init__(self, path, fps: float, size_hw):
        self.path = Path(path)
        fourcc = self.FOURCC.get(self.path.suffix.lower())
        if fourcc is None:
            raise ValueError(f"{self.path}: unsupported video extension {self.path.suffix!r} "
                             f"({', '.join(self.FOURCC)})")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.size_hw = (int(size_hw[0]), int(size_hw[1]))
        self._w = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*fourcc), float(fps),
                                  (self.size_hw[1], self.size_hw[0]))
        if not self._w.isOpened():
            raise OSError(f"{self.path}: OpenCV cannot write this video ({fourcc})")

    def write(self, rgb: np.ndarray) -> None:
        if tuple(rgb.shape[:2]) != self.size_hw:
            raise ValueError(f"{self.path}: frame of {rgb.shape[:2]} (H, W), the video is {self.size_hw}")
        self._w.write(cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR))

    def close(self) -> None:
        self._w.release()

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def write_video(path, frames: np.ndarray, fps: float = 25.0) -> Path:
    """Write (T, H, W, 3) uint8 RGB frames (codec by extension, as ``VideoWriter``); for tests and
    the synthetic demo data."""
    with VideoWriter(path, fps, frames.shape[1:3]) as writer:
        for f in frames:
            writer.write(f)
    return Path(path)


# ------------------------------------------------------------------------------------------------
# Frame sampling (module docstring)
# ------------------------------------------------------------------------------------------------
def dense_indices(num_frames: int, clip_len: int, frame_interval: int, start: int) -> np.ndarray:
    """``clip_len`` indices ``frame_interval`` apart from ``start``, as VideoMAE's loader walks them:
    the (1-based) offset advances only while ``offset + interval < num_frames``."""
    ids, offset = [], int(start) + 1
    for _ in range(int(clip_len)):
        ids.append(min(offset, num_frames) - 1)
        if offset + frame_interval < num_frames:
            offset += frame_interval
    return np.asarray(ids, dtype=np.int64)


def dense_sample(num_frames: int, clip_len: int, frame_interval: int, rng: np.random.Generator) -> np.ndarray:
    """A training clip: start uniform in ``[0, num_frames - clip_len * interval]`` (0 if shorter)."""
    span = num_frames - clip_len * frame_interval + 1
    start = int(rng.integers(span)) if span > 0 else 0
    return dense_indices(num_frames, clip_len, frame_interval, start)


def dense_test_indices(num_frames: int, clip_len: int, frame_interval: int, num_clips: int) -> np.ndarray:
    """(num_clips, clip_len): windows evenly spaced over the video subsampled every ``interval``
    frames (padded with its last frame to ``clip_len``); one clip: the centre window."""
    sub = list(range(0, num_frames, frame_interval))
    while len(sub) < clip_len:
        sub.append(sub[-1])
    room = len(sub) - clip_len
    if num_clips == 1:
        starts = [room // 2]
    else:
        step = max(room / (num_clips - 1), 0.0)
        starts = [int(c * step) for c in range(num_clips)]
    sub = np.asarray(sub, dtype=np.int64)
    return np.stack([sub[s:s + clip_len] for s in starts])


def segment_indices(num_frames: int, num_segments: int, rng: np.random.Generator) -> np.ndarray:
    """TSN training sampling: one random frame in each of ``num_segments`` equal segments."""
    average = num_frames // num_segments
    if average > 0:
        ids = np.arange(num_segments) * average + rng.integers(average, size=num_segments)
    elif num_frames > num_segments:
        ids = np.sort(rng.integers(num_frames, size=num_segments))
    else:
        ids = np.zeros(num_segments)
    return np.asarray(ids, dtype=np.int64)


def segment_test_indices(num_frames: int, num_segments: int, num_clips: int) -> np.ndarray:
    """(num_clips, num_segments): clip ``c`` takes ``int(tick * x + tick * c / num_clips)``."""
    tick = num_frames / float(num_segments)
    ids = [[int(tick * x + tick * c / num_clips) for x in range(num_segments)] for c in range(num_clips)]
    return np.minimum(np.asarray(ids, dtype=np.int64), max(num_frames - 1, 0))


SAMPLINGS = ("dense", "segment")


def _check_sampling(cfg: dict | None) -> dict:
    cfg = dict(cfg or {"type": "dense", "clip_len": 16, "frame_interval": 4})
    typ = cfg.get("type", "dense")
    if typ == "dense":
        known = {"type", "clip_len", "frame_interval"}
        cfg.setdefault("clip_len", 16)
        cfg.setdefault("frame_interval", 4)
    elif typ == "segment":
        known = {"type", "num_segments"}
        cfg.setdefault("num_segments", 16)
    else:
        raise ValueError(f"sampling type {typ!r} unknown; choose from {SAMPLINGS}")
    unknown = set(cfg) - known
    if unknown:
        raise KeyError(f"sampling {typ!r} has unknown key(s) {sorted(unknown)}; known: {sorted(known)}")
    cfg["type"] = typ
    return cfg


# ------------------------------------------------------------------------------------------------
# Datasets
# ------------------------------------------------------------------------------------------------
class VideoDataset(BaseDataset):
    """Base of the video datasets (module docstring). Subclasses fill ``self.items`` with
    ``(source, label)`` pairs and may override ``open`` (how a source becomes a reader).

    Args:
        pipeline: transforms of one clip (typically ``ClipApply`` entries).
        sampling: ``dict(type="dense", clip_len=16, frame_interval=4)`` or
            ``dict(type="segment", num_segments=16)``.
        test_mode: ``num_clips x num_crops`` deterministic views per video (else one random clip).
        num_clips, num_crops: the views (K400: 5 x 3, SSv2: 2 x 3 in VideoMAE's tests).
        target_view: ``dict(shift=(lo, hi))`` adds ``img_t``, the clip shifted in time (CMAE-V).
        max_retries: replacement samples tried after an unreadable video before giving up.
    """

    def __init__(self, pipeline: Sequence[dict | Callable] | None = None, sampling: dict | None = None,
                 test_mode: bool = False, num_clips: int = 1, num_crops: int = 1, target_view: dict | None = None,
                 max_retries: int = 10):
        super().__init__(pipeline)
        self.sampling = _check_sampling(sampling)
        self.test_mode, self.num_clips, self.num_crops = bool(test_mode), int(num_clips), int(num_crops)
        if self.num_clips < 1 or self.num_crops < 1:
            raise ValueError(f"num_clips and num_crops must be >= 1, got {num_clips}, {num_crops}")
        self.target_view = dict(target_view) if target_view else None
        if self.target_view is not None:
            shift = self.target_view.get("shift")
            if set(self.target_view) - {"shift"} or shift is None or len(shift) != 2 or shift[0] > shift[1]:
                raise ValueError(f"target_view must be dict(shift=(lo, hi)) with lo <= hi frames, got {target_view!r}")
        self.max_retries = int(max_retries)
        self.items: list[tuple[object, int]] = []
        self._lock = threading.Lock()
        self.stats = collections.Counter()
        self.skipped_log: collections.deque = collections.deque(maxlen=1000)

    # -- subclass hooks ---------------------------------------------------------------------------
    def open(self, source):
        """A reader for one item's source: ``len(reader)`` and ``reader.read(indices)``."""
        return VideoReader(source)

    def name_of(self, source) -> str:
        return str(source)

    # -- protocol ---------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.items)

    @property
    def clip_len(self) -> int:
        s = self.sampling
        return s["clip_len"] if s["type"] == "dense" else s["num_segments"]

    @property
    def num_views(self) -> int:
        return self.num_clips * self.num_crops if self.test_mode else 1

    def frame_indices(self, num_frames: int, rng: np.random.Generator | None) -> np.ndarray:
        """(clips, clip_len) indices: one random clip, or the test clips when ``rng`` is None."""
        s = self.sampling
        if s["type"] == "dense":
            if rng is None:
                return dense_test_indices(num_frames, s["clip_len"], s["frame_interval"], self.num_clips)
            return dense_sample(num_frames, s["clip_len"], s["frame_interval"], rng)[None]
        if rng is None:
            return segment_test_indices(num_frames, s["num_segments"], self.num_clips)
        return segment_indices(num_frames, s["num_segments"], rng)[None]

    def load(self, idx: int) -> dict:
        """The raw frames of the first clip the sampling would pick with a fixed generator."""
        return self._load(idx, np.random.default_rng(idx))

    def _load(self, idx: int, rng: np.random.Generator) -> dict:
        source, label = self.items[idx]
        reader = self.open(source)
        n = len(reader)
        clips = self.frame_indices(n, None if self.test_mode else rng)
        wanted = [clips]
        if self.target_view is not None:
            lo, hi = self.target_view["shift"]
            shift = int(rng.integers(lo, hi + 1))
            shifted = np.clip(clips + shift, 0, n - 1)
            wanted.append(shifted)
        frames = reader.read(np.concatenate([w.reshape(-1) for w in wanted]))
        k = clips.size
        sample = {"img": frames[:k].reshape(clips.shape + frames.shape[1:]), "gt_label": int(label),
                  "meta": {"filename": self.name_of(source), "frame_inds": clips, "total_frames": n}}
        if self.target_view is not None:
            sample["img_t"] = frames[k:].reshape(clips.shape + frames.shape[1:])[0]
            sample["meta"]["shift"] = shift
        return sample

    def _note_skip(self, message: str) -> None:
        with self._lock:
            self.stats["skipped"] += 1
            self.skipped_log.append(message)
        print(f"warning: {message}", file=sys.stderr, flush=True)

    def prepare(self, idx: int, rng: np.random.Generator | None = None) -> dict:
        if rng is None:
            rng = np.random.default_rng(idx)
        first = idx
        for attempt in range(self.max_retries + 1):
            try:
                raw = self._load(idx, rng)
            except VideoReadError as exc:
                replacement = (idx + 1 + int(rng.integers(len(self) - 1))) % len(self) if len(self) > 1 else idx
                self._note_skip(f"skipped unreadable video (sample {idx}): {exc}; using sample {replacement}")
                idx = replacement
                continue
            with self._lock:
                self.stats["samples"] += 1
            return self._views(raw, rng)
        raise VideoReadError(f"sample {first} and {self.max_retries} replacements are all unreadable; "
                             f"last: {self.skipped_log[-1] if self.skipped_log else '?'}")

    def _views(self, raw: dict, rng: np.random.Generator) -> dict:
        clips = raw.pop("img")
        if not self.test_mode:
            raw["img"] = clips[0]
            return self.pipeline(raw, rng)
        views = []
        for c in range(clips.shape[0]):
            for s in range(self.num_crops):
                sample = {"img": clips[c], "meta": dict(raw["meta"], clip_index=c, crop_index=s,
                                                        num_crops=self.num_crops)}
                views.append(self.pipeline(sample, np.random.default_rng([c, s]))["img"])
        out = {k: v for k, v in raw.items() if k != "img_t"}
        out["img"] = np.stack(views)
        out["num_views"] = len(views)
        return out


def _read_list(ann_file, data_root: Path | None) -> list[tuple[str, int]]:
    """``path label`` lines (space or comma separated; VideoMAE / mmaction lists), or the official
    Kinetics CSV (header ``label,youtube_id,time_start,time_end[,split]``; labels indexed in sorted
    order, files ``<youtube_id>_<start:06d>_<end:06d>.mp4`` in ``data_root`` or ``data_root/<label>``)."""
    ann_file = Path(ann_file)
    if not ann_file.is_file():
        raise FileNotFoundError(f"annotation list {ann_file} does not exist")
    lines = [ln.strip() for ln in ann_file.read_text().splitlines() if ln.strip()]
    if not lines:
        raise ValueError(f"annotation list {ann_file} is empty")
    root = Path(data_root) if data_root else Path()
    header = [h.strip() for h in lines[0].split(",")]
    if {"label", "youtube_id", "time_start", "time_end"} <= set(header):
        rows = list(csv.DictReader(lines))
        classes = sorted({r["label"] for r in rows})
        items = []
        for r in rows:
            name = f"{r['youtube_id']}_{int(float(r['time_start'])):06d}_{int(float(r['time_end'])):06d}.mp4"
            path = root / name
            if not path.exists() and (root / r["label"] / name).exists():
                path = root / r["label"] / name
            items.append((str(path), classes.index(r["label"])))
        return items
    items = []
    for n, line in enumerate(lines, 1):
        parts = line.replace(",", " ").split()
        if len(parts) < 2:
            raise ValueError(f"{ann_file}:{n}: expected 'path label', got {line!r}")
        try:
            label = int(parts[-1])
        except ValueError:
            raise ValueError(f"{ann_file}:{n}: label {parts[-1]!r} is not an integer") from None
        path = Path(" ".join(parts[:-1]))
        items.append((str(path if path.is_absolute() else root / path), label))
    return items


def _check_labels(items, num_classes: int | None, where: str) -> None:
    if num_classes is None:
        return
    bad = [(s, y) for s, y in items if not 0 <= y < num_classes]
    if bad:
        raise ValueError(f"{where}: label {bad[0][1]} of {bad[0][0]} is outside [0, {num_classes}) "
                         f"({len(bad)} such entries)")


@DATASETS.register()
class Kinetics400(VideoDataset):
    """Kinetics-400 (or any video-file classification set in the same layout).

    Args:
        root: folder the list's paths are relative to.
        ann_file: ``path label`` list (``train.csv`` / ``val.csv`` / ``test.csv`` of VideoMAE, space
            separated) or the official Kinetics CSV (see ``_read_list``).
        num_classes: checks every label (400).
        sampling: default dense, 16 frames every 4 (VideoMAE's K400 setting).
        Other arguments: ``VideoDataset``.
    """

    def __init__(self, root: str | None, ann_file: str, pipeline=None, sampling: dict | None = None,
                 num_classes: int | None = 400, **kwargs):
        super().__init__(pipeline, sampling or dict(type="dense", clip_len=16, frame_interval=4), **kwargs)
        self.items = _read_list(ann_file, Path(root) if root else None)
        _check_labels(self.items, num_classes, str(ann_file))


@DATASETS.register()
class SomethingSomethingV2(VideoDataset):
    """Something-Something-v2 as released: ``<root>/<id>.webm`` videos or ``<root>/<id>/``
    folders of extracted frames, ``something-something-v2-{train,validation}.json`` (a list of
    ``{"id", "template", ...}``) and ``something-something-v2-labels.json`` (template -> index; the
    template's ``[something]`` brackets removed). A ``path label`` list (VideoMAE's converted csv)
    works too. Default sampling: 16 TSN segments (VideoMAE's SSv2 fine-tuning).
    """

    def __init__(self, root: str, ann_file: str, label_file: str | None = None, pipeline=None,
                 sampling: dict | None = None, num_classes: int | None = 174, video_ext: str = ".webm", **kwargs):
        super().__init__(pipeline, sampling or dict(type="segment", num_segments=16), **kwargs)
        root = Path(root)
        if not str(ann_file).endswith(".json"):
            self.items = _read_list(ann_file, root)
        else:
            if label_file is None:
                raise ValueError("SomethingSomethingV2: a .json ann_file needs label_file "
                                 "(something-something-v2-labels.json)")
            labels = json.loads(Path(label_file).read_text())
            entries = json.loads(Path(ann_file).read_text())
            items = []
            for e in entries:
                if "template" not in e:
                    raise ValueError(f"{ann_file}: entry {e.get('id')!r} has no template (the test split is "
                                     "unlabelled)")
                name = e["template"].replace("[", "").replace("]", "")
                if name not in labels:
                    raise KeyError(f"{ann_file}: template {name!r} of entry {e['id']} is not in {label_file}")
                folder = root / str(e["id"])
                items.append((str(folder if folder.is_dir() else root / f"{e['id']}{video_ext}"), int(labels[name])))
            self.items = items
        _check_labels(self.items, num_classes, str(ann_file))


# ------------------------------------------------------------------------------------------------
# Built-in synthetic actions
# ------------------------------------------------------------------------------------------------
#: (dx, dy) pixels per frame at 32 px and rotation degrees per frame, per class. Classes come in
#: time-reversed pairs, so no single frame (or unordered set of frames) tells them apart. 2 px a frame
#: (4 px between the frames of a clip sampled every 2) lets one 2-frame tubelet see the motion.
ACTION_CLASSES = {
    "move_right": (2.0, 0.0, 0.0), "move_left": (-2.0, 0.0, 0.0),
    "move_down": (0.0, 2.0, 0.0), "move_up": (0.0, -2.0, 0.0),
    "rotate_clockwise": (0.0, 0.0, 12.0), "rotate_counterclockwise": (0.0, 0.0, -12.0),
    "move_right_fast": (3.0, 0.0, 0.0), "move_left_fast": (-3.0, 0.0, 0.0),
}


def render_action(cls: int, num_frames: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """A (num_frames, size, size, 3) uint8 RGB clip of class ``cls``: a bar or a triangle of random
    colour, size and start, moving / turning as the class says, over a smooth background with a
    little noise (the object, not the noise, is what a masked autoencoder can predict).

    The start is uniform over the frame and the motion wraps around its edges (a torus), so neither
    where the object is nor where it is at a given time tells the class: only its motion does, and
    the motion is seen everywhere the object is, which survives the mean pooling of a fine-tuning
    head. The object is brighter than the background in every channel (random colours otherwise),
    so the sign of a frame difference at an edge says which way the edge moves."""
    names = list(ACTION_CLASSES)
    dx, dy, dtheta = ACTION_CLASSES[names[cls]]
    scale = size / 32.0
    bg = rng.integers(0, 90, 3).astype(np.float32)
    fg = rng.integers(165, 256, 3).astype(np.float32)
    half = rng.uniform(0.18, 0.26) * size
    shape = int(rng.integers(2))                        # 0: bar, 1: triangle
    theta0 = rng.uniform(0, 360)
    cx0, cy0 = rng.uniform(0, size, 2)
    wraps = [(ox, oy) for ox in (-size, 0, size) for oy in (-size, 0, size)]
    s4 = 4                                               # drawn at 4x, then averaged (anti-aliasing)
    clip = np.empty((num_frames, size, size, 3), np.uint8)
    ramp = np.linspace(-1.0, 1.0, size)
    gx, gy = rng.uniform(-25, 25, 2)
    base = bg + (gx * ramp[None, :] + gy * ramp[:, None])[..., None] + rng.normal(0, 3, (size, size, 3))
    for t in range(num_frames):
        cx, cy = (cx0 + dx * scale * t) % size, (cy0 + dy * scale * t) % size
        ang = math.radians(theta0 + dtheta * t)
        if shape == 0:
            local = np.array([[-1.0, -0.3], [1.0, -0.3], [1.0, 0.3], [-1.0, 0.3]]) * half
        else:
            local = np.array([[1.1, 0.0], [-0.7, 0.65], [-0.7, -0.65]]) * half
        rot = np.array([[math.cos(ang), -math.sin(ang)], [math.sin(ang), math.cos(ang)]])
        big = np.zeros((size * s4, size * s4), np.uint8)
        for ox, oy in wraps:                             # the parts across an edge re-enter opposite
            pts = (local @ rot.T + [cx + ox, cy + oy]) * s4
            cv2.fillPoly(big, [np.round(pts).astype(np.int32)], 255)
        alpha = big.reshape(size, s4, size, s4).mean(axis=(1, 3))[..., None] / 255.0
        frame = base * (1 - alpha) + fg * alpha + rng.normal(0, 2, (size, size, 3))
        clip[t] = np.clip(frame, 0, 255).astype(np.uint8)
    return clip


class _ArrayReader:
    def __init__(self, frames: np.ndarray):
        self.frames = frames

    def __len__(self) -> int:
        return len(self.frames)

    def read(self, indices) -> np.ndarray:
        return self.frames[np.asarray(indices, dtype=np.int64)]


@DATASETS.register()
class SyntheticActions(VideoDataset):
    """Built-in action clips (``ACTION_CLASSES``, the first ``num_classes``), generated in memory from
    ``(seed, split, index)``: no files. Sample ``i`` has class ``i % num_classes``.

    Args:
        num_classes: 2..8. samples_per_class: per split. num_frames: frames of each video (the
        sampling then picks a clip). frame_size: square frames. split: ``train`` / ``val`` (other data).
    """

    def __init__(self, num_classes: int = 4, samples_per_class: int = 32, num_frames: int = 16,
                 frame_size: int = 32, split: str = "train", seed: int = 0, pipeline=None,
                 sampling: dict | None = None, **kwargs):
        super().__init__(pipeline, sampling or dict(type="dense", clip_len=8, frame_interval=2), **kwargs)
        if not 2 <= num_classes <= len(ACTION_CLASSES):
            raise ValueError(f"SyntheticActions: num_classes must be in [2, {len(ACTION_CLASSES)}], got {num_classes}")
        if split not in ("train", "val"):
            raise ValueError(f"SyntheticActions: split must be 'train' or 'val', got {split!r}")
        self.num_classes, self.num_frames, self.frame_size = num_classes, int(num_frames), int(frame_size)
        self.seed, self.split = int(seed), split
        self.classes = list(ACTION_CLASSES)[:num_classes]
        self.items = [(i, i % num_classes) for i in range(num_classes * samples_per_class)]

    def open(self, source):
        rng = np.random.default_rng([self.seed, 0 if self.split == "train" else 1, int(source)])
        cls = int(source) % self.num_classes
        return _ArrayReader(render_action(cls, self.num_frames, self.frame_size, rng))

    def name_of(self, source) -> str:
        return f"synthetic-{self.split}-{int(source):05d}"


# ------------------------------------------------------------------------------------------------
# Clip transforms
# ------------------------------------------------------------------------------------------------
@TRANSFORMS.register()
class ClipApply:
    """Run image ``transforms`` on every frame of the clips in ``keys`` with identical random draws.

    A clip is a (T, H, W, C) uint8 array. Frames that end as CHW float arrays (after ``ToTensor``)
    are stacked to (C, T, H, W), the layout of the video models; others stay (T, H, W, C). The
    per-frame sample holds ``img`` and the clip's ``meta`` (for ``UniformCrop``'s crop index).
    """

    def __init__(self, transforms: Sequence[dict | Callable], keys: Sequence[str] = ("img",)):
        self.pipeline = Compose(transforms)
        self.keys = tuple(keys)

    def __call__(self, sample: dict, rng: np.random.Generator) -> dict:
        seed = int(rng.integers(2 ** 63))
        for key in self.keys:
            clip = sample.get(key)
            if not isinstance(clip, np.ndarray) or clip.ndim != 4:
                raise TypeError(f"ClipApply expects sample[{key!r}] to be a (T, H, W, C) clip, got "
                                f"{type(clip).__name__} {getattr(clip, 'shape', '')}")
            frames = [self.pipeline({"img": f, "meta": sample.get("meta", {})}, np.random.default_rng(seed))["img"]
                      for f in clip]
            chw = frames[0].ndim == 3 and np.issubdtype(frames[0].dtype, np.floating)
            sample[key] = np.ascontiguousarray(np.stack(frames, axis=1 if chw else 0))
        return sample

    def __repr__(self) -> str:
        return f"ClipApply({self.pipeline!r}, keys={self.keys})"


@TRANSFORMS.register()
class MultiScaleCrop:
    """TSN's ``GroupMultiScaleCrop`` (VideoMAE pre-training): crop sides ``int(min(H, W) * s)`` for
    ``s`` in ``scales`` (snapped to ``size`` within 3 px), width and height scales at most
    ``max_distort`` apart, at one of 13 fixed positions (``more_fix_crop``) or 5, resized bilinearly."""

    def __init__(self, size=224, scales: Sequence[float] = (1, .875, .75, .66), max_distort: int = 1,
                 fix_crop: bool = True, more_fix_crop: bool = True):
        self.size = _pair(size)                          # (height, width)
        self.scales, self.max_distort = tuple(scales), int(max_distort)
        self.fix_crop, self.more_fix_crop = fix_crop, more_fix_crop

    def get_params(self, height: int, width: int, rng: np.random.Generator) -> tuple[int, int, int, int]:
        """(top, left, crop_h, crop_w)."""
        base = min(height, width)
        sizes = [int(base * s) for s in self.scales]
        crop_h = [self.size[0] if abs(x - self.size[0]) < 3 else x for x in sizes]
        crop_w = [self.size[1] if abs(x - self.size[1]) < 3 else x for x in sizes]
        pairs = [(w, h) for i, h in enumerate(crop_h) for j, w in enumerate(crop_w) if abs(i - j) <= self.max_distort]
        cw, ch = pairs[int(rng.integers(len(pairs)))]
        if not self.fix_crop:
            return int(rng.integers(0, height - ch + 1)), int(rng.integers(0, width - cw + 1)), ch, cw
        ws, hs = (width - cw) // 4, (height - ch) // 4
        offsets = [(0, 0), (4 * ws, 0), (0, 4 * hs), (4 * ws, 4 * hs), (2 * ws, 2 * hs)]
        if self.more_fix_crop:
            offsets += [(0, 2 * hs), (4 * ws, 2 * hs), (2 * ws, 4 * hs), (2 * ws, 0),
                        (ws, hs), (3 * ws, hs), (ws, 3 * hs), (3 * ws, 3 * hs)]
        left, top = offsets[int(rng.integers(len(offsets)))]
        return top, left, ch, cw

    def __call__(self, sample: dict, rng: np.random.Generator) -> dict:
        img = _raw_image(sample, "MultiScaleCrop")
        top, left, ch, cw = self.get_params(img.shape[0], img.shape[1], rng)
        crop = np.ascontiguousarray(img[top:top + ch, left:left + cw])
        sample["img"] = _resize(crop, self.size, "bilinear", "pil")
        return sample


@TRANSFORMS.register()
class UniformCrop:
    """Test crop ``meta["crop_index"]`` of ``meta["num_crops"]``: ``size`` x ``size`` windows evenly
    spaced along the longer side (VideoMAE's test: left/centre/right or top/centre/bottom after the
    shorter side was resized to ``size``); one crop is the centre one."""

    def __init__(self, size: int = 224):
        self.size = int(size)

    def __call__(self, sample: dict, rng: np.random.Generator) -> dict:
        img = _raw_image(sample, "UniformCrop")
        meta = sample.get("meta", {})
        index, count = int(meta.get("crop_index", 0)), int(meta.get("num_crops", 1))
        h, w = img.shape[:2]
        s = self.size
        if min(h, w) < s:
            raise ValueError(f"UniformCrop({s}) of a {h}x{w} frame: resize the shorter side to {s} first")
        long_side = max(h, w)
        start = (long_side - s) // 2 if count == 1 else int(index * (long_side - s) / (count - 1))
        short_start = (min(h, w) - s) // 2
        if h >= w:
            sample["img"] = np.ascontiguousarray(img[start:start + s, short_start:short_start + s])
        else:
            sample["img"] = np.ascontiguousarray(img[short_start:short_start + s, start:start + s])
        return sample
