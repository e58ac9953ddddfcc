"""Data-parallel evaluation: ``mpirun -np 2`` gives exactly the confusion matrix and mIoU of one
process (uneven shards: 7 images over 2 ranks, batches of 2; multi-scale + flip inference; the
NMF evaluation bases are seeded, so the ranks agree with the single process).

Run as a script (``python tests/test_seg_mpi_eval.py WEIGHTS SPLIT_FILE OUT``) it is the MPI worker.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import jvision  # noqa: E402,F401
import jittor as jt  # noqa: E402

MPIRUN = shutil.which("mpirun")
MEAN, STD = (123.675, 116.28, 103.53), (58.395, 57.12, 57.375)
SCENES = dict(type="Scenes", num_train=400, num_val=60, size=(256, 192), seed=0)


def build_model():
    from jvision.registry import MODELS
    import jseg  # noqa: F401
    jt.set_seed(0)
    return MODELS.build(dict(
        type="EncoderDecoder",
        backbone=dict(type="MSCAN", embed_dims=[8, 16, 32, 64], mlp_ratios=[2, 2, 2, 2], depths=[1, 1, 1, 1]),
        decode_head=dict(type="LightHamHead", in_channels=[16, 32, 64], channels=16, ham_channels=16,
                         ham_kwargs=dict(MD_R=4), num_classes=9, norm_cfg=dict(type="GN", num_groups=4)),
        test_cfg=dict(img_scale=(128, 96), ratios=(0.75, 1.0), flip=True)))


def evaluate_split(weights: str, split_file: str) -> dict:
    """Evaluate the saved weights on the images listed in ``split_file`` (this rank's shard)."""
    from jvision.config import Config
    from jvision.engine.trainer import build_val_loader, evaluate
    from jvision.registry import METRICS
    from jvision.convert import load_state_dict
    model = build_model()
    load_state_dict(model, dict(np.load(weights)), source=weights, log=None)
    cfg = Config(dict(data=dict(val_batch_size=2, val=dict(**SCENES, split="val", split_file=split_file, pipeline=[
        dict(type="Normalize", mean=MEAN, std=STD), dict(type="PackSegInputs")])), train=dict(seed=0)))
    loader = build_val_loader(cfg)
    metric = METRICS.build(dict(type="IoUMetric", dataset="Scenes"))
    result = evaluate(model, loader, metric)
    return {"metrics": result, "confusion": metric.last_results["confusion"].tolist(),
            "local_images": metric.num_images}


@pytest.mark.skipif(MPIRUN is None and not os.environ.get("CI"), reason="OpenMPI (mpirun) not installed")
def test_two_rank_evaluation_equals_one_process(tmp_path):
    assert MPIRUN is not None, "mpirun is required in CI"
    from jseg.scenes import ensure_scenes
    root = ensure_scenes(num_train=SCENES["num_train"], num_val=SCENES["num_val"], size=SCENES["size"], seed=0)
    stems = sorted(p.stem for p in (root / "images" / "validation").glob("*.jpg"))[:7]
    split = tmp_path / "val7.txt"
    split.write_text("\n".join(stems) + "\n")
    model = build_model()
    weights = tmp_path / "weights.npz"
    np.savez(weights, **{k: v.numpy() for k, v in model.state_dict().items()})

    out = tmp_path / "mpi.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMPI_", "PMIX_"))}
    env["PYTHONPATH"] = str(REPO)
    # The single process runs with one OpenMP thread, as each of the 2 ranks on 2 cores does: a
    # different thread count changes float reduction order, which can flip a near-tie argmax.
    worker = [sys.executable, str(Path(__file__).resolve()), str(weights), str(split)]
    one = subprocess.run(worker + [str(tmp_path / "single.json")], cwd=REPO, env={**env, "OMP_NUM_THREADS": "1"},
                         capture_output=True, text=True, timeout=900)
    assert one.returncode == 0, one.stdout[-2000:] + one.stderr[-4000:]
    single = json.loads((tmp_path / "single.json.rank0").read_text())
    assert single["local_images"] == 7
    run = subprocess.run([MPIRUN, "--allow-run-as-root", "--oversubscribe", "-np", "2"] + worker + [str(out)],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-4000:]
    ranks = [json.loads((tmp_path / f"mpi.json.rank{r}").read_text()) for r in range(2)]
    assert sorted(r["local_images"] for r in ranks) == [3, 4]          # uneven shards
    for r in ranks:
        assert r["confusion"] == single["confusion"]                   # all-reduced: identical counts
        assert r["metrics"] == single["metrics"]
    assert np.asarray(single["confusion"]).sum() > 0


if __name__ == "__main__":  # the MPI worker
    from jvision.engine.dist import get_rank
    weights_path, split_path, out_path = sys.argv[1:4]
    res = evaluate_split(weights_path, split_path)
    Path(f"{out_path}.rank{get_rank()}").write_text(json.dumps(res))
