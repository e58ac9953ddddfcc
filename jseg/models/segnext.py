"""SegNeXt segmentors (MSCAN backbone + LightHamHead), registered as ``segnext_t/s/b/l``.

Paper: Guo et al., "SegNeXt: Rethinking Convolutional Attention Design for Semantic Segmentation",
NeurIPS 2022. Official code: Visual-Attention-Network/SegNeXt (``local_configs/segnext/*``).
Keys and parameter counts equal the official ``segnext_{t,s,b,l}_ade20k`` manifests
(``../shared/parity/segnext``).

    model = MODELS.build(dict(type="segnext_t", num_classes=19))
    model = MODELS.build(dict(type="segnext_b", num_classes=150, pretrained="pretrained/mscan_b.pth"))

Published ADE20K results (160k, 512x512, single scale mIoU; README): T 41.1, S 44.3, B 48.5, L 51.0.
"""
from __future__ import annotations

import copy

from jvision.registry import MODELS

from .segmentors.encoder_decoder import EncoderDecoder

__all__ = ["SEGNEXT_VARIANTS", "segnext_config", "segnext_t", "segnext_s", "segnext_b", "segnext_l"]

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


def segnext_config(size: str, num_classes: int = 150, **overrides) -> dict:
    """The ``EncoderDecoder`` config of SegNeXt-``size`` (``t``/``s``/``b``/``l``)."""
    if size not in SEGNEXT_VARIANTS:
        raise KeyError(f"SegNeXt size {size!r} unknown; choose from {sorted(SEGNEXT_VARIANTS)}")
    v = copy.deepcopy(SEGNEXT_VARIANTS[size])
    cfg = dict(
        type="EncoderDecoder",
        backbone=v["backbone"],
        decode_head=dict(type="LightHamHead", in_channels=v["in_channels"], in_index=[1, 2, 3],
                         channels=v["channels"], ham_channels=v["ham_channels"], ham_kwargs=v["ham_kwargs"],
                         dropout_ratio=0.1, num_classes=num_classes, norm_cfg=dict(_GN), align_corners=False,
                         loss_decode=dict(type="CrossEntropyLoss", use_sigmoid=False, loss_weight=1.0)),
        test_cfg=dict(mode="whole"))
    for key, value in overrides.items():
        if key in ("backbone", "decode_head") and isinstance(value, dict):
            cfg[key].update(value)
        else:
            cfg[key] = value
    return cfg


def _build(size: str, num_classes: int, **overrides) -> EncoderDecoder:
    cfg = segnext_config(size, num_classes, **overrides)
    cfg.pop("type")
    model = EncoderDecoder(**cfg)
    model.default_cfg = dict(architecture=f"segnext_{size}", num_classes=num_classes)
    return model


@MODELS.register()
def segnext_t(num_classes: int = 150, **overrides) -> EncoderDecoder:
    """SegNeXt-T (4.3M parameters with 150 classes)."""
    return _build("t", num_classes, **overrides)


@MODELS.register()
def segnext_s(num_classes: int = 150, **overrides) -> EncoderDecoder:
    """SegNeXt-S (13.9M parameters with 150 classes)."""
    return _build("s", num_classes, **overrides)


@MODELS.register()
def segnext_b(num_classes: int = 150, **overrides) -> EncoderDecoder:
    """SegNeXt-B (27.6M parameters with 150 classes)."""
    return _build("b", num_classes, **overrides)


@MODELS.register()
def segnext_l(num_classes: int = 150, **overrides) -> EncoderDecoder:
    """SegNeXt-L (48.9M parameters with 150 classes)."""
    return _build("l", num_classes, **overrides)
