"""The runtime set-up: `import jvision` gives a working CPU Jittor with oneDNN, no env vars needed."""
import json
import os
import subprocess
import sys

import pytest

from conftest import REPO

JITTOR_VARS = ("nvcc_path", "use_mkl", "use_cuda", "use_cutlass", "use_cutt", "use_nccl", "log_silent",
               "JVISION_DEVICE", "OMP_NUM_THREADS")

PROBE = r"""
import json, jvision, jittor as jt
from jvision import runtime
x = jt.randn(2, 8, 16, 16); w = jt.randn(8, 8, 3, 3)
with jt.profile_scope() as rows:
    jt.nn.conv2d(x, w, padding=1).sync()
ops = [str(r[0]).split("\u00ab")[0] for r in rows[1:]]
print("REPORT" + json.dumps({**runtime.report(), "ops": ops}))
"""


def _clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in JITTOR_VARS}
    env.update(extra)
    return env


def _probe(**extra) -> dict:
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=REPO, env=_clean_env(**extra),
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    line = [ln for ln in out.stdout.splitlines() if ln.startswith("REPORT")][-1]
    return json.loads(line[len("REPORT"):])


def test_import_without_env_vars_gives_cpu_with_onednn():
    rep = _probe()
    assert rep["device"] == "cpu"
    assert rep["jittor"].startswith("1.3.11")
    if not os.path.exists("/usr/include/dnnl.hpp"):
        pytest.skip("system oneDNN (libdnnl-dev) not installed")
    assert rep["onednn"] is True, rep
    assert "mkl_conv" in rep["ops"], f"the convolution did not run through oneDNN: {rep['ops']}"


def test_device_override_and_bad_value():
    rep = _probe(JVISION_DEVICE="cpu")
    assert rep["device"] == "cpu" and rep["device_reason"] == "JVISION_DEVICE=cpu"
    out = subprocess.run([sys.executable, "-c", "import jvision"], cwd=REPO,
                         env=_clean_env(JVISION_DEVICE="tpu"), capture_output=True, text=True, timeout=300)
    assert out.returncode != 0 and "JVISION_DEVICE='tpu'" in out.stderr


def test_runtime_report_cli():
    out = subprocess.run([sys.executable, "-m", "jvision.runtime"], cwd=REPO, env=_clean_env(),
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-2000:]
    for field in ("jittor", "device", "onednn", "mpi_rank", "mpi_world", "compile_cache"):
        assert field in out.stdout
    assert "RuntimeWarning" not in out.stderr


def test_mpi_threads_split(monkeypatch):
    from jvision import _env
    info = _env.RuntimeInfo()
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setenv("OMPI_COMM_WORLD_SIZE", "2")
    monkeypatch.setenv("OMPI_COMM_WORLD_RANK", "1")
    monkeypatch.setenv("OMPI_COMM_WORLD_LOCAL_SIZE", "2")
    _env._setup_mpi(info)
    assert info.mpi_rank == 1 and info.mpi_world == 2
    assert os.environ["OMP_NUM_THREADS"] == str(max(1, (os.cpu_count() or 1) // 2))
