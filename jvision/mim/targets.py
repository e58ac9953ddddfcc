"""Reconstruction targets of masked image / video modelling, chosen in the config.

A target turns the input batch into one vector per token, ``(B, N, dim)``, and scores a prediction
on the removed tokens only. It works on images ``(B, C, H, W)`` (tokens = ``p x p`` patches) and on
clips ``(B, C, T, H, W)`` (tokens = ``t x p x p`` tubelets, ordered (time, row, column)), so MAE,
CMAE and VideoMAE share it::

    target = "norm_pix"                                        # MAE's released recipe
    target = dict(type="norm_pix", style="videomae", input_mean=(0.485, 0.456, 0.406),
                  input_std=(0.229, 0.224, 0.225))             # VideoMAE's engine target
    target = dict(type="hog", nbins=9, cell_size=8, gaussian_window=0)      # MaskFeat
    target = dict(type="teacher", model=dict(type="clip_vit_b16"), checkpoint="ViT-B-16.pt",
                  input_mean=IMAGENET_MEAN, input_std=IMAGENET_STD)        # CLIP features

``build_target(cfg, patch_size=16, in_chans=3, tubelet_size=1, img_size=224)``: the model passes its
geometry; ``target.dim`` sizes its prediction head.

Targets (registered in ``TARGETS``):

* ``pixel``: the raw patch pixels, (row, column, channel) inside a patch -- MAE's ``patchify``.
* ``norm_pix``: every patch normalised. ``style="mae"``: over all its values,
  ``(x - mean) / sqrt(var + 1e-6)`` (unbiased var); ``style="videomae"``: per colour channel over
  the tubelet's positions, ``(x - mean) / (sqrt(var) + 1e-6)``.
* ``hog``: MaskFeat's HOG (``jvision.mim.hog``), 9 bins per 8x8 cell, per-patch vectors of
  (channel, bin, cell row, cell column); on video the frames of a tubelet are concatenated.
* ``teacher``: the features of any ``MODELS`` model, loaded from a checkpoint through the converter
  and frozen (a converted VAN / Conv2Former, the CLIP image tower, ...): its patch tokens or its
  last feature map, resized (bilinear) to the student's token grid when the grids differ; on video
  the teacher sees every frame and a tubelet's target is the mean over its frames.

Losses (masked tokens only; ``mask`` 1 = removed): ``mse`` (pixel, norm_pix, hog: MAE / MaskFeat),
and for teacher features ``cosine`` (default: ``1 - cos(pred, target)``, as MILAN and EVA distil
CLIP features; it ignores the scale of the teacher's features, which differs between teachers) or
``smooth_l1`` on LayerNorm-normalised features (data2vec style). Teacher features are normalised
with a parameter-free LayerNorm by default (``normalize``), so the two losses see the same targets.

``input_mean`` / ``input_std`` undo the data pipeline's normalisation before a target is computed
(the official VideoMAE target works on [0, 1] pixels; MAE's on the normalised image, the default).
"""
from __future__ import annotations

import importlib
from typing import Callable, Sequence

import numpy as np
import jittor as jt
from jittor import nn

from ..registry import Registry
from .hog import HOGLayer, hog_per_patch

__all__ = ["TARGETS", "MIMTarget", "PixelTarget", "NormPixelTarget", "HOGTarget", "TeacherTarget",
           "build_target", "patchify", "unpatchify", "masked_mean"]

TARGETS = Registry("mim targets")


# ------------------------------------------------------------------------------------------------
# Patches and tubelets
# ------------------------------------------------------------------------------------------------
def _split(size: int, part: int, what: str) -> int:
    if size % part:
        raise ValueError(f"{what} {size} is not divisible by {part}")
    return size // part


def patchify(x, patch_size: int, tubelet_size: int = 1):
    """(B, C, H, W) -> (B, N, p*p*C) or (B, C, T, H, W) -> (B, N, t*p*p*C); tokens row-major
    (time, row, column), values (time, row, column, channel) inside a token, as MAE and VideoMAE."""
    p = int(patch_size)
    if x.ndim == 4:
        b, c, h, w = x.shape
        gh, gw = _split(h, p, "image height"), _split(w, p, "image width")
        x = x.reshape(b, c, gh, p, gw, p).permute(0, 2, 4, 3, 5, 1)
        return x.reshape(b, gh * gw, p * p * c)
    if x.ndim == 5:
        b, c, t_all, h, w = x.shape
        t = int(tubelet_size)
        gt = _split(t_all, t, "clip length")
        gh, gw = _split(h, p, "frame height"), _split(w, p, "frame width")
        x = x.reshape(b, c, gt, t, gh, p, gw, p).permute(0, 2, 4, 6, 3, 5, 7, 1)
        return x.reshape(b, gt * gh * gw, t * p * p * c)
    raise ValueError(f"patchify expects (B, C, H, W) or (B, C, T, H, W), got shape {tuple(x.shape)}")


