"""The registered E2FGVI variants with their published sizes and figures (paper Table 1 /
official README; parameter counts from the official code, see ``../shared/parity/e2fgvi``)."""
from __future__ import annotations

from ...registry import MODELS
from .model import Discriminator, InpaintGenerator

#: Published figures. "frames": the size the official training and evaluation used.
PUBLISHED = {
    "e2fgvi": dict(params=41_799_743, frames=(240, 432), checkpoint="E2FGVI-CVPR22.pth",
                   youtube_vos=dict(psnr=33.71, ssim=0.9700, vfid=0.046, ewarp=0.0864),
                   davis=dict(psnr=33.01, ssim=0.9721, vfid=0.116, ewarp=0.1315)),
    "e2fgvi_hq": dict(params=41_117_887, frames="any (padded to multiples of 60x108)",
                      checkpoint="E2FGVI-HQ-CVPR22.pth", davis=dict(psnr=33.06, ssim=0.9722, vfid=0.117)),
    "e2fgvi_discriminator": dict(params=4_461_728),
}


@MODELS.register()
def e2fgvi(**kwargs) -> InpaintGenerator:
    """E2FGVI (432x240 frames; ``sc.bias`` is a learned 60x108 map)."""
    return InpaintGenerator(hq=False, **kwargs)


@MODELS.register()
def e2fgvi_hq(**kwargs) -> InpaintGenerator:
    """E2FGVI-HQ (any frame size; ``sc.bias_conv``)."""
    return InpaintGenerator(hq=True, **kwargs)


@MODELS.register()
def e2fgvi_discriminator(**kwargs) -> Discriminator:
    """The T-PatchGAN discriminator E2FGVI trains with."""
    return Discriminator(**kwargs)
