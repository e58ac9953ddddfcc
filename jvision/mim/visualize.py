"""Reconstruction pictures of a masked autoencoder: image | masked | reconstruction | reconstruction
with the visible patches pasted back (MAE's demo layout), one row per image.

For a pixel target the prediction is the reconstruction; for ``norm_pix`` each predicted patch is
mapped back with the mean and variance of the true patch (as MAE's visualisation does); other targets
(HOG, teacher features) have no pixels to show, so their rows hold image | masked | visible only.
Used by ``jvision.mim.training.ReconstructionHook`` during pre-training and by ``tools/mim_infer.py``.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np
import jittor as jt

from .targets import NormPixelTarget, PixelTarget, patchify, unpatchify

__all__ = ["reconstruct", "reconstruction_grid", "save_png"]


def _fixed_noise(n: int, l: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).random((n, l), dtype=np.float32)


def reconstruct(model, imgs, mask_ratio: float | None = None, seed: int = 0) -> dict:
    """Run a ``MaskedAutoencoderViT`` on (B, C, H, W) normalised images with a fixed random mask.

    Returns numpy arrays in the normalised space: ``image``, ``masked`` (removed patches zeroed),
    ``reconstruction`` (None when the target is not pixels) and ``pasted`` (reconstruction with the
    visible patches of the image), plus ``mask`` (B, L) and ``loss``.
    """
    if not isinstance(imgs, jt.Var):
        imgs = jt.array(np.asarray(imgs, dtype=np.float32))
    ratio = model.mask_ratio if mask_ratio is None else mask_ratio
    p = model.patch_embed.patch_size[0]
    gh, gw = model.patch_embed.grid_size
    was_training = model.is_training()
    model.eval()
    try:
        with jt.no_grad():
            noise = _fixed_noise(imgs.shape[0], gh * gw, seed)
            loss, pred, mask = model(imgs, ratio, noise)
            patches = patchify(imgs, p)
            target = model.target
            recon = None
            if isinstance(target, NormPixelTarget) and target.style == "mae":
                mean = patches.mean(dim=-1, keepdims=True)
                var = ((patches - mean) ** 2).sum(dim=-1, keepdims=True) / (patches.shape[-1] - 1)
                recon = pred * (var + target.eps) ** 0.5 + mean
            elif type(target) is PixelTarget and target.input_mean is None:
                recon = pred
            keep = (1.0 - mask).unsqueeze(-1)
            masked = unpatchify(patches * keep, p, (gh, gw), model.in_chans)
            out = {"image": imgs.numpy(), "masked": masked.numpy(), "mask": mask.numpy(), "loss": float(loss.item()),
                   "reconstruction": None, "pasted": None}
            if recon is not None:
                out["reconstruction"] = unpatchify(recon, p, (gh, gw), model.in_chans).numpy()
                out["pasted"] = unpatchify(patches * keep + recon * (1.0 - keep), p, (gh, gw), model.in_chans).numpy()
            return out
    finally:
        if was_training:
            model.train()


def _to_uint8(chw: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    img = chw.transpose(1, 2, 0) * std + mean
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def reconstruction_grid(model, imgs, mean: Sequence[float] = (123.675, 116.28, 103.53),
                        std: Sequence[float] = (58.395, 57.12, 57.375), mask_ratio: float | None = None,
                        seed: int = 0, min_size: int = 96) -> tuple[np.ndarray, dict]:
    """``(HxWx3 uint8 RGB grid, reconstruct(...) outputs)``; ``mean``/``std`` undo the pipeline's
    normalisation (0-255 units); small images are enlarged (nearest) to ``min_size`` pixels."""
    out = reconstruct(model, imgs, mask_ratio, seed)
    mean = np.asarray(mean, np.float32).reshape(1, 1, -1)
    std = np.asarray(std, np.float32).reshape(1, 1, -1)
    columns = ["image", "masked", "reconstruction", "pasted"] if out["reconstruction"] is not None \
        else ["image", "masked"]
    rows = []
    for i in range(out["image"].shape[0]):
        tiles = []
        for name in columns:
            tile = _to_uint8(out[name][i], mean, std)
            if name == "masked":   # removed patches in grey, as MAE's demo
                grey = out["mask"][i].astype(bool)
                p = model.patch_embed.patch_size[0]
                gh, gw = model.patch_embed.grid_size
                cover = np.kron(grey.reshape(gh, gw), np.ones((p, p), bool))
                tile = tile.copy()
                tile[cover] = 128
            tiles.append(tile)
        rows.append(np.concatenate([np.pad(t, ((2, 2), (2, 2), (0, 0)), constant_values=255) for t in tiles], 1))
    grid = np.concatenate(rows, 0)
    scale = max(1, int(np.ceil(min_size / out["image"].shape[-1])))
    if scale > 1:
        grid = cv2.resize(grid, (grid.shape[1] * scale, grid.shape[0] * scale), interpolation=cv2.INTER_NEAREST)
    return grid, out


def save_png(path: str | os.PathLike, rgb: np.ndarray) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
        raise OSError(f"could not write {path}")
    return path
