"""Every CUDA variant RUNS, on the CPU, and matches the float64 reference in float32, float16 and
bfloat16 (jvision/ops/kernels/cuda_emu.h: one fiber per CUDA thread, real barriers and shuffles,
outputs poisoned with NaN first). This is how the CUDA sources are checked on machines without a
GPU; it does not replace a GPU run (benchmarks/gpu/run.sh): races and speed show only there."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

from jvision.ops import _jtcode, verify

pytestmark = pytest.mark.skipif(shutil.which("g++") is None, reason="g++ not found")


def test_every_cuda_variant_matches_the_reference_in_three_dtypes(tmp_path):
    # one geometry per variant (one build each): strided and dilated 7x7 where the variant takes it,
    # 13x13 for the large-kernel (igemm) variants
    cases = [c for c in verify.cases("cuda", quick=True)
             if "igemm" in c.spec.name or "13x13" not in c.name]
    ran = {(c.spec.name, c.dtype) for c in cases}
    # every variant with sources, each stage, each dtype
    for stage in ("dwconv_fwd", "dwconv_dgrad", "dwconv_wgrad"):
        for variant in ("direct", "tiled", "igemm"):
            for dtype in ("float32", "float16", "bfloat16"):
                assert (f"{stage}/{variant}", dtype) in ran
    for block in ("lka_fwd", "msca_fwd", "convmod_fwd"):
        assert (f"{block}/fused", "bfloat16") in ran
    failures = verify.run_cases(cases, "emu", tmp_path, log=lambda *_: None)
    assert not failures, "\n".join(failures)


def test_poisoned_outputs_and_wrong_values_are_caught():
    """The comparison can fail: an unwritten output element, or one wrong value, is reported."""
    case = verify.cases("cuda", variants=["direct"], dtypes=["float32"], quick=True)[0]
    good = [np.array(e) for e in case.expected]
    assert verify.compare(case, good) is None
    unwritten = [g.copy() for g in good]
    unwritten[0].flat[-1] = np.nan
    assert "NaN" in verify.compare(case, unwritten)
    wrong = [g.copy() for g in good]
    wrong[0].flat[0] += 0.01 * max(1.0, np.abs(good[0]).max())
    assert "relative error" in verify.compare(case, wrong)


def test_emulator_reports_a_barrier_not_reached_by_every_thread(tmp_path):
    """Half a warp waits at __syncthreads() while the other half waits in a shuffle: a GPU hangs or
    computes garbage; the emulator stops with a message instead (in a child process: it aborts)."""
    spec = _jtcode.CodeSpec(
        "divergent", "cuda",
        '#include "' + str(_jtcode.KERNEL_DIR / "dwconv_cuda.h") + '"\n'
        "__global__ void k(float* p) {\n"
        "    float v = threadIdx.x;\n"
        "    if (threadIdx.x < 16) __syncthreads(); else v = __shfl_down_sync(0xffffffffu, v, 1);\n"
        "    p[threadIdx.x] = v;\n}\n",
        "JV_LAUNCH(dim3(1), dim3(32), k)(out0_p);\n", [("float32", [1])], [("float32", [32])])
    lib = _jtcode.build_standalone(spec, "emu", tmp_path)
    code = ("import ctypes, sys; sys.path.insert(0, %r); "
            "lib = ctypes.CDLL(%r); import numpy as np; a = np.zeros(1, np.float32); b = np.zeros(32, np.float32); "
            "p = (ctypes.c_void_p * 2)(a.ctypes.data, b.ctypes.data); s = (ctypes.c_longlong * 2)(1, 32); "
            "lib.jv_run_0(p, s)") % (str(_jtcode.KERNEL_DIR), str(lib))
    import sys
    res = _jtcode.run_isolated([sys.executable, "-c", code], timeout=60)
    assert not res.ok and "deadlock" in res.stderr
