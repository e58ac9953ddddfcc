"""The variant choice: pins, default, autotuning with its cache (in tmp_path), reload, reports."""
from __future__ import annotations

import json

import numpy as np
import pytest

import jvision  # noqa: F401
import jittor as jt
from jvision import ops
from jvision.ops import autotune, dwconv

OP = "test_toy_op"
COST = {"slow": 3.0, "fast": 1.0, "mid": 2.0}


@pytest.fixture
def toy(monkeypatch, tmp_path):
    """A registered op with three CPU variants whose 'timings' are fixed, a cache in tmp_path,
    autotuning on, and a count of how often each variant was timed."""
    calls = []

    def bench(p, name):
        def step():
            calls.append(name)
        step.cost = COST[name]
        return step

    def measure(fn, warmup=2, repeats=5, stat="median"):
        fn()
        return fn.cost

    autotune.register_op(OP, "toy op of the tests", lambda p, names: names[0], bench)
    for name in COST:
        autotune.register_variant(autotune.Variant(OP, name, "cpu", name, ("toy.cc",),
                                                   (lambda p: "too wide" if p.shapes[0][0] > 9 else None)
                                                   if name == "fast" else autotune._always))
    monkeypatch.setattr(autotune, "measure", measure)
    monkeypatch.setenv("JVISION_AUTOTUNE", "1")
    monkeypatch.delenv("JVISION_OPS_VARIANTS", raising=False)
    autotune.set_cache_path(tmp_path / "autotune.json")
    yield calls
    autotune.set_cache_path(None)
    autotune._OPS.pop(OP, None)
    autotune.forget()


def _p(n=4):
    return autotune.problem(OP, "cpu", "float32", [[n, 3, 8, 8]], {"K": 5})


def test_tuner_picks_the_fastest_and_caches_it(toy, tmp_path):
    assert autotune.select(_p()).name == "fast"
    assert sorted(set(toy)) == ["fast", "mid", "slow"]
    data = json.loads((tmp_path / "autotune.json").read_text())
    (section, entries), = data["devices"].items()
    assert "jvision" in section and "jittor" in section and "threads" in section
    entry = entries[_p().key()]
    assert entry["variant"] == "fast" and entry["times_ms"] == COST
    assert autotune.report()[-1]["reason"] == "tuned"


def test_cache_is_reloaded_without_timing_again(toy, tmp_path):
    autotune.select(_p())
    toy.clear()
    autotune.forget()                                  # a new process, as far as choices go
    autotune.set_cache_path(tmp_path / "autotune.json")
    assert autotune.select(_p()).name == "fast"
    assert toy == [] and autotune.report()[-1]["reason"] == "cached"
    # the same result however often it is asked (deterministic given the cache)
    assert {autotune.select(_p()).name for _ in range(3)} == {"fast"}


def test_retune_times_cached_problems_again_and_overwrites_them(toy, tmp_path):
    """``set_retune(True)`` (``tools/codegen.py tune --retune``): an entry timed on a busy machine
    is timed again and replaced."""
    autotune.select(_p())
    path = tmp_path / "autotune.json"
    data = json.loads(path.read_text())
    (section, entries), = data["devices"].items()
    entries[_p().key()]["variant"] = "slow"            # what a loaded machine may have recorded
    path.write_text(json.dumps(data))
    autotune.forget()
    autotune.set_cache_path(path)
    assert autotune.select(_p()).name == "slow"        # cached: not timed
    toy.clear()
    autotune.set_retune(True)
    try:
        assert autotune.select(_p()).name == "fast" and sorted(set(toy)) == ["fast", "mid", "slow"]
    finally:
        autotune.set_retune(False)
    autotune.forget()
    autotune.set_cache_path(path)
    assert autotune.select(_p()).name == "fast" and autotune.report()[-1]["reason"] == "cached"


def test_ineligible_variants_are_not_timed(toy):
    assert autotune.select(_p(n=12)).name == "mid"
    assert "fast" not in toy


def test_autotune_0_pins_the_default(toy, monkeypatch):
    monkeypatch.setenv("JVISION_AUTOTUNE", "0")
    assert autotune.select(_p()).name == "slow"       # the default rule: first eligible
    assert toy == [] and autotune.report()[-1]["reason"] == "default"


