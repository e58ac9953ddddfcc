"""Optimizer updates over many tensors at once (AdamW, SGD), PyTorch's update rules.

``adamw_update`` / ``sgd_update`` update the given parameters and optimizer buffers in place
(``Var.update``), as the optimizers of ``jvision.engine.optim`` call them once per step.

Backends (``jvision.ops.set_backend``): ``kernel`` runs ``kernels/adamw_update.cc`` /
``kernels/sgd_update.cc``: one op per chunk of up to :data:`CHUNK` float32 tensors (CPU), whose
elements are cut into blocks shared out over the OpenMP threads, each element read and written
once. ``builtin`` and ``reference`` are the per-tensor Jittor expressions (Jittor fuses each
into one single-threaded loop). Tensors are passed flattened and the last chunk is padded with
one-element dummies, so every model uses the same compiled op (one compile per machine, cached).
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

import jittor as jt

from . import _cpu

__all__ = ["adamw_update", "sgd_update", "CHUNK"]

#: Tensors per fused op (the compiled op always has this many; short chunks are padded).
CHUNK = 32
#: Elements per fused op, at most (but one tensor at least): the op's new values exist beside the
#: old ones until it has run, so this bounds the extra memory of a step to a few times 16 MB.
CHUNK_ELEMENTS = 1 << 22


def _tables(groups: dict[str, Sequence], outputs: dict[str, int]) -> str:
    """C++ pointer tables ``jv_<name>[k]`` over this op's inputs (in order of ``groups``) and outputs
    (``outputs`` maps a table name to its first output index), and the element counts ``jv_n``."""
    lines, i = [], 0
    k = len(next(iter(groups.values())))
    for name, items in groups.items():
        ptrs = ", ".join(f"in{i + j}_p" for j in range(len(items)))
        lines.append(f"const float* const jv_{name}[{k}] = {{{ptrs}}};")
        i += len(items)
    lines.append(f"const float* const jv_h = in{i}_p;")
    for name, first in outputs.items():
        ptrs = ", ".join(f"out{first + j}_p" for j in range(k))
        lines.append(f"float* const jv_{name}[{k}] = {{{ptrs}}};")
    lines.append(f"const long jv_n[{k}] = {{{', '.join(f'(long)in{j}_shape0' for j in range(k))}}};")
    return "\n".join(lines) + "\n"


def _chunks(sizes: list[int]):
    """``(start, stop)`` ranges of at most :data:`CHUNK` tensors and :data:`CHUNK_ELEMENTS` elements."""
    start, elems = 0, 0
    for i, n in enumerate(sizes):
        if i > start and (i - start == CHUNK or elems + n > CHUNK_ELEMENTS):
            yield start, i
            start, elems = i, 0
        elems += n
    if start < len(sizes):
        yield start, len(sizes)


def _fused(name: str, groups: dict[str, list], outputs: list[str], hyper, data: dict, **defines):
    """Runs ``kernels/<name>`` over ``groups`` (lists of equally many Vars) in chunks; returns, for
    each name in ``outputs``, the list of new flat Vars."""
    first = next(iter(groups.values()))
    result = {o: [] for o in outputs}
    for c0, c1 in _chunks([int(np.prod(v.shape)) for v in first]):
        k, real = CHUNK, c1 - c0
        pad = [jt.zeros(1, "float32")] * (k - real)
        chunk = {g: [v.reshape(-1) for v in vs[c0:c1]] + pad for g, vs in groups.items()}
        flat = [v for vs in chunk.values() for v in vs]
        h = jt.array(np.concatenate([hyper[c0:c1], np.zeros((k - real, 2), np.float32)]).reshape(-1))
        table = _tables(chunk, {o: i * k for i, o in enumerate(outputs)})
        shapes = [list(v.shape) for v in chunk[next(iter(chunk))]] * len(outputs)
        outs = jt.code(shapes, ["float32"] * len(shapes), flat + [h],
                       cpu_header=_cpu.header("multi_tensor.h", K=k, **defines), cpu_src=table + _cpu.source(name), data=data)
        for i, o in enumerate(outputs):
            result[o] += outs[i * k:i * k + real]
    return result


def _use_kernel(impl, tensors) -> bool:
    name = impl or _cpu.backend_name()
    return bool(tensors) and name == "kernel" and (impl == "kernel" or _cpu.kernel_applies(*tensors))


def adamw_update(params, grads, exp_avgs, exp_avg_sqs, lrs, weight_decays, betas=(0.9, 0.999),
                 eps: float = 1e-8, step: int = 1, impl: str | None = None) -> None:
    """One AdamW step (decoupled weight decay) of every ``params[i]`` with ``grads[i]``, learning rate
    ``lrs[i]`` and weight decay ``weight_decays[i]``; ``step`` counts from 1 (bias corrections)."""
    b1, b2 = (float(b) for b in betas)
    bc1, bc2 = 1 - b1 ** step, 1 - b2 ** step
    if _use_kernel(impl, list(params) + list(grads)):
        hyper = np.array([(1 - lr * wd, lr / bc1) for lr, wd in zip(lrs, weight_decays)], np.float32)
        new = _fused("adamw_update.cc", {"p": params, "g": grads, "m": exp_avgs, "v": exp_avg_sqs},
                     ["np", "nm", "nv"], hyper, {"b1": b1, "b2": b2, "eps": float(eps), "sbc2": math.sqrt(bc2)})
        for p, m, v, np_, nm, nv in zip(params, exp_avgs, exp_avg_sqs, new["np"], new["nm"], new["nv"]):
            m.update(nm.reshape(m.shape))
            v.update(nv.reshape(v.shape))
            p.update(np_.reshape(p.shape))
        return
    for p, g, m, v, lr, wd in zip(params, grads, exp_avgs, exp_avg_sqs, lrs, weight_decays):
        if wd:
            p.update(p * (1 - lr * wd))
        m.update(b1 * m + (1 - b1) * g)
        v.update(b2 * v + (1 - b2) * g * g)
        denom = jt.sqrt(v) / (bc2 ** 0.5) + eps
        p.update(p - (lr / bc1) * m / denom)


def sgd_update(params, grads, momentum_buffers, lrs, weight_decays, momentum: float = 0.0,
               nesterov: bool = False, first: bool = False, impl: str | None = None) -> None:
    """One SGD step (PyTorch's: coupled weight decay, momentum without dampening, optional Nesterov);
    ``first``: the momentum buffers start as the first update direction."""
    if _use_kernel(impl, list(params) + list(grads)):
        hyper = np.array([(lr, wd) for lr, wd in zip(lrs, weight_decays)], np.float32)
        groups = {"p": params, "g": grads}
        outputs = ["np"]
        if momentum:
            groups["b"] = momentum_buffers
            outputs.append("nb")
        new = _fused("sgd_update.cc", groups, outputs, hyper,
                     {"momentum": float(momentum), "nesterov": int(bool(nesterov)), "first": int(bool(first))},
                     MOMENTUM=bool(momentum))
        if momentum:
            for buf, nb in zip(momentum_buffers, new["nb"]):
                buf.update(nb.reshape(buf.shape))
        for p, np_ in zip(params, new["np"]):
            p.update(np_.reshape(p.shape))
        return
    for p, g, buf, lr, wd in zip(params, grads, momentum_buffers, lrs, weight_decays):
        d = g + p * wd if wd else g
        if momentum:
            buf.update(d if first else momentum * buf + d)
            d = d + momentum * buf if nesterov else buf
        p.update(p - lr * d)
