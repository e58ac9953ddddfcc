"""Windowed E2FGVI inference over videos of any length, with bounded memory.

The official evaluation (``test.py`` / ``evaluate.py`` of MCG-NKU/E2FGVI) walks the video in steps of
``neighbor_stride`` (5): window ``f`` takes the local frames ``f-5 .. f+5`` and reference frames
every ``ref_step`` (10) frames that are not local (all of the video with ``num_ref=-1``, else
``num_ref`` of them around ``f``); each local frame's composite ``pred * mask + frame * (1 - mask)``
(prediction truncated to uint8) is blended into earlier ones as ``0.5 * old + 0.5 * new``.
:func:`inpaint_stream` does exactly that, but reads frames on demand and emits a frame as soon as
no later window can touch it, so with a bounded ``num_ref`` its memory does not grow with the
video. :func:`window_plan` lists the windows.

Frames are RGB uint8 [H, W, 3]; masks uint8 [H, W] with 1 = hole. The HQ model runs at any size:
frames are mirror-padded to multiples of 60x108 as the official test does (``pad_to``).
"""
from __future__ import annotations

from typing import Callable, Iterator

import numpy as np

import jittor as jt

from ..data.video_masks import dilate_mask
from ..models.layers import eval_mode

__all__ = ["window_plan", "reference_ids", "inpaint_stream", "inpaint_clip", "dilate_mask"]


def reference_ids(f: int, neighbor_ids, length: int, ref_step: int = 10, num_ref: int = -1) -> list[int]:
    """The official ``get_ref_index``: every ``ref_step``-th frame not among the neighbours; with
    ``num_ref >= 0`` only those within ``ref_step * (num_ref // 2)`` of ``f`` (at most num_ref + 1)."""
    ids = []
    if num_ref == -1:
        for i in range(0, length, ref_step):
            if i not in neighbor_ids:
                ids.append(i)
    else:
        start = max(0, f - ref_step * (num_ref // 2))
        # the official code stops at min(length, ...) inclusive, which can name frame `length`
        # (one past the end) and fail; the last frame is length - 1
        end = min(length - 1, f + ref_step * (num_ref // 2))
        for i in range(start, end + 1, ref_step):
            if i not in neighbor_ids:
                if len(ids) > num_ref:
                    break
                ids.append(i)
    return ids


def window_plan(length: int, neighbor_stride: int = 5, ref_step: int = 10, num_ref: int = -1):
    """``[(f, neighbor_ids, ref_ids), ...]`` of the official evaluation loop."""
    plan = []
    for f in range(0, length, neighbor_stride):
        nb = list(range(max(0, f - neighbor_stride), min(length, f + neighbor_stride + 1)))
        plan.append((f, nb, reference_ids(f, nb, length, ref_step, num_ref)))
    return plan


def _pad_mirror(x, h_pad: int, w_pad: int):
    """The official padding: append the flipped clip below / to the right, then crop ([b, t, c, h, w])."""
    h, w = x.shape[3], x.shape[4]
    if h_pad:
        x = jt.concat([x, x[:, :, :, ::-1]], dim=3)[:, :, :, :h + h_pad]
    if w_pad:
        x = jt.concat([x, x[:, :, :, :, ::-1]], dim=4)[:, :, :, :, :w + w_pad]
    return x


def run_window(model, frames: list, masks: list, num_local: int, pad_to=None) -> np.ndarray:
    """One model call: ``frames`` (uint8 [H, W, 3]) and ``masks`` (uint8 [H, W], 1 = hole), local
    frames first. Returns the predictions of the local frames as float [l, H, W, 3] on [0, 255]."""
    imgs = np.stack(frames).astype(np.float32) / 255.0 * 2 - 1             # t, h, w, 3
    m = np.stack(masks).astype(np.float32)[..., None]
    masked = (imgs * (1 - m)).transpose(0, 3, 1, 2)[None]                   # 1, t, 3, h, w
    h, w = masked.shape[3], masked.shape[4]
    x = jt.array(masked)
    if pad_to is not None:
        h_pad = (pad_to[0] - h % pad_to[0]) % pad_to[0]
        w_pad = (pad_to[1] - w % pad_to[1]) % pad_to[1]
        x = _pad_mirror(x, h_pad, w_pad)
    with jt.no_grad():
        pred, _ = model(x, num_local)
        pred = pred[:num_local, :, :h, :w]
        out = ((pred + 1) / 2).numpy().transpose(0, 2, 3, 1) * 255
    jt.sync_all()
    jt.gc()
    return out


def inpaint_stream(model, read_frame: Callable[[int], np.ndarray], read_mask: Callable[[int], np.ndarray],
                   length: int, neighbor_stride: int = 5, ref_step: int = 10, num_ref: int = -1,
                   pad_to=None, progress=None) -> Iterator[tuple[int, np.ndarray]]:
    """Yields ``(index, composite)`` in frame order; composites are float32 [H, W, 3] on [0, 255]
    (uint8 where a frame got one window, blends otherwise, as the official evaluation keeps them).

    Only the frames of the current window and the not yet finished composites are held: memory
    is bounded by the window size (``2 * neighbor_stride + 1`` local frames plus the references).
    """
    with eval_mode(model):   # and back as it was: the generator may be evaluated inside a training run
        yield from _inpaint_windows(model, read_frame, read_mask, length, neighbor_stride, ref_step, num_ref,
                                    pad_to, progress)


def _inpaint_windows(model, read_frame, read_mask, length, neighbor_stride, ref_step, num_ref, pad_to,
                     progress) -> Iterator[tuple[int, np.ndarray]]:
    plan = window_plan(length, neighbor_stride, ref_step, num_ref)
    comp: dict[int, np.ndarray] = {}
    emitted = 0
    for step, (f, nb, refs) in enumerate(plan):
        ids = nb + refs
        frames = [read_frame(i) for i in ids]
        masks = [read_mask(i) for i in ids]
        pred = run_window(model, frames, masks, len(nb), pad_to)
        for j, idx in enumerate(nb):
            m = masks[j][..., None].astype(np.uint8)
            img = pred[j].astype(np.uint8) * m + frames[j] * (1 - m)
            if idx not in comp:
                comp[idx] = img
            else:
                comp[idx] = comp[idx].astype(np.float32) * 0.5 + img.astype(np.float32) * 0.5
        # later windows start at f + neighbor_stride - neighbor_stride = f or beyond: frames < f are final
        done_before = plan[step + 1][1][0] if step + 1 < len(plan) else length
        while emitted < done_before:
            yield emitted, comp.pop(emitted)
            emitted += 1
        if progress is not None:
            progress(step + 1, len(plan))


def inpaint_clip(model, frames, masks, **kwargs) -> list:
    """All composites of an in-memory clip (lists of frames and masks)."""
    out = [None] * len(frames)
    for i, c in inpaint_stream(model, lambda i: frames[i], lambda i: masks[i], len(frames), **kwargs):
        out[i] = c
    return out
