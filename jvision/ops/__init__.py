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
"""
from .dwconv import (BACKENDS, DepthwiseConv2d, backend, depthwise_conv2d,  # noqa: F401
                     depthwise_conv2d_impl, get_backend, set_backend)
from .norm import LayerNorm2d  # noqa: F401
from .attention import ConvModulation, LargeKernelAttention, MultiScaleConvAttention  # noqa: F401
from .autotune import pin, pinned, format_report, report  # noqa: F401
