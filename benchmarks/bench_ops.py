#!/usr/bin/env python3
"""Speed of the convolutional-attention operators: our kernels against Jittor and PyTorch.

For each case (depthwise 5x5, 7x7 dilation 3, the three strip pairs of MSCA, 7x7, 11x11, and the
LKA / MSCA / ConvMod modules) at the shapes of VAN-B0 / MSCAN-T stages 1 and 2 with batch 8, it
times the forward pass and forward+backward (gradients of the input and all parameters) for:

  kernel          the ``kernel`` backend: our kernels, the variant of each op as the switch and
                  the autotuner choose (JVISION_AUTOTUNE, JVISION_OPS_VARIANTS); modules: fused
  kernel-unfused  modules only: the unfused variant (our depthwise kernel per layer)
  builtin         Jittor's nn.conv2d(groups=C) (oneDNN on CPU when Jittor found it)
  reference       Jittor meta-operators (reindex/broadcast/sum): only at the small shape
  torch           PyTorch CPU (when torch is installed), same threads, in its own process

Every (case, shape) runs in a child process of its own, with a time limit (--timeout): a crash or a
hang of one case cannot hide or block the others (a hung Jittor process can hold the compile-cache
lock of every Jittor process on the machine; the child is killed with its compiler processes). A
case that crashes, times out or raises is reported with the child's last lines, and the run then
exits with status 1. Each child warms up (JIT compiles) and reports the median of several repeats.
The table adds GFLOP/s (2 x multiply-adds of every convolution; forward+backward counted as 3x
forward), the speed-up of `kernel` over each row, and the variants that ran.

    python benchmarks/bench_ops.py                 # full run, prints the table
    python benchmarks/bench_ops.py --quick         # stage-2 shape, 3 repeats, no reference
    python benchmarks/bench_ops.py --json out.json # also write the records
    python benchmarks/bench_ops.py --cases lka,msca --shapes s1

The machine should be otherwise idle: with other processes on the cores, OpenMP timings of
every implementation grow by large and unequal factors (a thread that loses its core stalls the
others at the next barrier). The load average is printed with the table; compare ratios within
one run only. On a shared machine, `--threads 1 --stat min` gives steadier ratios.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# name -> (kind, spec). Ops: list of (kh, kw, padding, dilation) depthwise layers applied in
# sequence. Modules: constructor name and args.
CASES = {
    "dw5x5": ("op", [(5, 5, (2, 2), (1, 1))]),
    "dw7x7d3": ("op", [(7, 7, (9, 9), (3, 3))]),
    "strip7": ("op", [(1, 7, (0, 3), (1, 1)), (7, 1, (3, 0), (1, 1))]),
    "strip11": ("op", [(1, 11, (0, 5), (1, 1)), (11, 1, (5, 0), (1, 1))]),
    "strip21": ("op", [(1, 21, (0, 10), (1, 1)), (21, 1, (10, 0), (1, 1))]),
    "dw7x7": ("op", [(7, 7, (3, 3), (1, 1))]),
    "dw11x11": ("op", [(11, 11, (5, 5), (1, 1))]),
    "lka": ("module", ("LargeKernelAttention", {})),
    "msca": ("module", ("MultiScaleConvAttention", {})),
    "convmod7": ("module", ("ConvModulation", {"kernel_size": 7})),
    "convmod11": ("module", ("ConvModulation", {"kernel_size": 11})),
}
SHAPES = {"s1": (8, 32, 56, 56), "s2": (8, 64, 28, 28), "small": (2, 16, 28, 28)}


def case_macs(case: str, shape) -> int:
    """Multiply-adds of the forward pass (convolutions only)."""
    n, c, h, w = shape
    kind, spec = CASES[case]
    px = n * c * h * w
    if kind == "op":
        return sum(px * kh * kw for kh, kw, _, _ in spec)
    name, kw_ = spec
    if name == "LargeKernelAttention":
        return px * (25 + 49 + c)
    if name == "MultiScaleConvAttention":
        return px * (25 + 2 * (7 + 11 + 21) + c)
    k = kw_.get("kernel_size", 11)
    return px * (k * k + 3 * c)


# ------------------------------------------------------------------------------------------------
# workers (run in subprocesses)

_STAT = {"fn": statistics.median}


def _timeit(step, warmup: int, repeats: int) -> float:
    for _ in range(warmup):
        step()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return _STAT["fn"](times) * 1e3


def worker_jittor(cases, shapes, impls, warmup, repeats):
    sys.path.insert(0, str(REPO))
    import contextlib

    import numpy as np
    import jvision  # noqa: F401  (configures Jittor)
    import jittor as jt
    from jvision import ops
    from jvision.ops import attention, autotune

    rng = np.random.default_rng(0)
    records = []
    for shape_name in shapes:
        shape = SHAPES[shape_name]
        n, c, h, w = shape
        for case in cases:
            kind, spec = CASES[case]
            for impl in impls:
                if impl == "reference" and shape_name != "small":
                    continue
                if impl == "kernel-unfused" and kind != "module":
                    continue
                x = jt.array(rng.standard_normal(shape, dtype=np.float32))
                backend = "kernel" if impl.startswith("kernel") else impl
                pins = {}
                if kind == "op":
                    layers = []
                    for kh, kw, pad, dil in spec:
                        wt = jt.array(rng.standard_normal((c, 1, kh, kw), dtype=np.float32) * 0.1)
                        b = jt.array(rng.standard_normal((c,), dtype=np.float32) * 0.1)
                        layers.append((wt, b, pad, dil))
                    params = [p for wt, b, _, _ in layers for p in (wt, b)]

                    def fwd(layers=layers):
                        y = x
                        for wt, b, pad, dil in layers:
                            y = ops.depthwise_conv2d(y, wt, b, 1, pad, dil)
                        return y
                else:
                    name, kwargs = spec
                    mod = getattr(attention, name)(c, **kwargs)
                    params = [p for p in mod.parameters()]
                    if impl.startswith("kernel"):
                        variant = "unfused" if impl == "kernel-unfused" else "fused"
                        pins = dict(lka=variant, msca=variant, convmod=variant)

                    def fwd(mod=mod):
                        return mod(x)
                gy = None

                def scope():
                    stack = contextlib.ExitStack()
                    stack.enter_context(ops.backend(backend))
                    stack.enter_context(autotune.pinned(**pins))
                    return stack

                seen = set()

                def note():  # what ran, read before the scope forgets the choices made under its pins
                    if backend == "kernel":
                        seen.update(f"{r['op']}={r['variant']}" for r in autotune.report())

                def run_fwd():
                    with scope(), jt.no_grad():
                        fwd().sync()
                        note()

                def run_fb():
                    nonlocal gy
                    with scope():
                        y = fwd()
                        if gy is None:
                            gy = jt.array(rng.standard_normal(tuple(y.shape), dtype=np.float32))
                        grads = jt.grad((y * gy).sum(), [x] + params)
                        jt.sync(grads)
                        note()
                jt.sync_all(True)
                autotune.forget()
                t_f = _timeit(run_fwd, warmup, repeats)
                t_fb = _timeit(run_fb, warmup, repeats)
                ran = sorted(seen)
                records.append({"case": case, "impl": impl, "shape": list(shape), "fwd_ms": round(t_f, 3),
                                "fwdbwd_ms": round(t_fb, 3), "variants": " ".join(ran)})
                print(f"[bench] {case:10s} {shape_name:5s} {impl:15s} fwd {t_f:8.2f} ms  f+b {t_fb:8.2f} ms"
                      f"  {' '.join(ran)}", file=sys.stderr, flush=True)
                jt.gc()
    return records


def worker_torch(cases, shapes, warmup, repeats, threads):
    # jvision/ops/torch_ref.py by path: this process must not import Jittor (nor the package)
    import importlib.util
    found = importlib.util.spec_from_file_location("torch_ref", REPO / "jvision" / "ops" / "torch_ref.py")
    torch_ref = importlib.util.module_from_spec(found)
    found.loader.exec_module(torch_ref)
    torch, mods = torch_ref.full_modules()
    nn = torch.nn
    torch.set_num_threads(threads)
    torch.manual_seed(0)

    records = []
    for shape_name in shapes:
        if shape_name == "small":
            continue
        shape = SHAPES[shape_name]
        n, c, h, w = shape
        for case in cases:
            kind, spec = CASES[case]
            x = torch.randn(shape, requires_grad=True)
            if kind == "op":
                convs = nn.ModuleList([nn.Conv2d(c, c, (kh, kw), padding=pad, dilation=dil, groups=c)
                                       for kh, kw, pad, dil in spec])
                mod = nn.Sequential(*convs)
            else:
                name, kwargs = spec
                mod = mods[name](c, **kwargs)
            gy = torch.randn_like(mod(x))

            def run_fwd():
                with torch.no_grad():
                    mod(x)

            def run_fb():
                mod.zero_grad(set_to_none=True)
                x.grad = None
                (mod(x) * gy).sum().backward()
            t_f = _timeit(run_fwd, warmup, repeats)
            t_fb = _timeit(run_fb, warmup, repeats)
            records.append({"case": case, "impl": "torch", "shape": list(shape), "fwd_ms": round(t_f, 3),
                            "fwdbwd_ms": round(t_fb, 3)})
            print(f"[bench] {case:10s} {shape_name:5s} {'torch':15s} fwd {t_f:8.2f} ms  f+b {t_fb:8.2f} ms",
                  file=sys.stderr, flush=True)
    return records


# ------------------------------------------------------------------------------------------------
# driver

def _spawn(args_list, timeout: float, failures: list) -> list:
    """Runs one worker in a child process (own process group, time limit); a crash, a time-out or
    an error is added to ``failures`` with the child's last lines of output."""
    sys.path.insert(0, str(REPO))
    from jvision.ops._jtcode import run_isolated
    cmd = [sys.executable, str(Path(__file__).resolve())] + args_list
    res = run_isolated(cmd, timeout, cwd=str(REPO))
    sys.stderr.write("".join(ln + "\n" for ln in res.stderr.splitlines() if ln.startswith("[bench]")))
    lines = [ln for ln in res.stdout.splitlines() if ln.startswith("[") or ln.startswith("{")]
    if not res.ok or not lines:
        tail = "\n    ".join((res.stderr or res.stdout).strip().splitlines()[-12:])
        failures.append(f"worker {' '.join(args_list[:6])}: {res.describe()}\n    {tail}")
        print(f"[bench] FAILED: worker {' '.join(args_list[:6])}: {res.describe()}", file=sys.stderr, flush=True)
        return []
    return json.loads(lines[-1])


