"""Networks, one family per module; importing this package registers every family in ``MODELS``."""
from . import layers  # noqa: F401
from . import van, mscan, conv2former, vit, mae  # noqa: F401
from . import classifier  # noqa: F401
from . import e2fgvi  # noqa: F401
from . import i3d  # noqa: F401
