"""Operators of the convolutional-attention family.

Depthwise convolution has interchangeable implementations selected at run time:
``set_backend("kernel" | "builtin" | "reference")``, the ``backend(...)`` context manager,
or the ``JVISION_OPS_BACKEND`` environment variable (read at import; default ``kernel``).

* ``kernel``: our ``jt.code`` kernels (C++ for CPU, CUDA sources beside them in ``kernels/``),
  with a dispatcher that routes a configuration to ``builtin`` where that is the faster one;
  the attention modules additionally use fused kernels (``set_fusion`` / ``fusion`` /
  ``JVISION_OPS_FUSION=0`` switch those off).
* ``builtin``: Jittor's ``nn.conv2d(groups=C)`` (oneDNN on CPU).
* ``reference``: Jittor meta-operators, the ground truth of the tests.

The modulated deformable convolution (``modulated_deform_conv2d``, E2FGVI) follows the same switch:
``kernel`` runs our im2col kernels, ``builtin`` and ``reference`` the meta-operator version (Jittor has
no deformable convolution of its own).

On CUDA, our CUDA kernels compile (tests/test_ops_cuda_compile.py) but the dispatcher only uses
them with ``JVISION_CUDA_KERNELS=1`` until they have been checked against the reference on a GPU.
"""
from .dwconv import (BACKENDS, DepthwiseConv2d, backend, depthwise_conv2d,  # noqa: F401
                     depthwise_conv2d_impl, dispatch, get_backend, set_backend)
from .deform import ModulatedDeformConv2d, modulated_deform_conv2d  # noqa: F401
from .conv3d import Conv3d, conv3d  # noqa: F401
from .norm import LayerNorm2d  # noqa: F401
from ._fused import fusion, get_fusion, set_fusion  # noqa: F401
from .attention import ConvModulation, LargeKernelAttention, MultiScaleConvAttention  # noqa: F401