def unpatchify(x, patch_size: int, grid: Sequence[int], in_chans: int = 3, tubelet_size: int = 1):
    """Inverse of ``patchify``: ``grid`` is (gh, gw) for images, (gt, gh, gw) for clips."""
    p, c = int(patch_size), int(in_chans)
    b, n, d = x.shape
    if int(np.prod(grid)) != n:
        raise ValueError(f"unpatchify: {n} tokens do not fill the grid {tuple(grid)}")
    if len(grid) == 2:
        gh, gw = grid
        if d != p * p * c:
            raise ValueError(f"unpatchify: token size {d} != {p}*{p}*{c}")
        x = x.reshape(b, gh, gw, p, p, c).permute(0, 5, 1, 3, 2, 4)
        return x.reshape(b, c, gh * p, gw * p)
    gt, gh, gw = grid
    t = int(tubelet_size)
    if d != t * p * p * c:
        raise ValueError(f"unpatchify: token size {d} != {t}*{p}*{p}*{c}")
    x = x.reshape(b, gt, gh, gw, t, p, p, c).permute(0, 7, 1, 4, 2, 5, 3, 6)
    return x.reshape(b, c, gt * t, gh * p, gw * p)


def masked_mean(per_token, mask):
    """Mean of (B, N) per-token losses over the removed tokens (mask 1 = removed)."""
    if not isinstance(mask, jt.Var):
        mask = jt.array(np.asarray(mask, dtype=np.float32))
    mask = mask.float32()
    if tuple(mask.shape) != tuple(per_token.shape):
        raise ValueError(f"mask shape {tuple(mask.shape)} does not match the tokens {tuple(per_token.shape)}")
    return (per_token * mask).sum() / jt.maximum(mask.sum(), 1.0)


def _channel_stats(values, in_chans: int, name: str):
    if values is None:
        return None
    arr = np.asarray(values, dtype=np.float32).reshape(-1)
    if arr.size == 1:
        arr = np.repeat(arr, in_chans)
    if arr.size != in_chans:
        raise ValueError(f"{name} has {arr.size} values, the input has {in_chans} channels")
    return arr


def _per_channel(arr: np.ndarray, ndim: int):
    shape = [1, arr.size] + [1] * (ndim - 2)
    return jt.array(arr.reshape(shape))


def _layer_norm(x, eps: float = 1e-6):
    mean = x.mean(dim=-1, keepdims=True)
    centred = x - mean
    return centred / jt.sqrt((centred * centred).mean(dim=-1, keepdims=True) + eps)


