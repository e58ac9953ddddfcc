"""``VideoInpaintingMetric`` (in ``METRICS``): E2FGVI's evaluation (``evaluate.py`` + ``core/metrics.py``
of MCG-NKU/E2FGVI) as a metric of the engine's ``evaluate`` loop, fed by ``VideoInpainter.val_step``.

* ``psnr`` / ``ssim``: per frame on the composites against the (resized) ground truth, [0, 255],
  averaged over every frame of every video, as the official ``total_frame_psnr`` / ``_ssim``
  (SSIM: skimage's ``compare_ssim(data_range=255, multichannel=True, win_size=65)``).
* ``ewarp``: the flow warping error (Lai et al., ECCV 2018) of the composites, averaged over videos.
  The flows are those of the ground-truth frames: the exact flows of synthetic clips, else SPyNet's
  (``ewarp_spynet``: mmediting's weights file) with the forward-backward occlusion check. The paper
  used FlowNet2 (``fast_blind_video_consistency``), so SPyNet numbers are comparable with each
  other, not with the paper's column. Without flows: "not computed".
* ``vfid``: the Frechet distance between the I3D features (``Mixed_5c``, averaged; 1024 per video)
  of the real and the inpainted videos (``i3d_checkpoint``: ``i3d_rgb_imagenet.pt``). Without the
  file, or with fewer than two videos: "not computed", never a number.
* ``hole_psnr`` (and, with ``baseline=True``, ``baseline_hole_psnr``): PSNR over the hole pixels
  only, of the composites and of a copy-the-nearest-valid-pixel fill of the same holes.

Every sum is all-reduced over MPI ranks, so ``mpirun -np N tools/test.py`` gives one process's figures.
"""
from __future__ import annotations

import math

import cv2
import numpy as np

from ..engine.dist import all_reduce_sum
from ..registry import METRICS
from .metrics import NOT_COMPUTED, frechet_distance, psnr, ssim, warp_error

__all__ = ["VideoInpaintingMetric", "nearest_valid_fill"]


