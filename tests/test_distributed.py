"""MPI data parallelism: 2 processes with global batch B end where 1 process with batch B ends."""
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from conftest import REPO
from jvision.engine import read_training_checkpoint

MPIRUN = shutil.which("mpirun")
pytestmark = pytest.mark.skipif(MPIRUN is None and not os.environ.get("CI"),
                                reason="OpenMPI (mpirun) not installed: apt-get install openmpi-bin libopenmpi-dev")

OPTIONS = ["train.max_iters=12", "train.val_interval=6", "train.ckpt_interval=6", "data.batch_size=8"]


def _env():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMPI_", "PMIX_"))}
    env["PYTHONPATH"] = str(REPO / "tests")
    return env


def _run(cmd):
    out = subprocess.run(cmd, cwd=REPO, env=_env(), capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, (out.stdout[-2000:], out.stderr[-4000:])
    return out


def test_two_ranks_match_one_process(tmp_path):
    assert MPIRUN is not None, "mpirun is required in CI"
    train = [sys.executable, "tools/train.py", "tests/configs/toy.py", "--cfg-options", *OPTIONS]
    _run(train[:3] + ["--work-dir", str(tmp_path / "single")] + train[3:])
    _run([MPIRUN, "--allow-run-as-root", "--oversubscribe", "-np", "2"] + train[:3]
         + ["--work-dir", str(tmp_path / "mpi")] + train[3:])
    single = read_training_checkpoint(tmp_path / "single" / "latest.pkl")["model"]
    mpi = read_training_checkpoint(tmp_path / "mpi" / "latest.pkl")["model"]
    diff = max(float(np.abs(single[k] - mpi[k]).max()) for k in single)
    assert diff < 1e-5, diff
    # only rank 0 wrote: the same files and no duplicated log lines
    assert sorted(p.name for p in (tmp_path / "mpi").iterdir()) == sorted(p.name for p in (tmp_path / "single").iterdir())
    lines = (tmp_path / "mpi" / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == len(set(lines)) == len((tmp_path / "single" / "metrics.jsonl").read_text().splitlines())
    # evaluation is sharded and all-reduced: the same metric over all 32 validation samples
    val = [ln for ln in lines if '"mode": "val"' in ln]
    assert val and all('"count": 32' in ln for ln in val)
