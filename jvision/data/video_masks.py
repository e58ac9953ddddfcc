"""Random video-inpainting masks as E2FGVI trains with (``create_random_shape_with_random_motion`` in
``core/utils.py`` of MCG-NKU/E2FGVI), written from its description, every draw from one NumPy
generator (so the loader's per-sample generator makes them reproducible and resumable).

One blob per video: a closed curve of ``edge_num`` (6-8) cubic Bezier segments through points
around the unit circle at radii perturbed by ``ratio`` (0.6-0.8), filled and stretched to a
bounding box of ``[H/3, H-1] x [W/3, W-1]`` pixels placed at a random position. With probability
``static_prob`` (0.5) the blob stays put for the whole video; otherwise it moves: each frame it
steps by ``int(speed * cos(angle)), int(speed * sin(angle))`` (rows, columns), the speed and angle
take Gaussian kicks (std 1.5 px and 0.25 rad), a step that would leave the frame draws a new
velocity, and the position is clipped to the frame. The first speed is uniform in [1, 3) (as the
official ``np.random.uniform(3)``), a renewed one ``|N(0, 1.5)|``.

``RandomShapeMotionMasks`` (a transform in ``TRANSFORMS``) draws one trajectory over the sample's
whole video (``meta["video_length"]``) and renders the frames the sample holds
(``frame_ids``), so reference frames far from the local window see the mask where it would be.
"""
from __future__ import annotations

import cv2
import numpy as np

from ..registry import TRANSFORMS

__all__ = ["dilate_mask", "random_blob", "random_trajectory", "render_blob", "random_video_masks", "RandomShapeMotionMasks"]


def dilate_mask(mask: np.ndarray, iterations: int = 4) -> np.ndarray:
    """Binary mask (>0) dilated with a 3x3 cross ``iterations`` times, as the official evaluation
    prepares its fixed masks; uint8 0/1."""
    m = (np.asarray(mask) > 0).astype(np.uint8)
    if iterations > 0:
        m = cv2.dilate(m, cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3)), iterations=iterations)
    return m


def _bezier_outline(edge_num: int, ratio: float, rng: np.random.Generator, samples: int = 16) -> np.ndarray:
    """Points [N, 2] (x, y) of a closed curve of ``edge_num`` cubic Bezier segments."""
    n = edge_num * 3 + 1
    angles = np.linspace(0.0, 2 * np.pi, n)
    radii = 2 * ratio * rng.random(n) + 1 - ratio
    ctrl = np.stack([np.cos(angles), np.sin(angles)], 1) * radii[:, None]
    ctrl[-1] = ctrl[0]
    t = np.linspace(0.0, 1.0, samples, endpoint=False)[:, None]
    basis = [(1 - t) ** 3, 3 * (1 - t) ** 2 * t, 3 * (1 - t) * t ** 2, t ** 3]
    pts = [sum(b * ctrl[3 * s + k] for k, b in enumerate(basis)) for s in range(edge_num)]
    return np.concatenate(pts, 0)


