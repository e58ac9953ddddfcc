"""Normalisation layers with PyTorch's semantics and parameter names: channels-first LayerNorm
(over C of an NCHW tensor, as Conv2Former and ConvNeXt use), BatchNorm, GroupNorm and
channels-last LayerNorm, each with our CPU kernels on the ``kernel`` backend (forward and
backward in OpenMP passes over the data) and Jittor operators otherwise."""
from __future__ import annotations

import jittor as jt
from jittor import nn

from . import _cpu, _jtcode, autotune
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


# ------------------------------------------------------------------------------------------------
# BatchNorm, GroupNorm and channels-last LayerNorm: one function each with the backends of
# jvision.ops._cpu (kernel: kernels/batchnorm_*.cc, kernels/rownorm_*.cc), and the modules.

def _affine(weight, bias, channels: int):
    w = weight if isinstance(weight, jt.Var) else jt.ones(channels, "float32").stop_grad()
    b = bias if isinstance(bias, jt.Var) else jt.zeros(channels, "float32").stop_grad()
    return w, b


def _bn_code(name, inputs, shapes, train, eps):
    return jt.code(shapes, ["float32"] * len(shapes), inputs, cpu_header=_cpu.header(TRAIN=train),
                   cpu_src=_cpu.source(name), data={"eps": float(eps)})


class _BatchNormKernel(jt.Function):
    """Training: ``(y, batch mean, batch biased var)``; evaluation: ``y`` from the given statistics."""

    def __init__(self, train: bool, eps: float):
        self.train, self.eps = bool(train), float(eps)

    def execute(self, x, weight, bias, mean=None, var=None):
        x3 = x.reshape(x.shape[0], x.shape[1], -1)
        c = x.shape[1]
        if self.train:
            y, mean, var = _bn_code("batchnorm_fwd.cc", [x3, weight, bias], [list(x3.shape), [c], [c]], 1, self.eps)
        else:
            y = _bn_code("batchnorm_fwd.cc", [x3, weight, bias, mean, var], [list(x3.shape)], 0, self.eps)[0]
        self.saved = (x3, weight, mean, var)
        y = y.reshape(x.shape)
        return (y, mean.stop_grad(), var.stop_grad()) if self.train else y

    def grad(self, dy, *unused):
        if dy is None:
            return (None,) * (3 if self.train else 5)
        x3, weight, mean, var = self.saved
        dx, dw, db = _bn_code("batchnorm_bwd.cc", [x3, weight, mean, var, dy.reshape(x3.shape)],
                              [list(x3.shape), list(weight.shape), list(weight.shape)], int(self.train), self.eps)
        dx = dx.reshape(dy.shape)
        return (dx, dw, db) if self.train else (dx, dw, db, None, None)


