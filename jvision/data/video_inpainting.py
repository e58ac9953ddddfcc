"""Video-inpainting datasets: YouTube-VOS and DAVIS in E2FGVI's layout, and built-in synthetic clips.

On-disk layout (as ``core/dataset.py`` of MCG-NKU/E2FGVI reads it; ``root`` is e.g.
``datasets/youtube-vos`` or ``datasets/davis``)::

    root/JPEGImages/<video>.zip        frames of one video (zip -j: members are the frame files), or
    root/JPEGImages/<video>/00000.jpg  the same frames in a folder
    root/test_masks/<video>/00000.png  evaluation masks, one per frame (non-zero = hole)
    root/train.json, root/test.json    {"<video>": frame count, ...} (optional: without them every
                                       zip / folder under JPEGImages is used)

Frames are the image members (files) of a zip or folder sorted by name, as the official reader
sorts the zip's name list. Zips are read in memory, never extracted, and only members that are
plain image files with harmless names, unencrypted and at most ``MAX_MEMBER_BYTES`` are accepted.
Frames are resized to ``width x height`` with Pillow's bicubic filter and masks with nearest
neighbour, as the official code does (Pillow >= 7 resizes bicubically by default).

* ``VideoInpaintingDataset`` (training): a random window of ``num_local_frames`` consecutive
  frames plus ``num_ref_frames`` other frames of the video (sorted), then the pipeline (random
  masks, flip, packing): samples ``frames`` [T, 3, H, W] in [-1, 1] and ``masks`` [T, 1, H, W].
* ``VideoInpaintingTestDataset`` (evaluation): one sample per video, ``video``: a ``VideoClip``
  that reads frames and masks on demand (masks dilated with a 3x3 cross, ``dilate`` times, as the
  official evaluation), so memory does not grow with the video.
* ``SyntheticInpaintingClips``: the built-in clips of ``jvision.data.video_synthetic`` (a crop moving
  over a generated texture; the optical flow is exact), for the demo and the tests. Training
  samples also carry the exact flows of their local frames at 1/4 scale (``flows_forward`` /
  ``flows_backward``), the targets of the flow-completion loss; evaluation clips carry the
  full-resolution flows for E_warp.
"""
from __future__ import annotations

import json
import zipfile
from pathlib import Path, PurePosixPath

import cv2
import numpy as np

from ..registry import DATASETS, TRANSFORMS
from .base import BaseDataset
from .image_io import IMAGE_EXTENSIONS, ImageReadError, read_image
from .video_masks import dilate_mask
from .video_synthetic import make_clip

__all__ = ["MAX_MEMBER_BYTES", "FolderFrames", "ZipFrames", "open_video_frames", "read_video_index",
           "VideoClip", "VideoInpaintingDataset", "VideoInpaintingTestDataset", "SyntheticInpaintingClips",
           "ClipRandomFlip", "PackInpaintingInputs", "resize_frame", "resize_mask"]

#: The largest zip member (uncompressed) accepted as a frame: a 4K PNG is ~25 MB.
MAX_MEMBER_BYTES = 64 * 2 ** 20


def resize_frame(img: np.ndarray, width: int | None, height: int | None) -> np.ndarray:
    """RGB uint8 resized with Pillow's bicubic filter (the official ``Image.resize(size)``)."""
    if width is None or (img.shape[1], img.shape[0]) == (width, height):
        return img
    from PIL import Image
    return np.asarray(Image.fromarray(img).resize((width, height), Image.BICUBIC))


def resize_mask(mask: np.ndarray, width: int | None, height: int | None) -> np.ndarray:
    """A mask image resized with nearest neighbour (the official ``resize(size, Image.NEAREST)``)."""
    if width is None or (mask.shape[1], mask.shape[0]) == (width, height):
        return mask
    return cv2.resize(mask, (width, height), interpolation=cv2.INTER_NEAREST)


def _decode(data: bytes, where: str) -> np.ndarray:
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    if img is None:
        raise ImageReadError(f"cannot decode {where} ({len(data)} bytes): corrupt, truncated or not an image")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


