#!/usr/bin/env python
"""SegNeXt speed on this machine: training step and inference, images/s at 512x512, with our
depthwise kernels (``jvision.ops`` backend ``kernel``) against Jittor's built-in convolution
(backend ``builtin``), and the peak memory of each. A measurement, not a test.

    python benchmarks/bench_segnext.py                       # SegNeXt-T and -S, both backends
    python benchmarks/bench_segnext.py --models t --size 256 --train-batch 2 --iters 3 --json out.json

Timing: one process per (model, mode) warms both backends up (Jittor compiles there), then
alternates them iteration by iteration, so that the load of a shared machine hits both alike;
the median per backend is reported. Memory: one fresh process per (model, mode, backend), whose
peak resident set size (``ru_maxrss``) is its own. Reported: seconds per iteration, images/s,
the kernel/builtin ratio and peak memory, with the load average seen.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _setup(args):
    import numpy as np

    import jvision  # noqa: F401  (configures Jittor)
    import jittor as jt
    import jseg  # noqa: F401
    from jvision.engine.optim import build_optimizer
    from jvision.registry import MODELS

    jt.set_seed(0)
    model = MODELS.build(dict(type=f"segnext_{args.model}", num_classes=150))
    rng = np.random.default_rng(0)
    if args.mode == "train":
        b = args.train_batch
        model.train()
        opt = build_optimizer(model, dict(type="AdamW", lr=6e-5, weight_decay=0.01,
                                          paramwise=dict(custom_keys={"head": dict(lr_mult=10.0)})))
        img = jt.array(rng.standard_normal((b, 3, args.size, args.size)).astype(np.float32))
        gt = jt.array(rng.integers(0, 150, (b, args.size, args.size)).astype(np.int32))

        def step():
            out = model.train_step({"img": img, "gt_seg": gt})
            opt.step(out["loss"])
            jt.sync_all(True)
    else:
        b = args.infer_batch
        model.eval()
        img = jt.array(rng.standard_normal((b, 3, args.size, args.size)).astype(np.float32))

        def step():
            with jt.no_grad():
                model.encode_decode(img).sync()
            jt.sync_all(True)
    return step, b, jt


def worker_time(args) -> dict:
    """Both backends in one process, iterations interleaved, so that the machine's load hits both alike."""
    from jvision.ops import set_backend
    step, b, jt = _setup(args)
    backends = args.backend.split(",")
    times = {k: [] for k in backends}
    for k in backends:               # warm-up (Jittor compiles each backend's kernels here)
        set_backend(k)
        for _ in range(args.warmup):
            step()
    for _ in range(args.iters):
        for k in backends:
            set_backend(k)
            t0 = time.perf_counter()
            step()
            times[k].append(time.perf_counter() - t0)
    return {"model": f"segnext_{args.model}", "mode": args.mode, "batch": b, "size": args.size,
            "sec_per_iter": {k: statistics.median(v) for k, v in times.items()}, "times": times,
            "device": "cuda" if jt.flags.use_cuda else "cpu", "load": os.getloadavg()[0]}


def worker_memory(args) -> dict:
    """Peak resident memory of one backend alone (a fresh process: ``ru_maxrss`` is its own)."""
    import resource
    from jvision.ops import set_backend
    set_backend(args.backend)
    step, b, jt = _setup(args)
    for _ in range(2):
        step()
    return {"model": f"segnext_{args.model}", "mode": args.mode, "backend": args.backend, "batch": b,
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0}


