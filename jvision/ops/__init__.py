"""Operators of the convolutional-attention family.

One switch selects how every op of this package runs: ``set_backend("kernel" | "builtin" |
"reference")``, the ``backend(...)`` context manager, or ``JVISION_OPS_BACKEND`` (read at import;
default ``kernel``).

* ``kernel``: our ``jt.code`` kernels, C++ on CPU and CUDA on GPU (sources in ``kernels/``). Each op
  has variants (CUDA: direct, shared-memory tiled, implicit GEMM, fused blocks; CPU: portable and
  AVX-512 builds, fused blocks); :mod:`jvision.ops.autotune` picks one per call (pinned, cached,
  tuned, or the default with ``JVISION_AUTOTUNE=0``) and :func:`report` says which and why. Only
  our kernels run under this backend: nothing falls back to Jittor's built-in ops.
* ``builtin``: Jittor's own ops (``nn.conv2d(groups=C)``: oneDNN on CPU, cuDNN on CUDA).
* ``reference``: Jittor meta-operators, the ground truth of the tests.

Every other op follows the same switch. The modulated deformable convolution
(``modulated_deform_conv2d``, E2FGVI) runs our im2col kernels (C++ / CUDA) under ``kernel`` and the
meta-operator version under ``builtin`` and ``reference`` (Jittor has no deformable convolution).
The resize, softmax cross-entropy, BatchNorm / GroupNorm / LayerNorm, GELU, batched-matmul and
multi-tensor optimizer ops have CPU kernels only: under ``kernel`` they run them on the CPU in
float32 and Jittor's own ops otherwise (on CUDA, or for other dtypes). ``conv3d`` runs as Jittor 2D
convolutions over the frames (oneDNN / cuDNN) except under ``reference`` (Jittor's ``nn.conv3d``).
"""
from .dwconv import (BACKENDS, DepthwiseConv2d, backend, depthwise_conv2d,  # noqa: F401
                     depthwise_conv2d_impl, depthwise_residual_gelu, get_backend, set_backend)
from .deform import ModulatedDeformConv2d, modulated_deform_conv2d  # noqa: F401
from .conv3d import Conv3d, conv3d  # noqa: F401
from .norm import (BatchNorm2d, GroupNorm, LayerNorm, LayerNorm2d, batch_norm, group_norm,  # noqa: F401
                   layer_norm)
from .activation import GELU, gelu  # noqa: F401
from .resize import resize_bilinear  # noqa: F401
from .cross_entropy import resized_argmax, softmax_cross_entropy  # noqa: F401
from .matmul import batched_matmul  # noqa: F401
from .conv import Conv2d, conv2d_im2col, conv_gelu, conv_residual, pointwise_conv2d  # noqa: F401
from .dense import Linear, linear, linear_gelu  # noqa: F401
from .residual import scaled_residual  # noqa: F401
from .sdpa import packed_self_attention, scaled_dot_product_attention  # noqa: F401
from .attention import ConvModulation, LargeKernelAttention, MultiScaleConvAttention  # noqa: F401
from .autotune import pin, pinned, format_report, report  # noqa: F401
