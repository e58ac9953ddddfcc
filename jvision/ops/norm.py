"""Channels-first LayerNorm (normalise over C of an NCHW tensor), as Conv2Former and ConvNeXt use."""
from __future__ import annotations

import jittor as jt
from jittor import nn

from . import _jtcode
from .dwconv import get_backend


class _LayerNorm2dKernel(jt.Function):
    """Fused forward / backward (``kernels/layernorm2d_*.cc``): one pass per tile of pixels."""

    def __init__(self, eps: float):
        self.eps = float(eps)

    def execute(self, x, weight, bias):
        self.saved = (x, weight, bias)
        return jt.code(x.shape, x.dtype, [x, weight, bias],
                       cpu_header=_jtcode.source("dwconv_cpu.h"),
                       cpu_src=_jtcode.source("layernorm2d_fwd.cc"), data={"eps": self.eps})

    def grad(self, dy):
        if dy is None:
            return None, None, None
        x, w, b = self.saved
        return jt.code([x.shape, w.shape, b.shape], [x.dtype, w.dtype, b.dtype], [x, w, b, dy],
                       cpu_header=_jtcode.source("dwconv_cpu.h"),
                       cpu_src=_jtcode.source("layernorm2d_bwd.cc"), data={"eps": self.eps})


def layer_norm_2d(x, weight, bias, eps: float = 1e-6):
    """Channels-first LayerNorm of ``x`` ``[N, C, H, W]`` with ``weight``/``bias`` ``[C]``.

    The ``kernel`` backend on CPU (float32, fusion on: see :func:`jvision.ops.set_fusion`) runs the
    fused kernel; otherwise Jittor operators.
    """
    if len(x.shape) != 4 or list(weight.shape) != [x.shape[1]] or list(bias.shape) != [x.shape[1]]:
        raise ValueError(f"layer_norm_2d: argument 'x' must be [N, C, H, W] with 'weight' and 'bias' [C], "
                         f"got x {list(x.shape)}, weight {list(weight.shape)}, bias {list(bias.shape)}")
    from ._fused import get_fusion
    if (get_backend() == "kernel" and get_fusion() and not jt.flags.use_cuda
            and all(str(v.dtype) == "float32" for v in (x, weight, bias))):
        return _LayerNorm2dKernel(eps)(x, weight, bias)
    mean = x.mean(dim=1, keepdims=True)
    xc = x - mean
    var = (xc * xc).mean(dim=1, keepdims=True)
    y = xc / jt.sqrt(var + eps)
    return y * weight.reshape(1, -1, 1, 1) + bias.reshape(1, -1, 1, 1)


class LayerNorm2d(nn.Module):
    """LayerNorm over the channel axis of ``[N, C, H, W]`` (ConvNeXt's ``data_format="channels_first"``).

    ``y = (x - mean_c(x)) / sqrt(var_c(x) + eps) * weight[c] + bias[c]`` with the biased variance.
    Parameters ``weight`` (ones) and ``bias`` (zeros), shape ``[C]``, so official keys
    (``norm.weight``, ``norm.bias``) load by name. With the ``kernel`` backend on CPU the forward
    and backward passes are single fused kernels; other backends use Jittor operators.
    """

    def __init__(self, channels: int, eps: float = 1e-6):
        super().__init__()
        self.channels = channels
        self.weight = jt.ones(channels)
        self.bias = jt.zeros(channels)
        self.eps = eps

    def execute(self, x):
        if len(x.shape) != 4 or x.shape[1] != self.channels:
            raise ValueError(f"LayerNorm2d: argument 'x' must be [N, {self.channels}, H, W], got {list(x.shape)}")
        return layer_norm_2d(x, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.channels}, eps={self.eps}"
