"""Segmentation models: ``EncoderDecoder``, ``LightHamHead``, ``CrossEntropyLoss`` and the SegNeXt
variants ``segnext_t/s/b/l``, all registered in ``jvision``'s one ``MODELS`` registry (the MSCAN
backbones ``mscan_t/s/b/l`` live in ``jvision.models.mscan``). Weights of any kind load through
``jvision.convert.load_checkpoint``."""
from . import losses  # noqa: F401
from .bricks import ConvModule, GroupNorm  # noqa: F401
from .decode_heads import BaseDecodeHead, Hamburger, LightHamHead  # noqa: F401
from .segmentors import EncoderDecoder  # noqa: F401
from .segnext import SEGNEXT_VARIANTS, segnext_config, segnext_b, segnext_l, segnext_s, segnext_t  # noqa: F401
