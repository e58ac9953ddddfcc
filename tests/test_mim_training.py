"""MIM training pieces: LARS, MAE's schedule, layer decay through the classifier, encoder loading and the
linear-probe head, reconstruction pictures, and the study runner's resumption (with a stand-in runner)."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

import jvision  # noqa: F401
import jittor as jt
from jittor import nn

from jvision import MODELS
from jvision.convert import read_state_dict
from jvision.engine.checkpoint import save_checkpoint
from jvision.engine.optim import LARS, build_optimizer, build_param_groups
from jvision.engine.schedule import build_schedule
from jvision.mim.study import Cell, plan_cells, run_study
from jvision.mim.visualize import reconstruction_grid
from jvision.models.mae import MaskedAutoencoderViT
from jvision.models.vit import VisionTransformer

TINY_MAE = dict(img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=2, decoder_embed_dim=16,
                decoder_depth=1, decoder_num_heads=2)
TINY_VIT = dict(img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=2)


def test_lars_follows_maes_update_rule():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = jt.array(np.array([[1.0, -2.0], [0.5, 3.0]], np.float32))
            self.b = jt.array(np.array([0.1, -0.1], np.float32))

    net = Net()
    opt = LARS(build_param_groups(net, 0.5), lr=0.5, weight_decay=0.1, momentum=0.9, trust_coefficient=0.01)
    x = np.array([1.0, 2.0], np.float32)
    w, b = net.w.numpy().astype(np.float64), net.b.numpy().astype(np.float64)
    mu_w, mu_b = np.zeros_like(w), np.zeros_like(b)
    for _ in range(2):
        loss = ((jt.matmul(net.w, jt.array(x)) + net.b) ** 2).sum()
        opt.step(loss)
        y = w @ x + b
        gw, gb = 2 * np.outer(y, x), 2 * y
        dw = gw + 0.1 * w
        dw = dw * (0.01 * np.linalg.norm(w) / np.linalg.norm(dw))     # trust ratio on the matrix only
        mu_w, mu_b = 0.9 * mu_w + dw, 0.9 * mu_b + gb                 # no decay, no scaling on the bias
        w, b = w - 0.5 * mu_w, b - 0.5 * mu_b
    np.testing.assert_allclose(net.w.numpy(), w, rtol=1e-5)
    np.testing.assert_allclose(net.b.numpy(), b, rtol=1e-5)
    state = opt.state_dict()
    assert state["type"] == "LARS" and state["step_count"] == 2


def test_warmup_then_half_cycle_cosine_matches_mae_lr_sched():
    sched = build_schedule(dict(type="cosine", warmup_iters=40, warmup_ratio=0.0, min_lr=1e-6,
                                anneal_after_warmup=True), base_lr=2.4e-3, max_iters=200)

    def official(it):   # util/lr_sched.adjust_learning_rate with epoch = iteration
        if it < 40:
            return 2.4e-3 * it / 40
        return 1e-6 + (2.4e-3 - 1e-6) * 0.5 * (1 + math.cos(math.pi * (it - 40) / (200 - 40)))

    for it in (0, 1, 20, 39, 40, 41, 120, 199, 200):
        assert sched.lr_at(it) == pytest.approx(official(it), rel=1e-9, abs=1e-15), it


def test_layer_decay_reaches_a_wrapped_vit():
    model = MODELS.build(dict(type="ImageClassifier", backbone=dict(type="VisionTransformer", **TINY_VIT,
                                                                   num_classes=3)))
    groups = build_param_groups(model, 1.0, dict(layer_decay=0.5))
    mult = {name: g["lr_mult"] for g in groups for name in g["names"]}
    assert mult["backbone.patch_embed.proj.weight"] == 0.5 ** 3 == mult["backbone.cls_token"]
    assert mult["backbone.blocks.0.attn.qkv.weight"] == 0.5 ** 2
    assert mult["backbone.blocks.1.mlp.fc2.bias"] == 0.5
    assert mult["backbone.head.weight"] == 1.0 == mult["backbone.fc_norm.weight"]


def test_vit_loads_mae_checkpoints_and_builds_the_probe(parity_dir, tmp_path):
    mae = MaskedAutoencoderViT(**TINY_MAE)
    path = save_checkpoint(tmp_path, 7, mae)                          # one of ours
    probe = VisionTransformer(**TINY_VIT, num_classes=5, global_pool=False, linear_probe=True, pretrained=str(path))
    for key in ("blocks.1.attn.qkv.weight", "norm.weight", "pos_embed"):
        np.testing.assert_array_equal(probe.state_dict()[key].numpy(), mae.state_dict()[key].numpy())
    assert {"head.0.running_mean", "head.0.running_var", "head.1.weight", "head.1.bias"} <= set(probe.state_dict())
    assert "head.0.weight" not in probe.state_dict()                   # BatchNorm without affine
    probe.train()
    trainable = [n for n, p in probe.named_parameters() if not p.is_stop_grad()]
    assert sorted(trainable) == ["head.1.bias", "head.1.weight"]
    assert not probe.blocks[0].is_training() and probe.head.is_training()
    logits = probe(jt.array(np.random.default_rng(0).standard_normal((4, 3, 32, 32)).astype(np.float32)))
    assert tuple(logits.shape) == (4, 5)
    # the official fixture file (encoder + decoder, torch zip) into a fine-tuning ViT: fc_norm/head new
    ft = VisionTransformer(**TINY_VIT, num_classes=5, pretrained=str(parity_dir / "mae/mae_tiny/weights.pth"))
    official = read_state_dict(parity_dir / "mae/mae_tiny/weights.pth")[0]
    np.testing.assert_array_equal(ft.state_dict()["blocks.0.mlp.fc1.weight"].numpy(), official["blocks.0.mlp.fc1.weight"])
    with pytest.raises(ValueError, match="linear_probe"):
        VisionTransformer(**TINY_VIT, num_classes=0, linear_probe=True)


def test_reconstruction_grid_pastes_the_visible_patches():
    model = MaskedAutoencoderViT(**TINY_MAE, norm_pix_loss=True)
    x = np.random.default_rng(1).standard_normal((2, 3, 32, 32)).astype(np.float32)
    grid, out = reconstruction_grid(model, x, mean=(0, 0, 0), std=(1, 1, 1), min_size=32)
    assert grid.dtype == np.uint8 and grid.shape == (2 * 36, 4 * 36, 3)
    keep = np.kron(1 - out["mask"].reshape(2, 4, 4), np.ones((8, 8)))[:, None].astype(bool)
    keep = np.broadcast_to(keep, x.shape)
    np.testing.assert_allclose(out["pasted"][keep], x[keep], atol=1e-5)
    assert out["mask"].sum(1).tolist() == [12.0, 12.0] and np.isfinite(out["loss"])
    hog_model = MaskedAutoencoderViT(**TINY_MAE, target="hog")
    hog_grid, hog_out = reconstruction_grid(hog_model, x, min_size=32)
    assert hog_out["reconstruction"] is None and hog_grid.shape == (2 * 36, 2 * 36, 3)


def _spec(tmp_path) -> dict:
    return dict(name="t", _path=str(tmp_path / "spec.py"), seed=0, mpirun=None, source="unused",
                grids=[dict(data=[0, 100], model=["a"], target=["px"], sampling=["u"]),
                       dict(data=[100], model=["a"], target=["px"], sampling=["u", "v"])],
                models=dict(a=dict(mae=dict(type="MaskedAutoencoderViT"), vit=dict(type="VisionTransformer"))),
                targets=dict(px="pixel"), samplings=dict(u=dict(strategy="uniform"), v=dict(strategy="top", column="x")),
                pretrain=dict(config="pre.py", iters=3), downstream=dict(probe=dict(config="probe.py", iters=2)))


def test_study_plans_cells_and_resumes_without_redoing_finished_ones(tmp_path, monkeypatch):
    spec = _spec(tmp_path)
    cells = plan_cells(spec)
    assert [c.name for c in cells] == ["d0_a", "d100_a_px_u", "d100_a_px_v"]
    monkeypatch.setattr("jvision.mim.study._subset", lambda spec, cell, work_dir, log: f"{cell['sampling']}.json")
    calls = []

    def runner(cmd, log_path):                     # stands in for tools/train.py
        work_dir = Path(cmd[cmd.index("--work-dir") + 1])
        calls.append(work_dir.parent.name + "/" + work_dir.name)
        if work_dir.parent.name == "d100_a_px_v" and not getattr(runner, "resumed", False):
            raise RuntimeError("killed")
        iters = 3 if work_dir.name == "pretrain" else 2
        work_dir.mkdir(parents=True, exist_ok=True)
        (work_dir / "latest.pkl").write_bytes(b"")
        rec = [{"mode": "train", "iter": iters, "loss": 0.5}, {"mode": "val", "iter": iters, "val_loss": 0.4, "top1": 60.0}]
        (work_dir / "metrics.jsonl").write_text("\n".join(json.dumps(r) for r in rec))

    with pytest.raises(RuntimeError, match="killed"):
        run_study(spec, tmp_path / "w", runner=runner, log=lambda *a: None)
    assert calls == ["d0_a/probe", "d100_a_px_u/pretrain", "d100_a_px_u/probe", "d100_a_px_v/pretrain"]
    config = (tmp_path / "w/cells/d100_a_px_u/probe_config.py").read_text()
    assert "pretrain/latest.pkl" in config and "'max_iters': 2" in config
    calls.clear()
    runner.resumed = True
    rows = run_study(spec, tmp_path / "w", runner=runner, log=lambda *a: None)
    assert calls == ["d100_a_px_v/pretrain", "d100_a_px_v/probe"]          # finished cells are not redone
    assert [r["cell"] for r in rows] == ["d0_a", "d100_a_px_u", "d100_a_px_v"]
    table = (tmp_path / "w/results.md").read_text()
    assert "| d100_a_px_v | 100 | a | px | v | 3 | 0.5000 | 0.4000 | 60.00 |" in table
    assert (tmp_path / "w/results.csv").read_text().count("\n") == 4
    assert isinstance(cells[0], Cell)


def test_study_plots_accuracy_vs_data_and_val_loss_vs_accuracy(tmp_path):
    """The optional plots (matplotlib: ``pip install -e .[mim]``): one PNG per downstream task and
    figure, drawn from the result rows, with the no-pre-training baseline and two targets."""
    pytest.importorskip("matplotlib", reason="the study's plots need matplotlib (the `mim` extra)")
    from jvision.mim.study import write_plots
    rows = [dict(cell="d0_a", data=0, model="a", target=None, sampling=None, probe_top1=40.0),
            dict(cell="d100_a_px_u", data=100, model="a", target="px", sampling="u", pretrain_val_loss=0.4,
                 probe_top1=45.0),
            dict(cell="d1000_a_px_u", data=1000, model="a", target="px", sampling="u", pretrain_val_loss=0.3,
                 probe_top1=50.0),
            dict(cell="d1000_a_hog_u", data=1000, model="a", target="hog", sampling="u", pretrain_val_loss=0.06,
                 probe_top1=48.0)]
    paths = write_plots(tmp_path, rows, dict(name="t", downstream=dict(probe=dict())))
    assert [p.name for p in paths] == ["probe_vs_data.png", "val_loss_vs_probe.png"]
    for p in paths:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 5000