class FolderFrames:
    """The frames of one video stored as image files in a folder (sorted by name)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.files = sorted(p for p in self.path.iterdir() if p.is_file() and p.name.lower().endswith(IMAGE_EXTENSIONS))
        if not self.files:
            raise FileNotFoundError(f"{self.path}: no frames ({', '.join(IMAGE_EXTENSIONS)}) in this folder")

    def __len__(self) -> int:
        return len(self.files)

    def read(self, ids) -> list[np.ndarray]:
        out = []
        for i in ids:
            if not 0 <= i < len(self.files):
                raise IndexError(f"{self.path}: frame {i} requested, the folder holds {len(self.files)}")
            out.append(read_image(self.files[i]))
        return out


class ZipFrames:
    """The frames of one video stored as a zip of image files (``zip -j``), read in memory.

    Members are checked before anything is read: only files with image extensions count as frames,
    and a member whose name is absolute or climbs out (``..``), that is encrypted, or that would
    decompress to more than ``max_member_bytes`` makes the archive an error naming it.
    """

    def __init__(self, path: Path, max_member_bytes: int = MAX_MEMBER_BYTES):
        self.path = Path(path)
        self.max_member_bytes = max_member_bytes
        try:
            with zipfile.ZipFile(self.path) as zf:
                infos = [i for i in zf.infolist() if not i.is_dir()]
        except (zipfile.BadZipFile, OSError) as exc:
            raise ImageReadError(f"{self.path}: not a readable zip archive ({exc})") from None
        members = []
        for info in infos:
            name = info.filename
            parts = PurePosixPath(name.replace("\\", "/")).parts
            if name.startswith(("/", "\\")) or ".." in parts or (parts and ":" in parts[0]):
                raise ImageReadError(f"{self.path}: member {name!r} has an unsafe path; refusing this archive")
            if not name.lower().endswith(IMAGE_EXTENSIONS):
                continue
            if info.flag_bits & 0x1:
                raise ImageReadError(f"{self.path}: member {name!r} is encrypted")
            if info.file_size > max_member_bytes:
                raise ImageReadError(f"{self.path}: member {name!r} would decompress to {info.file_size} bytes, "
                                     f"more than the {max_member_bytes} accepted for one frame")
            members.append(name)
        if not members:
            raise FileNotFoundError(f"{self.path}: no frames ({', '.join(IMAGE_EXTENSIONS)}) in this zip")
        self.members = sorted(members)

    def __len__(self) -> int:
        return len(self.members)

    def read(self, ids) -> list[np.ndarray]:
        out = []
        with zipfile.ZipFile(self.path) as zf:
            for i in ids:
                if not 0 <= i < len(self.members):
                    raise IndexError(f"{self.path}: frame {i} requested, the zip holds {len(self.members)}")
                name = self.members[i]
                try:
                    with zf.open(name) as fh:
                        data = fh.read(self.max_member_bytes + 1)
                except (zipfile.BadZipFile, OSError, RuntimeError) as exc:
                    raise ImageReadError(f"{self.path}: cannot read member {name!r} ({exc})") from None
                if len(data) > self.max_member_bytes:
                    raise ImageReadError(f"{self.path}: member {name!r} is larger than declared")
                out.append(_decode(data, f"{self.path}:{name}"))
        return out


def open_video_frames(frames_dir: Path, name: str):
    """``frames_dir/<name>.zip`` or ``frames_dir/<name>/``; an error naming both when neither exists."""
    frames_dir = Path(frames_dir)
    zpath, folder = frames_dir / f"{name}.zip", frames_dir / name
    if zpath.is_file():
        return ZipFrames(zpath)
    if folder.is_dir():
        return FolderFrames(folder)
    raise FileNotFoundError(f"video {name!r}: neither {zpath} nor the folder {folder} exists")


def read_video_index(root: Path, split: str, frames_dir: str = "JPEGImages") -> dict[str, int | None]:
    """``{video: frame count}`` from ``root/<split>.json``, else every zip / folder under
    ``root/<frames_dir>`` (counts then ``None``: known when the video is opened)."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"dataset root {root} does not exist")
    index_file = root / f"{split}.json"
    if index_file.is_file():
        try:
            index = json.loads(index_file.read_text())
        except (ValueError, UnicodeDecodeError) as exc:
            raise ValueError(f"{index_file}: not a JSON file ({exc})") from None
        if not isinstance(index, dict) or not all(isinstance(v, int) and v > 0 for v in index.values()):
            raise ValueError(f"{index_file}: expected {{\"video name\": frame count > 0, ...}}")
        return dict(index)
    fdir = root / frames_dir
    if not fdir.is_dir():
        raise FileNotFoundError(f"{root}: neither {index_file.name} nor the frames folder {fdir} exists")
    names = sorted({p.stem if p.suffix.lower() == ".zip" else p.name for p in fdir.iterdir()
                    if p.is_dir() or p.suffix.lower() == ".zip"})
    if not names:
        raise FileNotFoundError(f"{fdir}: no videos (per-video zips or folders)")
    return {n: None for n in names}


