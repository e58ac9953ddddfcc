"""Frame sources and writers for video tools, with memory that does not grow with the video.

``open_frames(path, size=None)``: a video file (anything OpenCV decodes: mp4, avi, ...) or a folder
of images (sorted by name). A video is decoded once, sequentially, into a raw uint8 file in a
temporary folder, and frames are read back by index with a file seek: no frame stays in memory.
``open_masks(path, n_frames, frame_size)``: a mask video, a folder of masks or one image used for
every frame; count and size are checked against the frames with an error naming both.

The training datasets read clips with ``jvision.data.video.VideoReader`` instead: a few frames by
index from many videos, decoded on demand. Tools walk one whole video window by window, back and
forth, which is why they decode it once and seek in the spool. Both share the frame extensions,
the error type (``VideoReadError``) and the writer (``VideoWriter``).
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import cv2
import numpy as np

from ..data.video import FRAME_EXTENSIONS as IMAGE_EXTS
from ..data.video import VideoReadError, VideoWriter

__all__ = ["FrameSource", "open_frames", "open_masks", "VideoWriter", "IMAGE_EXTS"]


class FrameSource:
    """Indexable frames: ``len(src)``, ``src[i]`` -> uint8 [H, W, 3] RGB (or [H, W] for masks),
    ``src.size`` = (H, W) after resizing, ``src.source_size`` = (H, W) as stored."""

    def __init__(self, path, size=None, gray: bool = False):
        self.path, self.gray = Path(path), gray
        self._tmp = None
        if self.path.is_dir():
            self.files = sorted(p for p in self.path.iterdir() if p.suffix.lower() in IMAGE_EXTS)
            if not self.files:
                raise VideoReadError(f"{self.path}: no images ({', '.join(IMAGE_EXTS)}) in this folder")
            first = self._read_file(self.files[0])
            self.length = len(self.files)
        elif self.path.is_file() and self.path.suffix.lower() in IMAGE_EXTS:
            self.files = [self.path]
            first = self._read_file(self.path)
            self.length = 1
        elif self.path.is_file():
            self.files = None
            first = self._decode_video()
        else:
            raise VideoReadError(f"{self.path}: no such video file, image or folder")
        self.source_size = first.shape[:2]
        self.size = tuple(size) if size is not None else self.source_size

    def _read_file(self, p: Path) -> np.ndarray:
        img = cv2.imread(str(p), cv2.IMREAD_GRAYSCALE if self.gray else cv2.IMREAD_COLOR)
        if img is None:
            raise VideoReadError(f"{p}: cannot read this image")
        return img if self.gray else cv2.cvtColor(img, cv2.COLOR_BGR2RGB)

    def _decode_video(self) -> np.ndarray:
        cap = cv2.VideoCapture(str(self.path))
        if not cap.isOpened():
            raise VideoReadError(f"{self.path}: OpenCV cannot open this video")
        self.fps = cap.get(cv2.CAP_PROP_FPS) or 24.0
        self._tmp = tempfile.mkdtemp(prefix="jvision-frames-")
        raw = Path(self._tmp) / "frames.u8"
        first, n = None, 0
        with open(raw, "wb") as fh:
            while True:
                ok, img = cap.read()
                if not ok:
                    break
                img = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY) if self.gray else cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
                if first is None:
                    first = img
                elif img.shape != first.shape:
                    raise VideoReadError(f"{self.path}: frame {n} is {img.shape}, frame 0 {first.shape}")
                fh.write(np.ascontiguousarray(img).tobytes())
                n += 1
        cap.release()
        if first is None:
            raise VideoReadError(f"{self.path}: no frame could be decoded")
        self._raw, self._shape, self.length = raw, first.shape, n
        return first

    def __len__(self) -> int:
        return self.length

    def read_raw(self, i: int) -> np.ndarray:
        if not 0 <= i < self.length:
            raise IndexError(f"{self.path}: frame {i} of {self.length}")
        if self.files is not None:
            return self._read_file(self.files[i])
        nbytes = int(np.prod(self._shape))
        with open(self._raw, "rb") as fh:
            fh.seek(i * nbytes)
            return np.frombuffer(fh.read(nbytes), np.uint8).reshape(self._shape)

    def __getitem__(self, i: int) -> np.ndarray:
        img = self.read_raw(i)
        if img.shape[:2] != tuple(self.size):
            interp = cv2.INTER_NEAREST if self.gray else cv2.INTER_AREA
            img = cv2.resize(img, (self.size[1], self.size[0]), interpolation=interp)
        return img

    def close(self) -> None:
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def __del__(self):
        self.close()


def open_frames(path, size=None) -> FrameSource:
    return FrameSource(path, size)


class _OneMask:
    def __init__(self, src: FrameSource, n: int):
        self.src, self.length, self.size, self.source_size = src, n, src.size, src.source_size
        self._img = src[0]

    def __len__(self):
        return self.length

    def __getitem__(self, i):
        return self._img


def open_masks(path, n_frames: int, frame_source_size, size=None):
    """Masks for ``n_frames`` frames whose stored size is ``frame_source_size`` (H, W); returned
    at ``size`` (default: the frames' stored size), uint8 0/255 [H, W]."""
    src = FrameSource(path, size or frame_source_size, gray=True)
    if tuple(src.source_size) != tuple(frame_source_size):
        raise ValueError(f"{path}: masks are {src.source_size[1]}x{src.source_size[0]} (WxH) but the frames are "
                         f"{frame_source_size[1]}x{frame_source_size[0]}: give masks of the frames' size")
    if len(src) == 1 and n_frames > 1 and src.files is not None and Path(path).is_file():
        return _OneMask(src, n_frames)
    if len(src) != n_frames:
        raise ValueError(f"{path}: {len(src)} masks for {n_frames} frames: give one mask per frame, "
                         "or one image for all frames")
    return src
