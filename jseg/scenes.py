"""Built-in synthetic street scenes: a small segmentation set for the demo and the tests.

Nine classes whose identity is carried by texture and shape rather than by one flat colour:

==  ==========  ====================================================================
id  class       look
==  ==========  ====================================================================
0   sky         smooth vertical gradient (day, overcast or dusk) with soft clouds
1   building    facade of any colour with a regular grid of windows, skyline of blocks
2   road        grainy asphalt with dashed lane markings, sometimes a zebra crossing
3   sidewalk    paving tiles in a running-bond grid with dark joints
4   vegetation  trees (trunk + ragged canopy) and hedges with mottled leafy texture
5   car         rounded body of any colour, cabin with dark windows, two black wheels
6   person      head, torso of any colour, arms and legs; standing on the pavement
7   pole        thin vertical bar with cylinder shading, sometimes a street-light arm
8   sign        red/blue/yellow plate (disc, triangle, square, octagon) with a border
==  ==========  ====================================================================

The backgrounds are cluttered (boxes, bins, posters, scribbles of random colours and textures,
labelled "unlabelled"), objects come at random positions, scales (nearer = larger) and occlude
each other, and every image gets its own lighting, colour cast, sensor noise and blur.

Label convention: the files follow ADE20K, so the ADE20K reader serves both. Stored value 0 is
"unlabelled" (clutter) and class ``i`` above is stored as ``i + 1``; the reader
(``reduce_zero_label=True``) turns them into ``0..8`` and 255 (ignored).

Generation is deterministic: image ``i`` of a split is drawn from ``numpy.random.default_rng((seed,
split, i))``. It is written once into ``<root>/{images,annotations}/{training,validation}/`` with
a stamp file ``scenes.json`` (generator version + parameters): a root whose stamp differs is
regenerated. Writing goes into a temporary sibling folder that is renamed into place, under a file
lock, so an interrupted run never leaves a half-written set and concurrent processes (MPI ranks)
generate it once. The default root is ``$JVISION_CACHE/scenes/<key>`` (``$JVISION_CACHE`` defaults
to ``~/.cache/jvision``) where ``<key>`` names version, size, counts and seed.

Suggested demo recipe (SegNeXt-T from scratch, CPU, minutes): random 160x160 crops
(``RandomCrop(cat_max_ratio=0.75)``) of ``SegResize(img_scale=(256, 192), ratio_range=(0.75, 1.5))``,
flip, photometric distortion, batch 8; evaluate on the full 256x192 validation images.
``python tools/check_dataset.py scenes`` generates the default set (if needed), validates it and
prints where it is.
"""
from __future__ import annotations

import colorsys
import contextlib
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Callable, Sequence

import cv2
import numpy as np

from jvision.registry import DATASETS

from .datasets.ade import ADE20K

__all__ = ["SCENE_CLASSES", "SCENE_PALETTE", "SCENES_VERSION", "generate_scene", "ensure_scenes", "Scenes",
           "default_scenes_root"]

#: Bump when the generator's output changes: cached sets with another version are regenerated.
SCENES_VERSION = 3

SCENE_CLASSES = ("sky", "building", "road", "sidewalk", "vegetation", "car", "person", "pole", "sign")
SCENE_PALETTE = [[70, 130, 180], [70, 70, 70], [128, 64, 128], [244, 35, 232], [107, 142, 35], [0, 0, 142],
                 [220, 20, 60], [153, 153, 153], [220, 220, 0]]

# stored label values (ADE convention: 0 = unlabelled)
CLUTTER, SKY, BUILDING, ROAD, SIDEWALK, VEGETATION, CAR, PERSON, POLE, SIGN = range(10)

SPLITS = {"train": ("training", 0), "val": ("validation", 1)}


# ---------------------------------------------------------------------------------------------
# drawing helpers
# ---------------------------------------------------------------------------------------------
def _hsv(h: float, s: float, v: float) -> np.ndarray:
    return np.array(colorsys.hsv_to_rgb(h % 1.0, s, v), dtype=np.float32) * 255


def _noise(rng: np.random.Generator, h: int, w: int, cell: float) -> np.ndarray:
    """Smooth noise in about [0, 1] with features of ``cell`` pixels."""
    gh, gw = max(2, int(h / cell) + 2), max(2, int(w / cell) + 2)
    small = rng.random((gh, gw), dtype=np.float32)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)


class _Canvas:
    """The image (float RGB) and the stored label map being painted."""

    def __init__(self, w: int, h: int):
        self.w, self.h = w, h
        self.img = np.zeros((h, w, 3), np.float32)
        self.lab = np.zeros((h, w), np.uint8)

    def region(self, x1: float, y1: float, x2: float, y2: float) -> "_Region":
        return _Region(self, x1, y1, x2, y2)

    def full(self) -> "_Region":
        return _Region(self, 0, 0, self.w - 1, self.h - 1)


class _Region:
    """A window of the canvas: callers give canvas coordinates, arrays have the window's size
    (so that each object costs in proportion to its area, not the image's)."""

    def __init__(self, c: _Canvas, x1: float, y1: float, x2: float, y2: float):
        self.c = c
        self.x0, self.y0 = int(max(0, np.floor(x1))), int(max(0, np.floor(y1)))
        self.x1, self.y1 = int(min(c.w, np.ceil(x2) + 1)), int(min(c.h, np.ceil(y2) + 1))
        self.w, self.h = max(0, self.x1 - self.x0), max(0, self.y1 - self.y0)

    @property
    def empty(self) -> bool:
        return self.w == 0 or self.h == 0

    def grid(self) -> tuple[np.ndarray, np.ndarray]:
        yy = np.arange(self.y0, self.y1, dtype=np.float32)[:, None] + np.zeros((1, self.w), np.float32)
        xx = np.arange(self.x0, self.x1, dtype=np.float32)[None, :] + np.zeros((self.h, 1), np.float32)
        return yy, xx

    def blank(self) -> np.ndarray:
        return np.zeros((self.h, self.w), np.uint8)

    def p(self, x: float, y: float) -> tuple[int, int]:
        return int(round(x - self.x0)), int(round(y - self.y0))

    def pts(self, pts) -> np.ndarray:
        return np.round(np.asarray(pts, np.float32) - np.array([self.x0, self.y0], np.float32)).astype(np.int32)

    def noise(self, rng, cell: float) -> np.ndarray:
        return _noise(rng, self.h, self.w, cell)

    def fill(self, colour) -> np.ndarray:
        tex = np.empty((self.h, self.w, 3), np.float32)
        tex[:] = colour
        return tex

    def paint(self, mask: np.ndarray | None, tex, label: int) -> None:
        """Put ``tex`` (colour or texture of the window's size) and ``label`` where ``mask`` is set
        (everywhere in the window for ``None``)."""
        img = self.c.img[self.y0:self.y1, self.x0:self.x1]
        if mask is None:
            img[:] = tex
            self.c.lab[self.y0:self.y1, self.x0:self.x1] = label
            return
        m = mask if mask.dtype == bool else mask.astype(bool)
        if isinstance(tex, np.ndarray) and tex.ndim == 3:
            img[m] = tex[m]
        else:
            img[m] = tex
        self.c.lab[self.y0:self.y1, self.x0:self.x1][m] = label


