"""E2FGVI training and evaluation in the engine, on a tiny generator (channel 16, one transformer
block) and the built-in synthetic clips: a short run lowers the hole L1 and logs the losses and the
offset magnitude; generator and discriminator resume exactly after an interruption (both
optimizers, the spectral-norm vectors); a NaN stops the run naming the last good checkpoint;
``tools/test.py`` evaluates a checkpoint (ours and an official generator-only file) on a fabricated
DAVIS layout with VFID "not computed"."""
from __future__ import annotations

import importlib.util
import json
import zipfile

import cv2
import numpy as np
import pytest

import jittor as jt

import jvision.video  # noqa: F401  (registers VideoInpainter, the datasets and the metric)
from conftest import REPO
from jvision.config import Config
from jvision.engine import NonFiniteLossError, Trainer, read_training_checkpoint
from jvision.engine.hooks import Hook
from jvision.registry import HOOKS

DEMO = REPO / "configs" / "e2fgvi" / "e2fgvi_demo_synthetic.py"
WARMUP = REPO / "configs" / "e2fgvi" / "e2fgvi_demo_warmup.py"
#: One tiny setting for every test here (each new shape costs a compile).
TINY = ("model.generator.pretrained=None", "model.generator.channel=16", "model.generator.hidden=32",
        "model.generator.depth=1", "model.discriminator.nf=4", "model.num_local_frames=2",
        "data.batch_size=1", "data.num_workers=0", "data.train.num_clips=8", "data.train.length=6",
        "data.train.num_local_frames=2", "data.train.num_ref_frames=1", "data.val.num_clips=1", "data.val.length=6",
        "data.train.max_speed=3", "data.val.max_speed=3",
        "custom_hooks=[]", "train.log_interval=1", "train.val_interval=0", "train.ckpt_interval=0",
        "schedule={'type':'constant'}")


def tiny_cfg(*options) -> Config:
    cfg = Config.fromfile(DEMO)
    cfg.merge_from_list(list(TINY + options))
    return cfg


class Interrupt(Exception):
    pass


@HOOKS.register(force=True)
class E2fgviStopAt(Hook):
    """Raises after iteration ``at`` (after its checkpoint): a run killed there."""
    priority = 90

    def __init__(self, at: int = 2):
        self.at = at

    def after_iter(self, trainer, logs):
        if trainer.iter == self.at:
            raise Interrupt(self.at)


@HOOKS.register(force=True)
class E2fgviPoisonAt(Hook):
    """Before iteration ``at`` + 1, sets a generator weight to NaN (a diverged update)."""

    def __init__(self, at: int = 2):
        self.at = at

    def before_iter(self, trainer):
        if trainer.iter == self.at:
            w = trainer.model.generator.decoder[-1].weight
            w.assign(jt.full(w.shape, float("nan")))


def _records(work):
    return [json.loads(line) for line in (work / "metrics.jsonl").read_text().splitlines()]


def _hole_l1(model, batch) -> float:
    from jvision.models.e2fgvi.loss import masked_l1
    model.eval()
    with jt.no_grad():
        b, t, c, h, w = batch["frames"].shape
        pred, _ = model.generator(batch["frames"] * (1 - batch["masks"]), 2)
        value = masked_l1(pred.reshape([b, t, c, h, w]), batch["frames"], batch["masks"]).item()
    model.train()
    return value


def test_short_run_lowers_the_hole_l1_and_logs_losses_and_offsets(tmp_path):
    # one training clip, seen with fresh random masks every iteration; the check uses two other
    # windows and masks of it. 12 iterations from the official init moved the hole L1 by a few percent
    # only (measured 0.357 -> 0.344; lr 5e-3 or 1e-2 makes the randomly initialised flow network
    # diverge to NaN), hence the narrow margin; the demo config now uses init_weights="kaiming" (the
    # test passes with it too, not re-measured).
    cfg = tiny_cfg("train.max_iters=12", "optimizer.generator.lr=2e-3", "data.train.num_clips=1")
    trainer = Trainer.from_config(cfg, work_dir=tmp_path)
    assert sorted(trainer.optimizers) == ["discriminator", "generator"]
    assert not any(n.startswith("flow_comp_loss") for g in trainer.optimizer.param_groups for n in g["names"])
    from jvision.data.loader import collate
    ds = trainer.train_loader.dataset
    batch = collate([ds.prepare(0, np.random.default_rng(100 + i)) for i in range(2)])
    before = _hole_l1(trainer.model, batch)
    trainer.run()
    after = _hole_l1(trainer.model, batch)
    assert after < 0.98 * before, (before, after)
    train = [r for r in _records(tmp_path) if r["mode"] == "train"]
    assert {"loss", "loss_d", "adv_loss", "flow_loss", "hole_loss", "valid_loss", "offset_max",
            "lr.generator", "lr.discriminator"} <= set(train[-1])
    assert all(np.isfinite(r["offset_max"]) and r["offset_max"] > 0 for r in train)
    val = [r for r in _records(tmp_path) if r["mode"] == "val"][-1]      # evaluated after the last iteration
    assert val["videos"] == 1 and val["frames"] == 6 and np.isfinite(val["psnr"]) and np.isfinite(val["ewarp"])
    assert val["vfid"].startswith("not computed")


