"""Every CUDA variant compiles with nvcc for sm_80 and sm_90, in float32, float16 and bfloat16
(the deformable convolution's source, which is not a tuned op, in float32 and float64).

Each op is wrapped the way Jittor wraps a ``jt.code`` op (``_jtcode.standalone_source``); one
translation unit per variant holds its three dtypes, and one nvcc call per unit builds both
architectures (units compile two at a time). Runs without a GPU; skips with the reason when nvcc
is absent (CI images may lack it).
"""
from __future__ import annotations

import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from jvision.ops import _fused, _jtcode, autotune, deform, dwconv
from jvision.ops.dwconv import CUDA_DTYPES, ConvGeom

NVCC = _jtcode.find_nvcc()
pytestmark = pytest.mark.skipif(NVCC is None, reason="nvcc not found (set NVCC or put it on PATH)")
ARCHS = ("80", "90")
SHAPE = [2, 8, 20, 24]

# A geometry each variant can run: strided and dilated where allowed, 31x31 for the large-kernel ones.
ODD = ConvGeom(7, 7, 1, 2, 9, 9, 3, 3)
LARGE = ConvGeom(31, 31, 1, 1, 15, 15, 1, 1)
LKA = (ConvGeom(5, 5, 1, 1, 2, 2), ConvGeom(7, 7, 1, 1, 9, 9, 3, 3))


def _dwconv_specs(op: str, variant: str, dtype: str):
    g = LARGE if variant == "igemm" else ODD
    oh, ow = g.out_size(SHAPE[2], SHAPE[3])
    dy = SHAPE[:2] + [oh, ow]
    if op == "dwconv_fwd":
        return dwconv.fwd_spec(variant, "cuda", g, SHAPE, dtype, True)
    if op == "dwconv_dgrad":
        return dwconv.dgrad_spec(variant, g, SHAPE, dy, dtype)
    return dwconv.wgrad_spec(variant, g, SHAPE, dy, dtype, True, True)


def _block_spec(op: str, dtype: str):
    if op == "lka":
        return _fused.lka_fwd_spec("fused", "cuda", *LKA, SHAPE, dtype, True)
    if op == "msca":
        return _fused.msca_fwd_spec("fused", "cuda", 5, (7, 11, 21), SHAPE, dtype)
    return _fused.convmod_fwd_spec("fused", "cuda", ConvGeom(11, 11, 1, 1, 5, 5), SHAPE, dtype)


def _deform_specs(dtype: str) -> list:
    """im2col and col2im (every gradient) of the modulated deformable convolution, strided and dilated."""
    g = deform.DeformGeom(3, 2, 2, 1, 2, 0, 1, 2)
    n, c, h, w = SHAPE
    oh, ow = g.out_size(h, w)
    x, off, msk = (dtype, [n, c, h, w]), (dtype, [n, 2 * g.taps, oh, ow]), (dtype, [n, g.taps, oh, ow])
    files = deform._CUDA_HEADER
    header = _jtcode.header(g.params(), *files)
    im2col = _jtcode.CodeSpec("deform_im2col", "cuda", header, deform.CUDA_IM2COL_CALL, [x, off, msk],
                              [(dtype, [n, c * g.taps, oh * ow])], files=files)
    names = deform.col2im_outputs(True, True)
    col2im = _jtcode.CodeSpec("deform_col2im", "cuda", _jtcode.header(dict(g.params(), NEED_DX=1, NEED_DOM=1), *files),
                              _jtcode.aliases("out", names) + deform.CUDA_COL2IM_CALL,
                              [x, off, msk, (dtype, [n, c * g.taps, oh * ow])], [x, off, msk], files=files)
    return [im2col, col2im]


def units() -> dict:
    """(op, variant) -> list of specs (one per dtype) for every CUDA variant with sources."""
    out = {("deform", "im2col_col2im"): [s for dt in ("float32", "float64") for s in _deform_specs(dt)]}
    for op, info in autotune.ops().items():
        for (dev, name), v in info.variants.items():
            if dev != "cuda" or not v.files:
                continue
            make = _dwconv_specs if op.startswith("dwconv") else (lambda o, n, d: _block_spec(o, d))
            out[(op, name)] = [make(op, name, dt) for dt in CUDA_DTYPES]
    return out


def _compile(key, specs, tmp):
    flags = ["-diag-suppress=177,550"] + [f"-gencode=arch=compute_{a},code=sm_{a}" for a in ARCHS]
    t0 = time.time()
    try:
        _jtcode.build_standalone(specs, "cuda", tmp, flags=flags, name="_".join(key))
        return key, None, time.time() - t0
    except RuntimeError as exc:
        return key, str(exc), time.time() - t0


def test_every_cuda_source_is_compiled_here():
    covered = {f for specs in units().values() for f in specs[0].files}
    on_disk = {p.name for p in _jtcode.KERNEL_DIR.iterdir()
               if p.suffix == ".cu" or (p.suffix == ".h" and "cuda" in p.name and "emu" not in p.name)}
    assert on_disk <= covered, f"CUDA sources not compiled by this test: {sorted(on_disk - covered)}"


def test_every_cuda_variant_compiles_for_sm80_and_sm90_in_three_dtypes(tmp_path):
    todo = units()
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda kv: _compile(kv[0], kv[1], tmp_path), todo.items()))
    failed = [(k, err) for k, err, _ in results if err]
    assert not failed, "\n\n".join(f"{'/'.join(k)}:\n{err}" for k, err in failed)
    slowest = max(results, key=lambda r: r[2])
    print(f"{len(results)} units, slowest {'/'.join(slowest[0])} {slowest[2]:.1f} s")


def test_standalone_wrapper_rejects_unknown_jittor_macros():
    with pytest.raises(ValueError, match="unsupported Jittor macro"):
        _jtcode.emulate_code_op("", "@in0(0)", [("float32", 1)], [("float32", 1)])
    with pytest.raises(ValueError, match="not an input or output"):
        _jtcode.emulate_code_op("", "@alias(a, in3)", [("float32", 1)], [("float32", 1)])


def test_nvcc_rejects_a_broken_kernel(tmp_path):
    """The compile check can fail: a kernel with a type error is reported with nvcc's message."""
    spec = _jtcode.CodeSpec("broken", "cuda", "__global__ void k(float* p) { p[0] = undefined_name; }\n",
                            "k<<<1, 1>>>(out0_p);\n", [("float32", [1])], [("float32", [1])])
    with pytest.raises(RuntimeError, match="undefined_name"):
        _jtcode.build_standalone(spec, "cuda", tmp_path, flags=["-arch=sm_80"])
    assert subprocess.run([NVCC, "--version"], capture_output=True).returncode == 0