# ------------------------------------------------------------------------------------------------
# Targets
# ------------------------------------------------------------------------------------------------
class MIMTarget:
    """Base: geometry, input de-normalisation, ``__call__`` (no gradient) and the masked loss.

    Not an ``nn.Module`` on purpose: a target holds no trained state, and a teacher's weights must
    stay out of the student's state dict, optimizer and train/eval switching.
    """

    name = "base"
    losses = ("mse",)

    def __init__(self, patch_size: int = 16, in_chans: int = 3, tubelet_size: int = 1,
                 img_size: int | Sequence[int] | None = None, loss: str | None = None,
                 input_mean: Sequence[float] | None = None, input_std: Sequence[float] | None = None):
        self.patch_size, self.in_chans, self.tubelet_size = int(patch_size), int(in_chans), int(tubelet_size)
        self.img_size = img_size
        self.loss_type = loss or self.losses[0]
        if self.loss_type not in self.losses:
            raise ValueError(f"target {self.name!r}: loss {self.loss_type!r} unknown; choose from {self.losses}")
        self.input_mean = _channel_stats(input_mean, self.in_chans, "input_mean")
        self.input_std = _channel_stats(input_std, self.in_chans, "input_std")
        if (self.input_mean is None) != (self.input_std is None):
            raise ValueError("give both input_mean and input_std (the data pipeline's normalisation), or neither")

    @property
    def dim(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must define dim (values per token)")

    def denormalize(self, x):
        if self.input_mean is None:
            return x
        return x * _per_channel(self.input_std, x.ndim) + _per_channel(self.input_mean, x.ndim)

    def compute(self, x):
        raise NotImplementedError(f"{type(self).__name__} must define compute(x)")

    def __call__(self, x):
        """(B, C, H, W) or (B, C, T, H, W) -> (B, N, dim), without gradient."""
        if x.ndim not in (4, 5) or x.shape[1] != self.in_chans:
            raise ValueError(f"target {self.name!r} expects (B, {self.in_chans}, H, W) images or "
                             f"(B, {self.in_chans}, T, H, W) clips, got shape {tuple(x.shape)}")
        with jt.no_grad():
            return self.compute(self.denormalize(x.stop_grad())).stop_grad()

    def loss(self, pred, target, mask):
        """Mean over removed tokens of the per-token loss; ``pred`` and ``target`` (B, N, dim)."""
        if tuple(pred.shape) != tuple(target.shape):
            raise ValueError(f"prediction shape {tuple(pred.shape)} != target shape {tuple(target.shape)} "
                             f"(target {self.name!r})")
        return masked_mean(self.per_token_loss(pred, target), mask)

    def per_token_loss(self, pred, target):
        if self.loss_type == "mse":
            return ((pred - target) ** 2).mean(dim=-1)
        raise ValueError(f"loss {self.loss_type!r} is not implemented for target {self.name!r}")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(dim={self.dim}, loss={self.loss_type!r})"


@TARGETS.register("pixel")
class PixelTarget(MIMTarget):
    """The patch (tubelet) pixels as they are (after ``input_mean``/``input_std`` de-normalisation)."""

    name = "pixel"

    @property
    def dim(self) -> int:
        return self.tubelet_size * self.patch_size ** 2 * self.in_chans

    def compute(self, x):
        return patchify(x, self.patch_size, self.tubelet_size)


@TARGETS.register("norm_pix")
class NormPixelTarget(PixelTarget):
    """Per-patch normalised pixels: ``style="mae"`` (default) or ``"videomae"`` (module docstring)."""

    name = "norm_pix"

    def __init__(self, style: str = "mae", eps: float = 1e-6, **kwargs):
        super().__init__(**kwargs)
        if style not in ("mae", "videomae"):
            raise ValueError(f"norm_pix style must be 'mae' or 'videomae', got {style!r}")
        self.style, self.eps = style, float(eps)

    def compute(self, x):
        patches = patchify(x, self.patch_size, self.tubelet_size)
        if self.style == "mae":
            return normalize_patches(patches, self.eps)
        b, n, d = patches.shape
        per_channel = patches.reshape(b, n, d // self.in_chans, self.in_chans)
        mean = per_channel.mean(dim=2, keepdims=True)
        centred = per_channel - mean
        var = (centred * centred).sum(dim=2, keepdims=True) / (per_channel.shape[2] - 1)
        return (centred / (jt.sqrt(var) + self.eps)).reshape(b, n, d)


def normalize_patches(patches, eps: float = 1e-6):
    """MAE's ``norm_pix_loss`` target: ``(x - mean) / sqrt(var + eps)`` over the last axis, unbiased var."""
    mean = patches.mean(dim=-1, keepdims=True)
    var = ((patches - mean) ** 2).sum(dim=-1, keepdims=True) / (patches.shape[-1] - 1)
    return (patches - mean) / (var + eps) ** 0.5


@TARGETS.register("hog")
class HOGTarget(MIMTarget):
    """MaskFeat's per-patch HOG (``nbins`` orientations per ``cell_size`` cell, per channel)."""

    name = "hog"

    def __init__(self, nbins: int = 9, cell_size: int = 8, gaussian_window: int = 0, **kwargs):
        super().__init__(**kwargs)
        if self.patch_size % cell_size:
            raise ValueError(f"hog target: patch_size {self.patch_size} is not a multiple of cell_size {cell_size}")
        self.hog = HOGLayer(nbins, cell_size, gaussian_window, in_chans=self.in_chans)
        self.hog.eval()

    @property
    def dim(self) -> int:
        k = self.patch_size // self.hog.pool
        return self.tubelet_size * self.in_chans * self.hog.nbins * k * k

    def compute(self, x):
        if x.ndim == 4:
            return hog_per_patch(self.hog(x), self.patch_size, self.hog.pool)
        b, c, t_all, h, w = x.shape
        frames = x.permute(0, 2, 1, 3, 4).reshape(b * t_all, c, h, w)
        per_frame = hog_per_patch(self.hog(frames), self.patch_size, self.hog.pool)   # (B*T, Ns, D)
        return _tubelets(per_frame, b, t_all, self.tubelet_size, concat=True)


def _tubelets(per_frame, b: int, t_all: int, t: int, concat: bool):
    """(B*T, Ns, D) per-frame tokens -> (B, T/t * Ns, t*D) (concat) or (.., D) (mean over t)."""
    _, ns, d = per_frame.shape
    gt = _split(t_all, t, "clip length")
    x = per_frame.reshape(b, gt, t, ns, d)
    if concat:
        return x.permute(0, 1, 3, 2, 4).reshape(b, gt * ns, t * d)
    return x.mean(dim=2).reshape(b, gt * ns, d)


def _resolve(fn: str | Callable | None) -> Callable | None:
    if fn is None or callable(fn):
        return fn
    module, _, name = str(fn).replace(":", ".").rpartition(".")
    if not module:
        raise ValueError(f"remap {fn!r}: expected a dotted path such as jvision.models.clip.clip_visual_state")
    return getattr(importlib.import_module(module), name)


@TARGETS.register("teacher")
class TeacherTarget(MIMTarget):
    """Features of a frozen ``MODELS`` model (see the module docstring).

    Args:
        model: the teacher's config, e.g. ``dict(type="clip_vit_b16")`` or
            ``dict(type="van_b2", num_classes=0)``.
        checkpoint: weights (ours or official, read without PyTorch by ``jvision.convert``); None
            keeps the random initialisation (tests only).
        key, strict: passed to ``jvision.convert.load_checkpoint``.
        remap: official-to-ours key function (dotted path or callable); default the model's
            ``official_remap`` when it has one (CLIP: OpenAI, open_clip and Hugging Face layouts).
        input_mean, input_std: the student pipeline's normalisation (undone first).
        teacher_mean, teacher_std: the teacher's own input normalisation (applied after).
        teacher_size: resize frames to this (H, W) for the teacher; default the teacher's fixed input
            size when it has one (``input_resolution`` / ``patch_embed.img_size``), else unchanged.
        loss: ``cosine`` (default), ``smooth_l1`` or ``mse``. normalize: ``layernorm`` (default),
            ``l2`` or None, applied to the teacher features. smooth_l1_beta: the Smooth-L1 threshold.
    """

    name = "teacher"
    losses = ("cosine", "smooth_l1", "mse")

    def __init__(self, model: dict, checkpoint: str | None = None, key: str | None = None, strict: bool = True,
                 remap: str | Callable | None = None, teacher_mean: Sequence[float] | None = None,
                 teacher_std: Sequence[float] | None = None, teacher_size: int | Sequence[int] | None = None,
                 normalize: str | None = "layernorm", smooth_l1_beta: float = 2.0, **kwargs):
        super().__init__(**kwargs)
        from ..models.layers import freeze_module
        from ..registry import MODELS

        if normalize not in (None, "layernorm", "l2"):
            raise ValueError(f"teacher normalize must be 'layernorm', 'l2' or None, got {normalize!r}")
        self.normalize, self.smooth_l1_beta = normalize, float(smooth_l1_beta)
        self.model_cfg = dict(model)
        self.model = MODELS.build(self.model_cfg)
        self.checkpoint = checkpoint
        if checkpoint is not None:
            from ..convert import load_checkpoint
            remap_fn = _resolve(remap) or getattr(self.model, "official_remap", None)
            load_checkpoint(self.model, checkpoint, strict=strict, key=key, remap=remap_fn, log=None)
        freeze_module(self.model)
        self.teacher_mean = _channel_stats(teacher_mean, self.in_chans, "teacher_mean")
        self.teacher_std = _channel_stats(teacher_std, self.in_chans, "teacher_std")
        if (self.teacher_mean is None) != (self.teacher_std is None):
            raise ValueError("give both teacher_mean and teacher_std, or neither")
        if teacher_size is None:
            teacher_size = getattr(self.model, "input_resolution", None)
            if teacher_size is None and hasattr(self.model, "patch_embed"):
                teacher_size = getattr(self.model.patch_embed, "img_size", None)
        self.teacher_size = None if teacher_size is None else tuple(np.broadcast_to(teacher_size, (2,)).tolist())
        self._dim = None

    def _student_grid(self, h: int, w: int) -> tuple[int, int]:
        return _split(h, self.patch_size, "image height"), _split(w, self.patch_size, "image width")

    def _teacher_input(self, x):
        if self.teacher_mean is not None:
            x = (x - _per_channel(self.teacher_mean, 4)) / _per_channel(self.teacher_std, 4)
        if self.teacher_size is not None and tuple(x.shape[2:]) != self.teacher_size:
            x = nn.interpolate(x, size=self.teacher_size, mode="bilinear", align_corners=False)
        return x

    def teacher_map(self, x):
        """(B, C, H, W) -> the teacher's features as a (B, D, h, w) map."""
        x = self._teacher_input(x)
        if hasattr(self.model, "forward_tokens"):
            tokens = self.model.forward_tokens(x)                  # (B, h*w, D), patch tokens
            gh, gw = self.model.token_grid
            return tokens.permute(0, 2, 1).reshape(tokens.shape[0], tokens.shape[2], gh, gw)
        out = self.model(x)
        if isinstance(out, (list, tuple)):
            out = out[-1]
        if out.ndim == 3:                                          # (B, N, D) tokens on a square grid
            g = int(round(out.shape[1] ** 0.5))
            if g * g != out.shape[1]:
                raise ValueError(f"teacher {self.model_cfg.get('type')!r} returned {out.shape[1]} tokens, "
                                 "not a square grid; give the model a forward_tokens/token_grid")
            return out.permute(0, 2, 1).reshape(out.shape[0], out.shape[2], g, g)
        if out.ndim != 4:
            raise ValueError(f"teacher {self.model_cfg.get('type')!r} returned shape {tuple(out.shape)}; "
                             "expected feature maps (B, D, h, w) or tokens (B, N, D) -- build it without a "
                             "classification head (num_classes=0)")
        return out

    def _frame_tokens(self, frames):
        b, _, h, w = frames.shape
        fmap = self.teacher_map(frames)
        gh, gw = self._student_grid(h, w)
        if tuple(fmap.shape[2:]) != (gh, gw):
            fmap = nn.interpolate(fmap, size=(gh, gw), mode="bilinear", align_corners=False)
        tokens = fmap.reshape(b, fmap.shape[1], gh * gw).permute(0, 2, 1)
        if self.normalize == "layernorm":
            tokens = _layer_norm(tokens)
        elif self.normalize == "l2":
            tokens = tokens / jt.maximum(jt.sqrt((tokens * tokens).sum(dim=-1, keepdims=True)), 1e-12)
        return tokens

    def compute(self, x):
        if x.ndim == 4:
            return self._frame_tokens(x)
        b, c, t_all, h, w = x.shape
        frames = x.permute(0, 2, 1, 3, 4).reshape(b * t_all, c, h, w)
        return _tubelets(self._frame_tokens(frames), b, t_all, self.tubelet_size, concat=False)

    @property
    def dim(self) -> int:
        if self._dim is None:
            dim = getattr(self.model, "token_dim", None)
            if dim is None and getattr(self.model, "feature_info", None):
                dim = self.model.feature_info[-1]["num_chs"]
            if dim is None:                                        # ask the model once
                size = self.teacher_size or tuple(np.broadcast_to(self.img_size or 224, (2,)).tolist())
                with jt.no_grad():
                    dim = int(self.teacher_map(jt.zeros((1, self.in_chans) + tuple(size))).shape[1])
            self._dim = int(dim)
        return self._dim

    def per_token_loss(self, pred, target):
        if self.loss_type == "cosine":
            dot = (pred * target).sum(dim=-1)
            norms = jt.sqrt((pred * pred).sum(dim=-1)) * jt.sqrt((target * target).sum(dim=-1))
            return 1.0 - dot / jt.maximum(norms, 1e-8)
        if self.loss_type == "smooth_l1":
            diff = (pred - target).abs()
            beta = self.smooth_l1_beta
            return jt.ternary(diff < beta, 0.5 * diff * diff / beta, diff - 0.5 * beta).mean(dim=-1)
        return super().per_token_loss(pred, target)

    def __repr__(self) -> str:
        return (f"TeacherTarget({self.model_cfg.get('type')!r}, checkpoint={self.checkpoint!r}, "
                f"loss={self.loss_type!r}, normalize={self.normalize!r})")


def build_target(cfg: dict | str | MIMTarget | None, **geometry) -> MIMTarget:
    """``"pixel"`` / ``dict(type="hog", ...)`` -> a target; ``geometry`` = patch_size, in_chans,
    tubelet_size, img_size of the model that predicts it (config values take precedence)."""
    if isinstance(cfg, MIMTarget):
        return cfg
    cfg = {"type": cfg} if isinstance(cfg, str) else dict(cfg or {"type": "pixel"})
    if cfg.get("type") not in TARGETS:
        raise KeyError(f"MIM target type {cfg.get('type')!r} unknown; available: {TARGETS.names()}")
    return TARGETS.build(cfg, **geometry)