class VideoClip:
    """One evaluation video: ``len(clip)`` frames, ``clip.frame(i)`` RGB uint8 [H, W, 3],
    ``clip.mask(i)`` uint8 [H, W] (1 = hole), ``clip.flow(i)`` the exact flow from frame i to i+1
    [H, W, 2] (dx, dy) when known (synthetic clips) else None. Frames are read on demand."""

    def __init__(self, name: str, length: int, read_frame, read_mask, flows=None):
        self.name, self.length = name, int(length)
        self._read_frame, self._read_mask, self._flows = read_frame, read_mask, flows

    def __len__(self) -> int:
        return self.length

    def frame(self, i: int) -> np.ndarray:
        return self._read_frame(i)

    def mask(self, i: int) -> np.ndarray:
        return self._read_mask(i)

    @property
    def has_flow(self) -> bool:
        return self._flows is not None

    def flow(self, i: int) -> np.ndarray | None:
        return None if self._flows is None else self._flows[i]

    def __repr__(self) -> str:
        return f"VideoClip({self.name!r}, {self.length} frames)"


def _check_size(height, width, where: str):
    if (height is None) != (width is None):
        raise ValueError(f"{where}: give both height and width (or neither, to keep the stored size)")
    if height is not None and (height % 4 or width % 4 or height <= 0 or width <= 0):
        raise ValueError(f"{where}: height={height}, width={width} must be positive multiples of 4")


@DATASETS.register()
class VideoInpaintingDataset(BaseDataset):
    """Training windows of YouTube-VOS / DAVIS videos (module docstring).

    Args:
        root: ``datasets/youtube-vos`` (or ``datasets/davis``) in the official layout.
        split: the index file ``root/<split>.json`` (``train``); without it every video is used.
        num_local_frames, num_ref_frames: 5 and 3 as the official training.
        height, width: the training size (240 x 432).
        pipeline: e.g. ``[RandomShapeMotionMasks, ClipRandomFlip, PackInpaintingInputs]``.
    """

    def __init__(self, root: str, split: str = "train", num_local_frames: int = 5, num_ref_frames: int = 3,
                 height: int | None = 240, width: int | None = 432, frames_dir: str = "JPEGImages",
                 pipeline=None):
        super().__init__(pipeline)
        _check_size(height, width, "VideoInpaintingDataset")
        if num_local_frames < 2 or num_ref_frames < 0:
            raise ValueError(f"VideoInpaintingDataset: num_local_frames={num_local_frames} must be >= 2 and "
                             f"num_ref_frames={num_ref_frames} >= 0")
        self.root, self.frames_dir = Path(root), frames_dir
        self.index = read_video_index(self.root, split, frames_dir)
        self.names = list(self.index)
        self.num_local, self.num_ref = num_local_frames, num_ref_frames
        self.height, self.width = height, width

    def __len__(self) -> int:
        return len(self.names)

    def sample_ids(self, length: int, rng: np.random.Generator, name: str) -> list[int]:
        """``num_local`` consecutive frames from a random start, then ``num_ref`` others, sorted."""
        need = self.num_local + self.num_ref
        if length < need:
            raise ValueError(f"video {name!r} ({self.root / self.frames_dir / name}) has {length} frames, fewer "
                             f"than {self.num_local} local + {self.num_ref} reference frames")
        pivot = int(rng.integers(0, length - self.num_local + 1))
        local = list(range(pivot, pivot + self.num_local))
        others = [i for i in range(length) if i < pivot or i >= pivot + self.num_local]
        refs = sorted(int(i) for i in rng.choice(others, self.num_ref, replace=False)) if self.num_ref else []
        return local + refs

    def load_window(self, idx: int, rng: np.random.Generator) -> dict:
        name = self.names[idx]
        store = open_video_frames(self.root / self.frames_dir, name)
        length = len(store)
        if self.index[name] is not None and self.index[name] != length:
            raise ValueError(f"video {name!r}: the index file lists {self.index[name]} frames but {store.path} "
                             f"holds {length}")
        ids = self.sample_ids(length, rng, name)
        frames = np.stack([resize_frame(f, self.width, self.height) for f in store.read(ids)])
        return {"frames": frames, "frame_ids": ids,
                "meta": {"video": name, "video_length": length, "filename": str(store.path)}}

    def load(self, idx: int) -> dict:
        return self.load_window(idx, np.random.default_rng(idx))

    def prepare(self, idx: int, rng: np.random.Generator | None = None) -> dict:
        rng = np.random.default_rng(idx) if rng is None else rng
        return self.pipeline(self.load_window(idx, rng), rng)


