"""Data: the sample/transform protocol, image reading, datasets and transforms.

Importing this package registers its datasets (``DATASETS``) and transforms (``TRANSFORMS``).
"""
from .base import BaseDataset, Compose  # noqa: F401
from .image_io import ImageReadError, read_image  # noqa: F401
from . import transforms  # noqa: F401  (registers the transforms)
from .folder import ImageFolder  # noqa: F401
from .synthetic import SyntheticShapes, make_synthetic_dataset  # noqa: F401
from .shards import ShardList, ShardReadError, ShardWriter, WebShards, expand_shards  # noqa: F401
from .builtin_shards import BuiltinShards, make_builtin_shards  # noqa: F401
from .video import Kinetics400, SomethingSomethingV2, SyntheticActions, VideoDataset, VideoReadError, VideoReader  # noqa: F401
from . import views  # noqa: F401  (registers the two-view transforms)
