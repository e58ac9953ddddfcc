"""SegNeXt segmentors (MSCAN backbone + LightHamHead), registered as ``segnext_t/s/b/l``.

Paper: Guo et al., "SegNeXt: Rethinking Convolutional Attention Design for Semantic Segmentation",
NeurIPS 2022. Official code: Visual-Attention-Network/SegNeXt (``local_configs/segnext/*``).
Keys and parameter counts equal the official ``segnext_{t,s,b,l}_ade20k`` manifests
(``../shared/parity/segnext``).

This file is the one definition of each variant: the configs in ``configs/`` name it
(``model = dict(type="segnext_t", ...)``) and add only what their recipe changes. Any
``EncoderDecoder`` argument may be given; dicts merge into the variant's as config files merge
(``backbone=dict(drop_path_rate=0.0)`` changes that value only; ``_delete_=True`` replaces a dict).
``num_classes`` (150 by default) sets the head's classes; ``decode_head=dict(num_classes=...)``
is accepted too, and the two must agree.

    model = MODELS.build(dict(type="segnext_t", num_classes=19))
    model = MODELS.build(dict(type="segnext_b", num_classes=150, pretrained="pretrained/mscan_b.pth"))

Published ADE20K results (160k, 512x512, single scale mIoU; README): T 41.1, S 44.3, B 48.5, L 51.0.

The last section is the parity adapter of the decode head for ``tools/compare.py``
(``jvision.convert.fixtures``); MSCAN's own, for the backbone part, is in ``jvision.models.mscan``.
"""
from __future__ import annotations

import functools

import re

import numpy as np

import jittor as jt

from jvision.config import merge
from jvision.convert.fixtures import Adapter, register_adapter
from jvision.registry import MODELS

from .bricks import resize
from .decode_heads.light_ham_head import LightHamHead
from .segmentors.encoder_decoder import EncoderDecoder

__all__ = ["SEGNEXT_VARIANTS", "segnext_config", "segnext_t", "segnext_s", "segnext_b", "segnext_l",
           "build_head_from_official", "run_head"]

_GN = dict(type="GN", num_groups=32, requires_grad=True)

#: backbone + head settings of the official configs (drop_path_rate as the ADE20K configs).
SEGNEXT_VARIANTS = {
    "t": dict(backbone=dict(type="mscan_t", drop_path_rate=0.1), in_channels=[64, 160, 256], channels=256,
              ham_channels=256, ham_kwargs=dict(MD_R=16)),
    "s": dict(backbone=dict(type="mscan_s", drop_path_rate=0.1), in_channels=[128, 320, 512], channels=256,
              ham_channels=256, ham_kwargs=dict(MD_R=16)),
    "b": dict(backbone=dict(type="mscan_b", drop_path_rate=0.1), in_channels=[128, 320, 512], channels=512,
              ham_channels=512, ham_kwargs=dict(MD_R=64)),
    "l": dict(backbone=dict(type="mscan_l", drop_path_rate=0.3), in_channels=[128, 320, 512], channels=1024,
              ham_channels=1024, ham_kwargs=dict(MD_R=64)),
}
DEFAULT_NUM_CLASSES = 150  # ADE20K, as the official configs


def segnext_config(size: str, num_classes: int | None = None, **overrides) -> dict:
    """The ``EncoderDecoder`` config of SegNeXt-``size`` (``t``/``s``/``b``/``l``) with ``overrides``
    merged in (dicts recursively, as config files merge)."""
    if size not in SEGNEXT_VARIANTS:
        raise KeyError(f"SegNeXt size {size!r} unknown; choose from {sorted(SEGNEXT_VARIANTS)}")
    head_classes = (overrides.get("decode_head") or {}).get("num_classes")
    if num_classes is None:
        num_classes = DEFAULT_NUM_CLASSES if head_classes is None else head_classes
    elif head_classes is not None and head_classes != num_classes:
        raise ValueError(f"segnext_{size}: num_classes={num_classes!r} but decode_head.num_classes={head_classes!r}; "
                         "give one of them")
    v = SEGNEXT_VARIANTS[size]
    cfg = dict(
        type="EncoderDecoder",
        backbone=v["backbone"],
        decode_head=dict(type="LightHamHead", in_channels=v["in_channels"], in_index=[1, 2, 3],
                         channels=v["channels"], ham_channels=v["ham_channels"], ham_kwargs=v["ham_kwargs"],
                         dropout_ratio=0.1, num_classes=num_classes, norm_cfg=_GN, align_corners=False,
                         loss_decode=dict(type="CrossEntropyLoss", use_sigmoid=False, loss_weight=1.0)),
        test_cfg=dict(mode="whole"))
    return merge(cfg, overrides)   # a deep copy: the table above is never changed


