"""Histograms of oriented gradients as MaskFeat computes them, for the ``hog`` reconstruction target.

Paper: Chen Wei, Haoqi Fan, Saining Xie, Chao-Yuan Wu, Alan Yuille, Christoph Feichtenhofer,
"Masked Feature Prediction for Self-Supervised Visual Pre-Training", CVPR 2022 (arXiv:2112.09133).
Official code matched: facebookresearch/SlowFast ``slowfast/models/operators.py`` ``HOGLayerC``
(commit 287ec00) and the per-patch label of ``slowfast/models/masked.py`` ``_get_hog_label_2d``
(fixtures in ``../shared/parity/hog``).

Per colour channel: reflect-pad by 1, Sobel gradients ``gx`` (left minus right column) and ``gy``
(top minus bottom row), magnitude ``sqrt(gx^2 + gy^2)`` (optionally weighted by a Gaussian window
tiled over the image), orientation bin ``floor(atan2(gx, gy) / pi * nbins) mod nbins`` (unsigned
orientation: 2 * nbins half-bins folded onto nbins), magnitudes summed over ``cell x cell`` cells
(a remainder at the border is dropped), then L2-normalised over the bins of every cell.

Why the gradients are explicit differences and not a convolution: reflect padding makes ``gx``
exactly 0 on the left and right border columns, and whether such a pixel votes into bin 0 or bin
8 depends on that zero being exact (``atan2(+0, gy)`` vs ``atan2(-tiny, gy)``). Subtracting two
identically computed column sums gives an exact +0 there, as PyTorch's convolution does.
"""
from __future__ import annotations

import math

import numpy as np
import jittor as jt
from jittor import nn

__all__ = ["HOGLayer", "gaussian_kernel", "hog_per_patch"]


def gaussian_kernel(size: int, std: float) -> np.ndarray:
    """(size, size) float32 outer product of a sampled Gaussian, normalised to sum 1
    (SlowFast ``get_gkern``: scipy ``signal.gaussian(size, std)``)."""
    n = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    g = np.exp(-0.5 * (n / std) ** 2)
    k = np.outer(g, g)
    return (k / k.sum()).astype(np.float32)


