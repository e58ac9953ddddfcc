"""Small building blocks with mmcv's names, so that mmseg checkpoints load by key.

``ConvModule`` is mmcv's conv -> norm -> activation unit: the convolution is ``conv``, the norm is
named by its abbreviation (``bn`` for BN/SyncBN, ``gn`` for GN), the convolution has a bias only
when there is no norm (``bias="auto"``), and the weights start as mmcv initialises them (Kaiming
normal, fan-out, for ReLU; norms weight 1, bias 0).
"""
from __future__ import annotations

import math

import jittor as jt
from jittor import nn

from jvision.models.layers import build_batchnorm
from jvision.ops import Conv2d, resize_bilinear
from jvision.ops.activation import GELU
from jvision.ops.norm import GroupNorm

__all__ = ["GroupNorm", "ConvModule", "build_norm", "resize"]


def build_norm(norm_cfg: dict, channels: int) -> tuple[str, nn.Module]:
    """``(name, module)`` of an mmcv ``norm_cfg``: GN -> ``gn``, BN/SyncBN -> ``bn``."""
    cfg = dict(norm_cfg)
    typ = str(cfg.pop("type", "")).lower()
    if cfg.pop("requires_grad", True) is False:
        raise ValueError("norm_cfg requires_grad=False is not supported")
    eps = cfg.pop("eps", 1e-5)
    if typ == "gn":
        if "num_groups" not in cfg:
            raise KeyError(f"norm_cfg {norm_cfg!r}: GN needs num_groups")
        num_groups = cfg.pop("num_groups")
        if cfg:
            raise KeyError(f"norm_cfg {norm_cfg!r}: unknown key(s) {sorted(cfg)}")
        return "gn", GroupNorm(num_groups, channels, eps=eps)
    if typ in ("bn", "bn2d", "batchnorm", "batchnorm2d", "syncbn"):
        if cfg:
            raise KeyError(f"norm_cfg {norm_cfg!r}: unknown key(s) {sorted(cfg)}")
        return "bn", build_batchnorm("syncbn" if typ == "syncbn" else "bn", channels, eps=eps)
    raise ValueError(f"norm_cfg type {norm_cfg.get('type')!r} is not supported (GN, BN or SyncBN)")


def _build_act(act_cfg: dict | None):
    if act_cfg is None:
        return None
    typ = act_cfg.get("type")
    if typ == "ReLU":
        return nn.ReLU()
    if typ == "GELU":
        return GELU()
    raise ValueError(f"act_cfg type {typ!r} is not supported (ReLU, GELU or None)")


class ConvModule(nn.Module):
    """conv -> norm -> act with mmcv's attribute names (``conv``, ``gn``/``bn``) and init.

    Args:
        in_channels, out_channels, kernel_size, stride, padding, dilation, groups: the convolution.
        bias: ``"auto"`` (a bias only without a norm, as mmcv), ``True`` or ``False``.
        norm_cfg: e.g. ``dict(type="GN", num_groups=32)``; ``None``: no norm.
        act_cfg: ``dict(type="ReLU")`` (default) or ``None``.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 1, stride: int = 1,
                 padding: int = 0, dilation: int = 1, groups: int = 1, bias: bool | str = "auto",
                 norm_cfg: dict | None = None, act_cfg: dict | None = dict(type="ReLU")):
        super().__init__()
        with_norm = norm_cfg is not None
        if bias == "auto":
            bias = not with_norm
        self.conv = Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=padding,
                              dilation=dilation, groups=groups, bias=bool(bias))
        self.norm_name = None
        if with_norm:
            self.norm_name, norm = build_norm(norm_cfg, out_channels)
            setattr(self, self.norm_name, norm)
        self.activate = _build_act(act_cfg)
        self.init_weights()

    def init_weights(self) -> None:
        w = self.conv.weight
        fan_out = w.shape[0] * w.shape[2] * w.shape[3]  # mmcv kaiming_init: mode fan_out, relu gain
        jt.init.gauss_(w, 0.0, math.sqrt(2.0 / fan_out))
        if self.conv.bias is not None:
            jt.init.zero_(self.conv.bias)
        if self.norm_name is not None:
            norm = getattr(self, self.norm_name)
            jt.init.one_(norm.weight)
            jt.init.zero_(norm.bias)

    @property
    def norm(self):
        return getattr(self, self.norm_name) if self.norm_name else None

    def execute(self, x):
        x = self.conv(x)
        if self.norm_name is not None:
            x = getattr(self, self.norm_name)(x)
        if self.activate is not None:
            x = self.activate(x)
        return x


def resize(x, size, mode: str = "bilinear", align_corners: bool = False):
    """``F.interpolate`` to ``size = (h, w)``; a no-op when the size already matches. Bilinear goes
    through ``jvision.ops.resize_bilinear`` (our kernel on the ``kernel`` backend)."""
    size = (int(size[0]), int(size[1]))
    if tuple(x.shape[-2:]) == size:
        return x
    if mode == "bilinear":
        return resize_bilinear(x, size, align_corners)
    return nn.interpolate(x, size=size, mode=mode, align_corners=align_corners)