def _rounded_rect(r: _Region, mask: np.ndarray, x1: float, y1: float, x2: float, y2: float,
                  rad: float) -> np.ndarray:
    rad = int(max(0, min(rad, (x2 - x1) / 2, (y2 - y1) / 2)))
    (a, b), (cc, d) = r.p(x1, y1), r.p(x2, y2)
    if rad <= 0:
        cv2.rectangle(mask, (a, b), (cc, d), 1, -1)
        return mask
    cv2.rectangle(mask, (a + rad, b), (cc - rad, d), 1, -1)
    cv2.rectangle(mask, (a, b + rad), (cc, d - rad), 1, -1)
    for cx, cy in ((a + rad, b + rad), (cc - rad, b + rad), (a + rad, d - rad), (cc - rad, d - rad)):
        cv2.circle(mask, (cx, cy), rad, 1, -1)
    return mask


def _poly(r: _Region, mask: np.ndarray, pts) -> np.ndarray:
    cv2.fillPoly(mask, [r.pts(pts)], 1)
    return mask


def _grain(rng, h: int, w: int, sigma: float) -> np.ndarray:
    return rng.standard_normal((h, w, 1), dtype=np.float32) * np.float32(sigma)


# ---------------------------------------------------------------------------------------------
# the scene parts
# ---------------------------------------------------------------------------------------------
def _sky(rng, c: _Canvas, horizon: int) -> None:
    kind = rng.choice(3, p=[0.6, 0.25, 0.15])
    if kind == 0:  # day
        top = _hsv(rng.uniform(0.55, 0.63), rng.uniform(0.45, 0.75), rng.uniform(0.65, 0.9))
        bottom = _hsv(rng.uniform(0.53, 0.6), rng.uniform(0.1, 0.3), rng.uniform(0.85, 1.0))
        cloud = np.full(3, rng.uniform(235, 252), np.float32)
    elif kind == 1:  # overcast
        g = rng.uniform(150, 200)
        top = np.array([g, g + 3, g + 10], np.float32)
        bottom = np.full(3, min(250, g + rng.uniform(20, 45)), np.float32)
        cloud = np.full(3, g - rng.uniform(15, 35), np.float32)
    else:  # dusk
        top = _hsv(rng.uniform(0.62, 0.75), rng.uniform(0.35, 0.6), rng.uniform(0.35, 0.6))
        bottom = _hsv(rng.uniform(0.03, 0.1), rng.uniform(0.35, 0.65), rng.uniform(0.85, 1.0))
        cloud = _hsv(rng.uniform(0.9, 1.05), rng.uniform(0.15, 0.35), rng.uniform(0.6, 0.85))
    t = np.clip(np.arange(c.h, dtype=np.float32) / max(horizon, 1), 0, 1) ** rng.uniform(0.7, 1.5)
    grad = top[None, :] * (1 - t[:, None]) + bottom[None, :] * t[:, None]
    c.img[:] = grad[:, None, :]
    c.lab[:] = SKY
    amount = rng.uniform(0.0, 0.9)
    if amount > 0.05:
        n = 0.65 * _noise(rng, c.h, c.w, rng.uniform(14, 30)) + 0.35 * _noise(rng, c.h, c.w, rng.uniform(4, 8))
        cl = np.clip((n - np.float32(rng.uniform(0.45, 0.65))) * np.float32(amount / 0.18), 0, amount)
        c.img += (cloud - c.img) * cl[..., None]
    return kind == 2


def _facade_colour(rng) -> np.ndarray:
    kind = rng.integers(5)
    if kind == 0:  # brick
        return _hsv(rng.uniform(0.0, 0.06), rng.uniform(0.45, 0.7), rng.uniform(0.45, 0.7))
    if kind == 1:  # concrete
        g = rng.uniform(110, 190)
        return np.array([g, g, g * rng.uniform(0.95, 1.05)], np.float32)
    if kind == 2:  # sandstone / beige
        return _hsv(rng.uniform(0.08, 0.13), rng.uniform(0.2, 0.4), rng.uniform(0.7, 0.88))
    if kind == 3:  # dark glass
        return _hsv(rng.uniform(0.5, 0.65), rng.uniform(0.2, 0.45), rng.uniform(0.25, 0.45))
    return _hsv(rng.random(), rng.uniform(0.15, 0.45), rng.uniform(0.5, 0.85))  # painted