class HOGLayer(nn.Module):
    """``HOGLayerC(nbins, pool, gaussian_window)``: (B, C, H, W) -> (B, C, nbins, H // pool, W // pool).

    Args:
        nbins: orientation bins (9).
        pool: cell size in pixels (8).
        gaussian_window: side of the Gaussian window (std ``pool``) that weights the magnitudes,
            tiled over the image (needs H and W divisible by it); 0 = no weighting (what the
            official MaskFeat model builds).

    Keys (fixed buffers, as the official module's state dict): ``weight_x``, ``weight_y`` (Sobel,
    (3, 1, 3, 3)) and, with a window, ``gkern``. The forward uses the fixed Sobel stencil.
    """

    def __init__(self, nbins: int = 9, pool: int = 8, gaussian_window: int = 0, in_chans: int = 3):
        super().__init__()
        self.nbins, self.pool, self.gaussian_window = int(nbins), int(pool), int(gaussian_window)
        sobel = np.array([[1, 0, -1], [2, 0, -2], [1, 0, -1]], np.float32)
        self.register_buffer("weight_x", jt.array(np.tile(sobel, (in_chans, 1, 1, 1))).stop_grad())
        self.register_buffer("weight_y", jt.array(np.tile(sobel.T.copy(), (in_chans, 1, 1, 1))).stop_grad())
        if self.gaussian_window:
            self.register_buffer("gkern", jt.array(gaussian_kernel(self.gaussian_window, self.pool)).stop_grad())

    def _window(self, h: int, w: int):
        gw = self.gaussian_window
        if h % gw or w % gw:
            raise ValueError(f"HOG gaussian_window={gw} needs an image size divisible by it, got {h}x{w}")
        reps = (h // gw, w // gw)
        return self.gkern if reps == (1, 1) else self.gkern.repeat(*reps)

    def execute(self, x, gaussian: bool | None = None):
        """``gaussian=False`` skips the window of a module built with one (the MaskFeat variant)."""
        if x.ndim != 4:
            raise ValueError(f"HOG expects (B, C, H, W) images, got shape {tuple(x.shape)}")
        b, c, h, w = x.shape
        if h < 2 or w < 2:
            raise ValueError(f"HOG needs images of at least 2x2 pixels, got {h}x{w}")
        with jt.no_grad():
            x = x.stop_grad()
            xp = nn.pad(x, (1, 1, 1, 1), mode="reflect")
            # Sobel as column / row sums so that equal neighbours cancel exactly (module docstring)
            cols = xp[:, :, :-2, :] + 2.0 * xp[:, :, 1:-1, :] + xp[:, :, 2:, :]     # (B, C, H, W + 2)
            rows = xp[:, :, :, :-2] + 2.0 * xp[:, :, :, 1:-1] + xp[:, :, :, 2:]     # (B, C, H + 2, W)
            gx = cols[:, :, :, :-2] - cols[:, :, :, 2:]
            gy = rows[:, :, :-2, :] - rows[:, :, 2:, :]
            magnitude = jt.sqrt(gx * gx + gy * gy)
            use_window = self.gaussian_window > 0 if gaussian is None else gaussian
            if use_window:
                if not self.gaussian_window:
                    raise ValueError("this HOGLayer was built without a gaussian_window")
                magnitude = magnitude * self._window(h, w)
            half_bins = jt.floor(jt.atan2(gx, gy) / math.pi * self.nbins)
            bins = half_bins - self.nbins * jt.floor(half_bins / self.nbins)   # Python-style modulo
            ch, cw, p = h // self.pool, w // self.pool, self.pool
            hist = []
            for k in range(self.nbins):
                votes = magnitude * (bins == k).float32()
                votes = votes[:, :, :ch * p, :cw * p].reshape(b, c, ch, p, cw, p)
                hist.append(votes.sum(dims=(3, 5)))
            out = jt.stack(hist, dim=2)                                            # (B, C, nbins, ch, cw)
            norm = jt.sqrt((out * out).sum(dim=2, keepdims=True))
            return out / jt.maximum(norm, 1e-12)


def hog_per_patch(hog, patch_size: int, pool: int):
    """(B, C, nbins, H/pool, W/pool) cells -> (B, N, C * nbins * k * k) per ``patch_size`` patch,
    k = patch_size // pool; last axis ordered (channel, bin, cell row, cell column) as MaskFeat's
    ``_get_hog_label_2d``; patches in row-major order."""
    if patch_size % pool:
        raise ValueError(f"patch_size {patch_size} is not a multiple of the HOG cell size {pool}")
    k = patch_size // pool
    b, c, nb, ch, cw = hog.shape
    if ch % k or cw % k:
        raise ValueError(f"HOG cell grid {ch}x{cw} does not divide into {k}x{k}-cell patches")
    gh, gw = ch // k, cw // k
    x = hog.reshape(b, c * nb, gh, k, gw, k).permute(0, 2, 4, 1, 3, 5)
    return x.reshape(b, gh * gw, c * nb * k * k)


# ------------------------------------------------------------------------------------------------
# Parity adapter (../shared/parity/hog): registered on import
# ------------------------------------------------------------------------------------------------
def _hog_tiny(kwargs: dict, manifest: dict) -> HOGLayer:
    unknown = sorted(set(kwargs) - {"nbins", "pool", "gaussian_window"})
    if unknown:
        raise ValueError(f"hog: official constructor argument(s) {unknown} have no counterpart here")
    return HOGLayer(**kwargs)


def _hog_run(model: HOGLayer, io: dict, upstream: dict, manifest: dict) -> dict:
    patch = int(manifest.get("patch_size", 16))
    out = {}
    for suffix in ("", "_sq"):
        if f"input{suffix}" not in io:
            continue
        x = jt.array(io[f"input{suffix}"])
        hog = model(x)                           # with the Gaussian window, as constructed
        plain = model(x, gaussian=False)         # HOGLayerC(9, 8): the MaskFeat target
        out[f"hog{suffix}"] = hog
        out[f"target{suffix}_gw16_all"] = hog_per_patch(hog, patch, model.pool)
        if not suffix:
            out["hog_maskfeat"] = plain
            target_all = hog_per_patch(plain, patch, model.pool).numpy()
            out["target_all"] = target_all
            out["target"] = target_all[io["mask"].astype(bool)]
    return out


def _register_parity_adapter() -> None:
    from ..convert.fixtures import Adapter, get_adapter, register_adapter
    if get_adapter("hog") is None:
        register_adapter(Adapter("hog", _hog_tiny, lambda m: HOGLayer(), _hog_run,
                                 outputs=("hog*", "target*"), inputs=("mask",)))


_register_parity_adapter()
