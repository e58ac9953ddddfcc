"""tools/compare.py and jvision.convert.fixtures: our models against the official PyTorch numbers.

Every family registers its parity adapter in its own model file on import (``FAMILIES``); every
tiny fixture (van, conv2former, mae, segnext: MSCAN + the jseg head) must match within PARITY_TOL
(the README's claim, "at most 4.5e-6 absolute", with headroom) with nothing left unchecked; every
full-size manifest must have exactly the official keys, shapes and parameter counts (the models
are built, never run).
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

import jvision  # noqa: F401
import jvision.models  # noqa: F401
import jseg  # noqa: F401  (registers the segnext decode head's adapter)
from jvision.convert import fixtures, write_torch_file

#: Every family (part) with a parity adapter -> the model file that registers it on import. A family
#: added to the project adds itself here; a missing registration fails this test, it never skips.
FAMILIES = {
    ("van", None): "jvision.models.van",
    ("conv2former", None): "jvision.models.conv2former",
    ("mae", None): "jvision.models.mae",
    ("segnext", "backbone"): "jvision.models.mscan",
    ("segnext", "decode_head"): "jseg.models.segnext",
    ("e2fgvi", None): "jvision.models.e2fgvi.parity",
    ("videomae", None): "jvision.models.videomae",
}

PARITY_TOL = 2e-5   # README: every tiny fixture agrees to at most 4.5e-6 absolute

TINY = ["van/van_tiny", "conv2former/conv2former_tiny", "mae/mae_tiny", "segnext/segnext_tiny"]
FULL = ([f"van/van_b{i}" for i in range(7)]
        + [f"conv2former/conv2former_{v}" for v in ("n", "t", "s", "b", "b_22k", "l")]
        + [f"mae/mae_vit_{v}_dec512d8b" for v in ("base_patch16", "large_patch16", "huge_patch14")]
        + [f"segnext/mscan_{v}" for v in "tsbl"] + [f"segnext/segnext_{v}_ade20k" for v in "tsbl"])


def test_every_family_registers_its_adapter_on_import():
    """In a fresh process: a lookup alone finds jvision's families (the registry imports
    jvision.models), importing jseg adds the head, and each adapter lives in its family's file."""
    code = ("import json\n"
            "from jvision.convert import fixtures\n"
            "lazy = fixtures.get_adapter('van') is not None\n"
            "before = fixtures.registered_adapters()\n"
            "import jseg\n"
            "homes = {f'{f}/{p}': fixtures.get_adapter(f, p).run.__module__ for f, p in fixtures.registered_adapters()}\n"
            "print('RESULT', json.dumps(dict(lazy=lazy, before=before, homes=homes)))\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    result = json.loads(run.stdout.split("RESULT ", 1)[1])
    assert result["lazy"]
    assert ["segnext", "decode_head"] not in result["before"] and ["segnext", "backbone"] in result["before"]
    want = {f"{f}/{p}": module for (f, p), module in FAMILIES.items()}
    missing = sorted(set(want) - set(result["homes"]))
    assert not missing, f"no parity adapter registered for {missing}"
    assert {k: result["homes"][k] for k in want} == want


def test_composite_part_without_adapter_is_reported_not_passed():
    parts = fixtures._part_list({"family": "segnext", "name": "segnext_t_ade20k",
                                 "constructor_kwargs": {"backbone": {}, "decode_head": {}}})
    assert parts == [("backbone", "backbone."), ("decode_head", "decode_head.")]
    assert fixtures._part_list({"family": "segnext", "name": "mscan_t", "constructor_kwargs": {}}) == [("backbone", "")]
    assert "needs jseg" in fixtures._pending_reason("segnext", "decode_head")
    assert "no parity adapter registered for family 'odd'" in fixtures._pending_reason("odd", None)


@pytest.mark.parametrize("fixture", TINY)
def test_tiny_fixture_matches_at_the_claimed_level(parity_dir, fixture):
    report = fixtures.check_folder(parity_dir / fixture, tol=PARITY_TOL)
    assert not report.failed, report.format()
    assert not report.unchecked, report.format()
    checked = {o.name: o for o in report.outputs}
    if fixture.startswith("segnext"):
        assert {"out_0", "out_1", "out_2", "out_3", "head_logits", "seg_logits"} <= set(checked), report.format()
    for o in checked.values():
        assert o.status == "ok" and (o.exact or o.max_abs < PARITY_TOL), o
    assert report.loads and all(load["ok"] for load in report.loads)


@pytest.mark.parametrize("manifest", FULL)
def test_full_size_manifest_keys_shapes_counts(parity_dir, manifest):
    report = fixtures.check_folder(parity_dir / manifest)
    assert not report.failed, report.format()
    ours = [p for p in report.parts if p.part in (None, "backbone")]
    assert len(ours) == 1 and ours[0].status == "ok", report.format()
    assert ours[0].counts and all(a == b for a, b in ours[0].counts.values())
    if manifest.startswith("segnext/segnext_"):
        head = [p for p in report.parts if p.part == "decode_head"][0]
        assert head.status == "ok", report.format()


def test_num_batches_tracked_is_reported_as_expected_difference(parity_dir):
    report = fixtures.check_folder(parity_dir / "van/van_b0")
    part = report.parts[0]
    assert part.batch_counters == 30 and "num_batches_tracked" in part.detail
    assert part.official_keys == 402 and part.our_keys == 372


def _copy_fixture(parity_dir, name, tmp_path):
    dst = tmp_path / name.split("/")[-1]
    dst.mkdir()
    for f in ("manifest.json", "io.npz", "weights.pth"):
        shutil.copy(parity_dir / name / f, dst / f)
    return dst


def test_wrong_weights_fail_with_errors_per_output(parity_dir, tmp_path):
    folder = _copy_fixture(parity_dir, "van/van_tiny", tmp_path)
    with np.load(parity_dir / "van/van_tiny/weights.npz") as f:
        state = {k: f[k] for k in f.files}
    state["block3.1.mlp.fc2.bias"] = state["block3.1.mlp.fc2.bias"] + 0.01
    write_torch_file(state, folder / "weights.pth")
    report = fixtures.check_folder(folder)
    status = {o.name: o.status for o in report.outputs}
    assert report.failed and report.verdict == "FAIL"
    assert status["out_0"] == status["out_1"] == "ok" and status["out_2"] == status["logits"] == "FAIL"


def test_weights_that_do_not_fit_fail_loudly(parity_dir, tmp_path):
    folder = _copy_fixture(parity_dir, "van/van_tiny", tmp_path)
    with np.load(parity_dir / "van/van_tiny/weights.npz") as f:
        state = {k: f[k] for k in f.files if k != "norm2.weight"}
    write_torch_file(state, folder / "weights.pth")
    report = fixtures.check_folder(folder)
    assert report.failed and any(p.status == "FAIL" and "norm2.weight" in p.detail for p in report.parts)


def test_adapters_can_be_registered_from_outside(tmp_path):
    """A family plugged in from another package (as jseg does for the SegNeXt head)."""
    import jittor as jt
    from jittor import nn

    rng = np.random.default_rng(0)
    w = rng.standard_normal((3, 4)).astype(np.float32)
    x = rng.standard_normal((2, 4)).astype(np.float32)
    folder = tmp_path / "toy_tiny"
    folder.mkdir()
    write_torch_file({"fc.weight": w, "fc.bias": np.zeros(3, np.float32)}, folder / "weights.pth")
    np.savez(folder / "io.npz", input=x, out=x @ w.T, extra=np.ones(2, np.float32))
    (folder / "manifest.json").write_text(json.dumps({
        "kind": "tiny_fixture_with_weights", "family": "toy", "name": "toy_tiny", "constructor_kwargs": {},
        "total_parameters": 15, "trainable_parameters": 15,
        "state_dict": [{"key": "fc.weight", "shape": [3, 4]}, {"key": "fc.bias", "shape": [3]}],
        "io": {"arrays": {"input": {}, "out": {}, "extra": {}}}}))

    class Toy(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(4, 3)

    adapter = fixtures.Adapter("toy", lambda kw, m: Toy(), lambda m: Toy(),
                               lambda model, io, up, m: {"out": model.fc(jt.array(io["input"]))}, outputs=("out",))
    fixtures.register_adapter(adapter)
    try:
        assert fixtures.get_adapter("toy") is adapter and ("toy", None) in fixtures.registered_adapters()
        with pytest.raises(KeyError, match="already registered"):
            fixtures.register_adapter(fixtures.Adapter("toy", None, None, None))
        report = fixtures.check_folder(folder)
        status = {o.name: (o.status, o.detail) for o in report.outputs}
        assert status["out"][0] == "ok" and status["extra"][0] == "not checked"
        assert report.verdict == "PASS (partial)" and report.unchecked == ["extra"]
    finally:
        fixtures.ADAPTERS._table.pop("toy")


def test_compare_cli(parity_dir, repo_root, tmp_path):
    out = tmp_path / "r.json"
    run = subprocess.run([sys.executable, str(repo_root / "tools/compare.py"), str(parity_dir / "van/van_tiny"),
                          str(parity_dir / "mae"), str(parity_dir / "segnext/mscan_t"), "--json", str(out),
                          "--no-plugins"], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "max abs" in run.stdout and "=> PASS" in run.stdout and "FAIL" not in run.stdout
    reports = json.loads(out.read_text())["reports"]
    assert [r["name"] for r in reports] == ["van_tiny", "mae_tiny", "mae_vit_base_patch16_dec512d8b",
                                            "mae_vit_huge_patch14_dec512d8b", "mae_vit_large_patch16_dec512d8b",
                                            "mscan_t"]
    assert all(r["verdict"] == "PASS" for r in reports)

    # A segmentor manifest without the head adapter: partial, reported, exit 0; 1 with --require-all.
    args = [sys.executable, str(repo_root / "tools/compare.py"), str(parity_dir / "segnext/segnext_t_ade20k"),
            "--no-plugins"]
    run = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0 and "not checked -- needs jseg" in run.stdout, run.stdout + run.stderr
    assert subprocess.run(args + ["--require-all"], capture_output=True, timeout=300).returncode == 1

    # An unknown family: nothing checked, exit 2.
    odd = tmp_path / "odd"
    odd.mkdir()
    (odd / "manifest.json").write_text(json.dumps({"kind": "full_size_manifest_no_weights", "family": "odd",
                                                   "name": "odd", "state_dict": [], "total_parameters": 0}))
    run = subprocess.run([sys.executable, str(repo_root / "tools/compare.py"), str(odd)], capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 2 and "NOT CHECKED" in run.stdout, run.stdout + run.stderr