def test_pins_win_and_bad_pins_fail_loudly(toy, monkeypatch):
    with autotune.pinned(**{OP: "mid"}):
        assert autotune.select(_p()).name == "mid"
    assert toy == []
    with autotune.pinned(**{OP: "fast"}), pytest.raises(ValueError, match="cannot run.*too wide"):
        autotune.select(_p(n=12))
    with pytest.raises(ValueError, match="no variant 'warp'"):
        autotune.pin(OP, "warp")
    # leaving a pin forgets the choices made under it; an empty pinned() keeps what was chosen
    assert autotune.select(_p()).name == "fast" and autotune.report()
    with autotune.pinned():
        pass
    assert autotune.report()[-1]["variant"] == "fast"
    monkeypatch.setenv("JVISION_OPS_VARIANTS", f"{OP}=mid")
    autotune.forget()
    assert autotune.select(_p()).name == "mid"
    monkeypatch.setenv("JVISION_OPS_VARIANTS", "nonsense")
    autotune.forget()
    with pytest.raises(ValueError, match="JVISION_OPS_VARIANTS"):
        autotune.select(_p())


def test_corrupt_cache_is_ignored_with_a_warning_and_rewritten(toy, tmp_path):
    (tmp_path / "autotune.json").write_text("{not json")
    with pytest.warns(RuntimeWarning, match="ignoring the cache"):
        assert autotune.select(_p()).name == "fast"
    assert json.loads((tmp_path / "autotune.json").read_text())["format"] == autotune.CACHE_FORMAT


def test_real_op_is_tuned_between_our_cpu_variants(tmp_path, monkeypatch):
    """dwconv_fwd on CPU: the tuner times the eligible variants, picks one of them, caches it."""
    if jt.flags.use_cuda:
        pytest.skip("CPU variants")
    monkeypatch.setenv("JVISION_AUTOTUNE", "1")
    autotune.set_cache_path(tmp_path / "at.json")
    try:
        autotune.forget()
        x = jt.array(np.ones((1, 3, 9, 7), np.float32))
        w = jt.array(np.ones((3, 1, 3, 3), np.float32))
        with ops.backend("kernel"):
            y = ops.depthwise_conv2d(x, w, padding=1).numpy()
        assert y[0, 0, 4, 3] == 9.0
        row = [r for r in ops.report() if r["op"] == "dwconv_fwd"][-1]
        assert row["reason"] == "tuned"
        p = dwconv.fwd_problem(dwconv.ConvGeom(3, 3, ph=1, pw=1), [1, 3, 9, 7], "float32", "cpu", False)
        names = [v.name for v in autotune.eligible(p)]
        assert row["variant"] in names
        entry = json.loads((tmp_path / "at.json").read_text())["devices"]
        assert any(row["key"] in e for e in entry.values())
    finally:
        autotune.set_cache_path(None)
        autotune.forget()


def test_backward_variants_are_chosen_while_the_forward_is_built(tmp_path, monkeypatch):
    """Timing variants inside the backward pass (with the step's whole lazy graph pending) made the
    first training step of VAN-B0 peak at 20 GB instead of 1 GB: every choice, the backward's
    included, must be made before jt.grad runs."""
    if jt.flags.use_cuda:
        pytest.skip("CPU variants")
    monkeypatch.setenv("JVISION_AUTOTUNE", "1")
    autotune.set_cache_path(tmp_path / "at.json")
    try:
        autotune.forget()
        rng = np.random.default_rng(0)
        x = jt.array(rng.standard_normal((1, 3, 9, 7)).astype(np.float32))
        w = jt.array(rng.standard_normal((3, 1, 3, 3)).astype(np.float32))
        with ops.backend("kernel"):
            y = ops.depthwise_conv2d(x, w, padding=1)
            before = {r["key"]: r["reason"] for r in ops.report()}
            assert any(k.startswith("dwconv_bwd|") and "NEED_DW=1" in k and "NEED_DX=1" in k for k in before), before
            calls = []
            monkeypatch.setattr(autotune, "tune", lambda *a, **k: calls.append(a) or {})
            gx, gw = jt.grad((y * y).sum(), [x, w])
            jt.sync([gx, gw])
        assert not calls, "a variant was timed inside the backward pass"
        assert {r["key"] for r in ops.report()} == set(before)
    finally:
        autotune.set_cache_path(None)
        autotune.forget()
