"""tools/analyze.py: parameters and MACs per stage, from a registered name or a config file."""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pytest

import jvision  # noqa: F401
import jittor as jt


@pytest.fixture(scope="module")
def analyze_tool(repo_root):
    spec = importlib.util.spec_from_file_location("analyze_tool", repo_root / "tools/analyze.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_van_b0_at_224_matches_the_published_cost(analyze_tool):
    model, name = analyze_tool.build_model("van_b0")
    matmul = jt.matmul
    r = analyze_tool.analyze(model, (3, 224, 224), name)
    assert jt.matmul is matmul                                   # the counting patch is undone
    assert r["params"] == 4_105_800                               # exactly the official count
    assert 0.85e9 < r["macs"] < 0.90e9                            # published: 0.9 G (README "GFLOPs")
    assert [row["stage"] for row in r["stages"]] == ["stage0", "stage1", "stage2", "stage3", "head"]
    assert sum(row["macs"] for row in r["stages"]) == r["macs"]
    assert r["stages"][-1]["macs"] == 256 * 1000 and r["published"]["macs_g"] == 0.9


def test_attention_matmuls_are_counted(analyze_tool):
    """ViT-B/16 at 224: 17.6 GMACs is the well-known figure (linear layers + attention products)."""
    model, name = analyze_tool.build_model("vit_base_patch16")
    r = analyze_tool.analyze(model, (3, 224, 224), name)
    assert 17.4e9 < r["macs"] < 17.7e9 and r["params"] == 86_567_656


def test_segnext_t_at_512(analyze_tool):
    """SegNeXt-T (MSCAN-T + LightHamHead, ADE20K) at 512x512: published ~7 G."""
    model, name = analyze_tool.build_model("segnext_t")   # jseg is part of the repository: must be registered
    r = analyze_tool.analyze(model, (3, 512, 512), name)
    assert r["params"] == 4_263_414                               # the official segmentor's count
    assert 6.0e9 < r["macs"] < 7.5e9
    backbone = sum(row["macs"] for row in r["stages"] if row["stage"].startswith("backbone."))
    assert 4.5e9 < backbone < 4.8e9


def test_cli_with_a_config_file(repo_root, tmp_path):
    cfg = tmp_path / "tiny.py"
    cfg.write_text("model = dict(type='Conv2Former', kernel_size=7, dims=[8, 16, 32, 64], depths=[1, 1, 2, 1],\n"
                   "             num_classes=10)\n")
    out = tmp_path / "r.json"
    run = subprocess.run([sys.executable, str(repo_root / "tools/analyze.py"), str(cfg), "--shape", "3", "64", "64",
                          "--json", str(out)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "stage0" in run.stdout and "total" in run.stdout
    r = json.loads(out.read_text())
    assert r["model"] == "tiny" and r["input"] == [1, 3, 64, 64] and r["params"] == 196_854
