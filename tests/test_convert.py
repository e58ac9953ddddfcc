"""jvision.convert: reading official checkpoints without PyTorch, unwrapping, strict loading."""
from __future__ import annotations

import collections
import hashlib
import json
import pickle
import struct
import subprocess
import sys
import zipfile

import numpy as np
import pytest

import jvision  # noqa: F401
import jittor as jt

from jvision.convert import (CheckpointReadError, StateDictMismatchError, load_checkpoint, load_state_dict,
                             read_checkpoint_file, read_state_dict, save_state_dict, unwrap_state_dict,
                             write_torch_file)
from jvision.models.van import VAN

TINY_VAN = dict(embed_dims=[8, 16, 32, 64], mlp_ratios=[8, 8, 4, 4], depths=[1, 1, 2, 1], num_classes=10)
FIXTURES = ["van/van_tiny", "segnext/segnext_tiny", "conv2former/conv2former_tiny", "mae/mae_tiny",
            "e2fgvi/feat_prop_tiny", "e2fgvi/transformer_tiny"]


@pytest.fixture(scope="module")
def van_weights(parity_dir):
    with np.load(parity_dir / "van/van_tiny/weights.npz") as f:
        return collections.OrderedDict((k, f[k]) for k in f.files)


def _state_of(model) -> dict:
    return {k: v.numpy() for k, v in model.state_dict().items()}


# ------------------------------------------------------------------------------------------------
# Reading files
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fixture", FIXTURES)
def test_reads_official_pth_like_npz(parity_dir, fixture):
    """weights.pth (torch zip format) read without torch equals weights.npz exactly, dtype included."""
    state = read_checkpoint_file(parity_dir / fixture / "weights.pth")
    with np.load(parity_dir / fixture / "weights.npz") as ref:
        assert list(state) == list(ref.files)
        for k in ref.files:
            assert state[k].dtype == ref[k].dtype, k
            np.testing.assert_array_equal(state[k], ref[k], err_msg=k)


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_writer_round_trip(tmp_path, legacy):
    sd = collections.OrderedDict(
        a=np.arange(6, dtype=np.float32).reshape(2, 3), half=np.array([1.5, -2.0], np.float16),
        count=np.array(7, np.int64), t=np.arange(6, dtype=np.float32).reshape(2, 3).T)
    path = write_torch_file({"state_dict": sd, "epoch": 3, "meta": {"note": "x"}}, tmp_path / "c.pth", legacy)
    back = read_checkpoint_file(path)
    assert back["epoch"] == 3 and back["meta"] == {"note": "x"}
    for k, v in sd.items():
        assert back["state_dict"][k].dtype == v.dtype and back["state_dict"][k].shape == v.shape, k
        np.testing.assert_array_equal(back["state_dict"][k], v)


def test_written_pth_opens_with_jittors_own_reader(tmp_path, van_weights):
    """An independent reader (jittor_utils.load_pytorch, written against torch's format) agrees."""
    from jittor_utils.load_pytorch import load_pytorch
    path = write_torch_file(van_weights, tmp_path / "w.pth")
    other = load_pytorch(str(path))
    for k in ("patch_embed1.proj.weight", "block1.0.layer_scale_1", "head.weight"):
        np.testing.assert_array_equal(other[k].numpy(), van_weights[k])


def test_bfloat16_storage_is_widened():
    from jvision.convert.torch_file import _StorageType, _decode_storage
    values = np.array([1.0, -2.5, 3.140625], np.float32)
    raw = (values.view(np.uint32) >> 16).astype("<u2").tobytes()
    np.testing.assert_array_equal(_decode_storage(raw, _StorageType("BFloat16Storage", "bfloat16")), values)


