"""No file the project reads runs code, and every tool loads weights through one loader.

A crafted pickle whose REDUCE would run a shell command goes through each entry point (tools/test.py,
--resume, a segmentor's ``pretrained``, tools/infer.py, tools/convert.py): each raises with a message
naming the file, and the command never runs. Our own checkpoints need nothing beyond the restricted
reader: optimizer state and meta (NumPy arrays, tuples, NumPy's and Python's RNG states) round-trip.
"""
from __future__ import annotations

import importlib.util
import os
import pickle
import random
import zipfile

import numpy as np
import pytest

import jittor as jt
from conftest import REPO

import toy_components  # noqa: F401
from jvision.config import Config
from jvision.convert import jittor_pickle_bytes, read_checkpoint_file
from jvision.engine import AdamW, Trainer, read_training_checkpoint, save_checkpoint

TOY = REPO / "tests" / "configs" / "toy.py"
TINY_SEGMENTOR = dict(
    type="EncoderDecoder",
    backbone=dict(type="MSCAN", embed_dims=[8, 16, 32, 64], mlp_ratios=[2, 2, 2, 2], depths=[1, 1, 1, 1]),
    decode_head=dict(type="LightHamHead", in_channels=[16, 32, 64], channels=16, ham_channels=16,
                     ham_kwargs=dict(MD_R=4), num_classes=3, norm_cfg=dict(type="GN", num_groups=4)))


class _RunsCommand:
    def __init__(self, command: str):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


def _crafted(tmp_path, kind: str):
    """A checkpoint-looking file that runs ``touch <marker>`` when plainly unpickled."""
    marker = tmp_path / f"ran_{kind}"
    evil = _RunsCommand(f"touch {marker}")
    if kind == "jittor_pkl":     # the layout of our checkpoints and jt.save: pickle + sha1 + magic
        path = tmp_path / "evil.pkl"
        path.write_bytes(jittor_pickle_bytes({"model": evil, "optimizer": None, "meta": {"iter": 1}}))
    elif kind == "plain_pkl":
        path = tmp_path / "evil_plain.pkl"
        path.write_bytes(pickle.dumps(evil, protocol=2))
    else:                        # torch.save's zip layout
        path = tmp_path / "evil.pth"
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("evil/data.pkl", pickle.dumps({"state_dict": evil}, protocol=2))
            archive.writestr("evil/version", "3\n")
    return path, marker


def _load_tool(name: str):
    spec = importlib.util.spec_from_file_location(f"jvision_tools_{name}", REPO / "tools" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_the_crafted_files_would_run_a_command(tmp_path):
    """The fixture is live: plain unpickling runs the command (so the tests below can fail)."""
    path, marker = _crafted(tmp_path, "plain_pkl")
    with open(path, "rb") as f:
        pickle.load(f)  # noqa: S301 - on purpose, to prove the file is dangerous
    assert marker.exists()


@pytest.mark.parametrize("kind", ["jittor_pkl", "plain_pkl", "torch_zip"])
def test_the_reader_runs_nothing_in_any_format(tmp_path, kind):
    path, marker = _crafted(tmp_path, kind)
    read_checkpoint_file(path)  # reads it, with the command as an inert placeholder
    with pytest.raises(Exception, match=str(path)):
        read_training_checkpoint(path)
    assert not marker.exists()


def _seg_config(tmp_path):
    cfg = tmp_path / "seg_tiny.py"
    cfg.write_text(f"custom_imports = ['jseg']\nmodel = {TINY_SEGMENTOR!r}\n")
    return cfg


ENTRY_POINTS = ["tools/test.py", "--resume", "model.pretrained", "tools/infer.py", "tools/convert.py"]


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_no_entry_point_runs_a_crafted_checkpoint(tmp_path, entry):
    path, marker = _crafted(tmp_path, "jittor_pkl")
    with pytest.raises(Exception) as err:
        if entry == "tools/test.py":
            _load_tool("test").main([str(TOY), str(path)])
        elif entry == "--resume":
            cfg = Config.fromfile(TOY)
            Trainer.from_config(cfg, work_dir=tmp_path / "work", resume=str(path))
        elif entry == "model.pretrained":
            import jseg  # noqa: F401
            from jvision.registry import MODELS
            MODELS.build(dict(TINY_SEGMENTOR, pretrained=str(path)))
        elif entry == "tools/infer.py":
            import cv2
            image = tmp_path / "img.png"
            cv2.imwrite(str(image), np.zeros((16, 16, 3), np.uint8))
            _load_tool("infer").main([str(_seg_config(tmp_path)), str(path), str(image), "--out", str(tmp_path / "o")])
        else:
            _load_tool("convert").main([str(path), str(tmp_path / "out.pkl")])
    assert str(path) in str(err.value), str(err.value)
    assert "\n" not in str(err.value)
    assert not marker.exists(), f"{entry} ran the command in {path}"


def test_our_checkpoint_round_trips_through_the_restricted_reader(tmp_path):
    model = toy_components.ToyMLP()
    opt = AdamW(model.parameters(), lr=1e-3)
    opt.step(model(jt.array(np.ones((2, 8), np.float32))).sum())
    np.random.seed(5)
    random.seed(5)
    meta = {"rng_numpy": np.random.get_state(), "rng_python": random.getstate(), "shape": (3, 4),
            "scalars": [np.float64(0.5), np.int64(3), np.float32(2.0), np.bool_(True)], "note": None}
    path = save_checkpoint(tmp_path, 7, model, opt, meta)
    back = read_training_checkpoint(path)
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(back["model"][key], value.numpy())
    saved = back["optimizer"]
    assert saved["step_count"] == 1 and saved["param_groups"][0]["shapes"][0] == (16, 8)
    np.testing.assert_array_equal(saved["param_groups"][0]["exp_avg"][0],
                                  opt.param_groups[0]["exp_avg"][0].numpy())
    m = back["meta"]
    assert m["iter"] == 7 and m["shape"] == (3, 4) and m["note"] is None
    state = m["rng_numpy"]
    assert state[0] == "MT19937" and np.array_equal(state[1], np.random.get_state()[1])
    np.random.set_state(state)                                  # usable as NumPy's own state
    assert m["rng_python"] == random.getstate()
    assert [type(x) for x in m["scalars"]] == [np.float64, np.int64, np.float32, np.bool_]
    assert m["versions"]["jittor"] == jt.__version__
    assert jt.load(str(path))["meta"]["iter"] == 7               # still Jittor's own format too


def test_tools_test_evaluates_our_checkpoint_and_writes_beside_it(tmp_path, capsys):
    cfg = Config.fromfile(TOY)
    cfg.merge_from_list(["train.max_iters=2", "train.val_interval=0"])
    Trainer.from_config(cfg, work_dir=tmp_path / "run").run()
    before = set((REPO / "work_dirs").glob("*")) if (REPO / "work_dirs").exists() else set()
    assert _load_tool("test").main([str(TOY), str(tmp_path / "run" / "latest.pkl")]) == 0
    out = capsys.readouterr().out
    assert "(iteration 2)" in out
    written = tmp_path / "run" / "test_iter_0000002_val.json"
    assert written.is_file() and f"results written to {written.resolve()}" in out
    after = set((REPO / "work_dirs").glob("*")) if (REPO / "work_dirs").exists() else set()
    assert after == before