def _building(rng, c: _Canvas, x1: float, x2: float, top: float, bottom: float, u: float, lights: bool) -> None:
    r = c.region(x1, top, x2 - 1, bottom - 1)
    if r.w < 2 or r.h < 2:
        return
    h, w = r.h, r.w
    tex = r.fill(_facade_colour(rng))
    tex *= (0.92 + 0.16 * r.noise(rng, 6 * u))[..., None]
    # window grid in the building's own coordinates (so that it starts at its left/top edge)
    yy = np.arange(h, dtype=np.float32)[:, None] + (r.y0 - top)
    xx = np.arange(w, dtype=np.float32)[None, :] + (r.x0 - x1)
    ww, wh = rng.uniform(3, 7) * u, rng.uniform(4, 9) * u
    sx, sy = ww + rng.uniform(3, 7) * u, wh + rng.uniform(4, 8) * u
    ox, oy = rng.uniform(1, sx - ww + 1), rng.uniform(2, 6) * u
    col, row = np.floor((xx - ox) / sx), np.floor((yy - oy) / sy)
    fx, fy = (xx - ox) - col * sx, (yy - oy) - row * sy
    whole = (col * sx + ox + ww) < (x2 - x1) - 1
    inside = (fx < ww) & (fy < wh) & (yy > oy) & whole
    frame = (fx < ww + 1.5 * u) & (fy < wh + 1.5 * u) & ~inside & (yy > oy) & whole
    if rng.random() < 0.3:  # reflective windows
        wcol = _hsv(rng.uniform(0.52, 0.62), rng.uniform(0.2, 0.5), rng.uniform(0.65, 0.9))
    else:
        wcol = _hsv(rng.uniform(0.55, 0.68), rng.uniform(0.2, 0.5), rng.uniform(0.1, 0.3))
    cell = ((row * 131 + col * 17) % 97).astype(np.float32)
    jitter = 0.8 + 0.4 * ((cell * 0.61803) % 1.0)
    win = wcol * jitter[..., None]
    if lights:
        lit = ((cell * 0.3819) % 1.0) < 0.35
        win[lit] = np.array([250, 215, 120], np.float32)
    tex[frame] *= 0.8
    tex[inside] = win[inside]
    if r.y0 <= top + 2 * u:  # cornice
        tex[: max(1, int(top + 2 * u - r.y0))] *= 0.7
    r.paint(None, tex, BUILDING)


def _skyline(rng, c: _Canvas, horizon: int, base_y: int, u: float, lights: bool) -> None:
    x = -rng.uniform(0, 20) * u
    while x < c.w:
        bw = rng.uniform(0.14, 0.42) * c.w
        if rng.random() < 0.18:
            x += bw / 2
            continue
        top = rng.uniform(0.02 * c.h, max(0.03 * c.h, horizon - 0.12 * c.h))
        _building(rng, c, x, x + bw, top, base_y, u, lights)
        x += bw - rng.uniform(0, 6) * u


def _road_texture(rng, r: _Region) -> np.ndarray:
    g = rng.uniform(55, 110)
    tex = r.fill(np.array([g, g, g * rng.uniform(1.0, 1.08)], np.float32))
    tex += (rng.uniform(-14, 14) * (r.noise(rng, 20) - 0.5))[..., None]
    tex += _grain(rng, r.h, r.w, rng.uniform(7, 12))
    return tex


def _sidewalk_texture(rng, r: _Region, u: float) -> np.ndarray:
    kind = rng.integers(3)
    if kind == 0:
        base = np.full(3, rng.uniform(150, 205), np.float32)
    elif kind == 1:
        base = _hsv(rng.uniform(0.0, 0.05), rng.uniform(0.3, 0.5), rng.uniform(0.6, 0.8))
    else:
        base = _hsv(rng.uniform(0.09, 0.14), rng.uniform(0.15, 0.35), rng.uniform(0.7, 0.85))
    tw = rng.uniform(8, 16) * u
    th = tw * rng.uniform(0.45, 0.8)
    jw = max(1.0, 1.2 * u)
    y = np.arange(r.y0, r.y1, dtype=np.float32)
    x = np.arange(r.x0, r.x1, dtype=np.float32)
    row = np.floor(y / th)
    odd = (row % 2 == 1)[:, None]
    cols = [np.floor((x + s) / tw) for s in (0.0, tw * 0.5)]  # running bond: odd rows shifted
    col = np.where(odd, cols[1][None, :], cols[0][None, :])
    xjoint = np.where(odd, ((x + tw * 0.5 - cols[1] * tw) < jw)[None, :], ((x - cols[0] * tw) < jw)[None, :])
    joint = xjoint | ((y - row * th) < jw)[:, None]
    jitter = 0.88 + 0.24 * ((((row[:, None] * 73 + col * 31) % 101) * 0.61803) % 1.0)
    shade = np.where(joint, np.float32(rng.uniform(0.45, 0.62)), jitter.astype(np.float32))
    tex = base * shade[..., None]
    tex += _grain(rng, r.h, r.w, 3.0)
    return tex


def _lane_colour(rng) -> np.ndarray:
    return (np.array([235, 235, 230], np.float32) if rng.random() < 0.75
            else np.array([225, 190, 50], np.float32))


def _ground_frontal(rng, c: _Canvas, horizon: int, u: float) -> dict:
    """Buildings stand on a pavement band in front of which runs the road (seen from the side)."""
    slope = rng.uniform(-0.08, 0.08)
    yb0 = horizon + rng.uniform(0.0, 0.06) * c.h
    yr0 = min(yb0 + rng.uniform(0.1, 0.2) * c.h, 0.8 * c.h)
    top = max(0, int(min(yb0, yr0) - abs(slope) * c.w / 2) - 1)
    r = c.region(0, top, c.w - 1, c.h - 1)
    yy, xx = r.grid()
    tilt = slope * (xx - c.w / 2)
    r.paint(yy >= yb0 + tilt, _sidewalk_texture(rng, r, u), SIDEWALK)
    yr = yr0 + tilt
    road = yy >= yr
    tex = _road_texture(rng, r)
    tex[road & (yy < yr + max(1.0, 2 * u))] = rng.uniform(150, 200)  # kerb
    lane = _lane_colour(rng)
    mid = (yr0 + c.h) / 2 + tilt
    dash, gap = rng.uniform(12, 26) * u, rng.uniform(10, 20) * u
    thick = rng.uniform(1.5, 3.5) * u
    tex[(np.abs(yy - mid) < thick / 2) & (((xx + rng.uniform(0, 50)) % (dash + gap)) < dash)] = lane
    if rng.random() < 0.3:  # zebra crossing
        x0 = rng.uniform(0, c.w * 0.7)
        span, sw = rng.uniform(40, 80) * u, rng.uniform(4, 7) * u
        tex[road & (xx >= x0) & (xx < x0 + span) & (((xx - x0) % (2 * sw)) < sw) & (yy > yr + 3 * u)] = lane * 0.95
    r.paint(road, tex, ROAD)
    if rng.random() < 0.3:  # near pavement along the bottom edge
        yn = c.h - rng.uniform(0.05, 0.1) * c.h
        rn = c.region(0, yn - abs(slope) * c.w / 4 - 1, c.w - 1, c.h - 1)
        nyy, nxx = rn.grid()
        rn.paint(nyy >= yn + 0.5 * slope * (nxx - c.w / 2), _sidewalk_texture(rng, rn, u), SIDEWALK)

    def road_x_range(y):
        return -0.1 * c.w, 1.1 * c.w

    return dict(kind="frontal", building_base=yb0 + abs(slope) * c.w / 2, road_top=yr0, sidewalk=(yb0, yr0),
                road_x_range=road_x_range)