def _run_worker(kind: str, model: str, mode: str, backend: str, args) -> dict | None:
    cmd = [sys.executable, __file__, "--_worker", kind, "--model", model, "--backend", backend, "--mode", mode,
           "--size", str(args.size), "--train-batch", str(args.train_batch), "--infer-batch", str(args.infer_batch),
           "--iters", str(args.iters), "--warmup", str(args.warmup)]
    run = subprocess.run(cmd, capture_output=True, text=True)
    lines = [ln for ln in run.stdout.splitlines() if ln.startswith("RESULT ")]
    if run.returncode != 0 or not lines:
        print(f"segnext_{model} {mode} {backend} ({kind}): FAILED\n{run.stderr[-2000:]}", flush=True)
        return None
    return json.loads(lines[-1][len("RESULT "):])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", default=["t", "s"], choices=["t", "s", "b", "l"])
    p.add_argument("--backends", nargs="+", default=["kernel", "builtin"], choices=["kernel", "builtin", "reference"])
    p.add_argument("--modes", nargs="+", default=["train", "infer"], choices=["train", "infer"])
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--train-batch", type=int, default=2)
    p.add_argument("--infer-batch", type=int, default=1)
    p.add_argument("--iters", type=int, default=3, help="timed iterations (median reported)")
    p.add_argument("--warmup", type=int, default=2, help="untimed iterations (include Jittor's compile)")
    p.add_argument("--json", help="write the results here")
    p.add_argument("--_worker", choices=["time", "memory"], help=argparse.SUPPRESS)
    p.add_argument("--model", help=argparse.SUPPRESS)
    p.add_argument("--backend", help=argparse.SUPPRESS)
    p.add_argument("--mode", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args._worker:
        result = worker_time(args) if args._worker == "time" else worker_memory(args)
        print("RESULT " + json.dumps(result), flush=True)
        return 0

    load_before = os.getloadavg()
    print(f"SegNeXt benchmark: {args.size}x{args.size}, train batch {args.train_batch}, infer batch "
          f"{args.infer_batch}, {args.iters} timed + {args.warmup} warm-up iterations; "
          f"{os.cpu_count()} CPUs, load average {load_before[0]:.1f}", flush=True)
    results = []
    for model in args.models:
        for mode in args.modes:
            t0 = time.time()
            r = _run_worker("time", model, mode, ",".join(args.backends), args)
            if r is None:
                continue
            r["peak_rss_mib"] = {}
            for backend in args.backends:
                m = _run_worker("memory", model, mode, backend, args)
                r["peak_rss_mib"][backend] = None if m is None else m["peak_rss_mib"]
            results.append(r)
            for backend in args.backends:
                sec = r["sec_per_iter"][backend]
                mem = r["peak_rss_mib"][backend]
                print(f"segnext_{model:<2} {mode:<5} {backend:<9} {sec:8.3f} s/iter  {r['batch'] / sec:7.2f} img/s  "
                      f"peak RSS {mem if mem is None else round(mem)} MiB", flush=True)
            print(f"  ({time.time() - t0:.0f}s incl. start-up and compile; load average {r['load']:.1f})", flush=True)
    base = args.backends[-1] if len(args.backends) > 1 else None
    if base:
        others = [b for b in args.backends if b != base]
        print(f"\n| model | mode | batch | " + " | ".join(f"{b} img/s" for b in args.backends)
              + " | " + " | ".join(f"{b}/{base} speed" for b in others)
              + " | " + " | ".join(f"{b} peak MiB" for b in args.backends) + " |")
        print("|" + "---|" * (3 + len(args.backends) * 2 + len(others)))
        for r in results:
            ips = {b: r["batch"] / r["sec_per_iter"][b] for b in args.backends}
            mem = r["peak_rss_mib"]
            print(f"| {r['model']} | {r['mode']} | {r['batch']} | " + " | ".join(f"{ips[b]:.2f}" for b in args.backends)
                  + " | " + " | ".join(f"{ips[b] / ips[base]:.2f}x" for b in others)
                  + " | " + " | ".join("-" if mem[b] is None else f"{mem[b]:.0f}" for b in args.backends) + " |")
    load_after = os.getloadavg()
    print(f"\nload average before {load_before[0]:.1f}, after {load_after[0]:.1f} (other processes share the CPUs)")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"results": results, "load_before": load_before,
                                               "load_after": load_after}, indent=1))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