def nearest_valid_fill(frame: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``frame`` with every hole pixel (``mask`` > 0) replaced by the nearest valid pixel (L2)."""
    hole = (np.asarray(mask) > 0).astype(np.uint8)
    if not hole.any():
        return frame.copy()
    if hole.all():
        return np.zeros_like(frame)
    # labels: each valid (zero) pixel its own label; each hole pixel the label of its nearest valid one
    _, labels = cv2.distanceTransformWithLabels(hole, cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL)
    valid = hole == 0
    lut = np.zeros((labels.max() + 1, frame.shape[-1]), frame.dtype)
    lut[labels[valid]] = frame[valid]
    out = frame.copy()
    out[~valid] = lut[labels[~valid]]
    return out


def _sq_error(a, b, mask) -> tuple[float, int]:
    m = np.asarray(mask) > 0
    d = (np.asarray(a, np.float64) - np.asarray(b, np.float64))[m]
    return float((d ** 2).sum()), int(d.size)


def _psnr_from(sq: float, n: float) -> float:
    if n == 0:
        return float("nan")
    return float("inf") if sq == 0 else float(20 * np.log10(255.0 / np.sqrt(sq / n)))


@METRICS.register()
class VideoInpaintingMetric:
    """Video inpainting metrics (module docstring).

    Args:
        ssim_win_size: SSIM window (the official 65; frames smaller than it give "not computed").
        ewarp: compute E_warp (with exact flows when the clips have them, else ``ewarp_spynet``).
        ewarp_spynet: SPyNet weights for E_warp on videos without exact flows.
        i3d_checkpoint: ``i3d_rgb_imagenet.pt`` for VFID; None: VFID "not computed".
        baseline: also report the hole PSNR of a copy-the-nearest-valid-pixel fill.
    """

    def __init__(self, ssim_win_size: int = 65, ewarp: bool = True, ewarp_spynet: str | None = None,
                 i3d_checkpoint: str | None = None, baseline: bool = False):
        self.ssim_win_size, self.ewarp, self.baseline = int(ssim_win_size), ewarp, baseline
        self.spynet = self.i3d = None
        if ewarp and ewarp_spynet:
            from ..models.e2fgvi.flow import SPyNet
            self.spynet = SPyNet(ewarp_spynet)
            self.spynet.eval()
        if i3d_checkpoint:
            from ..models.i3d import inception_i3d
            self.i3d = inception_i3d(pretrained=i3d_checkpoint)
            self.i3d.eval()
        self.reset()

    def reset(self) -> None:
        self.sums = dict(psnr=0.0, ssim=0.0, frames=0.0, ssim_frames=0.0, videos=0.0, ewarp=0.0, ewarp_videos=0.0,
                         hole_sq=0.0, hole_n=0.0, base_sq=0.0, base_n=0.0)
        self.feats_real, self.feats_fake = [], []
        self.ssim_skipped = None

    # -- per video -------------------------------------------------------------------------------
    def _spynet_flows(self, frames):
        import jittor as jt
        fwd, bwd = [], []
        with jt.no_grad():
            for a, b in zip(frames[:-1], frames[1:]):
                x = jt.array(np.stack([a, b]).astype(np.float32).transpose(0, 3, 1, 2) / 255.0)
                f = self.spynet(x[0:1], x[1:2])[0].numpy().transpose(1, 2, 0)
                g = self.spynet(x[1:2], x[0:1])[0].numpy().transpose(1, 2, 0)
                fwd.append(f)
                bwd.append(g)
        return fwd, bwd

    def _video(self, clip, comps) -> None:
        if len(comps) != len(clip):
            raise ValueError(f"VideoInpaintingMetric: {len(comps)} composites for the {len(clip)} frames of {clip.name}")
        gts = [clip.frame(i) for i in range(len(clip))]
        s = self.sums
        for i, (gt, comp) in enumerate(zip(gts, comps)):
            if comp is None or comp.shape != gt.shape:
                raise ValueError(f"VideoInpaintingMetric: {clip.name} frame {i}: composite "
                                 f"{None if comp is None else comp.shape} vs ground truth {gt.shape}")
            s["psnr"] += psnr(gt, comp)
            s["frames"] += 1
            if min(gt.shape[:2]) >= self.ssim_win_size:
                s["ssim"] += ssim(gt, comp, win_size=self.ssim_win_size)
                s["ssim_frames"] += 1
            else:
                self.ssim_skipped = gt.shape[:2]
            mask = clip.mask(i)
            sq, n = _sq_error(comp, gt, np.repeat(mask[..., None], 3, -1))
            s["hole_sq"] += sq
            s["hole_n"] += n
            if self.baseline:
                sq, n = _sq_error(nearest_valid_fill(gt, mask), gt, np.repeat(mask[..., None], 3, -1))
                s["base_sq"] += sq
                s["base_n"] += n
        s["videos"] += 1
        if self.ewarp and len(clip) > 1:
            uint8 = [np.asarray(c).astype(np.uint8) for c in comps]
            if clip.has_flow:
                err = warp_error(uint8, [clip.flow(i) for i in range(len(clip) - 1)])
            elif self.spynet is not None:
                err = warp_error(uint8, *self._spynet_flows(gts))
            else:
                err = None
            if err is not None and math.isfinite(err):
                s["ewarp"] += err
                s["ewarp_videos"] += 1
        if self.i3d is not None:
            from ..models.i3d import i3d_features
            self.feats_real.append(i3d_features(self.i3d, gts).numpy().astype(np.float64))
            self.feats_fake.append(i3d_features(self.i3d, [np.asarray(c).astype(np.uint8) for c in comps])
                                   .numpy().astype(np.float64))

    def process(self, batch: dict, outputs) -> None:
        comps = outputs["composites"] if isinstance(outputs, dict) else outputs
        clips = batch["video"]
        if len(comps) != len(clips):
            raise ValueError(f"VideoInpaintingMetric: {len(comps)} outputs for {len(clips)} videos")
        for clip, c in zip(clips, comps):
            self._video(clip, c)

    # -- totals ----------------------------------------------------------------------------------
    def _vfid(self):
        if self.i3d is None:
            return f"{NOT_COMPUTED} (no I3D weights: evaluation.metric.i3d_checkpoint=i3d_rgb_imagenet.pt)"
        d = self.i3d.num_features
        stats = []
        for feats in (self.feats_real, self.feats_fake):
            x = np.asarray(feats, np.float64).reshape(-1, d)
            stats.append(np.concatenate([[len(x)], x.sum(0), (x.T @ x).reshape(-1)]))
        total = all_reduce_sum(np.stack(stats))
        n = total[0, 0]
        if n < 2:
            return f"{NOT_COMPUTED} (VFID needs at least 2 videos, got {int(n)})"
        moments = []
        for row in total:
            mu = row[1:1 + d] / n
            cov = (row[1 + d:].reshape(d, d) - n * np.outer(mu, mu)) / (n - 1)
            moments.append((mu, cov))
        return frechet_distance(moments[0][0], moments[0][1], moments[1][0], moments[1][1])

    def evaluate(self) -> dict:
        keys = sorted(self.sums)
        tot = dict(zip(keys, all_reduce_sum(np.array([self.sums[k] for k in keys], np.float64))))
        if tot["frames"] == 0:
            raise ValueError("VideoInpaintingMetric.evaluate: no video was processed (empty evaluation set?)")
        out = {"psnr": tot["psnr"] / tot["frames"]}
        out["ssim"] = (tot["ssim"] / tot["ssim_frames"] if tot["ssim_frames"] else
                       f"{NOT_COMPUTED} (frames smaller than ssim_win_size={self.ssim_win_size})")
        if self.ewarp:
            out["ewarp"] = (tot["ewarp"] / tot["ewarp_videos"] if tot["ewarp_videos"] else
                            f"{NOT_COMPUTED} (no flows: exact flows or evaluation.metric.ewarp_spynet)")
        out["vfid"] = self._vfid()
        out["hole_psnr"] = _psnr_from(tot["hole_sq"], tot["hole_n"])
        if self.baseline:
            out["baseline_hole_psnr"] = _psnr_from(tot["base_sq"], tot["base_n"])
        out["videos"] = int(tot["videos"])
        out["frames"] = int(tot["frames"])
        return out