def print_table(records, shapes):
    by = {}
    for r in records:
        by[(r["case"], tuple(r["shape"]), r["impl"])] = r
    order = ["kernel", "kernel-unfused", "builtin", "torch", "reference"]
    print()
    print(f"{'case':10s} {'shape':>15s} {'impl':15s} {'fwd ms':>9s} {'f+b ms':>9s} {'GFLOP/s':>8s} "
          f"{'kernel x (fwd)':>14s} {'kernel x (f+b)':>14s}  variants")
    summary = []
    for shape_name in shapes:
        shape = SHAPES[shape_name]
        for case in CASES:
            rows = [by[(case, shape, i)] for i in order if (case, shape, i) in by]
            if not rows:
                continue
            k = by.get((case, shape, "kernel"))
            for r in rows:
                gf = 3 * 2 * case_macs(case, shape) / (r["fwdbwd_ms"] * 1e-3) / 1e9
                sf = f"{r['fwd_ms'] / k['fwd_ms']:.2f}" if k else "-"
                sb = f"{r['fwdbwd_ms'] / k['fwdbwd_ms']:.2f}" if k else "-"
                disp = r.get("variants", "")
                print(f"{case:10s} {'x'.join(map(str, shape)):>15s} {r['impl']:15s} {r['fwd_ms']:9.2f} "
                      f"{r['fwdbwd_ms']:9.2f} {gf:8.1f} {sf:>14s} {sb:>14s}  {disp}")
            base = [by[(case, shape, i)] for i in ("builtin", "torch") if (case, shape, i) in by]
            if k and base:
                summary.append((case, shape, k, base))
            print()
    if summary:
        print("speed-up of kernel over the faster of builtin and torch (modules: target f+b >= 1.5x)")
        for case, shape, k, base in summary:
            bf = min(base, key=lambda r: r["fwd_ms"])
            bb = min(base, key=lambda r: r["fwdbwd_ms"])
            rf, rb = bf["fwd_ms"] / k["fwd_ms"], bb["fwdbwd_ms"] / k["fwdbwd_ms"]
            note = ""
            if CASES[case][0] == "module":
                note = "ok" if rb >= 1.5 else "BELOW TARGET"
            elif rf < 1.0 or rb < 1.0:
                note = "kernel slower in " + "/".join(w for w, r in (("fwd", rf), ("f+b", rb)) if r < 1.0)
            print(f"  {case:10s} {'x'.join(map(str, shape)):>15s}  fwd {rf:6.2f}x (vs {bf['impl']:7s})  "
                  f"f+b {rb:6.2f}x (vs {bb['impl']:7s})  {note}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--quick", action="store_true", help="stage-2 shape only, 3 repeats, no reference")
    ap.add_argument("--json", type=Path, help="write the records (a JSON list) to this file")
    ap.add_argument("--cases", default="all", help=f"comma list from {','.join(CASES)}")
    ap.add_argument("--shapes", default=None, help=f"comma list from {','.join(SHAPES)} (default s1,s2,small)")
    ap.add_argument("--impls", default="kernel,kernel-unfused,builtin,reference,torch",
                    help="comma list of implementations to time (default: all)")
    ap.add_argument("--timeout", type=float, default=900,
                    help="seconds allowed to each (case, shape) child process (default 900)")
    ap.add_argument("--repeats", type=int, default=None, help="timed runs per measurement (default 7, quick 3)")
    ap.add_argument("--warmup", type=int, default=2, help="untimed runs first (JIT compiles happen here)")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                    help="OpenMP threads for Jittor and torch.set_num_threads (default: all cores)")
    ap.add_argument("--stat", choices=["median", "min"], default="median",
                    help="statistic over the repeats (min is steadier on a busy machine)")
    ap.add_argument("--worker", choices=["jittor", "torch"], help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    cases = list(CASES) if a.cases == "all" else a.cases.split(",")
    for c in cases:
        if c not in CASES:
            ap.error(f"unknown case {c!r}; choose from {','.join(CASES)}")
    shapes = (a.shapes.split(",") if a.shapes else (["s2"] if a.quick else ["s1", "s2", "small"]))
    for s in shapes:
        if s not in SHAPES:
            ap.error(f"unknown shape {s!r}; choose from {','.join(SHAPES)}")
    repeats = a.repeats or (3 if a.quick else 7)
    _STAT["fn"] = min if a.stat == "min" else statistics.median
    impls = a.impls.split(",")
    if a.quick:
        impls = [i for i in impls if i != "reference"]

    if a.worker == "jittor":
        os.environ.setdefault("OMP_NUM_THREADS", str(a.threads))
        print(json.dumps(worker_jittor(cases, shapes, [i for i in impls if i != "torch"], a.warmup, repeats)))
        return 0
    if a.worker == "torch":
        print(json.dumps(worker_torch(cases, shapes, a.warmup, repeats, a.threads)))
        return 0

    common = ["--repeats", str(repeats), "--warmup", str(a.warmup), "--threads", str(a.threads),
              "--impls", ",".join(impls), "--stat", a.stat]
    load0 = os.getloadavg()[0]
    t0 = time.time()
    records, failures = [], []
    for shape in shapes:
        for case in cases:
            records += _spawn(["--worker", "jittor", "--cases", case, "--shapes", shape] + common,
                              a.timeout, failures)
    if "torch" in impls:
        import importlib.util
        if importlib.util.find_spec("torch") is not None:
            records += _spawn(["--worker", "torch", "--cases", ",".join(cases), "--shapes", ",".join(shapes)]
                              + common, a.timeout, failures)
        else:
            print("[bench] torch not installed: PyTorch column skipped (pip install torch)", file=sys.stderr)
    load1 = os.getloadavg()[0]
    print_table(records, shapes)
    print(f"\n{len(records)} records in {time.time() - t0:.0f} s; threads {a.threads}; "
          f"load average {load0:.1f} at start, {load1:.1f} at end (cores: {os.cpu_count()}); "
          f"{a.stat} of {repeats} after {a.warmup} warm-up runs")
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps({"records": records, "failures": failures}, indent=1))
        print(f"records written to {a.json}")
    if failures:
        print(f"\n{len(failures)} FAILED:", file=sys.stderr)
        for f in failures:
            print("  " + f, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
