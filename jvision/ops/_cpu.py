"""What the CPU kernels of the element-wise, normalisation, resize, loss and optimizer ops share:
the dispatch rule and the ``jt.code`` header.

These ops follow the backend switch of :mod:`jvision.ops` (``get_backend()``):

* ``kernel``: our C++/OpenMP kernel (``kernels/*.cc``) when it applies -- CPU, float32 --
  otherwise ``builtin``;
* ``builtin``: Jittor's own operators (what the models used before these kernels existed);
* ``reference``: a plain composition of Jittor meta-operators written to be obviously right, the
  ground truth of ``tests/test_ops_*.py``.
"""
from __future__ import annotations

import jittor as jt

from . import _jtcode

#: Header files every kernel of this family is compiled with: the vector helpers of the
#: depthwise kernels (``jvdw::vf``, ``vexp``, ``verf``, ``vgelu``...) and the resize taps.
HEADERS = ("dwconv_cpu.h", "resize_bilinear.h")


def backend_name() -> str:
    from . import get_backend  # the switch lives with the depthwise ops
    return get_backend()


def kernel_applies(*tensors) -> bool:
    """Whether the ``kernel`` backend runs our CPU kernel for these Vars (``None`` entries skipped)."""
    if backend_name() != "kernel" or jt.flags.use_cuda:
        return False
    return all(t is None or str(t.dtype) == "float32" for t in tensors)


def vector_headers() -> tuple:
    """``dwconv_cpu_avx512.h`` (16-float vectors) where the CPU has AVX-512, else nothing (8)."""
    from .autotune import cpu_features
    return ("dwconv_cpu_avx512.h",) if "avx512f" in cpu_features() else ()


def header(*extra: str, **params) -> str:
    """``cpu_header`` text: ``#define JV_<KEY>`` lines for ``params``, then :data:`HEADERS` and the
    ``extra`` header files."""
    return _jtcode.header(params, *vector_headers(), *HEADERS, *extra)


def source(name: str) -> str:
    return _jtcode.source(name)
