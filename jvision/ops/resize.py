"""Bilinear resize of NCHW maps, PyTorch's ``F.interpolate(x, size, mode="bilinear", align_corners)``.

Backends (``jvision.ops.set_backend``, see :mod:`jvision.ops._cpu`):

``kernel``
    ``kernels/resize_bilinear_fwd.cc`` / ``_bwd.cc``: one OpenMP task per (n, c) plane, forward and
    backward (the backward is the exact transpose, computed plane by plane without atomics).
``builtin``
    ``jittor.nn.interpolate``.
``reference``
    The resize as the linear map it is: ``y = Ry @ x @ Rx^T`` with the interpolation matrices
    ``Ry [H, h]`` and ``Rx [W, w]`` built from the same tap rule (:func:`interpolation_matrix`).

The source coordinate of output index ``o`` is ``o * (in - 1) / (out - 1)`` with
``align_corners=True`` and ``max((o + 0.5) * in / out - 0.5, 0)`` without; its two neighbours are
weighted linearly (the upper one clamped at the border).
"""
from __future__ import annotations

import numpy as np

import jittor as jt
from jittor import nn

from . import _cpu

__all__ = ["resize_bilinear", "interpolation_matrix", "resize_taps"]


def resize_taps(n_in: int, n_out: int, align_corners: bool):
    """``(i0, i1, l0, l1)`` numpy arrays of one axis (float32 arithmetic, as PyTorch on CPU)."""
    o = np.arange(n_out, dtype=np.float32)
    if align_corners:
        scale = np.float32((n_in - 1) / (n_out - 1)) if n_out > 1 else np.float32(0)
        s = o * scale
    else:
        scale = np.float32(n_in) / np.float32(n_out)
        s = np.maximum(scale * (o + np.float32(0.5)) - np.float32(0.5), np.float32(0))
    i0 = np.minimum(np.floor(s).astype(np.int64), n_in - 1)
    i1 = np.where(i0 < n_in - 1, i0 + 1, i0)
    l1 = np.clip(s - i0.astype(np.float32), 0, 1).astype(np.float32)
    return i0, i1, (1 - l1).astype(np.float32), l1


def interpolation_matrix(n_in: int, n_out: int, align_corners: bool) -> np.ndarray:
    """``[n_out, n_in]`` float32 matrix ``R`` with ``resize(v) = R @ v`` along one axis."""
    i0, i1, l0, l1 = resize_taps(n_in, n_out, align_corners)
    m = np.zeros((n_out, n_in), dtype=np.float32)
    rows = np.arange(n_out)
    np.add.at(m, (rows, i0), l0)
    np.add.at(m, (rows, i1), l1)
    return m


def _check(x, size):
    if not hasattr(x, "shape") or len(x.shape) != 4:
        raise ValueError(f"resize_bilinear: 'x' must be [N, C, H, W], got {list(getattr(x, 'shape', [])) or x!r}")
    try:
        h, w = (int(s) for s in size)
    except (TypeError, ValueError):
        raise ValueError(f"resize_bilinear: 'size' must be (height, width), got {size!r}") from None
    if h < 1 or w < 1 or min(x.shape) < 1:
        raise ValueError(f"resize_bilinear: empty input {list(x.shape)} or output size {(h, w)}")
    return h, w


def _reference(x, size, align_corners):
    n, c, h, w = x.shape
    ry = jt.array(interpolation_matrix(h, size[0], align_corners))
    rx = jt.array(interpolation_matrix(w, size[1], align_corners))
    y = nn.matmul(x.reshape(n * c, h, w), rx.transpose(1, 0))        # [NC, h, W]
    y = nn.matmul(ry, y)                                              # [NC, H, W] (broadcast over NC)
    return y.reshape(n, c, size[0], size[1])


def _builtin(x, size, align_corners):
    return nn.interpolate(x, size=list(size), mode="bilinear", align_corners=align_corners)


def _code(src: str, inp, shape, align_corners):
    return jt.code(shape, inp.dtype, [inp], cpu_header=_cpu.header(), cpu_src=_cpu.source(src),
                   data={"align": int(bool(align_corners))})


class _ResizeKernel(jt.Function):
    def __init__(self, size, align_corners):
        self.size, self.align_corners = tuple(size), bool(align_corners)

    def execute(self, x):
        self.in_shape = list(x.shape)
        n, c = x.shape[:2]
        return _code("resize_bilinear_fwd.cc", x, [n, c, *self.size], self.align_corners)

    def grad(self, dy):
        if dy is None:
            return None
        return _code("resize_bilinear_bwd.cc", dy, self.in_shape, self.align_corners)


_IMPLS = {"reference": _reference, "builtin": _builtin}


def resize_bilinear(x, size, align_corners: bool = False, impl: str | None = None):
    """Bilinear resize of ``x [N, C, h, w]`` to ``size = (H, W)``; returns ``x`` itself when the
    size already matches. ``impl`` forces ``"kernel"``, ``"builtin"`` or ``"reference"`` (tests)."""
    size = _check(x, size)
    if tuple(x.shape[2:]) == size:
        return x
    name = impl or _cpu.backend_name()
    if name == "kernel":
        if impl == "kernel" or _cpu.kernel_applies(x):
            return _ResizeKernel(size, align_corners)(x)
        name = "builtin"
    if name not in _IMPLS:
        raise ValueError(f"resize_bilinear: unknown implementation {name!r}")
    return _IMPLS[name](x, size, align_corners)