def _ground_perspective(rng, c: _Canvas, horizon: int, u: float) -> dict:
    """A road running away to a vanishing point between two pavements."""
    vx = rng.uniform(0.3, 0.7) * c.w
    half_top = rng.uniform(1, 4) * u
    xl = rng.uniform(-0.35, 0.2) * c.w
    xr = rng.uniform(0.8, 1.35) * c.w
    r = c.region(0, horizon + 1, c.w - 1, c.h - 1)
    if r.empty:
        return dict(kind="perspective", building_base=horizon, road_top=horizon, sidewalk=(horizon, c.h),
                    road_x_range=lambda y: (0, c.w))
    r.paint(None, _sidewalk_texture(rng, r, u), SIDEWALK)
    yy, xx = r.grid()
    t = np.clip((yy - horizon) / max(c.h - horizon, 1), 0, 1)
    left = vx - half_top + (xl - vx + half_top) * t
    right = vx + half_top + (xr - vx - half_top) * t
    road = (xx >= left) & (xx <= right)
    tex = _road_texture(rng, r)
    lane = _lane_colour(rng)
    centre = vx + ((xl + xr) / 2 - vx) * t
    width = (0.8 + 4.0 * t) * u
    depth = np.log1p(12 * t) * rng.uniform(2.2, 3.2) + rng.uniform(0, 1)  # dashes lengthen towards the viewer
    tex[road & (np.abs(xx - centre) < width / 2) & ((depth % 1.0) < 0.5)] = lane
    if rng.random() < 0.5:  # solid edge lines
        ew, off = (0.6 + 2.5 * t) * u, 1.5 * u
        dl, dr = xx - left, right - xx
        tex[road & (((dl > off) & (dl < ew + off)) | ((dr > off) & (dr < ew + off)))] = lane
    r.paint(road, tex, ROAD)

    def road_x_range(y):
        tt = float(np.clip((y - horizon) / max(c.h - horizon, 1), 0, 1))
        return vx - half_top + (xl - vx + half_top) * tt, vx + half_top + (xr - vx - half_top) * tt

    return dict(kind="perspective", building_base=horizon, road_top=horizon, sidewalk=(horizon, c.h),
                road_x_range=road_x_range)


def _leaf_texture(rng, r: _Region, u: float) -> np.ndarray:
    if rng.random() < 0.15:
        base = _hsv(rng.uniform(0.04, 0.12), rng.uniform(0.55, 0.85), rng.uniform(0.45, 0.75))  # autumn
    else:
        base = _hsv(rng.uniform(0.2, 0.36), rng.uniform(0.45, 0.85), rng.uniform(0.3, 0.6))
    fine = r.noise(rng, rng.uniform(2.0, 3.2) * u)
    mid = r.noise(rng, 7 * u)
    shade = 0.45 + 0.9 * fine * (0.6 + 0.6 * mid)
    return base * shade[..., None]


