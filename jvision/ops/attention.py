"""Convolutional attention modules (PROVISIONAL, plain composition; the kernels issue fuses them).

Parameter names equal the official code so checkpoints load by name.
"""
from __future__ import annotations

from jittor import nn

from .dwconv import DepthwiseConv2d
from .norm import LayerNorm2d


class LargeKernelAttention(nn.Module):
    """LKA (VAN): dw 5x5 -> dw 7x7 dilation 3 -> 1x1, times the input."""

    def __init__(self, dim: int):
        super().__init__()
        self.conv0 = DepthwiseConv2d(dim, 5, padding=2)
        self.conv_spatial = DepthwiseConv2d(dim, 7, padding=9, dilation=3)
        self.conv1 = nn.Conv2d(dim, dim, 1)

    def execute(self, x):
        return x * self.conv1(self.conv_spatial(self.conv0(x)))


class MultiScaleConvAttention(nn.Module):
    """MSCA (SegNeXt): dw 5x5, plus strip pairs 7/11/21 on its output, summed -> 1x1, times the input."""

    def __init__(self, dim: int):
        super().__init__()
        self.conv0 = DepthwiseConv2d(dim, 5, padding=2)
        self.conv0_1 = DepthwiseConv2d(dim, (1, 7), padding=(0, 3))
        self.conv0_2 = DepthwiseConv2d(dim, (7, 1), padding=(3, 0))
        self.conv1_1 = DepthwiseConv2d(dim, (1, 11), padding=(0, 5))
        self.conv1_2 = DepthwiseConv2d(dim, (11, 1), padding=(5, 0))
        self.conv2_1 = DepthwiseConv2d(dim, (1, 21), padding=(0, 10))
        self.conv2_2 = DepthwiseConv2d(dim, (21, 1), padding=(10, 0))
        self.conv3 = nn.Conv2d(dim, dim, 1)

    def execute(self, x):
        a = self.conv0(x)
        s = a + self.conv0_2(self.conv0_1(a)) + self.conv1_2(self.conv1_1(a)) + self.conv2_2(self.conv2_1(a))
        return x * self.conv3(s)


class ConvModulation(nn.Module):
    """ConvMod (Conv2Former ``SpatialAttention``): LN -> att = 1x1, GELU, dw kxk; v = 1x1; proj(att * v)."""

    def __init__(self, dim: int, kernel_size: int = 11):
        super().__init__()
        self.norm = LayerNorm2d(dim, eps=1e-6)
        self.att = nn.Sequential(nn.Conv2d(dim, dim, 1), nn.GELU(),
                                 DepthwiseConv2d(dim, kernel_size, padding=kernel_size // 2))
        self.v = nn.Conv2d(dim, dim, 1)
        self.proj = nn.Conv2d(dim, dim, 1)

    def execute(self, x):
        x = self.norm(x)
        return self.proj(self.att(x) * self.v(x))
