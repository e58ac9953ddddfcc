"""Synthetic video clips with known optical flow and moving-blob masks (no download).

A clip is a crop window moving over a larger generated texture (smooth colour noise plus
random shapes), by whole pixels per frame, so the true flow is exact: content moves by
``-velocity`` and ``I_t(p) = I_{t+1}(p + F)`` with ``F = -velocity`` (the backward-warp flow
E_warp uses), away from the borders. Masks are E2FGVI-style blobs (random ellipse unions) that
drift across the frame, as the official "moving" masks. Deterministic from the seed.

    clip = make_clip(length=12, size=(60, 108), seed=3)
    clip.frames  # [T, H, W, 3] uint8 RGB      clip.masks  # [T, H, W] uint8, 1 = hole
    clip.flows   # [T-1, H, W, 2] float32 (dx, dy), frame t -> t+1
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

__all__ = ["SyntheticClip", "make_texture", "make_clip", "blob_mask"]


@dataclass
class SyntheticClip:
    frames: np.ndarray
    masks: np.ndarray
    flows: np.ndarray
    velocity: tuple


def make_texture(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """A [H, W, 3] uint8 texture: multi-scale smooth colour noise with a few filled shapes."""
    img = np.zeros((height, width, 3), np.float32)
    for scale, amp in ((32, 90.0), (8, 50.0), (2, 20.0)):
        small = rng.uniform(-1, 1, (max(2, height // scale), max(2, width // scale), 3)).astype(np.float32)
        img += amp * cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
    img += 128
    for _ in range(max(3, height * width // 4000)):
        colour = tuple(float(c) for c in rng.integers(0, 256, 3))
        cx, cy = int(rng.integers(0, width)), int(rng.integers(0, height))
        if rng.random() < 0.5:
            cv2.circle(img, (cx, cy), int(rng.integers(3, max(4, height // 6))), colour, -1)
        else:
            dx, dy = int(rng.integers(3, max(4, width // 8))), int(rng.integers(3, max(4, height // 8)))
            cv2.rectangle(img, (cx, cy), (cx + dx, cy + dy), colour, -1)
    return np.clip(img, 0, 255).astype(np.uint8)


def blob_mask(height: int, width: int, rng: np.random.Generator, area: float = 0.1):
    """Parameters of a random blob: a union of ellipses covering about ``area`` of the frame."""
    n = int(rng.integers(2, 5))
    r = np.sqrt(area * height * width / (np.pi * n)) * 1.3
    cy, cx = rng.uniform(0.25, 0.75) * height, rng.uniform(0.25, 0.75) * width
    parts = [(rng.uniform(-r, r), rng.uniform(-r, r), rng.uniform(0.5, 1.0) * r, rng.uniform(0.5, 1.0) * r,
              rng.uniform(0, 180)) for _ in range(n)]
    return cy, cx, parts


def _draw_blob(height, width, cy, cx, parts) -> np.ndarray:
    m = np.zeros((height, width), np.uint8)
    for oy, ox, ay, ax, ang in parts:
        cv2.ellipse(m, (int(round(cx + ox)), int(round(cy + oy))), (max(1, int(ax)), max(1, int(ay))), ang, 0, 360, 1, -1)
    return m


def make_clip(length: int = 12, size=(60, 108), seed: int = 0, max_speed: int = 3, mask_area: float = 0.1,
              moving_mask: bool = True, texture: np.ndarray | None = None) -> SyntheticClip:
    """One clip of ``length`` frames of ``size`` (H, W); see the module docstring."""
    rng = np.random.default_rng(seed)
    h, w = size
    vy, vx = (int(v) for v in rng.integers(-max_speed, max_speed + 1, 2))
    if vy == 0 and vx == 0:
        vx = 1
    margin_y, margin_x = abs(vy) * length + 2, abs(vx) * length + 2
    tex = texture if texture is not None else make_texture(h + margin_y, w + margin_x, rng)
    if tex.shape[0] < h + margin_y or tex.shape[1] < w + margin_x:
        raise ValueError(f"make_clip: texture {tex.shape[:2]} is too small for {length} frames of {size} "
                         f"moving by {(vy, vx)} pixels per frame")
    y0 = 1 if vy >= 0 else margin_y - 1
    x0 = 1 if vx >= 0 else margin_x - 1
    frames = np.stack([tex[y0 + vy * t:y0 + vy * t + h, x0 + vx * t:x0 + vx * t + w] for t in range(length)])
    flows = np.zeros((length - 1, h, w, 2), np.float32)
    flows[..., 0], flows[..., 1] = -vx, -vy
    cy, cx, parts = blob_mask(h, w, rng, mask_area)
    my, mx = (rng.uniform(-1.5, 1.5, 2) if moving_mask else (0.0, 0.0))
    masks = np.stack([_draw_blob(h, w, cy + my * t, cx + mx * t, parts) for t in range(length)])
    return SyntheticClip(frames.copy(), masks, flows, (vy, vx))
