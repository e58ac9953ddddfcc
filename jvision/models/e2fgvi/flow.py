"""Flow completion of E2FGVI: SPyNet (Ranjan & Black, CVPR 2017, in BasicVSR's mmediting form) and
``flow_warp``, as in ``model/modules/flow_comp.py`` of MCG-NKU/E2FGVI (commit 709cbe3).

Keys equal the official ones (``basic_module.{0..5}.basic_module.{0..4}.conv.*``, buffers ``mean``
and ``std``). The official constructor downloads mmediting's pretrained SPyNet; ours never
downloads: it loads a local file when given one (any format :mod:`jvision.convert` reads; the
mmediting file and a full E2FGVI checkpoint both work) and otherwise keeps its random
initialisation and says so in one line.
"""
from __future__ import annotations

import warnings

import numpy as np

import jittor as jt
from jittor import nn

__all__ = ["flow_warp", "SPyNet", "SPyNetBasicModule", "ConvModule", "resize_bilinear"]


def resize_bilinear(x, size, align_corners: bool):
    """``F.interpolate(x, size, mode='bilinear', align_corners=...)``."""
    if tuple(x.shape[2:]) == tuple(size) and align_corners:
        return x
    return nn.interpolate(x, size=list(size), mode="bilinear", align_corners=align_corners)


def _base_grid(h: int, w: int):
    gy, gx = np.meshgrid(np.arange(h, dtype=np.float32), np.arange(w, dtype=np.float32), indexing="ij")
    return jt.array(gx), jt.array(gy)


def flow_warp(x, flow, interpolation: str = "bilinear", padding_mode: str = "zeros",
              align_corners: bool = True):
    """Warps ``x`` [N, C, H, W] with ``flow`` [N, H, W, 2] (last dim ``(dx, dy)`` in pixels)."""
    n, c, h, w = x.shape
    if list(flow.shape) != [n, h, w, 2]:
        raise ValueError(f"flow_warp: flow must be [N, H, W, 2] = {[n, h, w, 2]} for x {list(x.shape)}, "
                         f"got {list(flow.shape)}")
    gx, gy = _base_grid(h, w)
    fx = 2.0 * (gx + flow[:, :, :, 0]) / max(w - 1, 1) - 1.0
    fy = 2.0 * (gy + flow[:, :, :, 1]) / max(h - 1, 1) - 1.0
    grid = jt.stack([fx, fy], dim=3)
    return nn.grid_sample(x, grid, mode=interpolation, padding_mode=padding_mode, align_corners=align_corners)


class ConvModule(nn.Module):
    """mmcv's ConvModule without a norm: ``conv`` then ReLU (when ``relu``). Key ``conv.*``."""

    def __init__(self, in_channels: int, out_channels: int, relu: bool = True):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 7, 1, 3)
        self.relu = relu

    def execute(self, x):
        x = self.conv(x)
        return nn.relu(x) if self.relu else x


class SPyNetBasicModule(nn.Module):
    """Five 7x7 convolutions 8 -> 32 -> 64 -> 32 -> 16 -> 2, ReLU between them."""

    def __init__(self):
        super().__init__()
        self.basic_module = nn.Sequential(
            ConvModule(8, 32), ConvModule(32, 64), ConvModule(64, 32), ConvModule(32, 16),
            ConvModule(16, 2, relu=False))

    def execute(self, x):
        return self.basic_module(x)


def _avg_pool2(x):
    n, c, h, w = x.shape
    return x.reshape([n, c, h // 2, 2, w // 2, 2]).mean([3, 5])


class SPyNet(nn.Module):
    """SPyNet: flow from ``ref`` to ``supp`` (both [N, 3, H, W] in [0, 1]), [N, 2, H, W] (dx, dy).

    Args:
        pretrained: a local weights file (mmediting's ``spynet_20210409-c6c1bd09.pth`` or anything
            with these keys) loaded strictly; None keeps the random initialisation (with a warning
            unless ``warn=False``, e.g. when a whole E2FGVI checkpoint will be loaded next).
    """

    def __init__(self, pretrained: str | None = None, warn: bool = True):
        super().__init__()
        self.basic_module = nn.Sequential(*[SPyNetBasicModule() for _ in range(6)])
        self.register_buffer("mean", jt.array(np.array([0.485, 0.456, 0.406], np.float32).reshape(1, 3, 1, 1)))
        self.register_buffer("std", jt.array(np.array([0.229, 0.224, 0.225], np.float32).reshape(1, 3, 1, 1)))
        self.mean.stop_grad()
        self.std.stop_grad()
        if pretrained:
            from ...convert import load_checkpoint
            load_checkpoint(self, pretrained, strict=True)
        elif warn:
            warnings.warn("SPyNet: no pretrained weights given (pretrained=PATH), random initialisation; "
                          "load an E2FGVI checkpoint or mmediting's SPyNet file for meaningful flows",
                          stacklevel=2)

    def compute_flow(self, ref, supp):
        n, _, h, w = ref.shape
        ref = [(ref - self.mean) / self.std]
        supp = [(supp - self.mean) / self.std]
        for _ in range(5):
            ref.append(_avg_pool2(ref[-1]))
            supp.append(_avg_pool2(supp[-1]))
        ref, supp = ref[::-1], supp[::-1]
        flow = jt.zeros((n, 2, h // 32, w // 32), ref[0].dtype)
        for level in range(len(ref)):
            if level == 0:
                flow_up = flow
            else:
                size = (flow.shape[2] * 2, flow.shape[3] * 2)
                flow_up = resize_bilinear(flow, size, align_corners=True) * 2.0
            warped = flow_warp(supp[level], flow_up.permute(0, 2, 3, 1), padding_mode="border")
            flow = flow_up + self.basic_module[level](jt.concat([ref[level], warped, flow_up], dim=1))
        return flow

    def execute(self, ref, supp):
        h, w = ref.shape[2], ref.shape[3]
        w_up = w if w % 32 == 0 else 32 * (w // 32 + 1)
        h_up = h if h % 32 == 0 else 32 * (h // 32 + 1)
        ref = resize_bilinear(ref, (h_up, w_up), align_corners=False)
        supp = resize_bilinear(supp, (h_up, w_up), align_corners=False)
        flow = resize_bilinear(self.compute_flow(ref, supp), (h, w), align_corners=False)
        scale = jt.array(np.array([w / w_up, h / h_up], np.float32).reshape(1, 2, 1, 1))
        return flow * scale
