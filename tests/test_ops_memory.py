"""Memory safety of our kernels (issue 13, item 11) and of the harnesses that run them.

A benchmark once crashed in Jittor's compiler thread, or failed on an unrelated fused op, after our
kernels had run, and exited 0; one crash hung while holding Jittor's cache lock. The checks here:
every kernel runs in one process followed by a long sequence of other operators, in a child
process with a time limit (a crash or a hang fails this test and cannot block later Jittor
processes); a crash or a hang of a child is reported as such; the benchmark exits non-zero when a
case crashes.
"""
from __future__ import annotations

import shutil
import sys
import textwrap

import pytest

from jvision.ops._jtcode import run_isolated

# Our kernels on odd shapes (batch 1, odd channel counts and sizes, strides, dilations, strips,
# padding beyond the kernel), forward and backward, then a long sequence of other operators with
# shapes changing on every step (fused element-wise and reduction ops, builtin convolutions,
# matrix products), which is where a corrupted heap showed before.
SCRIPT = textwrap.dedent("""
    import sys
    import numpy as np
    import jvision
    import jittor as jt
    from jittor import nn
    from jvision import ops
    from jvision.ops import depthwise_conv2d_impl
    from jvision.ops.attention import ConvModulation, LargeKernelAttention, MultiScaleConvAttention
    from jvision.ops.norm import LayerNorm2d

    rng = np.random.default_rng(0)
    def rand(*s):
        return jt.array(rng.standard_normal(s).astype(np.float32))

    with ops.backend("kernel"):
        for shape, k, s, p, d in [((1, 5, 9, 7), (3, 3), 1, 1, 1), ((2, 5, 13, 11), (7, 7), 1, 9, 3),
                                  ((1, 3, 12, 25), (1, 21), 1, (0, 10), 1), ((2, 3, 13, 11), (3, 3), 2, 1, 3),
                                  ((2, 3, 7, 9), (5, 3), 1, (4, 0), (1, 2)), ((1, 1, 1, 1), (3, 3), 1, 1, 1)]:
            x, w, b = rand(*shape), rand(shape[1], 1, *k), rand(shape[1])
            y = depthwise_conv2d_impl("kernel", x, w, b, s, p, d)
            jt.sync(jt.grad((y * y).sum(), [x, w, b]) + [y])
        for shape in [(1, 3, 1, 17), (2, 5, 13, 11), (1, 6, 9, 10)]:
            for mod in (LargeKernelAttention(shape[1]), MultiScaleConvAttention(shape[1]),
                        ConvModulation(shape[1], 7), LayerNorm2d(shape[1])):
                x = rand(*shape)
                y = mod(x)
                jt.sync(jt.grad((y * y).sum(), [x] + list(mod.parameters())) + [y])
    print("kernels done", flush=True)

    conv = nn.Conv2d(6, 6, 3, padding=1)
    with ops.backend("builtin"):
        msca = MultiScaleConvAttention(6)
        for step in range(60):
            h, w = 5 + step % 7, 4 + step % 5
            x = rand(2, 6, h, w)
            y = msca(x) + conv(x)
            z = nn.softmax(y.reshape(2, 6, -1), dim=-1).mean(-1)
            m = jt.matmul(rand(3, 6), z.transpose(0, 1)).abs().sqrt()
            loss = (y * y).mean() + m.sum() + (x.maximum(0) - x.exp().log()).sum()
            jt.sync(jt.grad(loss, [x] + list(msca.parameters()) + list(conv.parameters())))
    print("done", flush=True)
""")


def test_kernels_then_a_long_sequence_of_other_ops_in_one_process(repo_root):
    res = run_isolated([sys.executable, "-c", SCRIPT], timeout=1500, cwd=str(repo_root),
                       env=_env(repo_root))
    tail = "\n".join((res.stdout + res.stderr).strip().splitlines()[-25:])
    assert res.ok, f"child process {res.describe()}:\n{tail}"
    assert res.stdout.strip().splitlines()[-1] == "done", tail


def _env(repo_root):
    import os
    return dict(os.environ, PYTHONPATH=str(repo_root) + os.pathsep + os.environ.get("PYTHONPATH", ""))


def test_isolated_runs_report_crashes_and_kill_hangs():
    crash = run_isolated([sys.executable, "-c", "import ctypes; ctypes.string_at(0)"], timeout=60)
    assert not crash.ok and crash.returncode < 0 and "SIGSEGV" in crash.describe()
    # a hung child (and the child it started) is killed with its process group
    hang = run_isolated([sys.executable, "-c", "import subprocess, time; "
                         "subprocess.Popen(['sleep', '300']); print('started', flush=True); time.sleep(300)"],
                        timeout=3)
    assert hang.timed_out and not hang.ok and "timed out" in hang.describe()
    assert "started" in hang.stdout
    assert run_isolated([sys.executable, "-c", "print('fine')"], timeout=60).ok


def test_benchmark_exits_nonzero_when_a_case_crashes(monkeypatch, capsys, repo_root):
    sys.path.insert(0, str(repo_root / "benchmarks"))
    try:
        import bench_ops
    finally:
        sys.path.remove(str(repo_root / "benchmarks"))
    from jvision.ops import _jtcode

    crashed = _jtcode.ChildResult(-11, "", "Caught segfault ... thread_name: 'C1'\n", False)
    monkeypatch.setattr(_jtcode, "run_isolated", lambda *a, **k: crashed)
    rc = bench_ops.main(["--cases", "dw5x5", "--shapes", "small", "--impls", "kernel", "--repeats", "1"])
    err = capsys.readouterr().err
    assert rc == 1 and "crashed (SIGSEGV)" in err and "thread_name" in err


def test_cpu_kernels_under_address_sanitizer(repo_root, tmp_path):
    """The portable CPU kernels (depthwise forward and backward, the fused blocks, LayerNorm) built
    with AddressSanitizer and UBSan and run on odd shapes against the float64 reference
    (``python -m jvision.ops.verify --target asan``; tools/codegen.py check --target asan runs all)."""
    if shutil.which("g++") is None:
        pytest.skip("g++ not found")
    cmd = [sys.executable, "-m", "jvision.ops.verify", "--target", "asan", "--quick", "--variants",
           "portable,fused", "--out", str(tmp_path)]
    res = run_isolated(cmd, timeout=1500, cwd=str(repo_root), env=_env(repo_root))
    out = res.stdout + res.stderr
    if res.returncode == 2 and "no AddressSanitizer runtime" in out:
        pytest.skip("the compiler has no AddressSanitizer runtime")
    assert res.ok, f"{res.describe()}:\n" + "\n".join(out.strip().splitlines()[-30:])
    assert "cases passed (asan)" in out and "ERROR: AddressSanitizer" not in out
