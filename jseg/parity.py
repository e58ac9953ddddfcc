"""Parity adapter of the SegNeXt decode head for ``tools/compare.py`` (``jvision.convert.fixtures``).

``tools/compare.py`` imports this module (plugin ``jseg.parity``); it registers the
``("segnext", "decode_head")`` part, so a ``segnext`` fixture is checked end to end: the backbone
adapter of jvision produces ``out_0..out_3``, this one feeds them to ``LightHamHead`` with the NMF
bases the official forward drew (``ham_bases_raw`` of ``io.npz``, normalised here, so the
normalisation is checked too through ``ham_bases_init``) and returns every head intermediate
(``head_concat``, ``head_squeeze``, ``ham_nmf_in``, ``ham_bases_init``, ``ham_nmf_out``,
``head_hamburger``, ``head_align``, ``head_logits``) and ``seg_logits`` (bilinear, align_corners=False,
to the input size). Full-size manifests (``segnext_{t,s,b,l}_ade20k``) check the head's keys, shapes
and parameter counts.

    python tools/compare.py ../shared/parity/segnext
"""
from __future__ import annotations

import re

import numpy as np

import jittor as jt

from jvision.convert.fixtures import Adapter, get_adapter, register_adapter
from jvision.registry import MODELS

from .models.bricks import resize
from .models.decode_heads.light_ham_head import LightHamHead

__all__ = ["build_head_from_official", "run_head", "ADAPTER"]

_HEAD_KEYS = ("in_channels", "in_index", "channels", "ham_channels", "dropout_ratio", "num_classes", "norm_cfg",
              "align_corners", "loss_decode", "ham_kwargs", "act_cfg", "ignore_index", "input_transform")


def build_head_from_official(kwargs: dict, manifest: dict | None = None) -> LightHamHead:
    """``LightHamHead`` from the official mmseg ``decode_head`` config dict (``type`` optional)."""
    kwargs = {k: v for k, v in dict(kwargs).items() if k != "type"}
    unknown = sorted(set(kwargs) - set(_HEAD_KEYS))
    if unknown:
        raise ValueError(f"segnext decode_head: official argument(s) {unknown} have no counterpart in LightHamHead")
    return LightHamHead(**kwargs)


def _build_full(manifest: dict) -> LightHamHead:
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


ADAPTER = get_adapter("segnext", "decode_head") or register_adapter(Adapter(
    family="segnext", part="decode_head", build_tiny=build_head_from_official, build_full=_build_full,
    run=run_head, outputs=("head_*", "ham_nmf_*", "ham_bases_init", "seg_logits"), inputs=("ham_bases_raw",)))