def test_interrupted_run_resumes_exactly_with_both_optimizers(tmp_path):
    opts = ("train.max_iters=2", "train.ckpt_interval=1", "data.val=None")
    full = Trainer.from_config(tiny_cfg(*opts), work_dir=tmp_path / "full")
    full.run()
    with pytest.raises(Interrupt):
        Trainer.from_config(tiny_cfg(*opts, "custom_hooks=[{'type':'E2fgviStopAt','at':1}]"),
                            work_dir=tmp_path / "cut").run()
    assert not (tmp_path / "cut" / "iter_0000002.pkl").exists()
    Trainer.from_config(tiny_cfg(*opts), work_dir=tmp_path / "cut", resume=True).run()
    a = read_training_checkpoint(tmp_path / "full" / "iter_0000002.pkl")
    b = read_training_checkpoint(tmp_path / "cut" / "iter_0000002.pkl")
    assert a["model"].keys() == b["model"].keys()
    assert "discriminator.conv.0.weight_u" in a["model"] and "generator.sc.bias_conv.weight" in a["model"]
    for k in a["model"]:
        np.testing.assert_allclose(a["model"][k], b["model"][k], rtol=0, atol=1e-6, err_msg=k)
    for name in ("generator", "discriminator"):
        sa, sb = a["optimizer"]["optimizers"][name], b["optimizer"]["optimizers"][name]
        assert sa["step_count"] == sb["step_count"] == 2
        for ga, gb in zip(sa["param_groups"], sb["param_groups"]):
            for ma, mb in zip(ga["exp_avg_sq"], gb["exp_avg_sq"]):
                np.testing.assert_allclose(ma, mb, rtol=1e-5, atol=1e-12)
    # the initial spectral-norm vectors follow the seed too (an unseeded draw would differ per run)
    np.testing.assert_array_equal(a["model"]["discriminator.conv.8.weight_v"], b["model"]["discriminator.conv.8.weight_v"])


def test_warmup_trains_the_flow_and_autoencoder_only_and_the_demo_generator_starts_from_it(tmp_path):
    cfg = Config.fromfile(WARMUP)
    cfg.merge_from_list(["model.num_local_frames=2", "data.batch_size=1", "data.num_workers=0",
                         "data.train.num_clips=1", "data.train.length=6", "data.train.num_local_frames=2",
                         "data.train.num_ref_frames=1", "data.train.max_speed=3", "train.max_iters=8",
                         "train.log_interval=1", "train.ckpt_interval=0", "schedule={'type':'constant'}"])
    trainer = Trainer.from_config(cfg, work_dir=tmp_path / "warmup")
    before = {k: v.numpy().copy() for k, v in trainer.model.generator.state_dict().items()}
    trainer.run()
    after = {k: v.numpy().copy() for k, v in trainer.model.generator.state_dict().items()}
    trained = ("update_spynet.basic_module.", "encoder.", "decoder.")
    changed = {k for k in before if not np.array_equal(before[k], after[k])}
    expected = {k for k in before if k.startswith(trained)}
    assert changed == expected, sorted(changed ^ expected)
    train = [r for r in _records(tmp_path / "warmup") if r["mode"] == "train"]
    assert {"loss", "flow_loss", "reconstruction_loss"} <= set(train[-1])
    recon = [r["reconstruction_loss"] for r in train]
    assert np.mean(recon[-3:]) < 0.9 * np.mean(recon[:3]), recon
    # the demo's generator loads the warm-up run's checkpoint strictly (its generator. keys)
    from jvision.registry import MODELS
    demo = tiny_cfg(f"model.generator.pretrained={tmp_path / 'warmup' / 'latest.pkl'}")
    generator = MODELS.build(dict(demo.model)).generator
    for k, v in generator.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), after[k], err_msg=k)


