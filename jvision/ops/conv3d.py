"""3D convolution through Jittor's 2D convolution.

Jittor's ``nn.conv3d`` on a CPU is a reindex + multiply + reduce over a 9-dimensional index space:
in E2FGVI's T-PatchGAN discriminator (Conv3d 3x5x5 on 8 frames) it took about two thirds of a
training iteration. Here the temporal taps are stacked into the channels (``kt`` shifted copies of
the clip) and one 2D convolution runs over all output frames at once, so the work goes to oneDNN
(CPU) or cuDNN (CUDA); gradients follow from the 2D convolution. The ``reference`` ops backend
(``jvision.ops.set_backend("reference")``) runs Jittor's own ``nn.conv3d`` instead, and the tests
hold the two together.

``Conv3d`` is ``nn.Conv3d`` (same ``weight`` / ``bias`` keys) running this function.
"""
from __future__ import annotations

import jittor as jt
from jittor import nn

from .dwconv import get_backend

__all__ = ["conv3d", "Conv3d"]


def _triple(v) -> tuple[int, int, int]:
    return tuple(int(i) for i in v) if isinstance(v, (tuple, list)) else (int(v),) * 3


def conv3d(x, weight, bias=None, stride=1, padding=0):
    """``F.conv3d(x [N, C, T, H, W], weight [O, C, kt, kh, kw], bias, stride, padding)`` (groups 1,
    dilation 1), as 2D convolutions over the frames with the temporal taps stacked into channels."""
    stride, padding = _triple(stride), _triple(padding)
    if get_backend() == "reference":
        return nn.conv3d(x, weight, bias, stride, padding)
    n, c, t, h, w = x.shape
    o, cw, kt, kh, kw = weight.shape
    if cw != c:
        raise ValueError(f"conv3d: input has {c} channels, weight {list(weight.shape)} expects {cw} (groups are "
                         "not supported)")
    st, pt = stride[0], padding[0]
    if pt:
        zeros = jt.zeros((n, c, pt, h, w), x.dtype)
        x = jt.concat([zeros, x, zeros], dim=2)
    t_out = (t + 2 * pt - kt) // st + 1
    if t_out < 1:
        raise ValueError(f"conv3d: {t} frames (+{pt} padding on each side) are fewer than the {kt} temporal taps")
    taps = [x[:, :, k:k + st * (t_out - 1) + 1:st] for k in range(kt)]          # kt x [N, C, T', H, W]
    stacked = taps[0] if kt == 1 else jt.concat(taps, dim=1)                   # [N, kt*C, T', H, W]
    frames = stacked.permute(0, 2, 1, 3, 4).reshape([n * t_out, kt * c, h, w])
    w2 = weight.permute(0, 2, 1, 3, 4).reshape([o, kt * c, kh, kw])            # channel index = k*C + c
    y = nn.conv2d(frames, w2, bias, stride[1:], padding[1:])
    return y.reshape([n, t_out, o, y.shape[2], y.shape[3]]).permute(0, 2, 1, 3, 4)


class Conv3d(nn.Conv3d):
    """``nn.Conv3d`` (groups 1, dilation 1) that runs :func:`conv3d`; keys ``weight`` and ``bias``."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, bias=True):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, bias=bias)

    def execute(self, x):
        return conv3d(x, self.weight, self.bias, self.stride, self.padding)
