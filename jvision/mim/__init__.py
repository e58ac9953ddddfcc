"""Masked image / video modelling: masking, reconstruction targets (pixel, norm-pix, HOG, teacher)."""
from .masking import (BlockwiseMasking, MaskGenerator, RandomMasking, TubeMasking, build_masking,  # noqa: F401
                      gather_tokens, indices_from_mask, masking_indices, random_masking)
from .hog import HOGLayer, hog_per_patch  # noqa: F401