@DATASETS.register()
class VideoInpaintingTestDataset(BaseDataset):
    """Evaluation videos with fixed masks (module docstring); one sample per video: ``{"video":
    VideoClip, "meta": {...}}``.

    Args:
        root, split: as ``VideoInpaintingDataset`` (``test.json``).
        mask_dir: ``root/<mask_dir>/<video>/`` holds one mask image per frame.
        height, width: the evaluation size (240 x 432; None keeps the stored size).
        dilate: iterations of the 3x3-cross dilation of the masks (the official 4).
    """

    def __init__(self, root: str, split: str = "test", mask_dir: str = "test_masks", height: int | None = 240,
                 width: int | None = 432, dilate: int = 4, frames_dir: str = "JPEGImages", pipeline=None):
        super().__init__(pipeline)
        _check_size(height, width, "VideoInpaintingTestDataset")
        self.root, self.frames_dir, self.mask_dir = Path(root), frames_dir, mask_dir
        self.index = read_video_index(self.root, split, frames_dir)
        self.names = list(self.index)
        self.height, self.width, self.dilate = height, width, int(dilate)
        if not (self.root / mask_dir).is_dir():
            raise FileNotFoundError(f"{self.root}: the mask folder {self.root / mask_dir} does not exist")

    def __len__(self) -> int:
        return len(self.names)

    def load(self, idx: int) -> dict:
        name = self.names[idx]
        store = open_video_frames(self.root / self.frames_dir, name)
        mask_folder = self.root / self.mask_dir / name
        if not mask_folder.is_dir():
            raise FileNotFoundError(f"video {name!r}: no mask folder {mask_folder}")
        mask_files = sorted(p for p in mask_folder.iterdir() if p.name.lower().endswith(IMAGE_EXTENSIONS))
        if len(mask_files) != len(store):
            raise ValueError(f"video {name!r}: {len(mask_files)} masks in {mask_folder} for {len(store)} frames "
                             f"in {store.path}")
        w, h, dil = self.width, self.height, self.dilate

        def read_frame(i):
            return resize_frame(store.read([i])[0], w, h)

        def read_mask(i):
            from PIL import Image
            try:
                with Image.open(mask_files[i]) as im:
                    im = im.resize((w, h), Image.NEAREST) if w is not None else im
                    m = np.asarray(im.convert("L"))
            except OSError as exc:
                raise ImageReadError(f"cannot read mask {mask_files[i]} ({exc})") from None
            return dilate_mask(m > 0, dil)

        clip = VideoClip(name, len(store), read_frame, read_mask)
        return {"video": clip, "meta": {"video": name, "video_length": len(store), "filename": str(store.path)}}


