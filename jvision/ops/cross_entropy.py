"""Softmax cross-entropy of dense predictions, with ignore index and class weights, optionally of
logits bilinearly resized to the label size on the fly.

:func:`softmax_cross_entropy` returns the per-pixel loss map ``cw[l] * (logsumexp(z) - z_l)``
(0 where the label is ``ignore_index``); the caller reduces it (mmseg's mean over all pixels,
or over the non-ignored ones). With logits smaller than the labels (a decode head's output at
1/4 or 1/8 of the image), ``z`` is the bilinear resize of the logits to the label size, as
``F.interpolate`` then ``F.cross_entropy`` compute it.

Backends (``jvision.ops.set_backend``):

``kernel``
    ``kernels/softmax_ce_fwd.cc`` / ``_bwd.cc``: forward and backward each in one pass over the
    logits, the resize fused in: neither the full-resolution logits nor their probabilities or
    gradient are ever stored (for SegNeXt's 150 classes at 512x512 that is 157 MB per image and
    per tensor). The forward keeps only the per-pixel log-sum-exp for the backward.
``builtin`` / ``reference``
    :func:`jvision.ops.resize_bilinear` then a log-softmax of Jittor operators.

A label outside ``[0, K)`` other than ``ignore_index`` gives a NaN loss (the trainer stops on it
and names the iteration) instead of reading out of bounds.
"""
from __future__ import annotations

import jittor as jt

from . import _cpu
from .resize import resize_bilinear

__all__ = ["softmax_cross_entropy", "resized_argmax"]


def _check(logits, label, class_weight):
    if len(logits.shape) != 4 or len(label.shape) != 3 or logits.shape[0] != label.shape[0]:
        raise ValueError(f"softmax_cross_entropy: logits must be [N, K, h, w] and labels [N, H, W] with the same N; "
                         f"got logits {list(logits.shape)} and labels {list(label.shape)}")
    k = logits.shape[1]
    if class_weight is not None and list(class_weight.shape) != [k]:
        raise ValueError(f"softmax_cross_entropy: class_weight has shape {list(class_weight.shape)}, "
                         f"expected [{k}] for logits {list(logits.shape)}")


def _ce_code(name, inputs, shapes, dtypes, align_corners, ignore_index, loss=True):
    return jt.code(shapes, dtypes, inputs, cpu_header=_cpu.header(LOSS=loss),
                   cpu_src=_cpu.source(name),
                   data={"align": int(bool(align_corners)), "ignore": int(ignore_index)})


class _CrossEntropyKernel(jt.Function):
    def __init__(self, align_corners, ignore_index):
        self.align_corners, self.ignore_index = bool(align_corners), int(ignore_index)

    def execute(self, logits, label, class_weight):
        shape = [logits.shape[0]] + list(label.shape[1:])
        loss, lse, _ = _ce_code("softmax_ce_fwd.cc", [logits, label, class_weight], [shape] * 3,
                                ["float32", "float32", "int32"], self.align_corners, self.ignore_index)
        self.saved = (logits, label, class_weight, lse)
        return loss

    def grad(self, dloss):
        if dloss is None:
            return None, None, None
        logits, label, class_weight, lse = self.saved
        dx = _ce_code("softmax_ce_bwd.cc", [logits, label, class_weight, lse, dloss], [list(logits.shape)],
                      ["float32"], self.align_corners, self.ignore_index)[0]
        return dx, None, None


def _reference(logits, label, class_weight, ignore_index, align_corners, resize_impl):
    k = logits.shape[1]
    z = resize_bilinear(logits, label.shape[1:], align_corners, impl=resize_impl)
    valid = label != ignore_index
    safe = jt.where(valid, label, jt.zeros_like(label))
    m = z.max(dim=1, keepdims=True).stop_grad()
    lse = jt.log(jt.exp(z - m).sum(dim=1)) + m.squeeze(1)
    picked = jt.gather(z, 1, safe.unsqueeze(1)).squeeze(1)
    loss = (lse - picked) * valid.float32()
    if class_weight is not None:
        loss = loss * class_weight[safe]
    bad = (label < 0) | (label >= k)
    return jt.where(valid & bad, jt.full_like(loss, float("nan")), loss)


def softmax_cross_entropy(logits, label, class_weight=None, ignore_index: int = 255,
                          align_corners: bool = False, impl: str | None = None):
    """Per-pixel softmax cross-entropy ``[N, H, W]`` of ``logits [N, K, h, w]`` (bilinearly resized
    to ``(H, W)`` when they differ) against integer ``label [N, H, W]``; ``class_weight [K]``
    multiplies each pixel's loss by the weight of its class; ``ignore_index`` pixels give 0.
    ``impl`` forces ``"kernel"``, ``"builtin"`` or ``"reference"`` (tests)."""
    _check(logits, label, class_weight)
    label = label if str(label.dtype) == "int32" else label.int32()
    name = impl or _cpu.backend_name()
    if name == "kernel" and (impl == "kernel" or _cpu.kernel_applies(logits, class_weight)):
        cw = class_weight if class_weight is not None else jt.ones(logits.shape[1], "float32")
        return _CrossEntropyKernel(align_corners, ignore_index)(logits, label, cw.stop_grad())
    return _reference(logits, label, class_weight, ignore_index, align_corners, _resize_impl(impl))


def resized_argmax(logits, size, align_corners: bool = False, impl: str | None = None):
    """``argmax`` over classes of ``logits [N, K, h, w]`` bilinearly resized to ``size``, int32
    ``[N, H, W]``, without storing the resized logits on the ``kernel`` backend. No gradient."""
    if len(logits.shape) != 4:
        raise ValueError(f"resized_argmax: logits must be [N, K, h, w], got {list(logits.shape)}")
    h, w = (int(s) for s in size)
    logits = logits.detach()
    name = impl or _cpu.backend_name()
    if name == "kernel" and (impl == "kernel" or _cpu.kernel_applies(logits)):
        n, k = logits.shape[:2]
        label = jt.zeros((n, h, w), "int32")
        return _ce_code("softmax_ce_fwd.cc", [logits, label, jt.ones(k, "float32")], [[n, h, w]] * 3,
                        ["float32", "float32", "int32"], align_corners, -1, loss=False)[2]
    z = resize_bilinear(logits, (h, w), align_corners, impl=_resize_impl(impl))
    return jt.argmax(z, dim=1)[0].int32()


def _resize_impl(impl):
    """The resize of the non-kernel paths follows a forced ``impl`` (``kernel`` is not forced on it)."""
    return impl if impl in ("builtin", "reference") else None
