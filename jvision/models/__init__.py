"""Networks, one family per module; importing this package registers every family in ``MODELS``."""
from . import layers  # noqa: F401
from . import van, mscan, conv2former, vit, mae, clip  # noqa: F401
from . import classifier  # noqa: F401
from . import e2fgvi  # noqa: F401
from . import videomae  # noqa: F401  (video masked autoencoders)
from . import cmae  # noqa: F401  (contrastive masked autoencoders)
from . import cmae_v  # noqa: F401  (CMAE-V)
from . import i3d  # noqa: F401
