"""Decode heads (registered in ``MODELS``)."""
from .decode_head import BaseDecodeHead  # noqa: F401
from .light_ham_head import Hamburger, LightHamHead  # noqa: F401