def _ragged(rng, r: _Region, mask: np.ndarray, u: float) -> np.ndarray:
    """Leafy outline: erode, then grow back where a fine noise says so."""
    k = max(3, int(round(3 * u)) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    inner = cv2.erode(mask, kernel).astype(bool)
    outer = cv2.dilate(mask, kernel).astype(bool)
    return inner | (outer & (r.noise(rng, 2.5 * u) > 0.5))


def _tree(rng, c: _Canvas, x: float, base_y: float, scale: float, u: float) -> None:
    height = rng.uniform(0.35, 0.7) * c.h * scale
    crown_r = height * rng.uniform(0.25, 0.38)
    trunk_w = max(2.0, crown_r * rng.uniform(0.12, 0.2))
    cy = base_y - height + crown_r
    r = c.region(x - 2 * crown_r, cy - 1.6 * crown_r, x + 2 * crown_r, base_y)
    if r.empty:
        return
    trunk = r.blank()
    cv2.rectangle(trunk, r.p(x - trunk_w / 2, cy), r.p(x + trunk_w / 2, base_y), 1, -1)
    crown = r.blank()
    for _ in range(rng.integers(3, 7)):
        ox, oy = rng.normal(0, crown_r * 0.45), rng.normal(0, crown_r * 0.3)
        cv2.circle(crown, r.p(x + ox, cy + oy), int(crown_r * rng.uniform(0.5, 0.85)), 1, -1)
    crown = _ragged(rng, r, crown, u)
    tex = _leaf_texture(rng, r, u)
    bark = trunk.astype(bool) & ~crown
    tex[bark] = _hsv(rng.uniform(0.05, 0.1), rng.uniform(0.3, 0.6), rng.uniform(0.2, 0.4)) * (
        0.85 + 0.3 * r.noise(rng, 2 * u)[bark])[:, None]
    r.paint(bark | crown, tex, VEGETATION)


def _hedge(rng, c: _Canvas, x1: float, x2: float, base_y: float, u: float) -> None:
    hh = rng.uniform(0.05, 0.1) * c.h
    r = c.region(x1 - hh - 2, base_y - 2 * hh - 2, x2 + hh + 2, base_y + 1)
    if r.empty:
        return
    mask = r.blank()
    x = x1
    while x < x2:
        rad = rng.uniform(0.6, 1.0) * hh
        cv2.ellipse(mask, r.p(x, base_y - rad * 0.6), (int(rad), int(rad * 0.8)), 0, 0, 360, 1, -1)
        x += rad * rng.uniform(0.8, 1.3)
    cv2.rectangle(mask, r.p(x1, base_y - hh * 0.5), r.p(x2, base_y), 1, -1)
    r.paint(_ragged(rng, r, mask, u), _leaf_texture(rng, r, u), VEGETATION)


def _pole(rng, c: _Canvas, x: float, base_y: float, scale: float, u: float, with_sign: bool) -> None:
    width = max(8.0, rng.uniform(9, 15) * u * (0.6 + 0.4 * scale))
    top = max(base_y - rng.uniform(0.45, 0.8) * c.h * (0.5 + 0.5 * scale), 0.02 * c.h)
    # dark metal (grey, green or blue) with a bright specular line: a lit cylinder
    colour = (np.full(3, rng.uniform(45, 110), np.float32) if rng.random() < 0.5
              else _hsv(rng.uniform(0.25, 0.65), rng.uniform(0.3, 0.6), rng.uniform(0.18, 0.4)))
    lamp = rng.random() < 0.3 and not with_sign
    arm = rng.uniform(10, 22) * u * (0.6 + 0.4 * scale)
    direction = 1 if rng.random() < 0.5 else -1
    reach = arm + 1.2 * width if lamp else width
    r = c.region(x - reach - 2, top - 1, x + reach + 2, base_y)
    if not r.empty:
        mask = r.blank()
        cv2.rectangle(mask, r.p(x - width / 2, top), r.p(x + width / 2, base_y), 1, -1)
        yy, xx = r.grid()
        side = rng.uniform(-0.35, 0.35) * width  # where the highlight sits
        prof = np.clip(np.cos((xx - x) / (width / 2 + 0.5) * 1.2), 0.2, 1.0)
        prof = prof + 1.6 * np.exp(-(((xx - x - side) / max(1.0, 0.12 * width)) ** 2))
        if lamp:  # street-light arm and lamp head
            aw = max(2.0, width * 0.55)
            x_end = x + direction * arm
            cv2.rectangle(mask, r.p(min(x, x_end), top), r.p(max(x, x_end), top + aw), 1, -1)
            cv2.ellipse(mask, r.p(x_end, top + aw), (int(width * 1.1), int(width * 0.6)), 0, 0, 180, 1, -1)
            prof = np.where(yy <= top + aw + width, np.float32(0.8), prof)
        tex = colour * (0.45 + 0.75 * prof)[..., None]
        if rng.random() < 0.35:  # painted bands (bollard / traffic pole)
            band = rng.uniform(5, 10) * u
            tex[((yy - top) % (2 * band)) < band] *= np.array(
                [(1.9, 0.5, 0.5), (1.7, 1.6, 0.4), (0.4, 0.4, 0.4)][rng.integers(3)], np.float32)
        r.paint(mask, np.clip(tex, 0, 255), POLE)
    if with_sign:
        _sign(rng, c, x, top, max(9.0, rng.uniform(12, 20) * u * (0.6 + 0.4 * scale)))


def _sign(rng, c: _Canvas, x: float, top: float, rad: float) -> None:
    cy = top + rad * rng.uniform(0.6, 1.0)
    shape = rng.integers(4)
    scheme = rng.integers(4)
    red = np.array([rng.uniform(190, 235), rng.uniform(20, 50), rng.uniform(30, 60)], np.float32)
    blue = np.array([rng.uniform(20, 50), rng.uniform(70, 110), rng.uniform(170, 220)], np.float32)
    yellow = np.array([rng.uniform(225, 250), rng.uniform(185, 215), rng.uniform(20, 60)], np.float32)
    white = np.full(3, rng.uniform(225, 250), np.float32)
    dark = np.full(3, 30, np.float32)
    border, fill, symbol = [(red, white, dark), (white, blue, white), (red, red, white), (dark, yellow, dark)][scheme]
    r = c.region(x - 1.2 * rad, cy - 1.2 * rad, x + 1.2 * rad, cy + 1.2 * rad)
    if r.empty:
        return
    outer, inner = r.blank(), r.blank()
    if shape == 0:  # disc
        cv2.circle(outer, r.p(x, cy), int(rad), 1, -1)
        cv2.circle(inner, r.p(x, cy), int(rad * 0.72), 1, -1)
    elif shape == 1:  # triangle
        _poly(r, outer, [(x, cy - rad), (x - rad * 1.05, cy + rad * 0.8), (x + rad * 1.05, cy + rad * 0.8)])
        _poly(r, inner, [(x, cy - rad * 0.55), (x - rad * 0.65, cy + rad * 0.55), (x + rad * 0.65, cy + rad * 0.55)])
    elif shape == 2:  # diamond or rectangle
        if rng.random() < 0.5:
            _poly(r, outer, [(x, cy - rad), (x + rad, cy), (x, cy + rad), (x - rad, cy)])
            _poly(r, inner, [(x, cy - rad * 0.7), (x + rad * 0.7, cy), (x, cy + rad * 0.7), (x - rad * 0.7, cy)])
        else:
            cv2.rectangle(outer, r.p(x - rad, cy - rad * 0.8), r.p(x + rad, cy + rad * 0.8), 1, -1)
            cv2.rectangle(inner, r.p(x - rad * 0.75, cy - rad * 0.55), r.p(x + rad * 0.75, cy + rad * 0.55), 1, -1)
    else:  # octagon
        ang = np.arange(8) * np.pi / 4 + np.pi / 8
        _poly(r, outer, np.stack([x + rad * np.cos(ang), cy + rad * np.sin(ang)], 1))
        _poly(r, inner, np.stack([x + 0.75 * rad * np.cos(ang), cy + 0.75 * rad * np.sin(ang)], 1))
    tex = r.fill(border)
    tex[inner.astype(bool)] = fill
    sym = r.blank()  # a bar, an arrow head or nothing
    k = rng.integers(3)
    if k == 0:
        cv2.rectangle(sym, r.p(x - rad * 0.45, cy - rad * 0.12), r.p(x + rad * 0.45, cy + rad * 0.12), 1, -1)
    elif k == 1:
        _poly(r, sym, [(x - rad * 0.4, cy + rad * 0.1), (x, cy - rad * 0.45), (x + rad * 0.4, cy + rad * 0.1)])
    tex[(sym & inner).astype(bool)] = symbol
    r.paint(outer, tex, SIGN)


def _car(rng, c: _Canvas, x: float, base_y: float, length: float, u: float) -> None:
    facing = 1 if rng.random() < 0.5 else -1
    hb = length * rng.uniform(0.24, 0.3)
    wheel_r = length * rng.uniform(0.1, 0.12)
    cab_h = length * rng.uniform(0.17, 0.23)
    y2 = base_y - wheel_r * 0.55
    y1 = y2 - hb
    r = c.region(x - length / 2 - 2, y1 - cab_h - 2, x + length / 2 + 2, y2 + wheel_r + 2)
    if r.empty:
        return

    def f(t):  # 0 = back, 1 = front, along the car
        return x + facing * (t - 0.5) * length

    body = _rounded_rect(r, r.blank(), x - length / 2, y1, x + length / 2, y2, hb * 0.35).astype(bool)
    cabin = _poly(r, r.blank(), [(f(0.12), y1 + 1), (f(0.22), y1 - cab_h), (f(0.58), y1 - cab_h),
                                 (f(0.78), y1 + 1)]).astype(bool)
    win = _poly(r, r.blank(), [(f(0.17), y1 - 1), (f(0.25), y1 - cab_h * 0.8), (f(0.56), y1 - cab_h * 0.8),
                               (f(0.72), y1 - 1)]).astype(bool)
    pillar = r.blank()
    pw = max(1.0, length * 0.015)
    cv2.rectangle(pillar, r.p(f(0.42) - pw, y1 - cab_h), r.p(f(0.42) + pw, y1), 1, -1)
    win &= ~pillar.astype(bool)
    wheels, hubs = r.blank(), r.blank()
    for t in (0.2, 0.8):
        cv2.circle(wheels, r.p(f(t), y2), int(wheel_r), 1, -1)
        cv2.circle(hubs, r.p(f(t), y2), max(1, int(wheel_r * 0.45)), 1, -1)
    if rng.random() < 0.15:
        col = np.full(3, rng.uniform(30, 220), np.float32)  # black / grey / white
    else:
        col = _hsv(rng.random(), rng.uniform(0.5, 0.95), rng.uniform(0.45, 0.95))
    yy, _ = r.grid()
    vert = np.clip((yy - (y1 - cab_h)) / max(hb + cab_h, 1), 0, 1)
    tex = col * (1.15 - 0.45 * vert)[..., None]
    tex[np.abs(yy - (y1 + hb * 0.35)) < max(1.0, 0.8 * u)] *= 0.7  # belt line
    tex[win] = _hsv(rng.uniform(0.55, 0.65), rng.uniform(0.15, 0.4), rng.uniform(0.15, 0.35)) * (
        0.8 + 0.4 * vert[win])[:, None]
    tex[wheels.astype(bool)] = rng.uniform(15, 35)
    tex[hubs.astype(bool)] = rng.uniform(120, 180)
    lw, lh = max(2.0, length * 0.04), max(2.0, hb * 0.18)
    for t, colour in ((0.985, (245, 235, 190)), (0.015, (200, 30, 30))):  # head and tail lights
        xl = f(t) - (lw if (facing > 0) == (t > 0.5) else 0)
        m = r.blank()
        cv2.rectangle(m, r.p(xl, y1 + hb * 0.2), r.p(xl + lw, y1 + hb * 0.2 + lh), 1, -1)
        tex[m.astype(bool)] = np.array(colour, np.float32)
    r.paint(body | cabin | wheels.astype(bool), tex, CAR)


def _person(rng, c: _Canvas, x: float, base_y: float, hp: float, u: float) -> None:
    head_r = hp * 0.075
    skin = _hsv(rng.uniform(0.03, 0.09), rng.uniform(0.3, 0.6), rng.uniform(0.35, 0.95))
    hair = _hsv(rng.uniform(0.05, 0.12), rng.uniform(0.2, 0.7), rng.uniform(0.05, 0.45))
    shirt = _hsv(rng.random(), rng.uniform(0.0, 0.9), rng.uniform(0.2, 0.95))
    pants = (_hsv(rng.uniform(0.55, 0.68), rng.uniform(0.3, 0.7), rng.uniform(0.15, 0.45)) if rng.random() < 0.6
             else _hsv(rng.random(), rng.uniform(0.0, 0.5), rng.uniform(0.1, 0.7)))
    top = base_y - hp
    tw = hp * rng.uniform(0.28, 0.36)
    stride = rng.uniform(0.0, 0.12) * hp
    r = c.region(x - tw - stride - hp * 0.2, top - 2, x + tw + stride + hp * 0.2, base_y + 2)
    if r.empty:
        return
    hx, hy = x + rng.normal(0, hp * 0.01), top + head_r
    torso_top, torso_bot = top + head_r * 2.1, top + hp * 0.55
    head, hair_m, arms, legs, shoes = r.blank(), r.blank(), r.blank(), r.blank(), r.blank()
    cv2.circle(head, r.p(hx, hy), max(1, int(head_r)), 1, -1)
    cv2.ellipse(hair_m, r.p(hx, hy - head_r * 0.2), (max(1, int(head_r * 1.05)), max(1, int(head_r))), 0, 180, 360,
                1, -1)
    torso = _rounded_rect(r, r.blank(), x - tw / 2, torso_top, x + tw / 2, torso_bot, tw * 0.3)
    arm_w = max(2, int(hp * 0.08))
    swing = rng.uniform(-0.12, 0.12) * hp
    leg_w = max(2, int(hp * 0.12))
    for side in (-1, 1):
        sx = x + side * (tw / 2 + arm_w * 0.3)
        cv2.line(arms, r.p(sx, torso_top + arm_w), r.p(sx + side * (0.03 * hp + swing * 0.3), torso_top + hp * 0.3),
                 1, arm_w)
        lx = x + side * tw * 0.25
        cv2.line(legs, r.p(lx, torso_bot - leg_w), r.p(lx + side * stride, base_y - leg_w * 0.5), 1, leg_w)
        cv2.ellipse(shoes, r.p(lx + side * stride + leg_w * 0.3, base_y - leg_w * 0.4),
                    (max(1, int(leg_w * 0.8)), max(1, int(leg_w * 0.45))), 0, 0, 360, 1, -1)
    tex = r.fill(shirt)
    if rng.random() < 0.3:  # striped shirt
        period = max(2.0, rng.uniform(2.5, 4.5) * u)
        yy, _ = r.grid()
        tex[(yy % period) < period / 2] *= 0.65
    tex[legs.astype(bool)] = pants
    tex[shoes.astype(bool)] = rng.uniform(10, 50)
    tex[arms.astype(bool)] = shirt if rng.random() < 0.5 else skin
    tex[head.astype(bool)] = skin
    tex[(hair_m & head).astype(bool)] = hair
    tex *= (0.9 + 0.2 * r.noise(rng, 3 * u))[..., None]
    mask = (head | torso | arms | legs | shoes).astype(bool)
    if rng.random() < 0.25:  # a bag
        bag = _rounded_rect(r, r.blank(), x + tw * 0.4, torso_bot - hp * 0.12, x + tw * 0.4 + hp * 0.12,
                            torso_bot + hp * 0.05, 2).astype(bool)
        tex[bag] = _hsv(rng.random(), rng.uniform(0.2, 0.8), rng.uniform(0.2, 0.8))
        mask |= bag
    r.paint(mask, tex, PERSON)


def _clutter(rng, c: _Canvas, horizon: int, u: float) -> None:
    """Distractors of random colour and texture, labelled unlabelled (0)."""
    for _ in range(rng.integers(1, 6)):
        kind = rng.integers(4)
        size = rng.uniform(5, 26) * u
        x = rng.uniform(0, c.w)
        y = rng.uniform(horizon * 0.6, c.h) if kind != 1 else rng.uniform(0.1 * c.h, horizon + 0.1 * c.h)
        r = c.region(x - 2.5 * size, y - 2.5 * size, x + 2.5 * size, y + 2.5 * size)
        if r.empty:
            continue
        mask = r.blank()
        if kind == 0:  # box / bin
            _rounded_rect(r, mask, x - size / 2, y - size, x + size / 2, y, size * rng.uniform(0, 0.3))
        elif kind == 1:  # poster on a wall
            cv2.rectangle(mask, r.p(x, y), r.p(x + size * 0.8, y + size), 1, -1)
        elif kind == 2:  # scribble
            pts = np.stack([x + np.clip(rng.normal(0, size, 5), -2 * size, 2 * size),
                            y + np.clip(rng.normal(0, size * 0.5, 5), -2 * size, 2 * size)], 1)
            cv2.polylines(mask, [r.pts(pts)], False, 1, max(1, int(rng.uniform(1, 3) * u)))
        else:  # blob
            ang = np.sort(rng.uniform(0, 2 * np.pi, 7))
            rad = size * rng.uniform(0.4, 1.0, 7) / 2
            _poly(r, mask, np.stack([x + rad * np.cos(ang), y + rad * np.sin(ang)], 1))
        colour = _hsv(rng.random(), rng.uniform(0, 1), rng.uniform(0.1, 1))
        tex = colour * (0.7 + 0.6 * r.noise(rng, rng.uniform(1.5, 8)))[..., None]
        if rng.random() < 0.3:  # text-like lines
            yy, _ = r.grid()
            tex[(yy % max(2, int(3 * u))) < 1] *= 0.3
        r.paint(mask, tex, CLUTTER)


def generate_scene(rng: np.random.Generator, width: int = 256, height: int = 192) -> tuple[np.ndarray, np.ndarray]:
    """One scene: ``(img HxWx3 uint8 RGB, label HxW uint8)`` with stored labels (0 = unlabelled,
    class ``i`` as ``i + 1``; see the module docstring)."""
    if width < 32 or height < 32:
        raise ValueError(f"generate_scene: size {width}x{height} is too small (at least 32x32)")
    c = _Canvas(width, height)
    u = min(width / 256, height / 192)
    horizon = int(rng.uniform(0.36, 0.55) * height)
    dusk = _sky(rng, c, horizon)
    perspective = rng.random() < 0.45
    _skyline(rng, c, horizon, horizon + 0.16 * height, u, dusk)
    ground = (_ground_perspective if perspective else _ground_frontal)(rng, c, horizon, u)
    side_top, side_bot = ground["sidewalk"]

    def depth(y):
        return float(np.clip((y - horizon) / max(height - horizon, 1), 0.2, 1.25))

    def on_sidewalk():
        for _ in range(20):
            y = rng.uniform(side_top + 2, side_bot if ground["kind"] == "frontal" else height * 1.05)
            x = rng.uniform(-0.05 * width, 1.05 * width)
            lo, hi = ground["road_x_range"](y)
            if ground["kind"] == "frontal" or x < lo - 2 or x > hi + 2:
                return x, y
        return rng.uniform(0, width), side_top + 2

    if rng.random() < 0.7:  # a hedge along the building line
        x1 = rng.uniform(-0.1, 0.6) * width
        _hedge(rng, c, x1, x1 + rng.uniform(0.15, 0.5) * width, ground["building_base"] + rng.uniform(1, 6) * u, u)
    items = []
    for kind, lo, hi in (("tree", 1, 4), ("pole", 2, 5), ("person", 2, 5)):
        for _ in range(rng.integers(lo, hi)):
            x, y = on_sidewalk()
            items.append((y, kind, x))
    if ground["kind"] == "frontal" and rng.random() < 0.5:  # someone crossing the road
        top = ground["road_top"]
        items.append((rng.uniform(top + 0.2 * (height - top), height * 1.05), "person", rng.uniform(0, width)))
    for _ in range(rng.integers(1, 4)):
        top = ground["road_top"]
        y = rng.uniform(top + 0.3 * (height - top), height * 1.08)
        lo, hi = ground["road_x_range"](y)
        items.append((y, "car", rng.uniform(max(lo, -0.1 * width), min(hi, 1.1 * width))))
    items.sort(key=lambda it: it[0])  # far to near: nearer objects occlude
    for y, kind, x in items:
        d = depth(y)
        if kind == "tree":
            _tree(rng, c, x, y, max(d, 0.6), u)
        elif kind == "pole":
            _pole(rng, c, x, y, d, u, with_sign=rng.random() < 0.75)
        elif kind == "person":
            _person(rng, c, x, y, max(0.24 * height, rng.uniform(0.45, 0.65) * height * d), u)
        else:
            _car(rng, c, x, y, max(0.16 * width, rng.uniform(0.32, 0.48) * width * d), u)
    _clutter(rng, c, horizon, u)

    # the camera: exposure, colour cast, blur, sensor noise
    img = c.img * np.float32(rng.uniform(0.75, 1.2)) * rng.uniform(0.94, 1.06, size=3).astype(np.float32)
    if rng.random() < 0.3:
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.4, 0.9))
    img += _grain(rng, height, width, rng.uniform(1.5, 5))
    return np.clip(img + 0.5, 0, 255).astype(np.uint8), c.lab


