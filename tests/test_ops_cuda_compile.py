"""Every CUDA source in jvision/ops/kernels compiles with nvcc, wrapped the way Jittor wraps a
jt.code op (header text, then the op body inside a function that declares in*/out* pointers,
shapes and strides). Runs without a GPU; skips with the reason when nvcc is absent."""
from __future__ import annotations

import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from jvision.ops import _jtcode
from jvision.ops.deform import CUDA_COL2IM_CALL, CUDA_IM2COL_CALL, DeformGeom, col2im_outputs
from jvision.ops.dwconv import _CUDA_BWD_CALL, _CUDA_FWD_CALL, ConvGeom


def _nvcc():
    for cand in (os.environ.get("NVCC"), shutil.which("nvcc"), "/usr/local/cuda/bin/nvcc", "/usr/local/bin/nvcc"):
        if cand and os.path.isfile(cand) and os.access(cand, os.X_OK):
            return cand
    return None


NVCC = _nvcc()
pytestmark = pytest.mark.skipif(NVCC is None, reason="nvcc not found (set NVCC or put it on PATH)")

# (name, header files, body, params, inputs, outputs) -- inputs/outputs as (dtype, ndim)
_F, _H = "float32", "float16"


def _fwd(geom, dt, bias):
    params = dict(geom.params(), HAS_BIAS=bias)
    ins = [(dt, 4), (dt, 4)] + ([(dt, 1)] if bias else [])
    return (("dwconv_cuda.h", "dwconv_fwd.cu"), _CUDA_FWD_CALL, params, ins, [(dt, 4)])


def _bwd(geom, dt, dx, dw, db):
    params = dict(geom.params(), NEED_DX=dx, NEED_DW=dw, NEED_DB=db)
    names, outs = [], []
    for flag, name, nd in ((dx, "dx", 4), (dw, "dw", 4), (db, "db", 1)):
        if flag:
            names.append(name), outs.append((dt, nd))
    names.append("scratch"), outs.append((_F, 1))
    body = _jtcode.aliases("out", names) + _CUDA_BWD_CALL
    return (("dwconv_cuda.h", "dwconv_bwd_data.cu", "dwconv_bwd_weight.cu"), body, params,
            [(dt, 4), (dt, 4), (dt, 4)], outs)


def _deform_im2col(geom, dt):
    return (("deform_cuda.cu",), CUDA_IM2COL_CALL, geom.params(), [(dt, 4)] * 3, [(dt, 3)])


def _deform_col2im(geom, dt, dx, dom):
    names = col2im_outputs(dx, dom)
    body = _jtcode.aliases("out", names) + CUDA_COL2IM_CALL
    return (("deform_cuda.cu",), body, dict(geom.params(), NEED_DX=dx, NEED_DOM=dom),
            [(dt, 4)] * 3 + [(dt, 3)], [(dt, 4)] * len(names))


UNITS = {
    "fwd-7x7d3-f32-bias": _fwd(ConvGeom(7, 7, 1, 1, 9, 9, 3, 3), _F, True),
    "fwd-3x3s2-f16-nobias": _fwd(ConvGeom(3, 3, 2, 2, 1, 1, 1, 1), _H, False),
    "bwd-7x7d3-f32-all": _bwd(ConvGeom(7, 7, 1, 1, 9, 9, 3, 3), _F, True, True, True),
    "bwd-1x21s12-f16-dw": _bwd(ConvGeom(1, 21, 1, 2, 0, 10, 1, 1), _H, False, True, False),
    "bwd-5x5s2-f32-dx-db": _bwd(ConvGeom(5, 5, 2, 2, 2, 2, 1, 1), _F, True, False, True),
    "deform-im2col-3x3-f32": _deform_im2col(DeformGeom(3, 3, 1, 1, 1, 1, 1, 1), _F),
    "deform-col2im-3x2s2d2-f64-all": _deform_col2im(DeformGeom(3, 2, 2, 1, 2, 0, 1, 2), "float64", True, True),
    "deform-col2im-3x3-f32-dom": _deform_col2im(DeformGeom(3, 3, 1, 1, 1, 1, 1, 1), _F, False, True),
}


def _compile(name, tmp: Path):
    files, body, params, ins, outs = UNITS[name]
    tu = _jtcode.emulate_code_op(_jtcode.header(params, *files), body, ins, outs)
    src = tmp / f"{name}.cu"
    src.write_text(tu)
    cmd = [NVCC, "-c", "-std=c++17", "-O2", "-arch=sm_80", "-diag-suppress=177",
           str(src), "-o", str(tmp / f"{name}.o")]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    return name, proc.returncode, proc.stderr[-4000:]


def test_nvcc_compiles_a_trivial_kernel(tmp_path):
    src = tmp_path / "t.cu"
    src.write_text("__global__ void k(float* p) { p[threadIdx.x] = 1.f; }\n")
    proc = subprocess.run([NVCC, "-c", str(src), "-o", str(tmp_path / "t.o")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_every_cuda_source_is_compiled_here():
    covered = {f for files, *_ in UNITS.values() for f in files}
    on_disk = {p.name for p in _jtcode.KERNEL_DIR.iterdir()
               if p.suffix == ".cu" or (p.suffix == ".h" and "cuda" in p.name)}
    assert on_disk <= covered, f"CUDA sources not compiled by this test: {sorted(on_disk - covered)}"


def test_cuda_sources_compile_as_jittor_wraps_them(tmp_path):
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda n: _compile(n, tmp_path), UNITS))
    failed = [(n, err) for n, rc, err in results if rc != 0]
    assert not failed, "\n\n".join(f"{n}:\n{err}" for n, err in failed)


def test_emulated_wrapper_rejects_unknown_jittor_macros():
    with pytest.raises(ValueError, match="unsupported Jittor macro"):
        _jtcode.emulate_code_op("", "@in0(0)", [(_F, 1)], [(_F, 1)])
    with pytest.raises(ValueError, match="not an input or output"):
        _jtcode.emulate_code_op("", "@alias(a, in3)", [(_F, 1)], [(_F, 1)])