@DATASETS.register()
class SyntheticInpaintingClips(BaseDataset):
    """Built-in clips with exact optical flow (``jvision.data.video_synthetic.make_clip``), made
    on the fly from ``(seed, split, index)``.

    ``split="train"``: windows of ``num_local_frames`` consecutive + ``num_ref_frames`` other
    frames (masks from the pipeline, e.g. ``RandomShapeMotionMasks``) with the exact flows of the
    local frames at 1/4 scale. ``split="val"``: whole clips (``VideoClip``) with the clip's own
    moving blob masks and exact flows; ``seed`` of the val split differs from the train split's, so
    the evaluation clips are held out.
    """

    def __init__(self, split: str = "train", num_clips: int = 64, length: int = 12, height: int = 60,
                 width: int = 108, num_local_frames: int = 5, num_ref_frames: int = 3, max_speed: int = 3,
                 mask_area: float = 0.1, seed: int = 0, pipeline=None):
        super().__init__(pipeline)
        if split not in ("train", "val"):
            raise ValueError(f"SyntheticInpaintingClips: split={split!r} must be 'train' or 'val'")
        _check_size(height, width, "SyntheticInpaintingClips")
        if split == "train" and length < num_local_frames + num_ref_frames:
            raise ValueError(f"SyntheticInpaintingClips: length={length} < {num_local_frames} local + "
                             f"{num_ref_frames} reference frames")
        self.split, self.num_clips, self.length = split, num_clips, length
        self.size = (height, width)
        self.num_local, self.num_ref = num_local_frames, num_ref_frames
        self.max_speed, self.mask_area, self.seed = max_speed, mask_area, seed

    def __len__(self) -> int:
        return self.num_clips

    def clip(self, idx: int):
        code = 0 if self.split == "train" else 1
        clip_seed = int(np.random.SeedSequence([self.seed, code, idx]).generate_state(1)[0])
        return make_clip(self.length, self.size, seed=clip_seed, max_speed=self.max_speed, mask_area=self.mask_area)

    def load(self, idx: int) -> dict:
        if self.split == "val":
            c = self.clip(idx)
            name = f"synthetic_{idx:04d}"
            clip = VideoClip(name, self.length, lambda i: c.frames[i], lambda i: c.masks[i], c.flows)
            return {"video": clip, "meta": {"video": name, "video_length": self.length}}
        return self.prepare(idx, np.random.default_rng(idx))

    def prepare(self, idx: int, rng: np.random.Generator | None = None) -> dict:
        if self.split == "val":
            return self.pipeline(self.load(idx), rng if rng is not None else np.random.default_rng(idx))
        rng = np.random.default_rng(idx) if rng is None else rng
        c = self.clip(idx)
        pivot = int(rng.integers(0, self.length - self.num_local + 1))
        local = list(range(pivot, pivot + self.num_local))
        others = [i for i in range(self.length) if i not in local]
        refs = sorted(int(i) for i in rng.choice(others, self.num_ref, replace=False)) if self.num_ref else []
        ids = local + refs
        h4, w4 = self.size[0] // 4, self.size[1] // 4
        # the flows are one translation per clip: 1/4 of it at 1/4 scale, forward = -backward
        fwd = np.broadcast_to(c.flows[0, 0, 0].reshape(1, 2, 1, 1) / 4.0, (self.num_local - 1, 2, h4, w4))
        sample = {"frames": c.frames[ids], "frame_ids": ids, "flows_forward": fwd.astype(np.float32),
                  "flows_backward": (-fwd).astype(np.float32),
                  "meta": {"video": f"synthetic_{idx:04d}", "video_length": self.length}}
        return self.pipeline(sample, rng)


@TRANSFORMS.register()
class ClipRandomFlip:
    """Flips every frame of a clip (and its masks and flows: dx changes sign) left-right with
    probability ``prob``, as the official ``GroupRandomHorizontalFlip``."""

    def __init__(self, prob: float = 0.5):
        self.prob = prob

    def __call__(self, sample: dict, rng: np.random.Generator) -> dict:
        if rng.random() >= self.prob:
            return sample
        sample["frames"] = np.ascontiguousarray(sample["frames"][:, :, ::-1])
        if "masks" in sample:
            sample["masks"] = np.ascontiguousarray(sample["masks"][:, :, ::-1])
        for key in ("flows_forward", "flows_backward"):
            if key in sample:
                f = np.ascontiguousarray(sample[key][..., ::-1])  # [n, 2, h, w]: flip the columns
                f[:, 0] = -f[:, 0]
                sample[key] = f
        return sample


@TRANSFORMS.register()
class PackInpaintingInputs:
    """``frames`` uint8 [T, H, W, 3] -> float32 [T, 3, H, W] in [-1, 1]; ``masks`` uint8 [T, H, W]
    -> float32 [T, 1, H, W] (1 = hole). Other keys pass through; ``frame_ids`` moves into ``meta``."""

    def __call__(self, sample: dict, rng: np.random.Generator) -> dict:
        if "masks" not in sample:
            raise KeyError("PackInpaintingInputs: the sample has no 'masks' (put RandomShapeMotionMasks before it)")
        frames = sample["frames"]
        masks = sample["masks"]
        if masks.shape != frames.shape[:3]:
            raise ValueError(f"PackInpaintingInputs: masks {masks.shape} do not fit frames {frames.shape}")
        sample["frames"] = frames.transpose(0, 3, 1, 2).astype(np.float32) / 127.5 - 1.0
        sample["masks"] = (masks > 0).astype(np.float32)[:, None]
        sample.setdefault("meta", {})["frame_ids"] = list(sample.pop("frame_ids", range(len(frames))))
        return sample