# ---------------------------------------------------------------------------------------------
# the cached dataset
# ---------------------------------------------------------------------------------------------
def _cache_base() -> Path:
    return Path(os.path.expanduser(os.environ.get("JVISION_CACHE") or "~/.cache/jvision"))


def default_scenes_root(num_train: int = 400, num_val: int = 60, size: Sequence[int] = (256, 192),
                        seed: int = 0) -> Path:
    """``$JVISION_CACHE/scenes/v<version>-<w>x<h>-<train>+<val>-seed<seed>``."""
    w, h = size
    return _cache_base() / "scenes" / f"v{SCENES_VERSION}-{w}x{h}-{num_train}+{num_val}-seed{seed}"


def _stamp(num_train: int, num_val: int, size: Sequence[int], seed: int) -> dict:
    return {"generator": "jseg.scenes", "version": SCENES_VERSION, "size": [int(size[0]), int(size[1])],
            "num_train": int(num_train), "num_val": int(num_val), "seed": int(seed),
            "classes": list(SCENE_CLASSES), "label_convention": "ADE20K: 0 = unlabelled, class i stored as i+1"}


def _is_complete(root: Path, stamp: dict) -> bool:
    try:
        found = json.loads((root / "scenes.json").read_text())
    except (OSError, ValueError):
        return False
    if found != stamp:
        return False
    for split, n in (("training", stamp["num_train"]), ("validation", stamp["num_val"])):
        for sub, ext in (("images", ".jpg"), ("annotations", ".png")):
            d = root / sub / split
            if not d.is_dir() or sum(1 for f in os.listdir(d) if f.endswith(ext)) != n:
                return False
    return True


