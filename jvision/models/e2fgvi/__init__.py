"""E2FGVI video inpainting (CVPR 2022): flow completion, flow-guided deformable propagation,
temporal focal transformer, and the T-PatchGAN discriminator. Importing this package registers
``e2fgvi``, ``e2fgvi_hq`` and ``e2fgvi_discriminator`` in ``MODELS`` and the parity adapters of the
``e2fgvi`` fixtures (``.parity``)."""
from .flow import SPyNet, flow_warp  # noqa: F401
from .propagation import BidirectionalPropagation, SecondOrderDeformableAlignment, offset_stats  # noqa: F401
from .transformer import SoftComp, SoftSplit, TemporalFocalTransformerBlock  # noqa: F401
from .model import Discriminator, InpaintGenerator, SpectralNormConv3d  # noqa: F401
from .variants import PUBLISHED, e2fgvi, e2fgvi_discriminator, e2fgvi_hq  # noqa: F401
from . import parity  # noqa: F401  (registers the parity adapters)
