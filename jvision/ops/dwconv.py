"""Depthwise convolution (PROVISIONAL: builtin backend only; the kernels issue completes it)."""
from __future__ import annotations

import contextlib
import os

import jittor as jt
from jittor import nn

BACKENDS = ("kernel", "builtin", "reference")
_state = {"backend": os.environ.get("JVISION_OPS_BACKEND", "builtin")}


def get_backend() -> str:
    return _state["backend"]


def set_backend(name: str) -> None:
    if name not in BACKENDS:
        raise ValueError(f"unknown ops backend {name!r}; expected one of {BACKENDS}")
    _state["backend"] = name


@contextlib.contextmanager
def backend(name: str):
    old = get_backend()
    set_backend(name)
    try:
        yield
    finally:
        set_backend(old)


def depthwise_conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1):
    return nn.conv2d(x, weight, bias, stride, padding, dilation, groups=x.shape[1])


class DepthwiseConv2d(nn.Module):
    """Depthwise conv with ``nn.Conv2d``'s parameter names (``weight`` [C,1,kh,kw], ``bias`` [C])."""

    def __init__(self, channels, kernel_size, stride=1, padding=0, dilation=1, bias=True):
        super().__init__()
        kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
        self.channels, self.kernel_size = channels, (kh, kw)
        self.stride, self.padding, self.dilation = stride, padding, dilation
        conv = nn.Conv2d(channels, channels, (kh, kw), stride, padding, dilation, groups=channels, bias=bias)
        self.weight = conv.weight
        self.bias = conv.bias if bias else None

    def execute(self, x):
        return depthwise_conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation)