@contextlib.contextmanager
def _file_lock(path: Path):
    import fcntl
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def _write_split(out: Path, split: str, n: int, size: Sequence[int], seed: int, quality: int) -> None:
    sub, split_id = SPLITS[split]
    idir, adir = out / "images" / sub, out / "annotations" / sub
    idir.mkdir(parents=True, exist_ok=True)
    adir.mkdir(parents=True, exist_ok=True)
    prefix = "scene_train" if split == "train" else "scene_val"
    for i in range(n):
        rng = np.random.default_rng((int(seed), split_id, i))
        img, lab = generate_scene(rng, int(size[0]), int(size[1]))
        name = f"{prefix}_{i:05d}"
        ok1 = cv2.imwrite(str(idir / f"{name}.jpg"), cv2.cvtColor(img, cv2.COLOR_RGB2BGR),
                          [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
        ok2 = cv2.imwrite(str(adir / f"{name}.png"), lab)
        if not (ok1 and ok2):
            raise OSError(f"could not write scene {name!r} into {str(out)!r}")


def ensure_scenes(root: str | os.PathLike | None = None, num_train: int = 400, num_val: int = 60,
                  size: Sequence[int] = (256, 192), seed: int = 0, quality: int = 92, verbose: bool = True) -> Path:
    """Generate the scenes into ``root`` (default: ``default_scenes_root(...)``) unless an identical
    set is there already; returns the root. ``size`` is ``(w, h)``.

    A ``root`` holding other files (no ``scenes.json`` stamp) is never overwritten: that is an error.
    """
    if num_train < 1 or num_val < 1:
        raise ValueError(f"ensure_scenes: need at least one image per split, got {num_train}/{num_val}")
    size = (int(size[0]), int(size[1]))
    root = Path(os.path.expanduser(str(root))) if root is not None else default_scenes_root(num_train, num_val,
                                                                                            size, seed)
    root = root.absolute()
    stamp = _stamp(num_train, num_val, size, seed)
    if _is_complete(root, stamp):
        return root
    with _file_lock(root.parent / f".{root.name}.lock"):
        if _is_complete(root, stamp):  # another process finished it while we waited
            return root
        if root.exists() and any(root.iterdir()) and not (root / "scenes.json").is_file():
            raise FileExistsError(f"scenes root {str(root)!r} exists and holds files that are not a generated scene "
                                  "set (no scenes.json); refusing to overwrite it: pick an empty or new folder")
        t0 = time.time()
        tmp = Path(tempfile.mkdtemp(prefix=f".{root.name}.tmp-", dir=root.parent))
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes it private; the set is an ordinary folder
        old = None
        try:
            _write_split(tmp, "train", num_train, size, seed, quality)
            _write_split(tmp, "val", num_val, size, seed, quality)
            (tmp / "scenes.json").write_text(json.dumps(stamp, indent=1))
            if root.exists():
                old = root.parent / f".{root.name}.old-{os.getpid()}-{int(time.time() * 1e6)}"
                os.rename(root, old)
            os.rename(tmp, root)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        if verbose:
            print(f"jseg.scenes: generated {num_train}+{num_val} scenes ({size[0]}x{size[1]}, seed {seed}) "
                  f"in {time.time() - t0:.1f}s at {root}", flush=True)
    return root


@DATASETS.register()
class Scenes(ADE20K):
    """The built-in street scenes (9 classes), generated on first use, read as ADE20K.

    Args:
        root: where the set lives (generated there if missing or stale); default: the cache.
        split: ``train`` or ``val``.
        num_train, num_val, size, seed: generation parameters (``size`` = ``(w, h)``).
        Other keyword arguments go to ``SegDataset`` (``pipeline``, ``verify``, ...).
    """

    CLASSES = SCENE_CLASSES
    PALETTE = SCENE_PALETTE

    def __init__(self, root: str | None = None, split: str = "train",
                 pipeline: Sequence[dict | Callable] | None = None, num_train: int = 400, num_val: int = 60,
                 size: Sequence[int] = (256, 192), seed: int = 0, **kwargs):
        root = ensure_scenes(root, num_train=num_train, num_val=num_val, size=size, seed=seed)
        self.generation = {"num_train": num_train, "num_val": num_val, "size": tuple(size), "seed": seed}
        super().__init__(str(root), split=split, pipeline=pipeline, **kwargs)