def test_nan_stops_naming_the_last_good_checkpoint(tmp_path):
    cfg = tiny_cfg("train.max_iters=2", "train.ckpt_interval=1", "data.val=None",
                   "custom_hooks=[{'type':'E2fgviPoisonAt','at':1}]")
    with pytest.raises(NonFiniteLossError, match=r"loss is nan at iteration 2.*Last good checkpoint: .*iter_0000001\.pkl"):
        Trainer.from_config(cfg, work_dir=tmp_path).run()
    state = read_training_checkpoint(tmp_path / "iter_0000001.pkl")["model"]
    assert all(np.isfinite(v).all() for v in state.values())
    assert not (tmp_path / "iter_0000002.pkl").exists()


# ------------------------------------------------------------------------------------------------
# evaluation through tools/test.py on a fabricated DAVIS layout
# ------------------------------------------------------------------------------------------------
def _davis(root, n_videos=2, length=6):
    from jvision.data.video_synthetic import make_clip
    (root / "JPEGImages").mkdir(parents=True)
    index = {}
    for v in range(n_videos):
        clip = make_clip(length, (60, 108), seed=50 + v)
        name = f"video{v}"
        index[name] = length
        with zipfile.ZipFile(root / "JPEGImages" / f"{name}.zip", "w") as zf:
            for i, f in enumerate(clip.frames):
                zf.writestr(f"{i:05d}.jpg", cv2.imencode(".jpg", cv2.cvtColor(f, cv2.COLOR_RGB2BGR))[1].tobytes())
        (root / "test_masks" / name).mkdir(parents=True)
        for i, m in enumerate(clip.masks):
            cv2.imwrite(str(root / "test_masks" / name / f"{i:05d}.png"), m * 255)
    (root / "test.json").write_text(json.dumps(index))


def _load_test_tool():
    spec = importlib.util.spec_from_file_location("jvision_tools_test_e2fgvi", REPO / "tools" / "test.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_tools_test_evaluates_ours_and_an_official_generator_file(tmp_path):
    _davis(tmp_path / "davis")
    cfg = tiny_cfg("train.max_iters=1", "data.val=None")
    cfg.data["test"] = dict(type="VideoInpaintingTestDataset", root=str(tmp_path / "davis"), split="test",
                            height=60, width=108, dilate=4)
    cfg.evaluation["metric"]["ssim_win_size"] = 31
    trainer = Trainer.from_config(cfg, work_dir=tmp_path / "work")
    trainer.run()
    # the checkpoint holds every weight: the config's warm-up file is neither needed nor read
    cfg.merge_from_list([f"model.generator.pretrained={tmp_path / 'no_such_warmup.pkl'}"])
    cfg_file = tmp_path / "tiny.py"
    cfg.dump(cfg_file)
    tool = _load_test_tool()
    out = tmp_path / "ours.json"
    assert tool.main([str(cfg_file), str(tmp_path / "work" / "latest.pkl"), "--split", "test", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    m = result["metrics"]
    assert result["samples"] == 2 and m["videos"] == 2 and m["frames"] == 12
    assert 5 < m["psnr"] < 60 and 0 < m["ssim"] <= 1
    assert m["vfid"].startswith("not computed") and m["ewarp"].startswith("not computed")   # no flows on disk
    # the generator's weights alone, as an official E2FGVI-CVPR22.pth holds them (no prefix)
    from jvision.convert import save_state_dict
    state = read_training_checkpoint(tmp_path / "work" / "latest.pkl")["model"]
    pth = save_state_dict({k[len("generator."):]: v for k, v in state.items() if k.startswith("generator.")},
                          tmp_path / "official.pth")
    out2 = tmp_path / "official.json"
    assert tool.main([str(cfg_file), str(pth), "--split", "test", "--out", str(out2)]) == 0
    assert json.loads(out2.read_text())["metrics"]["psnr"] == pytest.approx(m["psnr"], abs=1e-9)
    # tools/inpaint.py --config --ckpt builds the same generator, without the warm-up file either
    spec = importlib.util.spec_from_file_location("jvision_tools_inpaint_e2fgvi", REPO / "tools" / "inpaint.py")
    inpaint_tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(inpaint_tool)
    generator = inpaint_tool.build_model("e2fgvi_hq", str(tmp_path / "work" / "latest.pkl"), str(cfg_file))
    for k, v in generator.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), state["generator." + k], err_msg=k)
