"""Operators of the convolutional-attention family.

Depthwise convolution has interchangeable implementations selected at run time:
``set_backend("kernel" | "builtin" | "reference")``, the ``backend(...)`` context manager,
or the ``JVISION_OPS_BACKEND`` environment variable.
"""
from .dwconv import (BACKENDS, DepthwiseConv2d, backend, depthwise_conv2d, get_backend,  # noqa: F401
                     set_backend)
from .norm import LayerNorm2d  # noqa: F401
from .attention import ConvModulation, LargeKernelAttention, MultiScaleConvAttention  # noqa: F401
