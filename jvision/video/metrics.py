"""Video inpainting metrics with E2FGVI's evaluation settings (``core/metrics.py`` of
MCG-NKU/E2FGVI): PSNR and SSIM per frame on [0, 255] images (the composites), SSIM as
scikit-image's ``compare_ssim(data_range=255, multichannel=True, win_size=65)`` (uniform 65x65
window, K1 0.01, K2 0.03, sample covariance, per-channel maps averaged over the region away from
the border); the flow warping error E_warp; and VFID (Frechet distance of I3D features).

No scikit-image or SciPy is needed: SSIM's box filter is computed with summed-area tables in
float64 (only windows fully inside the image are kept, as skimage's crop does), and the matrix
square root of VFID by an eigen-decomposition.
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["psnr", "ssim", "frame_metrics", "warp_error", "frechet_distance", "NOT_COMPUTED"]

#: What a metric that could not be computed is reported as (never a number).
NOT_COMPUTED = "not computed"


def psnr(img1, img2, data_range: float = 255.0) -> float:
    """``20 log10(255 / sqrt(MSE))`` over every pixel and channel (inf for identical images)."""
    a, b = np.asarray(img1, np.float64), np.asarray(img2, np.float64)
    if a.shape != b.shape:
        raise ValueError(f"psnr: image shapes differ: {a.shape} vs {b.shape}")
    mse = np.mean((a - b) ** 2)
    if mse == 0:
        return float("inf")
    return float(20.0 * np.log10(data_range / np.sqrt(mse)))


def _box_valid(x: np.ndarray, win: int) -> np.ndarray:
    """Means of every win x win window fully inside ``x`` [H, W] (float64)."""
    s = np.zeros((x.shape[0] + 1, x.shape[1] + 1), np.float64)
    s[1:, 1:] = np.cumsum(np.cumsum(x, 0), 1)
    tot = s[win:, win:] - s[:-win, win:] - s[win:, :-win] + s[:-win, :-win]
    return tot / (win * win)


def ssim(img1, img2, data_range: float = 255.0, win_size: int = 65) -> float:
    """Mean SSIM of [H, W] or [H, W, C] images, as skimage's ``structural_similarity`` with
    ``win_size``, ``data_range``, uniform window and (for C > 1) ``channel_axis=-1``."""
    a, b = np.asarray(img1, np.float64), np.asarray(img2, np.float64)
    if a.shape != b.shape:
        raise ValueError(f"ssim: image shapes differ: {a.shape} vs {b.shape}")
    if a.ndim == 2:
        a, b = a[..., None], b[..., None]
    if min(a.shape[:2]) < win_size:
        raise ValueError(f"ssim: images of {a.shape[:2]} are smaller than win_size={win_size}")
    k1, k2 = 0.01, 0.03
    n = win_size * win_size
    cov_norm = n / (n - 1.0)
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    vals = []
    for ch in range(a.shape[2]):
        x, y = a[..., ch], b[..., ch]
        ux, uy = _box_valid(x, win_size), _box_valid(y, win_size)
        uxx, uyy, uxy = _box_valid(x * x, win_size), _box_valid(y * y, win_size), _box_valid(x * y, win_size)
        vx, vy, vxy = cov_norm * (uxx - ux * ux), cov_norm * (uyy - uy * uy), cov_norm * (uxy - ux * uy)
        s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
        # skimage crops (win_size - 1) // 2 from each side: exactly the fully-inside windows
        vals.append(s.mean())
    return float(np.mean(vals))


def frame_metrics(gt_frames, comp_frames) -> dict:
    """Mean PSNR and SSIM over frames (each [H, W, 3] on [0, 255]), as the official evaluation."""
    p, s = [], []
    for g, c in zip(gt_frames, comp_frames):
        p.append(psnr(g, c))
        s.append(ssim(g, c))
    return {"psnr": float(np.mean(p)), "ssim": float(np.mean(s)), "frames": len(p)}


def _warp_np(img: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Backward warp of ``img`` [H, W, C] by ``flow`` [H, W, 2] (dx, dy) with OpenCV (bilinear, 0 outside)."""
    import cv2
    h, w = flow.shape[:2]
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(img.astype(np.float32), gx + flow[..., 0].astype(np.float32),
                     gy + flow[..., 1].astype(np.float32), cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)


def warp_error(frames, flows_fwd, flows_bwd=None) -> float:
    """Flow warping error E_warp (Lai et al., ECCV 2018): the mean over consecutive pairs of
    ``sum(M * ||I_t - warp(I_{t+1}, F_{t->t+1})||^2) / sum(M)`` with images on [0, 1].

    ``flows_fwd[t]`` [H, W, 2] is the flow from frame t to t+1 (dx, dy); with ``flows_bwd`` given
    (t+1 -> t), ``M`` masks occlusions by the forward-backward check of the original code
    (``|F + warp(B)|^2 < 0.01 (|F|^2 + |warp(B)|^2) + 0.5``), otherwise ``M`` is 1 where the warp
    stays inside the frame. Which flows are used is the caller's statement: the official numbers
    used FlowNet2; ``jvision.video`` uses the true flow of its synthetic clips, or SPyNet.
    """
    errs = []
    for t in range(len(frames) - 1):
        i1 = np.asarray(frames[t], np.float32) / 255.0
        i2 = np.asarray(frames[t + 1], np.float32) / 255.0
        f = np.asarray(flows_fwd[t], np.float32)
        warped = _warp_np(i2, f)
        h, w = f.shape[:2]
        gx, gy = np.meshgrid(np.arange(w), np.arange(h))
        tx, ty = gx + f[..., 0], gy + f[..., 1]
        mask = ((tx >= 0) & (tx <= w - 1) & (ty >= 0) & (ty <= h - 1)).astype(np.float32)
        if flows_bwd is not None:
            b = _warp_np(np.asarray(flows_bwd[t], np.float32), f)
            lhs = ((f + b) ** 2).sum(-1)
            rhs = 0.01 * ((f ** 2).sum(-1) + (b ** 2).sum(-1)) + 0.5
            mask = mask * (lhs < rhs)
        diff = ((i1 - warped) ** 2).sum(-1) if i1.ndim == 3 else (i1 - warped) ** 2
        denom = mask.sum()
        if denom > 0:
            errs.append(float((diff * mask).sum() / denom))
    return float(np.mean(errs)) if errs else float("nan")


def _sqrtm_psd(m: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh((m + m.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    """``|mu1 - mu2|^2 + tr(S1 + S2 - 2 (S1 S2)^(1/2))`` (the trace term via S1^(1/2) S2 S1^(1/2))."""
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    s1, s2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    r1 = _sqrtm_psd(s1)
    cross = _sqrtm_psd(r1 @ s2 @ r1)
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(cross))


def vfid(real_features, fake_features) -> float:
    """VFID from per-video I3D features [n_videos, d] (needs at least 2 videos)."""
    r, f = np.asarray(real_features, np.float64), np.asarray(fake_features, np.float64)
    if len(r) < 2 or len(f) < 2:
        raise ValueError("vfid: needs features of at least 2 videos on each side")
    return frechet_distance(r.mean(0), np.cov(r, rowvar=False), f.mean(0), np.cov(f, rowvar=False))


def format_metric(value) -> str:
    return value if isinstance(value, str) else (f"{value:.4f}" if math.isfinite(value) else str(value))