def test_reads_jittor_pkl_with_vars_npz_and_safetensors(tmp_path):
    ref = {"w": np.arange(4, dtype=np.float32).reshape(2, 2)}
    jt.save({"model": {"w": jt.array(ref["w"])}, "meta": {"iter": 5}}, str(tmp_path / "ck.pkl"))
    back = read_checkpoint_file(tmp_path / "ck.pkl")
    np.testing.assert_array_equal(back["model"]["w"], ref["w"])
    assert back["meta"]["iter"] == 5
    np.savez(tmp_path / "w.npz", **ref)
    np.testing.assert_array_equal(read_checkpoint_file(tmp_path / "w.npz")["w"], ref["w"])
    header = json.dumps({"w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]}}).encode()
    (tmp_path / "w.safetensors").write_bytes(struct.pack("<Q", len(header)) + header + ref["w"].tobytes())
    np.testing.assert_array_equal(read_checkpoint_file(tmp_path / "w.safetensors")["w"], ref["w"])


def test_unpickling_never_imports_foreign_classes(tmp_path, capsys):
    class Evil:
        def __reduce__(self):
            return (print, ("this must not run",))
    blob = pickle.dumps({"state_dict": {"w": np.zeros(2, np.float32)}, "cfg": Evil()}, protocol=2)
    jittor_format = tmp_path / "evil.pkl"
    jittor_format.write_bytes(blob + hashlib.sha1(blob).digest() + b"HCAJSLHD")
    plain = tmp_path / "evil.pth"
    plain.write_bytes(pickle.dumps(Evil(), protocol=2))   # read first as a legacy torch file
    obj = read_checkpoint_file(jittor_format)
    assert repr(obj["cfg"]) == "<opaque builtins.print>"
    assert repr(read_checkpoint_file(plain)) == "<opaque builtins.print>"
    assert "must not run" not in capsys.readouterr().out


# ------------------------------------------------------------------------------------------------
# Truncated and broken files name the file
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_truncated_torch_file_is_reported(tmp_path, van_weights, legacy):
    path = write_torch_file(van_weights, tmp_path / "w.pth.tar", legacy=legacy)
    blob = path.read_bytes()
    path.write_bytes(blob[: len(blob) * 2 // 3])
    with pytest.raises(CheckpointReadError, match=r"w\.pth\.tar.*(truncated|corrupt)"):
        read_state_dict(path)


def test_zip_with_missing_tensor_record_is_reported(tmp_path, van_weights):
    good = write_torch_file(van_weights, tmp_path / "good.pth")
    bad = tmp_path / "bad.pth"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(bad, "w") as dst:
        for item in src.infolist():
            if not item.filename.endswith("data/5"):
                dst.writestr(item, src.read(item))
    with pytest.raises(CheckpointReadError, match=r"bad\.pth.*data/5 is missing"):
        read_checkpoint_file(bad)


def test_truncated_jittor_pkl_and_garbage_are_reported(tmp_path):
    jt.save({"model": {"w": np.zeros(100, np.float32)}}, str(tmp_path / "ck.pkl"))
    blob = (tmp_path / "ck.pkl").read_bytes()
    (tmp_path / "ck.pkl").write_bytes(blob[:200] + blob[-8:])
    with pytest.raises(CheckpointReadError, match=r"ck\.pkl.*sha1"):
        read_checkpoint_file(tmp_path / "ck.pkl")
    (tmp_path / "notes.pth").write_text("hello")
    with pytest.raises(CheckpointReadError, match=r"notes\.pth.*unknown checkpoint format"):
        read_checkpoint_file(tmp_path / "notes.pth")
    (tmp_path / "empty.pth").write_bytes(b"")
    with pytest.raises(CheckpointReadError, match="empty file"):
        read_checkpoint_file(tmp_path / "empty.pth")
    with pytest.raises(FileNotFoundError, match="nowhere.pth"):
        read_checkpoint_file(tmp_path / "nowhere.pth")


# ------------------------------------------------------------------------------------------------
# Unwrapping, prefixes, dtypes
# ------------------------------------------------------------------------------------------------
def test_unwrap_prefers_state_dict_and_can_pick_ema():
    a, b = {"w": np.zeros(1)}, {"w": np.ones(1)}
    assert unwrap_state_dict({"state_dict": a, "state_dict_ema": b, "epoch": 1})[1] == "state_dict"
    sd, where = unwrap_state_dict({"state_dict": a, "state_dict_ema": b}, key="state_dict_ema")
    assert where == "state_dict_ema" and sd["w"][0] == 1
    assert unwrap_state_dict({"model": a, "optimizer": {}})[1] == "model"
    assert unwrap_state_dict({"state_dict_ema": b, "args": None})[1] == "state_dict_ema"
    with pytest.raises(KeyError, match="no state dict found.*epoch"):
        unwrap_state_dict({"epoch": 3, "arch": "van"})
    with pytest.raises(KeyError, match="no entry 'ema'"):
        unwrap_state_dict({"state_dict": a}, key="ema")


def test_pth_tar_nested_module_prefix_fp16_loads(tmp_path, van_weights):
    """The VAN release layout: .pth.tar, weights under state_dict, DDP prefix, here in fp16."""
    state = {f"module.{k}": (v.astype(np.float16) if v.dtype == np.float32 else v)
             for k, v in van_weights.items()}
    path = write_torch_file({"epoch": 300, "arch": "van_b0", "state_dict": state}, tmp_path / "van.pth.tar")
    model = VAN(**TINY_VAN)
    lines = []
    report = load_checkpoint(model, path, log=lines.append)
    assert report.ok and report.prefix == "module." and report.found_in == "state_dict"
    assert len(report.ignored_counters) == 14 and "num_batches_tracked ignored" in lines[0]
    got = _state_of(model)
    for k, v in got.items():
        assert v.dtype == np.float32
        np.testing.assert_array_equal(v, van_weights[k].astype(np.float16).astype(np.float32), err_msg=k)


def test_segmentor_checkpoint_loads_into_backbone(parity_dir):
    """backbone.* of a SegNeXt checkpoint goes into MSCAN; decode_head.* is skipped and counted."""
    from jvision.models.mscan import MSCAN
    model = MSCAN(embed_dims=[8, 16, 32, 64], mlp_ratios=[8, 8, 4, 4], depths=[1, 1, 2, 1])
    report = load_checkpoint(model, parity_dir / "segnext/segnext_tiny/weights.pth", log=None)
    assert report.ok and report.prefix == "backbone."
    assert len(report.outside_prefix) == 13 and all(k.startswith("decode_head.") for k in report.outside_prefix)
    assert "keys outside the prefix skipped (decode_head.)" in report.summary()


# ------------------------------------------------------------------------------------------------
# Strict loading: loud, atomic; non-strict: loads what fits, still reports
# ------------------------------------------------------------------------------------------------
def _broken_state(van_weights):
    state = dict(van_weights)
    del state["block2.0.attn.proj_1.weight"]                          # missing
    state["block9.0.extra.weight"] = np.zeros((3, 3), np.float32)    # unexpected
    state["head.weight"] = np.zeros((1000, 64), np.float32)           # wrong shape
    return state


def test_strict_load_names_every_problem_and_changes_nothing(van_weights):
    model = VAN(**TINY_VAN)
    before = _state_of(model)
    printed = []
    with pytest.raises(StateDictMismatchError) as err:
        load_state_dict(model, _broken_state(van_weights), source="ckpt.pth", log=printed.append)
    msg = str(err.value)
    assert "missing" in msg and "block2.0.attn.proj_1.weight" in msg and "[16, 16, 1, 1]" in msg
    assert "unexpected" in msg and "block9.0.extra.weight" in msg and "[3, 3]" in msg
    assert "head.weight" in msg and "[1000, 64]" in msg and "[10, 64]" in msg
    assert "ckpt.pth" in msg and printed and "head.weight" in printed[0]   # printed, then raised
    report = err.value.report
    assert [k for k, _ in report.missing] == ["block2.0.attn.proj_1.weight"]
    assert [k for k, _ in report.unexpected] == ["block9.0.extra.weight"]
    assert report.mismatched == [("head.weight", (1000, 64), (10, 64))]
    after = _state_of(model)
    assert all(np.array_equal(before[k], after[k]) for k in before), "a failed strict load changed the model"


def test_non_strict_load_loads_the_rest_and_prints_the_table(van_weights):
    model = VAN(**TINY_VAN)
    printed = []
    report = load_state_dict(model, _broken_state(van_weights), strict=False, log=printed.append)
    assert not report.ok and "not strict" in printed[0] and "block9.0.extra.weight" in printed[0]
    got = _state_of(model)
    np.testing.assert_array_equal(got["block1.0.mlp.fc1.weight"], van_weights["block1.0.mlp.fc1.weight"])
    assert not np.array_equal(got["head.weight"][:1], np.zeros((1, 64)))   # the mismatched one kept its init


def test_ignore_patterns_allow_a_new_head(van_weights):
    state = {k: v for k, v in van_weights.items() if not k.startswith("head.")}
    model = VAN(**{**TINY_VAN, "num_classes": 3})
    report = load_state_dict(model, state, ignore_missing=("head.*",), log=None)
    assert report.ok and len(report.allowed_missing) == 2


def test_save_state_dict_formats(tmp_path, van_weights):
    for name in ("w.pkl", "w.pth", "w.npz"):
        path = save_state_dict(van_weights, tmp_path / name, meta={"from": "test"})
        state, where = read_state_dict(path)
        assert where == ("model" if name.endswith(".pkl") else "<root>")
        assert set(state) == set(van_weights)
    assert jt.load(str(tmp_path / "w.pkl"))["meta"] == {"from": "test"}   # jt.load reads our .pkl


# ------------------------------------------------------------------------------------------------
# tools/convert.py
# ------------------------------------------------------------------------------------------------
def test_convert_cli(tmp_path, repo_root, parity_dir):
    cfg = tmp_path / "tiny_van.py"
    cfg.write_text(f"model = dict(type='VAN', **{TINY_VAN!r})\n")
    src = parity_dir / "van/van_tiny/weights.pth"
    run = subprocess.run([sys.executable, str(repo_root / "tools/convert.py"), str(src), str(tmp_path / "out.pkl"),
                          "--model", str(cfg)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "164/164 tensors" in run.stdout and "wrote 164 tensors" in run.stdout
    model = VAN(**TINY_VAN)
    assert load_checkpoint(model, tmp_path / "out.pkl", log=None).ok

    bad = subprocess.run([sys.executable, str(repo_root / "tools/convert.py"), str(src), str(tmp_path / "x.pkl"),
                          "--model", "van_b0"], capture_output=True, text=True, timeout=300)
    assert bad.returncode == 1 and "nothing written" in bad.stderr and not (tmp_path / "x.pkl").exists()
    assert "shape" in bad.stdout and "patch_embed1.proj.weight" in bad.stdout
