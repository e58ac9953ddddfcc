"""Reading images from disk, with errors that name the file at fault. Shared by every task.

``read_image(path)`` returns an ``HxWx3`` ``uint8`` array in **RGB** order (the project's one
convention: OpenCV decodes, the channel order is turned once, here). ``mode="gray"`` returns
``HxW`` uint8, ``mode="unchanged"`` returns the stored array as is (segmentation label maps,
16-bit PNGs, alpha channels).

Decoding goes through ``np.fromfile`` + ``cv2.imdecode`` (works for non-ASCII paths too); when
OpenCV cannot decode a file (GIF, some exotic TIFFs), Pillow is tried before giving up. EXIF
orientation is *ignored* in ``rgb``/``gray`` modes, as Pillow does: the reference pipelines (timm,
torchvision, mmcv's pillow backend) evaluate official checkpoints on un-rotated pixels.

Errors:
* ``FileNotFoundError`` — the path does not exist (or is not a file);
* ``ImageReadError`` (a ``ValueError``) — the file exists but is empty, truncated beyond repair or
  not an image; the message names the path and the size of the file.
"""
from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

__all__ = ["ImageReadError", "read_image", "IMAGE_EXTENSIONS", "is_image_file", "collect_image_files"]

#: File endings treated as images by the folder datasets (compared lower-case).
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".pgm", ".tif", ".tiff", ".webp")

_MODES = ("rgb", "bgr", "gray", "unchanged")


class ImageReadError(ValueError):
    """An image file exists but cannot be decoded."""


def is_image_file(name: str | os.PathLike) -> bool:
    return str(name).lower().endswith(IMAGE_EXTENSIONS)


def collect_image_files(items) -> list[Path]:
    """The image files named on a command line: files as given, folders expanded to their image files
    (sorted, not recursive); a missing path or an empty result is an error naming it."""
    found: list[Path] = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            found += sorted(f for f in p.iterdir() if f.is_file() and is_image_file(f.name))
        elif p.is_file():
            found.append(p)
        else:
            raise FileNotFoundError(f"image {str(item)!r} does not exist")
    if not found:
        raise FileNotFoundError(f"no images found in {[str(i) for i in items]}")
    return found


def _decode_with_pillow(data: bytes, mode: str) -> np.ndarray | None:
    try:
        import io

        from PIL import Image
        with Image.open(io.BytesIO(data)) as im:
            if mode == "unchanged":
                return np.asarray(im)
            if mode == "gray":
                return np.asarray(im.convert("L"))
            arr = np.asarray(im.convert("RGB"))
            return arr[..., ::-1].copy() if mode == "bgr" else arr
    except Exception:  # noqa: BLE001 - any failure here means "not decodable"
        return None


def read_image(path: str | os.PathLike, mode: str = "rgb") -> np.ndarray:
    """Read ``path`` into a numpy array.

    Args:
        path: image file.
        mode: ``"rgb"`` (HxWx3 uint8, default), ``"bgr"``, ``"gray"`` (HxW uint8) or
            ``"unchanged"`` (whatever is stored: label maps, 16-bit, alpha).
    """
    if mode not in _MODES:
        raise ValueError(f"read_image: mode must be one of {_MODES}, got {mode!r}")
    p = Path(path)
    if not p.is_file():
        what = "is a directory, not an image file" if p.is_dir() else "does not exist"
        raise FileNotFoundError(f"image file {str(p)!r} {what}")
    try:
        data = np.fromfile(str(p), dtype=np.uint8)
    except OSError as exc:
        raise ImageReadError(f"cannot read image file {str(p)!r}: {exc}") from exc
    if data.size == 0:
        raise ImageReadError(f"cannot decode image file {str(p)!r}: the file is empty (0 bytes)")

    if mode == "unchanged":
        flag = cv2.IMREAD_UNCHANGED
    elif mode == "gray":
        flag = cv2.IMREAD_GRAYSCALE | cv2.IMREAD_IGNORE_ORIENTATION
    else:
        flag = cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION
    img = cv2.imdecode(data, flag)
    if img is not None and mode == "rgb":
        img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    if img is None:
        img = _decode_with_pillow(data.tobytes(), mode)
    if img is None or img.size == 0:
        raise ImageReadError(f"cannot decode image file {str(p)!r} ({data.size} bytes): "
                             "corrupt, truncated or not an image")
    if mode in ("rgb", "bgr") and img.dtype != np.uint8:  # pragma: no cover - IMREAD_COLOR gives uint8
        img = np.clip(img, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(img)
