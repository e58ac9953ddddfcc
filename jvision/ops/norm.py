"""Channels-first LayerNorm (normalise over C of an NCHW tensor), as Conv2Former and ConvNeXt use."""
from __future__ import annotations

import jittor as jt
from jittor import nn

from . import _jtcode, autotune
from .dwconv import device, get_backend, needs_grad


def _fused_ok(p):
    return None if p.dtype == "float32" else f"dtype {p.dtype} (the CPU kernel takes float32)"


def _bench(p, variant):
    import numpy as np
    n, c, h, w = p.shapes[0]
    rng = np.random.default_rng(0)
    x, wt, b = (jt.array(rng.standard_normal(s).astype(np.float32)) for s in ((n, c, h, w), (c,), (c,)))

    def step():
        y = _run(variant, x, wt, b, p.param["eps"])
        jt.sync(jt.grad(y.sum(), [x, wt, b]) if p.grad else [y])
    return step


autotune.register_op("layernorm2d", "channels-first LayerNorm", lambda p, names: names[0], _bench)
autotune.register_variant(autotune.Variant("layernorm2d", "fused", "cpu", "one pass per tile of pixels",
                                           ("layernorm2d_fwd.cc", "layernorm2d_bwd.cc"), _fused_ok))
for _dev in ("cpu", "cuda"):
    autotune.register_variant(autotune.Variant("layernorm2d", "unfused", _dev, "Jittor operators"))


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

    Under the ``kernel`` backend the variant of op ``layernorm2d`` runs (:mod:`jvision.ops.autotune`:
    the fused CPU kernel for float32, or Jittor operators); otherwise Jittor operators.
    """
    if len(x.shape) != 4 or list(weight.shape) != [x.shape[1]] or list(bias.shape) != [x.shape[1]]:
        raise ValueError(f"layer_norm_2d: argument 'x' must be [N, C, H, W] with 'weight' and 'bias' [C], "
                         f"got x {list(x.shape)}, weight {list(weight.shape)}, bias {list(bias.shape)}")
    variant = "unfused"
    if get_backend() == "kernel":
        dtype = str(x.dtype) if all(str(v.dtype) == str(x.dtype) for v in (weight, bias)) else "mixed"
        p = autotune.problem("layernorm2d", device(), dtype, [x.shape], {"eps": float(eps)},
                             needs_grad(x, weight, bias))
        variant = autotune.select(p).name
    return _run(variant, x, weight, bias, eps)


def _run(variant: str, x, weight, bias, eps: float):
    if variant == "fused":
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