def batch_norm(x, running_mean, running_var, weight=None, bias=None, training: bool = False,
               momentum: float = 0.1, eps: float = 1e-5, sync: bool = False, impl: str | None = None):
    """``F.batch_norm`` over ``x [N, C, ...]``: statistics over every axis but C.

    In training the batch statistics normalise and the running ones are updated in place,
    PyTorch's way: ``running = (1 - momentum) * running + momentum * stat`` with the *unbiased*
    batch variance. ``sync`` under MPI all-reduces the statistics (Jittor's operators do that;
    the kernel is then not used). ``weight``/``bias`` ``None``: no affine transform.
    """
    if len(x.shape) < 2:
        raise ValueError(f"batch_norm: 'x' must be [N, C, ...], got {list(x.shape)}")
    c = x.shape[1]
    if list(running_mean.shape) != [c] or list(running_var.shape) != [c]:
        raise ValueError(f"batch_norm: running statistics must be [{c}] for x {list(x.shape)}, got "
                         f"{list(running_mean.shape)} and {list(running_var.shape)}")
    w, b = _affine(weight, bias, c)
    if list(w.shape) != [c] or list(b.shape) != [c]:
        raise ValueError(f"batch_norm: weight and bias must be [{c}] for x {list(x.shape)}, got "
                         f"{list(w.shape)} and {list(b.shape)}")
    name = impl or _cpu.backend_name()
    mpi_sync = training and sync and jt.in_mpi
    if name == "kernel" and not mpi_sync and (impl == "kernel" or _cpu.kernel_applies(x, w, b)):
        if not training:
            return _BatchNormKernel(False, eps)(x, w, b, running_mean, running_var)
        y, mean, var = _BatchNormKernel(True, eps)(x, w, b)
    else:
        dims = [0] + list(range(2, x.ndim))
        shape = [1, c] + [1] * (x.ndim - 2)
        if not training:
            scale = w / jt.sqrt(running_var + eps)
            return x * scale.reshape(shape) + (b - running_mean * scale).reshape(shape)
        if name == "reference":
            mean = x.mean(dims)
            var = ((x - mean.reshape(shape)) ** 2).mean(dims)
        else:  # Jittor's nn.BatchNorm statistics, all-reduced under MPI when sync
            mean, sq = x.mean(dims), (x * x).mean(dims)
            if mpi_sync:
                mean, sq = mean.mpi_all_reduce("mean"), sq.mpi_all_reduce("mean")
            var = (sq - mean * mean).maximum(0.0)
        scale = w / jt.sqrt(var + eps)
        y = x * scale.reshape(shape) + (b - mean * scale).reshape(shape)
    count = x.numel() // c * (jt.world_size if mpi_sync else 1)
    unbiased = var.detach() * (count / max(count - 1, 1))
    running_mean.update(running_mean + (mean.detach() - running_mean) * momentum)
    running_var.update(running_var + (unbiased - running_var) * momentum)
    return y


class BatchNorm2d(nn.BatchNorm):
    """``torch.nn.BatchNorm2d`` on Jittor's ``nn.BatchNorm`` (same keys: ``weight``, ``bias``,
    ``running_mean``, ``running_var``; ``sync`` all-reduces the statistics under MPI) computed by
    :func:`batch_norm`: the running variance is updated with the unbiased batch variance, as
    PyTorch does (Jittor's own BatchNorm uses the biased one)."""

    def execute(self, x):
        if len(x.shape) < 2 or x.shape[1] != self.num_features:
            raise ValueError(f"BatchNorm2d({self.num_features}): 'x' must be [N, {self.num_features}, ...], "
                             f"got {list(x.shape)}")
        return batch_norm(x, self.running_mean, self.running_var, self.weight if self.affine else None,
                          self.bias if self.affine else None, self.is_train, self.momentum, self.eps, self.sync)


