"""Masked image / video modelling: masking, reconstruction targets (pixel, norm-pix, HOG, teacher).

The training pieces (hooks, metric), the subset builder and the study runner are imported on demand
(``jvision.mim.training``, ``.subset``, ``.study``): they sit on the engine, which models never import.
"""
from .masking import (BlockwiseMasking, MaskGenerator, RandomMasking, TubeMasking, build_masking,  # noqa: F401
                      gather_tokens, indices_from_mask, masking_indices, random_masking)
from .hog import HOGLayer, hog_per_patch  # noqa: F401
from .targets import TARGETS, MIMTarget, build_target, masked_mean, patchify, unpatchify  # noqa: F401