def _box_side(n: int, size_range, rng: np.random.Generator) -> int:
    lo, hi = size_range
    if (lo, hi) == (1 / 3, 1.0):
        return int(rng.integers(n // 3, n))                 # the official randint(n // 3, n - 1), inclusive
    lo_px = max(1, int(round(lo * n)))
    return int(rng.integers(lo_px, max(lo_px + 1, min(n, int(round(hi * n))))))


def random_blob(height: int, width: int, rng: np.random.Generator, size_range=(1 / 3, 1.0)) -> np.ndarray:
    """A filled random shape (uint8 0/1) touching its bounding box, whose sides are drawn from
    ``size_range`` (fractions of the frame's; the official ``[H/3, H-1] x [W/3, W-1]`` pixels)."""
    box_h = _box_side(height, size_range, rng)
    box_w = _box_side(width, size_range, rng)
    edge_num = int(rng.integers(6, 9))
    ratio = int(rng.integers(6, 9)) / 10
    pts = _bezier_outline(edge_num, ratio, rng)
    lo, hi = pts.min(0), pts.max(0)
    scaled = (pts - lo) / np.maximum(hi - lo, 1e-6) * [box_w - 1, box_h - 1]
    region = np.zeros((max(box_h, 1), max(box_w, 1)), np.uint8)
    cv2.fillPoly(region, [np.round(scaled).astype(np.int32)], 1)
    return region


def _random_velocity(max_speed: float, rng: np.random.Generator, gaussian: bool) -> tuple[float, float]:
    speed = abs(rng.normal(0, max_speed / 2)) if gaussian else rng.uniform(1.0, max_speed)
    return float(speed), float(rng.uniform(0, 2 * np.pi))


def random_trajectory(length: int, height: int, width: int, region_shape, rng: np.random.Generator,
                      static_prob: float = 0.5, max_speed: float = 3.0,
                      max_acceleration=(3.0, 0.5)) -> np.ndarray:
    """Top-left positions [length, 2] (row, col) of a region of ``region_shape`` (h, w) in a
    ``height x width`` frame: static with probability ``static_prob``, else moving (module docstring)."""
    rh, rw = region_shape
    pos = np.zeros((length, 2), np.int64)
    r, c = int(rng.integers(0, height - rh + 1)), int(rng.integers(0, width - rw + 1))
    speed, angle = _random_velocity(max_speed, rng, gaussian=False)
    pos[0] = r, c
    if rng.random() < static_prob:
        pos[1:] = pos[0]
        return pos
    for i in range(1, length):
        r += int(speed * np.cos(angle))
        c += int(speed * np.sin(angle))
        speed += rng.normal(0, max_acceleration[0] / 2)
        angle += rng.normal(0, max_acceleration[1] / 2)
        if r > height - rh or r < 0 or c > width - rw or c < 0:
            speed, angle = _random_velocity(max_speed, rng, gaussian=True)
        r, c = int(np.clip(r, 0, height - rh)), int(np.clip(c, 0, width - rw))
        pos[i] = r, c
    return pos


def render_blob(region: np.ndarray, top_left, height: int, width: int) -> np.ndarray:
    """``region`` pasted into an empty ``height x width`` frame at ``top_left`` (row, col)."""
    m = np.zeros((height, width), np.uint8)
    r, c = int(top_left[0]), int(top_left[1])
    rh, rw = region.shape
    m[r:r + rh, c:c + rw] = region[:max(0, min(rh, height - r)), :max(0, min(rw, width - c))]
    return m


def random_video_masks(length: int, height: int, width: int, rng: np.random.Generator, frame_ids=None,
                       static_prob: float = 0.5, size_range=(1 / 3, 1.0)) -> np.ndarray:
    """Masks [len(frame_ids), H, W] (uint8, 1 = hole) of one random blob over a ``length``-frame
    video, for ``frame_ids`` (default: every frame)."""
    region = random_blob(height, width, rng, size_range)
    pos = random_trajectory(length, height, width, region.shape, rng, static_prob)
    ids = range(length) if frame_ids is None else frame_ids
    return np.stack([render_blob(region, pos[i], height, width) for i in ids])


@TRANSFORMS.register()
class RandomShapeMotionMasks:
    """Adds ``masks`` [T, H, W] (uint8, 1 = hole) for the sample's ``frames`` [T, H, W, 3]: one random
    blob over the whole video (``meta["video_length"]``, default T), static with probability
    ``static_prob``, rendered at the sample's ``frame_ids`` (default 0..T-1). ``size_range``: the
    blob's bounding box sides as fractions of the frame's (official: 1/3 to all of it)."""

    def __init__(self, static_prob: float = 0.5, size_range=(1 / 3, 1.0)):
        if not 0.0 <= static_prob <= 1.0:
            raise ValueError(f"RandomShapeMotionMasks: static_prob={static_prob} must be in [0, 1]")
        lo, hi = (float(v) for v in size_range)
        if not 0.0 < lo <= hi <= 1.0:
            raise ValueError(f"RandomShapeMotionMasks: size_range={tuple(size_range)} must satisfy 0 < low <= high <= 1")
        self.static_prob, self.size_range = static_prob, (lo, hi)

    def __call__(self, sample: dict, rng: np.random.Generator) -> dict:
        frames = sample["frames"]
        t, h, w = frames.shape[:3]
        ids = list(sample.get("frame_ids", range(t)))
        length = int(sample.get("meta", {}).get("video_length", max(ids) + 1))
        sample["masks"] = random_video_masks(length, h, w, rng, ids, self.static_prob, self.size_range)
        return sample
