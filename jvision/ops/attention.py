"""Convolutional attention modules of VAN, SegNeXt and Conv2Former.

Parameter names equal the official PyTorch code, so that checkpoints load by name:

* :class:`LargeKernelAttention` (VAN ``LKA``, VAN-Classification ``models/van.py``):
  ``conv0``, ``conv_spatial``, ``conv1``.
* :class:`MultiScaleConvAttention` (SegNeXt ``AttentionModule``, ``mmseg/models/backbones/mscan.py``):
  ``conv0``, ``conv0_1``, ``conv0_2``, ``conv1_1``, ``conv1_2``, ``conv2_1``, ``conv2_2``, ``conv3``.
* :class:`ConvModulation` (Conv2Former ``SpatialAttention``, ``models/conv2former.py``):
  ``norm``, ``att.0`` (1x1), ``att.1`` (GELU), ``att.2`` (depthwise kxk), ``v``, ``proj``.

Under the ``kernel`` backend the depthwise parts are one op each (:mod:`jvision.ops._fused`), whose
variant :mod:`jvision.ops.autotune` chooses: ``fused`` runs LKA's two depthwise convolutions, MSCA's
5x5 with its three strip pairs and their sum, and ConvMod's GELU, depthwise convolution and product
by the value branch as one kernel per pass (CPU: forward and backward; CUDA: forward, the backward
through our depthwise kernels); ``unfused`` composes our depthwise kernels layer by layer. The 1x1
convolutions stay Jittor's (oneDNN on CPU, cuBLAS/cuDNN on CUDA). The other backends run the plain
composition of the same layers; every path agrees within float rounding, and switching backends at
run time is allowed.
"""
from __future__ import annotations

from jittor import nn

from ._fused import convmod_modulate, lka_spatial, msca_spatial
from .dwconv import DepthwiseConv2d
from .conv import Conv2d, conv_residual
from .norm import LayerNorm2d


class LargeKernelAttention(nn.Module):
    """LKA (VAN): ``x * conv1(conv_spatial(conv0(x)))``.

    ``conv0``: depthwise 5x5, padding 2; ``conv_spatial``: depthwise 7x7, dilation 3, padding 9;
    ``conv1``: 1x1 convolution ``dim -> dim``. All with bias. Input and output ``[N, dim, H, W]``.
    """

    def __init__(self, dim: int):
        super().__init__()
        self.conv0 = DepthwiseConv2d(dim, 5, padding=2)
        self.conv_spatial = DepthwiseConv2d(dim, 7, padding=9, dilation=3)
        self.conv1 = Conv2d(dim, dim, 1)

    def execute(self, x):
        return x * self.conv1(lka_spatial(x, self.conv0, self.conv_spatial))


class MultiScaleConvAttention(nn.Module):
    """MSCA (SegNeXt ``AttentionModule``).

    ``a = conv0(x)`` (depthwise 5x5, padding 2); three strip branches on ``a``:
    ``conv{i}_2(conv{i}_1(a))`` with ``1 x k`` then ``k x 1`` depthwise kernels, k = 7, 11, 21;
    ``attn = conv3(a + branch0 + branch1 + branch2)`` (1x1); output ``attn * x``.
    """

    def __init__(self, dim: int):
        super().__init__()
        self.conv0 = DepthwiseConv2d(dim, 5, padding=2)
        self.conv0_1 = DepthwiseConv2d(dim, (1, 7), padding=(0, 3))
        self.conv0_2 = DepthwiseConv2d(dim, (7, 1), padding=(3, 0))
        self.conv1_1 = DepthwiseConv2d(dim, (1, 11), padding=(0, 5))
        self.conv1_2 = DepthwiseConv2d(dim, (11, 1), padding=(5, 0))
        self.conv2_1 = DepthwiseConv2d(dim, (1, 21), padding=(0, 10))
        self.conv2_2 = DepthwiseConv2d(dim, (21, 1), padding=(10, 0))
        self.conv3 = Conv2d(dim, dim, 1)

    def execute(self, x):
        pairs = ((self.conv0_1, self.conv0_2), (self.conv1_1, self.conv1_2),
                 (self.conv2_1, self.conv2_2))
        return self.conv3(msca_spatial(x, self.conv0, pairs)) * x


class ConvModulation(nn.Module):
    """ConvMod (Conv2Former ``SpatialAttention``).

    ``x = norm(x)`` (channels-first LayerNorm, eps 1e-6); ``a = att(x)`` with
    ``att = [1x1 conv, GELU, depthwise k x k (padding k//2)]``; ``v = v(x)`` (1x1);
    output ``proj(a * v)`` (1x1). No residual inside (the block adds it).
    """

    def __init__(self, dim: int, kernel_size: int = 11):
        super().__init__()
        self.norm = LayerNorm2d(dim, eps=1e-6)
        self.att = nn.Sequential(Conv2d(dim, dim, 1), nn.GELU(),
                                 DepthwiseConv2d(dim, kernel_size, padding=kernel_size // 2))
        self.v = Conv2d(dim, dim, 1)
        self.proj = Conv2d(dim, dim, 1)

    def execute(self, x, residual=None, scale=None):
        """``proj(a * v)``; with ``residual`` (and ``scale [C]``), ``residual + scale * proj(a * v)``
        with the sum in ``proj``'s pass where possible (see :func:`jvision.ops.conv_residual`)."""
        x = self.norm(x)
        m = convmod_modulate(self.att[0](x), self.v(x), self.att[1], self.att[2])
        return self.proj(m) if residual is None else conv_residual(self.proj, m, residual, scale)
