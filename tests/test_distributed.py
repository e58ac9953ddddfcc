"""MPI data parallelism: 2 processes with global batch B end where 1 process with batch B ends, for
the toy model and for real tiny models with dropout, drop path and NMF bases (per-sample randomness
keyed by global sample index); a NaN on one rank stops both ranks at the same iteration.

Run as a script (``python tests/test_distributed.py OUT``) it is the worker that trains the real
tiny models (one process, or each rank under ``mpirun``).
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
for p in (str(REPO), str(REPO / "tests")):
    if p not in sys.path:
        sys.path.insert(0, p)

import jvision  # noqa: E402,F401
from jvision.engine import read_training_checkpoint  # noqa: E402

MPIRUN = shutil.which("mpirun")
needs_mpi = pytest.mark.skipif(MPIRUN is None and not os.environ.get("CI"),
                               reason="OpenMPI (mpirun) not installed: apt-get install openmpi-bin libopenmpi-dev")
MPI = [MPIRUN or "mpirun", "--allow-run-as-root", "--oversubscribe", "-np", "2"]
OPTIONS = ["train.max_iters=12", "train.val_interval=6", "train.ckpt_interval=6", "data.batch_size=8"]


def _env(threads: str | None = None):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMPI_", "PMIX_"))}
    env["PYTHONPATH"] = str(REPO / "tests")
    if threads:
        env["OMP_NUM_THREADS"] = threads
    return env


def _run(cmd, threads: str | None = None, check: bool = True):
    out = subprocess.run(cmd, cwd=REPO, env=_env(threads), capture_output=True, text=True, timeout=900)
    if check:
        assert out.returncode == 0, (out.stdout[-2000:], out.stderr[-4000:])
    return out


def _max_diff(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max(float(np.abs(a[k] - b[k]).max()) for k in a)


@needs_mpi
def test_two_ranks_match_one_process(tmp_path):
    assert MPIRUN is not None, "mpirun is required in CI"
    train = [sys.executable, "tools/train.py", "tests/configs/toy.py", "--cfg-options", *OPTIONS]
    _run(train[:3] + ["--work-dir", str(tmp_path / "single")] + train[3:])
    _run(MPI + train[:3] + ["--work-dir", str(tmp_path / "mpi")] + train[3:])
    single = read_training_checkpoint(tmp_path / "single" / "latest.pkl")["model"]
    mpi = read_training_checkpoint(tmp_path / "mpi" / "latest.pkl")["model"]
    assert _max_diff(single, mpi) < 1e-5
    # only rank 0 wrote: the same files and no duplicated log lines
    assert sorted(p.name for p in (tmp_path / "mpi").iterdir()) == sorted(p.name for p in (tmp_path / "single").iterdir())
    lines = (tmp_path / "mpi" / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == len(set(lines)) == len((tmp_path / "single" / "metrics.jsonl").read_text().splitlines())
    # evaluation is sharded and all-reduced: the same metric over all 32 validation samples
    val = [ln for ln in lines if '"mode": "val"' in ln]
    assert val and all('"count": 32' in ln for ln in val)


# ------------------------------------------------------------------------------------------------
# real tiny models with per-sample randomness
# ------------------------------------------------------------------------------------------------
def real_model_configs() -> dict:
    common = dict(custom_imports=["toy_components", "jseg"],
                  data=dict(batch_size=4, num_workers=0,
                            train=dict(type="ToyImages", num_samples=8, size=32, num_classes=4)),
                  optimizer=dict(type="SGD", lr=0.05, momentum=0.9),
                  train=dict(max_iters=2, log_interval=1, ckpt_interval=0, seed=1))
    van = dict(type="ImageClassifier", backbone=dict(
        type="VAN", embed_dims=[8, 16, 32, 64], mlp_ratios=[2, 2, 2, 2], depths=[1, 1, 1, 1], num_classes=4,
        drop_rate=0.2, drop_path_rate=0.3, norm_layer="syncbn"))
    segnext = dict(
        type="EncoderDecoder",
        backbone=dict(type="MSCAN", embed_dims=[8, 16, 32, 64], mlp_ratios=[2, 2, 2, 2], depths=[1, 1, 1, 1],
                      drop_rate=0.2, drop_path_rate=0.3, norm_cfg=dict(type="SyncBN")),
        decode_head=dict(type="LightHamHead", in_channels=[16, 32, 64], channels=16, ham_channels=16,
                         ham_kwargs=dict(MD_R=4), num_classes=4, dropout_ratio=0.3,
                         norm_cfg=dict(type="GN", num_groups=4)))
    return {"van": dict(common, model=van), "segnext": dict(common, model=segnext)}


def train_real_models(out: Path) -> None:
    import json
    from jvision.config import Config
    from jvision.engine import Trainer
    from jvision.engine.dist import all_reduce, get_rank
    for name, data in real_model_configs().items():
        Trainer.from_config(Config(data, filename=f"{name}.py"), work_dir=out / name).run()
    # metric counts beyond float32's 2**24 stay exact through the all-reduce
    count = all_reduce(np.array([2 ** 24 + 1, 3], np.int64), "sum")
    (out / f"count.rank{get_rank()}.json").write_text(json.dumps([int(c) for c in count]))


@needs_mpi
def test_real_models_with_dropout_drop_path_and_nmf_match_one_process(tmp_path):
    """VAN (dropout + drop path) and SegNeXt (drop path, Dropout2d, random NMF bases): 2 ranks with
    2 images each end where 1 process with the 4 images ends. (Their BatchNorms are SyncBN: a plain
    BatchNorm normalises each rank's images alone, as under PyTorch DDP.)"""
    assert MPIRUN is not None, "mpirun is required in CI"
    worker = [sys.executable, str(Path(__file__).resolve())]
    _run(worker + [str(tmp_path / "single")], threads="1")  # as each rank: the same reduction order
    _run(MPI + worker + [str(tmp_path / "mpi")])
    for name in real_model_configs():
        single = read_training_checkpoint(tmp_path / "single" / name / "latest.pkl")["model"]
        mpi = read_training_checkpoint(tmp_path / "mpi" / name / "latest.pkl")["model"]
        assert _max_diff(single, mpi) < 1e-5, name
    for rank in (0, 1):
        assert (tmp_path / "mpi" / f"count.rank{rank}.json").read_text() == f"[{2 * (2 ** 24 + 1)}, 6]"


@needs_mpi
def test_nan_on_one_rank_stops_both_ranks_at_the_same_iteration(tmp_path):
    assert MPIRUN is not None, "mpirun is required in CI"
    import toy_components
    from jvision.data.loader import DataLoader
    order = DataLoader(toy_components.ToyRegression(num_samples=64), 8, shuffle=True, drop_last=True,
                       seed=3).epoch_order(0)
    nan_at = int(order[8 + 6])      # iteration 2, second half of the global batch: rank 1's sample
    train = [sys.executable, "tools/train.py", "tests/configs/toy.py", "--work-dir", str(tmp_path / "w"),
             "--cfg-options", f"+data.train.nan_at={nan_at}", "train.ckpt_interval=1", "train.val_interval=0"]
    out = _run(MPI + train, check=False)
    assert out.returncode != 0
    import re
    errors = sorted(re.findall(r"\[rank (\d)\] error: loss is nan at iteration (\d+);.*Last good checkpoint: (\S+)",
                               out.stderr))
    assert errors == [("0", "2", str(tmp_path / "w" / "iter_0000001.pkl")),
                      ("1", "2", str(tmp_path / "w" / "iter_0000001.pkl"))], out.stderr[-3000:]
    assert "Traceback" not in out.stderr


def test_keyed_draws_do_not_depend_on_how_a_batch_is_split():
    import jittor as jt
    from jvision.ops.random import sample_context, sample_uniform, sample_uniform_numpy
    with sample_context(seed=3, iteration=7, offset=0):
        whole = [sample_uniform((6, 2, 3)).numpy(), sample_uniform((6, 5)).numpy()]
    parts = []
    for offset in (0, 2, 4):            # three ranks of 2 samples each
        with sample_context(seed=3, iteration=7, offset=offset):
            parts.append([sample_uniform((2, 2, 3)).numpy(), sample_uniform((2, 5)).numpy()])
    for call in range(2):
        np.testing.assert_array_equal(np.concatenate([p[call] for p in parts]), whole[call])
    np.testing.assert_array_equal(whole[0], sample_uniform_numpy((6, 2, 3), 3, 7, 0, 0))
    assert not np.array_equal(whole[0].reshape(6, -1)[:, :5], whole[1])      # each call its own stream
    with sample_context(seed=3, iteration=8, offset=0):
        assert not np.array_equal(sample_uniform((6, 2, 3)).numpy(), whole[0])
    big = sample_uniform_numpy((256, 1000), 0, 0, 0, 0)
    assert abs(big.mean() - 0.5) < 0.01 and abs(big.std() - 12 ** -0.5) < 0.01 and 0 <= big.min() < big.max() < 1
    assert isinstance(sample_uniform((2, 3)), jt.Var)                       # outside the trainer: jt.rand


if __name__ == "__main__":  # the worker of test_real_models_with_dropout_drop_path_and_nmf_match_one_process
    train_real_models(Path(sys.argv[1]))
