"""The training engine: loss falls, exact resume after SIGKILL, atomic checkpoints, NaN stop,
optimizer/schedule semantics, gradient accumulation and clipping, work dirs, several optimizers,
mixed precision, evaluation sharding and progress."""
import json
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


# ------------------------------------------------------------------------------------------------
# work dirs: one run each; resume checks; fallbacks
# ------------------------------------------------------------------------------------------------
SHORT = ("train.max_iters=20", "train.ckpt_interval=10", "train.val_interval=0", "train.log_interval=5")


def test_second_run_in_a_work_dir_is_refused_and_force_archives_the_first(tmp_path):
    from jvision.engine import WorkDirError
    Trainer.from_config(_toy_cfg(*SHORT), work_dir=tmp_path).run()
    first = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(WorkDirError, match="already holds a run.*--resume.*--force"):
        Trainer.from_config(_toy_cfg(*SHORT), work_dir=tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == first            # nothing touched
    Trainer.from_config(_toy_cfg(*SHORT, "train.max_iters=10"), work_dir=tmp_path, force=True).run()
    archives = [p for p in tmp_path.iterdir() if p.name.startswith("run_")]
    assert len(archives) == 1 and sorted(p.name for p in archives[0].iterdir()) == first
    old_latest = archives[0] / "latest.pkl"
    assert read_training_checkpoint(old_latest)["meta"]["iter"] == 20     # the moved link still resolves
    assert read_training_checkpoint(tmp_path / "latest.pkl")["meta"]["iter"] == 10
    assert Config.fromfile(archives[0] / "config.py").train.max_iters == 20   # its config kept


def test_resume_refuses_another_runs_checkpoint_and_says_what_it_resumed(tmp_path, capsys):
    from jvision.engine import ResumeError
    Trainer.from_config(_toy_cfg(*SHORT, "train.max_iters=10"), work_dir=tmp_path).run()
    with pytest.raises(ResumeError, match=r"train.max_iters 10 \(checkpoint\) vs 300 \(config\)"):
        Trainer.from_config(_toy_cfg(*SHORT, "train.max_iters=300"), work_dir=tmp_path, resume=True)
    with pytest.raises(ResumeError, match=r"model.hidden 16 \(checkpoint\) vs 32"):
        Trainer.from_config(_toy_cfg(*SHORT, "train.max_iters=10", "model.hidden=32"), work_dir=tmp_path, resume=True)
    capsys.readouterr()
    trainer = Trainer.from_config(_toy_cfg(*SHORT, "train.max_iters=10"), work_dir=tmp_path, resume=True)
    assert f"resumed from {tmp_path / 'iter_0000010.pkl'} at iteration 10 of 10" in capsys.readouterr().out
    trainer.run()
    assert "is complete" in capsys.readouterr().out


def test_truncated_latest_falls_back_partial_files_go_and_metrics_are_not_repeated(tmp_path, capsys):
    full, cut = tmp_path / "full", tmp_path / "cut"
    Trainer.from_config(_toy_cfg(*SHORT), work_dir=full).run()
    Trainer.from_config(_toy_cfg(*SHORT), work_dir=cut).run()
    latest = cut / "latest.pkl"
    assert latest.resolve().name == "iter_0000020.pkl"
    latest.resolve().write_bytes(latest.resolve().read_bytes()[:-100])    # cut short, e.g. a full disk
    (cut / ".iter_0000030.pkl.tmp-12345").write_bytes(b"partial")          # left by a killed writer
    capsys.readouterr()
    trainer = Trainer.from_config(_toy_cfg(*SHORT), work_dir=cut, resume=True)
    out = capsys.readouterr().out
    assert "iter_0000020.pkl is unreadable" in out and "falling back to" in out and "at iteration 10 of 20" in out
    assert not (cut / ".iter_0000030.pkl.tmp-12345").exists()
    trainer.run()
    assert _max_diff(_params(full / "latest.pkl"), _params(cut / "latest.pkl")) < 1e-6

    def rows(folder):
        return [(r["mode"], r["iter"]) for r in map(json.loads, (folder / "metrics.jsonl").read_text().splitlines())]
    assert rows(cut) == rows(full)


def test_after_a_failure_no_hook_runs_and_the_original_error_surfaces(tmp_path):
    cfg = _toy_cfg("+data.train.nan_at=5", "train.val_interval=1",
                   "+custom_hooks=[{'type':'ToyRecorder','fail_on_failure':True}]")
    trainer = Trainer.from_config(cfg, work_dir=tmp_path)
    with pytest.raises(NonFiniteLossError, match="loss is nan"):
        trainer.run()
    events = toy_components.ToyRecorder.events
    assert events[-1] == "after_failure:NonFiniteLossError" and "after_run" not in events
    assert events.count("after_val") == trainer.iter               # no evaluation of the failed iteration
    assert "failed while handling the error" in (tmp_path / "log.txt").read_text()


# ------------------------------------------------------------------------------------------------
# several optimizers, Adam, per-optimizer schedules, after_train_iter
# ------------------------------------------------------------------------------------------------
GAN = ("model={'type':'ToyGAN'}",
       "optimizer={'generator':{'type':'Adam','lr':2e-2,'betas':(0.0,0.99)},"
       "'discriminator':{'type':'Adam','lr':5e-3,'betas':(0.0,0.99),'weight_decay':1e-3}}",
       "train.max_iters=12", "train.ckpt_interval=6", "train.val_interval=0", "train.grad_clip=5.0")


def test_two_optimizers_step_in_one_iteration_and_resume_exactly(tmp_path):
    full = Trainer.from_config(_toy_cfg(*GAN), work_dir=tmp_path / "full")
    assert sorted(full.optimizers) == ["discriminator", "generator"]
    full.run()
    assert full.model.after_calls == [(i, 12) for i in range(12)]
    cut = _toy_cfg(*GAN, "+custom_hooks=[{'type':'ToyStopAt','at':6}]")
    with pytest.raises(toy_components.ToyInterrupt):
        Trainer.from_config(cut, work_dir=tmp_path / "cut").run()
    Trainer.from_config(_toy_cfg(*GAN), work_dir=tmp_path / "cut", resume=True).run()
    a, b = read_training_checkpoint(tmp_path / "full" / "latest.pkl"), read_training_checkpoint(tmp_path / "cut" / "latest.pkl")
    assert _max_diff(a["model"], b["model"]) < 1e-6                        # ema_weight included
    assert np.abs(a["model"]["ema_weight"]).sum() > 0
    for name in ("generator", "discriminator"):
        sa, sb = a["optimizer"]["optimizers"][name], b["optimizer"]["optimizers"][name]
        assert sa["step_count"] == sb["step_count"] == 12
        np.testing.assert_allclose(sa["param_groups"][0]["exp_avg_sq"][0], sb["param_groups"][0]["exp_avg_sq"][0],
                                   rtol=1e-5, atol=1e-12)
    records = [json.loads(r) for r in (tmp_path / "full" / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in records if r["mode"] == "train"][-1]
    assert {"loss_d", "grad_norm.generator", "grad_norm.discriminator", "lr.generator"} <= set(train)


def test_several_optimizers_accumulate_like_one_larger_batch_and_follow_their_own_lr(tmp_path):
    options = GAN + ("train.max_iters=4", "train.ckpt_interval=0", "schedule={'type':'poly','power':1.0}")
    big = Trainer.from_config(_toy_cfg(*options, "data.batch_size=8"), work_dir=tmp_path / "big")
    big.run()
    Trainer.from_config(_toy_cfg(*options, "data.batch_size=4", "train.accumulate=2"), work_dir=tmp_path / "acc").run()
    # float rounding only (sums of 8 vs two sums of 4, through Adam with beta1=0); a wrong scaling is ~1e-2
    assert _max_diff(_params(tmp_path / "big" / "latest.pkl"), _params(tmp_path / "acc" / "latest.pkl")) < 1e-4
    lrs = {g["optimizer"]: g["lr"] for g in big.optimizer.param_groups}
    assert lrs == pytest.approx({"generator": 2e-2 * 0.25, "discriminator": 5e-3 * 0.25})   # iteration 3 of 4


def test_adam_couples_weight_decay_like_pytorch():
    from jvision.engine import Adam
    w0 = np.random.default_rng(1).standard_normal((5,)).astype(np.float32)
    w = jt.array(w0)
    opt = Adam([w], lr=0.1, betas=(0.5, 0.9), weight_decay=0.2)
    ref, m, v = w0.astype(np.float64), 0.0, 0.0
    for t in range(1, 4):
        opt.step((w * w).sum())
        g = 2 * ref + 0.2 * ref                                            # L2 joins the gradient
        m = 0.5 * m + 0.5 * g
        v = 0.9 * v + 0.1 * g * g
        ref = ref - 0.1 / (1 - 0.5 ** t) * m / (np.sqrt(v) / np.sqrt(1 - 0.9 ** t) + 1e-8)
    np.testing.assert_allclose(w.numpy(), ref, rtol=1e-5, atol=1e-6)


def test_one_optimizer_models_may_step_through_the_handle(tmp_path):
    from jvision.engine.trainer import OptimHandle
    base = ("train.max_iters=4", "train.ckpt_interval=0", "train.val_interval=0", "train.grad_clip=1.0")
    Trainer.from_config(_toy_cfg(*base), work_dir=tmp_path / "a").run()
    stepping = Trainer.from_config(_toy_cfg(*base, "model.type=ToyMLPStepping"), work_dir=tmp_path / "b")
    assert stepping.takes_optim
    stepping.run()
    assert _max_diff(_params(tmp_path / "a" / "latest.pkl"), _params(tmp_path / "b" / "latest.pkl")) < 1e-6
    with pytest.raises(TypeError, match="needs the optimizer's name"):
        OptimHandle(Trainer.from_config(_toy_cfg(*GAN), work_dir=tmp_path / "g")).step(jt.array(1.0))
    with pytest.raises(TypeError, match="must take a second argument"):
        Trainer.from_config(_toy_cfg("optimizer={'a':{'type':'SGD','lr':0.1,'modules':['fc1','norm']},"
                                     "'b':{'type':'SGD','lr':0.1,'modules':['fc2']}}"), work_dir=tmp_path / "h")


# ------------------------------------------------------------------------------------------------
# mixed precision, graph cut points
# ------------------------------------------------------------------------------------------------
def test_loss_scaler_halves_skips_grows_and_round_trips():
    from jvision.engine import LossScaler
    s = LossScaler(init_scale=1024.0, growth_interval=3)
    assert s.update(found_inf=True) and s.scale == 512.0 and s.skipped == 1
    for _ in range(3):
        s.update(found_inf=False)
    assert s.scale == 1024.0 and s.good_steps == 0
    s.update(False)
    t = LossScaler()
    t.load_state_dict(s.state_dict())
    assert (t.scale, t.good_steps, t.skipped) == (1024.0, 1, 1)
    w = jt.array(np.ones(3, np.float32))
    opt = AdamW([w], lr=0.1)
    opt.backward((w * jt.array(np.array([1.0, float("inf"), 1.0], np.float32))).sum())
    assert not s.unscale_and_check(opt)
    tiny = LossScaler(init_scale=2.0, min_scale=1.0)
    assert tiny.update(True) and not tiny.update(True)                       # 2 -> 1 -> 0.5 < min: diverged


def test_float16_scaler_skips_an_overflowing_step_in_the_trainer(tmp_path):
    from jvision.engine import LossScaler
    cfg = _toy_cfg("+data.train.nan_at=5", "train.max_iters=8", "train.ckpt_interval=0", "train.val_interval=0",
                   "train.log_interval=1")                             # one epoch: sample 5 comes once
    trainer = Trainer.from_config(cfg, work_dir=tmp_path)
    trainer.loss_scaler = LossScaler(init_scale=256.0, growth_interval=1000)
    trainer.run()                                                          # no NaN stop: that step is skipped
    records = [json.loads(r) for r in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in records if r["mode"] == "train"]
    assert [r["step_skipped"] for r in train].count(1.0) == 1 and {r["loss_scale"] for r in train} <= {256.0, 128.0}
    assert trainer.loss_scaler.scale == 128.0 and trainer.loss_scaler.skipped == 1
    weights = read_training_checkpoint(tmp_path / "latest.pkl")["model"]
    assert all(np.isfinite(v).all() for v in weights.values())
    assert read_training_checkpoint(tmp_path / "latest.pkl")["meta"]["loss_scaler"]["scale"] == 128.0


def test_amp_on_cpu_trains_in_float32_after_one_warning(tmp_path, capsys):
    trainer = Trainer.from_config(_toy_cfg("train.amp=True", "train.max_iters=2", "train.ckpt_interval=0",
                                           "train.val_interval=0"), work_dir=tmp_path)
    assert trainer.amp.mode is None and trainer.loss_scaler is None
    trainer.run()
    assert capsys.readouterr().out.count("mixed precision needs CUDA") == 1


def test_sync_after_forward_gives_the_same_parameters(tmp_path):
    base = ("train.max_iters=6", "train.ckpt_interval=0", "train.val_interval=0", "model.dropout=0.2")
    Trainer.from_config(_toy_cfg(*base, "train.sync_after_forward=False"), work_dir=tmp_path / "a").run()
    Trainer.from_config(_toy_cfg(*base), work_dir=tmp_path / "b").run()      # on by default
    assert _max_diff(_params(tmp_path / "a" / "latest.pkl"), _params(tmp_path / "b" / "latest.pkl")) < 1e-6


# ------------------------------------------------------------------------------------------------
# evaluation sharding and progress
# ------------------------------------------------------------------------------------------------
def test_evaluation_shards_the_whole_order_so_no_rank_idles():
    from jvision.data.loader import DataLoader
    ds = toy_components.ToyRegression(num_samples=7)
    shards = [DataLoader(ds, 1, world_size=2, rank=r) for r in (0, 1)]
    got = [[int(i) for b in range(s.num_batches()) for i in s.local_indices(0, b)] for s in shards]
    assert got == [[0, 2, 4, 6], [1, 3, 5]]                                 # val_batch_size 1 < 2 ranks
    assert [len(list(s)) for s in shards] == [4, 3]
    four = DataLoader(ds, 4, world_size=2, rank=1)
    assert four.local_batch == 2 and [len(b["x"]) for b in four] == [2, 1]


def test_progress_eta_leaves_out_the_first_step():
    from jvision.engine import ProgressBar
    now = [0.0]
    bar = ProgressBar(11, "val", enabled=False, clock=lambda: now[0])
    now[0] = 60.0                                                          # step 1 compiles for a minute
    bar.update()
    assert bar.eta() is None
    for _ in range(4):
        now[0] += 0.5
        bar.update()
    assert bar.rate() == pytest.approx(2.0) and bar.eta() == pytest.approx(3.0)


def test_evaluation_in_training_and_test_shows_a_bar(tmp_path, capfd):
    trainer = Trainer.from_config(_toy_cfg("train.max_iters=1", "data.val_batch_size=4"), work_dir=tmp_path)
    trainer.evaluate()
    err = capfd.readouterr().err
    assert "val: 100%" in err and "8/8" in err


def test_jittor_compile_lines_never_reach_the_bar():
    from jvision.engine.stderr_filter import CompileLineFilter
    chunks = [b"\rtoy:  10%|#  | 1/10", b"\n", b"Compiling Operators(", b"2/3) used: 3.35s eta: 1.68s \r",
              b"Compiling Operators(3/3) used: 4.35s eta:    0s \r", b"\n", b"\rtoy:  20%|## | 2/10", b"\n",
              b"\n", b"warning: x\n", b"Com", b"pare this\n"]
    filt = CompileLineFilter()
    out = b"".join(filt.feed(c) for c in chunks) + filt.flush()
    assert out == b"\rtoy:  10%|#  | 1/10\rtoy:  20%|## | 2/10\n\nwarning: x\nCompare this\n"


def test_the_installed_filter_forwards_everything_else_even_after_a_crash():
    script = REPO / "jvision" / "engine" / "stderr_filter.py"   # loaded alone: no Jittor in the child
    code = ("import importlib.util, os\n"
            f"spec = importlib.util.spec_from_file_location('stderr_filter', {str(script)!r})\n"
            "mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)\n"
            "assert mod.install(force=True)\n"
            "for part in (b'a\\n', b'\\n', b'Compiling Operators(1/1) used: 2.1s eta: 0s \\r', b'\\n', b'last words\\n'):\n"
            "    os.write(2, part)\n"
            "os.abort()\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=120)
    assert out.returncode != 0
    assert out.stderr.endswith(b"a\nlast words\n"), out.stderr[-500:]
    assert b"Compiling" not in out.stderr