class _RowNormKernel(jt.Function):
    """Normalisation of the rows of ``x [R, L]`` (``rownorm_*.cc``); ``spatial`` positions per channel."""

    def __init__(self, spatial: int, eps: float):
        self.spatial, self.eps = int(spatial), float(eps)

    def execute(self, x, weight, bias):
        r, length = x.shape
        y, mean, rstd = jt.code([[r, length], [r], [r]], ["float32"] * 3, [x, weight, bias],
                                cpu_header=_cpu.header(), cpu_src=_cpu.source("rownorm_fwd.cc"),
                                data={"eps": self.eps, "S": self.spatial})
        self.saved = (x, weight, mean, rstd)
        return y

    def grad(self, dy):
        if dy is None:
            return None, None, None
        x, weight, mean, rstd = self.saved
        rows_per_block = max(1, 32768 // x.shape[1])
        return jt.code([list(x.shape), list(weight.shape), list(weight.shape)], ["float32"] * 3,
                       [x, weight, mean, rstd, dy], cpu_header=_cpu.header(), cpu_src=_cpu.source("rownorm_bwd.cc"),
                       data={"S": self.spatial, "RB": rows_per_block})


def group_norm(x, num_groups: int, weight=None, bias=None, eps: float = 1e-5, impl: str | None = None):
    """``F.group_norm`` of ``x [N, C, ...]``: statistics per sample over each group of
    ``C / num_groups`` channels and all positions (biased variance of the centred values)."""
    if len(x.shape) < 2 or x.shape[1] % num_groups:
        raise ValueError(f"group_norm: 'x' must be [N, C, ...] with C divisible by num_groups={num_groups}, "
                         f"got {list(x.shape)}")
    n, c = x.shape[:2]
    w, b = _affine(weight, bias, c)
    name = impl or _cpu.backend_name()
    if name == "kernel" and (impl == "kernel" or _cpu.kernel_applies(x, w, b)):
        rows = x.reshape(n * num_groups, -1)
        return _RowNormKernel(rows.shape[1] * num_groups // c, eps)(rows, w, b).reshape(x.shape)
    g = x.reshape(n, num_groups, -1)
    centred = g - g.mean(dim=2, keepdims=True)
    var = (centred * centred).mean(dim=2, keepdims=True)
    y = (centred / jt.sqrt(var + eps)).reshape(x.shape)
    shape = (1, c) + (1,) * (x.ndim - 2)
    return y * w.reshape(shape) + b.reshape(shape)


def layer_norm(x, weight=None, bias=None, eps: float = 1e-5, impl: str | None = None):
    """``F.layer_norm`` over the last dimension of ``x`` (biased variance of the centred values,
    as PyTorch; ``jittor.nn.LayerNorm`` uses E[x^2] - E[x]^2, which loses digits when |mean| >> std)."""
    c = x.shape[-1]
    w, b = _affine(weight, bias, c)
    if list(w.shape) != [c] or list(b.shape) != [c]:
        raise ValueError(f"layer_norm: weight and bias must be [{c}] for x {list(x.shape)}, got "
                         f"{list(w.shape)} and {list(b.shape)}")
    name = impl or _cpu.backend_name()
    if name == "kernel" and (impl == "kernel" or _cpu.kernel_applies(x, w, b)):
        return _RowNormKernel(1, eps)(x.reshape(-1, c), w, b).reshape(x.shape)
    centred = x - x.mean(dim=-1, keepdims=True)
    var = (centred * centred).mean(dim=-1, keepdims=True)
    return centred / jt.sqrt(var + eps) * w + b


class GroupNorm(nn.Module):
    """``torch.nn.GroupNorm`` (keys ``weight``/``bias``) through :func:`group_norm`."""

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5, affine: bool = True):
        super().__init__()
        if num_channels % num_groups:
            raise ValueError(f"GroupNorm: {num_channels} channels are not divisible into {num_groups} groups")
        self.num_groups, self.num_channels, self.eps, self.affine = int(num_groups), int(num_channels), eps, affine
        if affine:
            self.weight = jt.ones(num_channels)
            self.bias = jt.zeros(num_channels)

    def execute(self, x):
        if len(x.shape) < 2 or x.shape[1] != self.num_channels:
            raise ValueError(f"GroupNorm({self.num_groups}, {self.num_channels}): 'x' must be "
                             f"[N, {self.num_channels}, ...], got {list(x.shape)}")
        return group_norm(x, self.num_groups, getattr(self, "weight", None), getattr(self, "bias", None), self.eps)

    def extra_repr(self) -> str:
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}"


class LayerNorm(nn.Module):
    """LayerNorm over the last dimension (``torch.nn.LayerNorm(C, eps)``), keys ``weight``/``bias``,
    through :func:`layer_norm`."""

    def __init__(self, normalized_shape: int, eps: float = 1e-5, elementwise_affine: bool = True):
        super().__init__()
        self.normalized_shape = int(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        if elementwise_affine:
            self.weight = jt.ones(self.normalized_shape)
            self.bias = jt.zeros(self.normalized_shape)
        else:
            self.weight = self.bias = None

    def execute(self, x):
        if x.shape[-1] != self.normalized_shape:
            raise ValueError(f"LayerNorm({self.normalized_shape}): the last dimension of 'x' must be "
                             f"{self.normalized_shape}, got {list(x.shape)}")
        return layer_norm(x, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}"