def _build(size: str, num_classes: int | None, **overrides) -> EncoderDecoder:
    model = MODELS.build(segnext_config(size, num_classes, **overrides))  # unknown arguments are named
    model.default_cfg = dict(architecture=f"segnext_{size}", num_classes=model.num_classes)
    return model


@MODELS.register()
def segnext_t(num_classes: int | None = None, **overrides) -> EncoderDecoder:
    """SegNeXt-T (4.3M parameters with 150 classes)."""
    return _build("t", num_classes, **overrides)


@MODELS.register()
def segnext_s(num_classes: int | None = None, **overrides) -> EncoderDecoder:
    """SegNeXt-S (13.9M parameters with 150 classes)."""
    return _build("s", num_classes, **overrides)


@MODELS.register()
def segnext_b(num_classes: int | None = None, **overrides) -> EncoderDecoder:
    """SegNeXt-B (27.6M parameters with 150 classes)."""
    return _build("b", num_classes, **overrides)


@MODELS.register()
def segnext_l(num_classes: int | None = None, **overrides) -> EncoderDecoder:
    """SegNeXt-L (48.9M parameters with 150 classes)."""
    return _build("l", num_classes, **overrides)


# Config validation checks the ``EncoderDecoder`` config a variant builds (``jvision.config.check_buildable``).
for _size, _variant in (("t", segnext_t), ("s", segnext_s), ("b", segnext_b), ("l", segnext_l)):
    _variant.expand_config = functools.partial(segnext_config, _size)


# ------------------------------------------------------------------------------------------------
# Parity adapter: the decode-head part of the official SegNeXt fixtures (../shared/parity/segnext).
# The backbone part (MSCAN, in jvision) produces out_0..out_3; the head runs on them with the NMF
# bases the official forward drew (``ham_bases_raw`` of io.npz, normalised here, so the
# normalisation is checked too through ``ham_bases_init``) and returns every head intermediate
# and ``seg_logits`` (bilinear, align_corners=False, to the input size). Full-size manifests
# (``segnext_{t,s,b,l}_ade20k``) check the head's keys, shapes and parameter counts.
# ------------------------------------------------------------------------------------------------
_HEAD_KEYS = ("in_channels", "in_index", "channels", "ham_channels", "dropout_ratio", "num_classes", "norm_cfg",
              "align_corners", "loss_decode", "ham_kwargs", "act_cfg", "ignore_index", "input_transform")


def build_head_from_official(kwargs: dict, manifest: dict | None = None) -> LightHamHead:
    """``LightHamHead`` from the official mmseg ``decode_head`` config dict (``type`` optional)."""
    kwargs = {k: v for k, v in dict(kwargs).items() if k != "type"}
    unknown = sorted(set(kwargs) - set(_HEAD_KEYS))
    if unknown:
        raise ValueError(f"segnext decode_head: official argument(s) {unknown} have no counterpart in LightHamHead")
    return LightHamHead(**kwargs)


def _build_head_full(manifest: dict) -> LightHamHead:
    m = re.fullmatch(r"segnext_([tsbl])_\w+", manifest["name"])
    if not m:
        raise ValueError(f"cannot tell the SegNeXt size from manifest name {manifest['name']!r}")
    num_classes = int(manifest.get("constructor_kwargs", {}).get("decode_head", {}).get("num_classes", 150))
    return MODELS.build(dict(type=f"segnext_{m.group(1)}", num_classes=num_classes)).decode_head


def run_head(model: LightHamHead, io: dict, upstream: dict, manifest: dict | None = None) -> dict:
    """Run the head on the backbone outputs ``upstream["out_i"]`` with the fixture's NMF bases."""
    feats = []
    for i in range(4):
        key = f"out_{i}"
        src = upstream.get(key, io.get(key))
        if src is None:
            raise KeyError(f"segnext decode_head: backbone output {key!r} is neither produced upstream nor in io.npz")
        feats.append(jt.array(np.asarray(src, dtype=np.float32)))
    if "ham_bases_raw" in io:
        bases = io["ham_bases_raw"]
    elif "ham_bases_init" in io:
        bases = io["ham_bases_init"]
    else:
        raise KeyError("segnext decode_head: io.npz has no NMF bases (ham_bases_raw / ham_bases_init); the official "
                       "head draws random bases, so its output cannot be reproduced without them")
    inter: dict = {}
    with jt.no_grad():
        logits = model(feats, nmf_bases=bases, intermediates=inter)
        inter["seg_logits"] = resize(logits, io["input"].shape[2:], "bilinear", model.align_corners)
    return {k: v.numpy() for k, v in inter.items()}


register_adapter(Adapter(family="segnext", part="decode_head", build_tiny=build_head_from_official,
                         build_full=_build_head_full, run=run_head,
                         outputs=("head_*", "ham_nmf_*", "ham_bases_init", "seg_logits"), inputs=("ham_bases_raw",)))
