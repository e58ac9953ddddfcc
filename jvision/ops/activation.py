"""GELU, the exact (erf) form of ``torch.nn.GELU()``: ``x * Phi(x)``.

Backends (``jvision.ops.set_backend``): ``kernel`` runs ``kernels/gelu_fwd.cc`` / ``gelu_bwd.cc``
(OpenMP, vectorised erf with absolute error < 3e-7; the backward keeps only ``x``), ``builtin`` is
``jittor.nn.gelu``, ``reference`` the formula with ``jt.erf``.
"""
from __future__ import annotations

import math

import jittor as jt
from jittor import nn

from . import _cpu

__all__ = ["gelu", "GELU"]


class _GeluKernel(jt.Function):
    def execute(self, x):
        self.x = x.reshape(-1)
        y = jt.code(self.x.shape, x.dtype, [self.x], cpu_header=_cpu.header(), cpu_src=_cpu.source("gelu_fwd.cc"))
        return y.reshape(x.shape)

    def grad(self, dy):
        if dy is None:
            return None
        dx = jt.code(self.x.shape, dy.dtype, [self.x, dy.reshape(-1)], cpu_header=_cpu.header(),
                     cpu_src=_cpu.source("gelu_bwd.cc"))
        return dx.reshape(dy.shape)


def _reference(x):
    return x * 0.5 * (1.0 + jt.erf(x * (1.0 / math.sqrt(2.0))))


def gelu(x, impl: str | None = None):
    """GELU of ``x`` (any shape). ``impl`` forces ``"kernel"``, ``"builtin"`` or ``"reference"``."""
    name = impl or _cpu.backend_name()
    if name == "kernel" and (impl == "kernel" or _cpu.kernel_applies(x)):
        return _GeluKernel()(x)
    if name == "reference":
        return _reference(x)
    return nn.gelu(x)


class GELU(nn.GELU):
    """``torch.nn.GELU()`` (exact form) through :func:`gelu`; no parameters. A ``jittor.nn.GELU``, so
    code that recognises GELU layers (the fused ConvMod path) recognises it too."""

    def execute(self, x):
        return gelu(x)
