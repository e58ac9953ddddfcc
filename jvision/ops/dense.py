"""Dense (fully connected) layers on tokens through our matrix-product kernels, with the bias and an
optional GELU applied while each block of rows is in cache.

Why: Jittor's ``nn.Linear`` is a matrix product followed by a separate broadcast add of the bias,
whose gradient is a separate single-threaded reduction; with the MLP's GELU that is three more
passes over the ``[tokens, features]`` activations per layer. On the ``kernel`` backend with oneDNN
(CPU, float32) ``kernels/linear_fwd.cc`` runs bias, product and GELU per block of rows in one
OpenMP task and ``kernels/linear_bwd.cc`` the GELU gradient, ``dx``, ``dW`` and ``db`` in one op.
Other backends, and ``reference``: Jittor's ``matmul_transpose`` plus the bias (and ``gelu``).

:class:`Linear` is ``jittor.nn.Linear`` (same parameters, ``weight [out, in]``, ``bias [out]``, so
checkpoints load by name) running through :func:`linear`; :func:`linear_gelu` is
``GELU(layer(x))`` fused. Inputs of any rank ``[..., in]``.
"""
from __future__ import annotations

import jittor as jt
from jittor import nn

from . import _cpu
from .activation import gelu as _gelu
from .matmul import gemm_kernel_runs

__all__ = ["linear", "linear_gelu", "Linear"]


def _header(bias: bool, gelu: bool = False, keep_pre: bool = False) -> str:
    return _cpu.header("gemm_cpu.h", BIAS=bias, GELU=gelu, KEEP_PRE=keep_pre)


class _LinearKernel(jt.Function):
    def __init__(self, gelu: bool = False):
        self.gelu = bool(gelu)

    def execute(self, x, weight, bias=None):
        self.x, self.w, self.has_bias = x, weight, bias is not None
        inputs = [x, weight] + ([bias] if self.has_bias else [])
        keep_pre = self.gelu and not jt.flags.no_grad     # GELU's backward needs its input
        shape = [x.shape[0], weight.shape[0]]
        outs = jt.code([shape] * (2 if keep_pre else 1), [x.dtype] * (2 if keep_pre else 1), inputs,
                       cpu_header=_header(self.has_bias, self.gelu, keep_pre), cpu_src=_cpu.source("linear_fwd.cc"))
        self.pre = outs[1] if keep_pre else None
        return outs[0]

    def grad(self, g):
        if g is None:
            return (None,) * (3 if self.has_bias else 2)
        if self.gelu and self.pre is None:
            raise RuntimeError("linear: the GELU's input was not kept (forward under jt.no_grad())")
        shapes = [list(self.x.shape), list(self.w.shape)] + ([[self.w.shape[0]]] if self.has_bias else [])
        inputs = [self.x, self.w, g] + ([self.pre] if self.gelu else [])
        outs = jt.code(shapes, [g.dtype] * len(shapes), inputs, cpu_header=_header(self.has_bias, self.gelu),
                       cpu_src=_cpu.source("linear_bwd.cc"))
        return tuple(outs)


def linear(x, weight, bias=None, gelu: bool = False, impl: str | None = None):
    """``x @ weight^T + bias`` for ``x [..., in]``, ``weight [out, in]``, ``bias [out]`` (or None),
    then GELU (exact form) when ``gelu``. ``impl`` forces ``"kernel"`` or ``"reference"``."""
    if len(weight.shape) != 2 or x.shape[-1] != weight.shape[1]:
        raise ValueError(f"linear: x [..., in] and weight [out, in] do not match: x {list(x.shape)}, weight "
                         f"{list(weight.shape)}")
    if bias is not None and tuple(bias.shape) != (weight.shape[0],):
        raise ValueError(f"linear: bias must be [{weight.shape[0]}], got {list(bias.shape)}")
    name = impl or _cpu.backend_name()
    if gemm_kernel_runs(impl, x, weight, bias):
        lead = list(x.shape[:-1])
        rows = x.reshape(-1, x.shape[-1])
        op = _LinearKernel(gelu)
        y = op(rows, weight, bias) if bias is not None else op(rows, weight)
        return y.reshape(lead + [weight.shape[0]])
    y = nn.matmul_transpose(x, weight)
    if bias is not None:
        y = y + bias
    return _gelu(y, impl="reference" if name == "reference" else None) if gelu else y


def linear_gelu(layer, x):
    """``GELU(layer(x))`` for a linear layer, fused when it is a :class:`Linear`."""
    if isinstance(layer, Linear):
        return linear(x, layer.weight, layer.bias, gelu=True)
    return _gelu(layer(x))


class Linear(nn.Linear):
    """``jittor.nn.Linear`` through :func:`linear` (see the module docstring)."""

    def execute(self, x):
        return linear(x, self.weight, self.bias)
