"""Video metrics: PSNR and SSIM (E2FGVI's settings) against hand-computed values and a brute-force
implementation of skimage's definition, E_warp with the true flow of a synthetic clip, and the
Frechet distance against its closed form."""
from __future__ import annotations

import numpy as np
import pytest

from jvision.data.video_synthetic import make_clip
from jvision.video.metrics import frechet_distance, psnr, ssim, warp_error


def test_psnr_hand_computed():
    a = np.zeros((4, 5, 3), np.uint8)
    b = a.copy()
    b[0, 0, 0] = 10  # MSE = 100 / 60
    assert psnr(a, b) == pytest.approx(20 * np.log10(255 / np.sqrt(100 / 60)), abs=1e-12)
    assert psnr(a, a) == float("inf")
    with pytest.raises(ValueError, match="shapes differ"):
        psnr(a, b[:3])


def test_ssim_of_constant_images_is_the_luminance_term():
    a = np.full((70, 70, 3), 100.0)
    b = np.full((70, 70, 3), 150.0)
    c1 = (0.01 * 255) ** 2
    assert ssim(a, b) == pytest.approx((2 * 100 * 150 + c1) / (100 ** 2 + 150 ** 2 + c1), abs=1e-12)
    assert ssim(a, a) == pytest.approx(1.0)


def _ssim_brute_force(x, y, win, data_range=255.0):
    """skimage's structural_similarity written out window by window (uniform filter, sample
    covariance, crop (win-1)//2), channel SSIMs averaged."""
    k1, k2 = 0.01, 0.03
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    out = []
    for ch in range(x.shape[2]):
        vals = []
        for i in range(x.shape[0] - win + 1):
            for j in range(x.shape[1] - win + 1):
                px = x[i:i + win, j:j + win, ch].ravel()
                py = y[i:i + win, j:j + win, ch].ravel()
                mx, my = px.mean(), py.mean()
                vx, vy = px.var(ddof=1), py.var(ddof=1)
                cxy = ((px - mx) * (py - my)).sum() / (px.size - 1)
                vals.append(((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2)))
        out.append(np.mean(vals))
    return float(np.mean(out))


def test_ssim_matches_the_definition_window_by_window():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (19, 23, 3)).astype(np.float64)
    y = np.clip(x + rng.normal(0, 30, x.shape), 0, 255)
    assert ssim(x, y, win_size=7) == pytest.approx(_ssim_brute_force(x, y, 7), abs=1e-12)
    with pytest.raises(ValueError, match="smaller than win_size=65"):
        ssim(x, y)


def test_warp_error_is_zero_with_the_true_flow_of_a_synthetic_clip():
    clip = make_clip(5, (40, 64), seed=1)
    assert warp_error(clip.frames, clip.flows) == pytest.approx(0.0, abs=1e-10)
    assert warp_error(clip.frames, -clip.flows) > 1e-3


def test_frechet_distance_closed_form():
    assert frechet_distance([1.0], [[4.0]], [3.0], [[9.0]]) == pytest.approx(4 + 4 + 9 - 2 * 6)
    rng = np.random.default_rng(1)
    a = rng.normal(size=(50, 4))
    cov = np.cov(a, rowvar=False)
    assert frechet_distance(a.mean(0), cov, a.mean(0), cov) == pytest.approx(0.0, abs=1e-9)


def test_window_plan_covers_every_frame_and_stays_in_range():
    from jvision.video.inpaint import window_plan
    for n, num_ref in ((30, 8), (7, -1), (101, 4)):
        plan = window_plan(n, 5, 10, num_ref)
        seen = sorted({i for _, nb, _ in plan for i in nb})
        assert seen == list(range(n))
        assert all(0 <= i < n for _, nb, refs in plan for i in nb + refs)
        assert all(not set(nb) & set(refs) for _, nb, refs in plan)
