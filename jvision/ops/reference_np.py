"""Float64 NumPy references of the kernels' maths, dtype conversions and the comparison rule.

Imports nothing from jvision (nor Jittor), so that it also loads by file path in a process that
cannot import Jittor: the GPU check runs our CUDA kernels from PyTorch's interpreter
(benchmarks/gpu/gpu_check.py). ``jvision.ops.verify`` builds its cases on it.
"""
from __future__ import annotations

import math

import numpy as np

# Largest error allowed, relative to the largest reference value of an output, per storage dtype.
TOL = {"float32": 1e-4, "float16": 4e-3, "bfloat16": 2e-2}


def conv(x, w, b, g):
    """Depthwise convolution, PyTorch semantics; g: ConvGeom."""
    n, c, h, wd = x.shape
    oh, ow = g.out_size(h, wd)
    xp = np.pad(x, ((0, 0), (0, 0), (max(g.ph, 0), max(g.ph, 0)), (max(g.pw, 0), max(g.pw, 0))))
    y = np.zeros((n, c, oh, ow))
    if b is not None:
        y += b[None, :, None, None]
    for i in range(g.kh):
        for j in range(g.kw):
            r0, c0 = i * g.dh, j * g.dw
            y += xp[:, :, r0:r0 + g.sh * (oh - 1) + 1:g.sh, c0:c0 + g.sw * (ow - 1) + 1:g.sw] * \
                w[None, :, 0, i, j, None, None]
    return y


def conv_grads(x, w, dy, g):
    """(dx, dw, db) of ``conv(x, w, b, g)`` for the output gradient ``dy``."""
    n, c, h, wd = x.shape
    oh, ow = dy.shape[2:]
    xp = np.pad(x, ((0, 0), (0, 0), (g.ph, g.ph), (g.pw, g.pw)))
    dxp = np.zeros_like(xp)
    dw = np.zeros_like(w)
    for i in range(g.kh):
        for j in range(g.kw):
            r0, c0 = i * g.dh, j * g.dw
            sl = (slice(None), slice(None), slice(r0, r0 + g.sh * (oh - 1) + 1, g.sh),
                  slice(c0, c0 + g.sw * (ow - 1) + 1, g.sw))
            dxp[sl] += dy * w[None, :, 0, i, j, None, None]
            dw[:, 0, i, j] = (xp[sl] * dy).sum((0, 2, 3))
    return dxp[:, :, g.ph:g.ph + h, g.pw:g.pw + wd], dw, dy.sum((0, 2, 3))


_erf = np.vectorize(math.erf)


def gelu(x):
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


def gelu_grad(x):
    return 0.5 * (1.0 + _erf(x / math.sqrt(2.0))) + x * np.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)


# ------------------------------------------------------------------------------------------------
# dtypes: values are float64 in Python; storage is float32 / float16 / bfloat16 bits

def round_to(a, dtype: str):
    """``a`` rounded to ``dtype`` (round to nearest even), as float64."""
    a = np.asarray(a, np.float64)
    if dtype == "float16":
        return a.astype(np.float16).astype(np.float64)
    if dtype == "bfloat16":
        return bf16_to_f(f_to_bf16(a))
    return a.astype(np.float32).astype(np.float64)


def f_to_bf16(a):
    u = np.ascontiguousarray(a, np.float32).view(np.uint32).astype(np.uint64)
    u = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
    return u.astype(np.uint16)


def bf16_to_f(bits):
    return (np.asarray(bits, np.uint16).astype(np.uint32) << 16).view(np.float32).astype(np.float64)


def to_storage(a, dtype: str):
    if dtype == "float16":
        return np.ascontiguousarray(a, np.float16)
    if dtype == "bfloat16":
        return f_to_bf16(a)
    return np.ascontiguousarray(a, np.dtype(dtype))


def from_storage(a, dtype: str):
    return bf16_to_f(a) if dtype == "bfloat16" else np.asarray(a, np.float64)


def poisoned(shape, dtype: str):
    if dtype == "bfloat16":
        return np.full(shape, 0x7FC0, np.uint16)
    if dtype.startswith("int"):
        return np.full(shape, -7, np.dtype(dtype))
    return np.full(shape, np.nan, np.float16 if dtype == "float16" else np.dtype(dtype))


def relative_error(got, want, tol: float) -> str | None:
    """None when ``got`` matches ``want`` within ``tol`` (relative to the largest reference value),
    else what is wrong: a NaN left in the output (it was poisoned before the run), a wrong shape,
    or the error."""
    got = np.asarray(got, np.float64)
    if got.shape != want.shape:
        return f"has shape {list(got.shape)}, expected {list(want.shape)}"
    bad = int(np.isnan(got).sum())
    if bad:
        return f"has {bad} NaN of {got.size} (unwritten or poisoned)"
    scale = max(1.0, float(np.abs(want).max()))
    err = float(np.abs(got - want).max()) / scale
    if not err <= tol:
        return f"relative error {err:.2e} > {tol:.0e}"
    return None
