"""The training engine: loss falls, exact resume after SIGKILL, atomic checkpoints, NaN stop,
optimizer/schedule semantics, gradient accumulation and clipping."""
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import jittor as jt
from conftest import REPO

import toy_components  # noqa: F401  (registers the toy model/dataset/metric)
from jvision.config import Config
from jvision.convert import CheckpointReadError
from jvision.engine import (AdamW, NonFiniteLossError, Trainer, build_param_groups, build_schedule,
                            find_latest, read_training_checkpoint, save_checkpoint)
from jvision.engine import checkpoint as ckpt_mod
from jvision.engine.optim import clip_grad_norm

TOY = REPO / "tests" / "configs" / "toy.py"
ENV = {**os.environ, "PYTHONPATH": str(REPO / "tests")}


def _toy_cfg(*options):
    cfg = Config.fromfile(TOY)
    cfg.merge_from_list(list(options))
    return cfg


def _params(path):
    return read_training_checkpoint(path)["model"]


def _max_diff(a, b):
    assert a.keys() == b.keys()
    return max(float(np.abs(a[k] - b[k]).max()) for k in a)


def test_loss_falls_and_outputs_written(tmp_path):
    trainer = Trainer.from_config(_toy_cfg(), work_dir=tmp_path)
    before = trainer.evaluate()["mse"]
    trainer.run()
    after = trainer.evaluate()["mse"]
    assert after < 0.35 * before, (before, after)
    names = {p.name for p in tmp_path.iterdir()}
    assert {"config.py", "log.txt", "metrics.jsonl", "latest.pkl"} <= names
    assert sorted(n for n in names if n.startswith("iter_")) == ["iter_0000050.pkl", "iter_0000060.pkl"]  # keep=2
    assert Config.fromfile(tmp_path / "config.py").train.max_iters == 60


def _train_cli(work_dir, *extra, wait=True):
    cmd = [sys.executable, "tools/train.py", str(TOY), "--work-dir", str(work_dir),
           "--cfg-options", "model.dropout=0.2", "+custom_hooks=[{'type':'ToySleep','seconds':0.04}]", *extra]
    if wait:
        out = subprocess.run(cmd, cwd=REPO, env=ENV, capture_output=True, text=True, timeout=600)
        assert out.returncode == 0, out.stderr[-3000:]
        return out
    return subprocess.Popen(cmd, cwd=REPO, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_sigkill_then_resume_equals_uninterrupted(tmp_path):
    full, killed = tmp_path / "full", tmp_path / "killed"
    _train_cli(full)
    proc = _train_cli(killed, wait=False)
    deadline = time.time() + 300
    while not (killed / "iter_0000030.pkl").exists():
        assert proc.poll() is None, "the run ended before it could be interrupted"
        assert time.time() < deadline, "no checkpoint appeared"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (killed / "iter_0000060.pkl").exists(), "the run finished before the kill"
    _train_cli(killed, "--resume")
    assert _max_diff(_params(full / "iter_0000060.pkl"), _params(killed / "iter_0000060.pkl")) < 1e-6
    assert "resumed from" in (killed / "log.txt").read_text()


def test_crash_during_checkpoint_write_keeps_previous(tmp_path, monkeypatch):
    model = toy_components.ToyMLP()
    opt = AdamW(model.parameters(), lr=1e-3)
    good = save_checkpoint(tmp_path, 10, model, opt)

    def crash(src, dst):
        raise OSError("disk full")
    monkeypatch.setattr(ckpt_mod.os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(tmp_path, 20, model, opt)
    monkeypatch.undo()
    assert not (tmp_path / "iter_0000020.pkl").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp file left
    assert find_latest(tmp_path) == good
    assert read_training_checkpoint(find_latest(tmp_path))["meta"]["iter"] == 10
    # a file cut short (e.g. copied while written) is refused with its name
    broken = tmp_path / "iter_0000030.pkl"
    broken.write_bytes(good.read_bytes()[:200])
    with pytest.raises(CheckpointReadError, match="iter_0000030.pkl.*unreadable"):
        read_training_checkpoint(broken)


def test_nan_loss_stops_with_iteration_and_checkpoint(tmp_path):
    # every sample of the dataset is visited in epoch 0; sample 5 has a NaN target
    cfg = _toy_cfg("+data.train.nan_at=5", "train.ckpt_interval=1")
    trainer = Trainer.from_config(cfg, work_dir=tmp_path)
    with pytest.raises(NonFiniteLossError, match=r"loss is nan at iteration \d+.*Last good checkpoint: .*iter_"):
        trainer.run()


def test_adamw_matches_pytorch_formula_and_defaults():
    rng = np.random.default_rng(0)
    w0 = rng.standard_normal((3, 4)).astype(np.float32)
    w = jt.array(w0)
    opt = AdamW([w], lr=0.1)
    assert opt.weight_decay == 0.01 and opt.betas == (0.9, 0.999) and opt.eps == 1e-8
    ref, m, v = w0.astype(np.float64), 0.0, 0.0
    for t in range(1, 4):
        opt.step((w * w * float(t)).sum())
        g = 2 * t * ref
        ref = ref * (1 - 0.1 * 0.01)
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        ref = ref - 0.1 / (1 - 0.9 ** t) * m / (np.sqrt(v) / np.sqrt(1 - 0.999 ** t) + 1e-8)
    np.testing.assert_allclose(w.numpy(), ref, atol=1e-5)
    # state round-trips exactly
    w2 = jt.array(w0)
    opt2 = AdamW([w2], lr=0.1)
    opt2.load_state_dict(opt.state_dict())
    assert opt2.step_count == 3
    np.testing.assert_array_equal(opt2.param_groups[0]["exp_avg_sq"][0].numpy(),
                                  opt.param_groups[0]["exp_avg_sq"][0].numpy())


def test_param_groups_no_decay_and_multipliers():
    from jittor import nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.pos_embed = jt.zeros((1, 4))
            self.blocks = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 4))
            self.norm = nn.LayerNorm(4)
            self.head = nn.Linear(4, 2)

    net = Net()
    groups = build_param_groups(net, 1.0, dict(norm_decay_mult=0.0, bias_decay_mult=0.0,
                                               no_decay_keys=("pos_embed",), custom_keys={"head": dict(lr_mult=10.0)}))
    by_name = {n: (g["lr_mult"], g["decay_mult"]) for g in groups for n in g["names"]}
    assert by_name["blocks.0.weight"] == (1.0, 1.0)
    assert by_name["blocks.0.bias"] == (1.0, 0.0)
    assert by_name["norm.weight"] == (1.0, 0.0)
    assert by_name["pos_embed"] == (1.0, 0.0)
    assert by_name["head.weight"] == (10.0, 1.0) and by_name["head.bias"] == (10.0, 0.0)
    decayed = build_param_groups(net, 1.0, dict(layer_decay=0.5, num_layers=2))
    lr = {n: g["lr_mult"] for g in decayed for n in g["names"]}
    assert lr["pos_embed"] == 0.125 and lr["blocks.0.weight"] == 0.25 and lr["blocks.1.weight"] == 0.5
    assert lr["head.weight"] == 1.0
    with pytest.raises(KeyError, match="unknown key"):
        build_param_groups(net, 1.0, dict(norm_decay=0.0))


