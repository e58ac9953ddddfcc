"""tools/codegen.py: the op and variant list, and `show`, whose output compiles as it is."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from jvision.ops import _jtcode


def _codegen(repo_root, *args, timeout=600):
    env = dict(os.environ, PYTHONPATH=str(repo_root) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    res = _jtcode.run_isolated([sys.executable, str(repo_root / "tools" / "codegen.py"), *args], timeout,
                               env=env, cwd=str(repo_root))
    assert res.ok, f"codegen {' '.join(args)}: {res.describe()}\n{res.stderr[-3000:]}"
    return res.stdout


def test_list_names_every_op_and_variant(repo_root):
    out = _codegen(repo_root, "list")
    for word in ("dwconv_fwd", "dwconv_bwd", "dwconv_dgrad", "dwconv_wgrad", "lka", "msca", "convmod",
                 "layernorm2d", "portable", "avx512", "direct", "tiled", "igemm", "fused_avx512", "unfused",
                 "dwconv_fwd_igemm.cu", "msca_fwd_fused.cu", "autotune: off"):
        assert word in out, word


@pytest.mark.skipif(_jtcode.find_nvcc() is None, reason="nvcc not found")
def test_show_prints_cuda_source_that_nvcc_compiles(repo_root, tmp_path):
    out = tmp_path / "igemm.cu"
    _codegen(repo_root, "show", "dwconv_fwd", "--variant", "igemm", "--device", "cuda", "--shape", "2", "3", "20", "24",
             "--kernel", "13", "--dtype", "bfloat16", "-o", str(out))
    text = out.read_text()
    assert "#define JV_KH 13" in text and "index_t in0_shape2 = 20;" in text and "dwconv_fwd_igemm_kernel" in text
    res = subprocess.run([_jtcode.find_nvcc(), "-c", "-std=c++17", "-arch=sm_90", str(out), "-o",
                          str(tmp_path / "igemm.o")], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-3000:]


@pytest.mark.skipif(shutil.which("g++") is None, reason="g++ not found")
def test_show_prints_cpu_source_that_gxx_compiles(repo_root, tmp_path):
    text = _codegen(repo_root, "show", "msca", "--variant", "fused", "--device", "cpu", "--shape", "1", "4", "9", "11")
    assert "pass 1 of 2" in text and "pass 2 of 2" in text  # forward and backward ops
    first = text.split("// ==== pass 2 of 2")[0]
    (tmp_path / "msca_fwd.cc").write_text(first)
    res = subprocess.run(["g++", "-std=c++14", "-fopenmp", "-march=native", "-fsyntax-only",
                          "-Wno-unknown-pragmas", str(tmp_path / "msca_fwd.cc")], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "index_t in0_shape3 = 11;" in first and "#define JV_S3 21" in first
