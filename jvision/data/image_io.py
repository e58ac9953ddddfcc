"""Reading images from disk, with errors that name the file at fault. Shared by every task.

``read_image(path)`` returns an ``HxWx3`` ``uint8`` array in **RGB** order (the project's one
convention: OpenCV decodes, the channel order is turned once, here). ``mode="gray"`` returns
``HxW`` uint8, ``mode="unchanged"`` returns the stored array as is (segmentation label maps,
16-bit PNGs, alpha channels).

Decoding goes through ``np.fromfile`` + ``cv2.imdecode`` (works for non-ASCII paths too); when
OpenCV cannot decode a file (GIF, some exotic TIFFs), Pillow is tried before giving up.

EXIF orientation is *applied* in ``rgb``/``bgr``/``gray`` modes: a phone photo stored sideways with
an orientation tag comes out upright, for training, evaluation and ``tools/infer.py`` alike (as
OpenCV's ``imread`` and mmcv's default cv2 backend, which the official SegNeXt pipelines use, do;
Pillow-based pipelines such as timm's leave the stored pixels as they are). ``mode="unchanged"``
returns the stored pixels (label maps carry no orientation). ``image_size`` gives the displayed
size from the file's header, so checks of image/label sizes agree with what is read.

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

__all__ = ["ImageReadError", "read_image", "image_size", "exif_orientation", "apply_orientation", "IMAGE_EXTENSIONS",
           "is_image_file", "collect_image_files"]

#: File endings treated as images by the folder datasets (compared lower-case).
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".pgm", ".tif", ".tiff", ".webp")

_MODES = ("rgb", "bgr", "gray", "unchanged")
_ORIENTATION_TAG = 0x0112


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


def exif_orientation(im) -> int:
    """The EXIF orientation (1..8; 1 = as stored) of an opened Pillow image, from its header only.

    A PNG whose ``eXIf`` chunk comes after the pixel data counts as 1 (reading it would decode the
    whole image); an invalid value counts as 1, and so does a TIFF (its decoders disagree on the
    tag: libtiff may apply it while decoding, so TIFF pixels are taken as decoded).
    """
    if im.format == "TIFF":
        return 1
    if im.format == "PNG" and "exif" not in im.info:
        return 1  # Pillow's getexif() would decode the pixels to look further
    try:
        value = int(im.getexif().get(_ORIENTATION_TAG, 1))
    except Exception:  # noqa: BLE001 - a malformed EXIF block does not make the pixels unreadable
        return 1
    return value if 1 <= value <= 8 else 1


def apply_orientation(img: np.ndarray, orientation: int) -> np.ndarray:
    """Turn stored pixels (``HxW`` or ``HxWxC``) into displayed ones for an EXIF ``orientation``."""
    if orientation in (5, 6, 7, 8):  # the stored rows are the displayed columns
        img = img.swapaxes(0, 1)
        orientation = {5: 1, 6: 2, 7: 3, 8: 4}[orientation]  # what remains after the transpose
    if orientation == 2:
        img = img[:, ::-1]
    elif orientation == 3:
        img = img[::-1, ::-1]
    elif orientation == 4:
        img = img[::-1]
    return img


def _orientation_of_bytes(data: np.ndarray) -> int:
    import io

    from PIL import Image
    try:
        with Image.open(io.BytesIO(data.tobytes())) as im:
            return exif_orientation(im)
    except Exception:  # noqa: BLE001 - Pillow cannot parse it: nothing to rotate
        return 1


def image_size(path: str | os.PathLike) -> tuple[int, int]:
    """``(h, w)`` of an image as ``read_image`` returns it (EXIF orientation applied), from the
    header alone. Raises ``FileNotFoundError`` or ``ImageReadError`` naming the path."""
    from PIL import Image, UnidentifiedImageError
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"image file {str(p)!r} does not exist")
    if p.stat().st_size == 0:
        raise ImageReadError(f"cannot decode image file {str(p)!r}: the file is empty (0 bytes)")
    try:
        with Image.open(p) as im:
            w, h = im.size
            orientation = exif_orientation(im)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ImageReadError(f"cannot decode image file {str(p)!r}: {exc}") from exc
    return (w, h) if orientation in (5, 6, 7, 8) else (h, w)


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
        mode: ``"rgb"`` (HxWx3 uint8, default), ``"bgr"``, ``"gray"`` (HxW uint8), all three upright
            (EXIF orientation applied), or ``"unchanged"`` (whatever is stored, as stored: label
            maps, 16-bit, alpha).
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
    elif mode == "gray":  # orientation: applied below, from the same EXIF reader as image_size
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
    if mode != "unchanged":
        img = apply_orientation(img, _orientation_of_bytes(data))
    if mode in ("rgb", "bgr") and img.dtype != np.uint8:  # pragma: no cover - IMREAD_COLOR gives uint8
        img = np.clip(img, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(img)
