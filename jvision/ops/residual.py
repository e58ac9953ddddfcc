"""Residual additions of NCHW blocks, ``x + scale[c] * branch`` (the layer-scaled residual of VAN,
MSCAN and Conv2Former blocks), ``x + branch`` and ``x + GELU(branch)`` (Conv2Former's MLP), as one
multi-threaded pass.

Why: Jittor runs the broadcast multiply and the add as one fused element-wise op on one thread, and
the layer scale's gradient as a single-threaded reduction; two of each per block. On the ``kernel``
backend (CPU, float32) ``kernels/residual_fwd.cc`` does the pass with OpenMP over planes and
``kernels/residual_bwd.cc`` the branch and scale gradients in one pass (the gradient of ``x`` is the
incoming gradient itself; with GELU, the branch's is GELU's backward kernel). Other backends, and
``reference``: the composition.
"""
from __future__ import annotations

import jittor as jt

from . import _cpu
from .activation import gelu as _gelu

__all__ = ["scaled_residual"]


class _ResidualKernel(jt.Function):
    def __init__(self, gelu: bool = False):
        self.gelu = bool(gelu)

    def execute(self, x, branch, scale=None):
        n, c = x.shape[0], x.shape[1]
        self.shape, self.scaled = x.shape, scale is not None
        self.branch = branch.reshape(n, c, -1)
        self.scale = scale
        inputs = [x.reshape(n, c, -1), self.branch] + ([scale] if self.scaled else [])
        y = jt.code(self.branch.shape, x.dtype, inputs, cpu_header=_cpu.header(SCALE=self.scaled, GELU=self.gelu),
                    cpu_src=_cpu.source("residual_fwd.cc"))
        return y.reshape(self.shape)

    def grad(self, g):
        if g is None:
            return (None,) * (3 if self.scaled else 2)
        if self.gelu:
            flat = self.branch.reshape(-1)
            db = jt.code(flat.shape, g.dtype, [flat, g.reshape(-1)], cpu_header=_cpu.header(),
                         cpu_src=_cpu.source("gelu_bwd.cc"))
            return g, db.reshape(self.shape)
        if not self.scaled:
            return g, g
        db, dscale = jt.code([self.branch.shape, self.scale.shape], [g.dtype] * 2,
                             [self.branch, self.scale, g.reshape(self.branch.shape)],
                             cpu_header=_cpu.header(SCALE=True), cpu_src=_cpu.source("residual_bwd.cc"))
        return g, db.reshape(self.shape), dscale


def scaled_residual(x, branch, scale=None, gelu: bool = False, impl: str | None = None):
    """``x + scale.reshape(1, C, 1, 1) * branch`` (``scale [C]``), or ``x + branch`` without
    ``scale``, or ``x + GELU(branch)`` with ``gelu`` (exact form; no scale), for NCHW ``x`` and
    ``branch`` of one shape. ``impl`` forces ``"kernel"`` or ``"reference"``."""
    if tuple(x.shape) != tuple(branch.shape) or len(x.shape) < 2:
        raise ValueError(f"scaled_residual: x and branch must be [N, C, ...] of one shape, got {list(x.shape)} "
                         f"and {list(branch.shape)}")
    if scale is not None and tuple(scale.shape) != (x.shape[1],):
        raise ValueError(f"scaled_residual: scale must be [{x.shape[1]}], got {list(scale.shape)}")
    if gelu and scale is not None:
        raise ValueError("scaled_residual: gelu=True takes no scale (x + GELU(branch))")
    name = impl or _cpu.backend_name()
    if name == "kernel" and (impl == "kernel" or _cpu.kernel_applies(x, branch, scale)):
        op = _ResidualKernel(gelu)
        return op(x, branch, scale) if scale is not None else op(x, branch)
    if gelu:
        return x + _gelu(branch, impl="reference" if name == "reference" else None)
    if scale is None:
        return x + branch
    return x + scale.reshape([1, -1] + [1] * (len(x.shape) - 2)) * branch