def test_schedules():
    poly = build_schedule(dict(type="poly", power=1.0, min_lr=0.0, warmup_iters=10, warmup_ratio=1e-6), 1.0, 100)
    assert poly.lr_at(0) == pytest.approx(1.0 * 1e-6)
    assert poly.lr_at(5) == pytest.approx(0.95 * (1 - 0.5 * (1 - 1e-6)))
    assert poly.lr_at(50) == pytest.approx(0.5) and poly.lr_at(100) == 0.0
    assert poly.lr_at(50, lr_mult=10) == pytest.approx(5.0)
    cos = build_schedule(dict(type="cosine", min_lr=0.1), 1.0, 100)
    assert cos.lr_at(0) == 1.0 and cos.lr_at(50) == pytest.approx(0.55) and cos.lr_at(100) == pytest.approx(0.1)
    step = build_schedule(dict(type="step", steps=[30, 60], gamma=0.1), 1.0, 100)
    assert [step.lr_at(i) for i in (29, 30, 60)] == pytest.approx([1.0, 0.1, 0.01])
    with pytest.raises(ValueError, match="schedule.type"):
        build_schedule(dict(type="linear"), 1.0, 10)


def test_accumulation_equals_larger_batch(tmp_path):
    base = ("train.max_iters=6", "train.val_interval=0", "train.ckpt_interval=0")
    Trainer.from_config(_toy_cfg(*base, "data.batch_size=8"), work_dir=tmp_path / "big").run()
    Trainer.from_config(_toy_cfg(*base, "data.batch_size=4", "train.accumulate=2"),
                        work_dir=tmp_path / "acc").run()
    assert _max_diff(_params(tmp_path / "big" / "latest.pkl"), _params(tmp_path / "acc" / "latest.pkl")) < 1e-5


def test_grad_clipping():
    w = jt.array(np.full((10,), 3.0, np.float32))
    opt = AdamW([w], lr=0.1)
    opt.backward((w * w).sum())
    norm = clip_grad_norm(opt, 1.0)
    assert norm == pytest.approx(np.sqrt(10) * 6, rel=1e-5)
    g = opt.param_groups[0]["grads"][0].numpy()
    assert np.linalg.norm(g) == pytest.approx(1.0, rel=1e-4)


def test_seed_changes_data_order():
    from jvision.data.loader import DataLoader
    ds = toy_components.ToyRegression(num_samples=16)
    a = DataLoader(ds, 4, shuffle=True, drop_last=True, seed=0)
    b = DataLoader(ds, 4, shuffle=True, drop_last=True, seed=1)
    assert not np.array_equal(a.epoch_order(0), b.epoch_order(0))
    np.testing.assert_array_equal(a.epoch_order(3), DataLoader(ds, 8, shuffle=True, drop_last=True, seed=0).epoch_order(3))
    # two ranks of a global batch together hold exactly the single-process batch
    r0 = DataLoader(ds, 4, shuffle=True, drop_last=True, seed=0, rank=0, world_size=2)
    r1 = DataLoader(ds, 4, shuffle=True, drop_last=True, seed=0, rank=1, world_size=2)
    np.testing.assert_array_equal(np.concatenate([r0.local_indices(2, 1), r1.local_indices(2, 1)]),
                                  a.local_indices(2, 1))
    with pytest.raises(ValueError, match="not divisible"):
        DataLoader(ds, 5, drop_last=True, world_size=2)
