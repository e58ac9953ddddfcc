"""jseg: the segmentation toolbox on top of jvision.

Importing the package registers its datasets (``DATASETS``), transforms (``TRANSFORMS``) and
metrics (``METRICS``); the registries also import these modules on a lookup miss, so configs that
name e.g. ``type="ADE20K"`` work without importing ``jseg`` first.
"""
from jvision.registry import DATASETS, METRICS, TRANSFORMS

DATASETS.add_search_module("jseg.datasets")
DATASETS.add_search_module("jseg.scenes")
TRANSFORMS.add_search_module("jseg.transforms")
METRICS.add_search_module("jseg.evaluation")

from . import datasets, evaluation, transforms  # noqa: E402,F401
from . import scenes  # noqa: E402,F401

from jvision.registry import HOOKS, MODELS  # noqa: E402

MODELS.add_search_module("jseg.models")
HOOKS.add_search_module("jseg.hooks")
from . import models, hooks  # noqa: E402,F401
