"""jvision: a Jittor-native home for the convolutional-attention vision family.

Importing the package configures Jittor's runtime for this machine first (see ``jvision.runtime``):
no environment variables are needed on a CPU machine with nvcc, an offline machine, or a GPU machine.
"""
from . import _env as _runtime

_runtime.configure()

import jittor as _jt  # noqa: E402  (must come after the runtime is configured)

if _runtime.INFO.device == "cuda":
    _jt.flags.use_cuda = 1

_runtime.restore_signal_handlers()

__version__ = "0.1.0"

from .registry import MODELS, DATASETS, TRANSFORMS, METRICS, HOOKS, Registry, build  # noqa: E402,F401
