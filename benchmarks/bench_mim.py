#!/usr/bin/env python
"""MAE pre-training speed: ours (Jittor) against the official PyTorch MAE code, in the same run, with
the same threads, steps interleaved; and the web-shard reader's decode throughput.

    python benchmarks/bench_mim.py --official /path/to/official/repos --torch-python /path/to/venv/bin/python
    python benchmarks/bench_mim.py --quick          # smoke run: tiny batch, one timed step

What is timed, per model (MAE ViT-S/16 and ViT-B/16 at 224, mask 0.75, norm-pix loss): a full
training step (forward, the loss, backward, one AdamW update) on a fixed random batch, after
``--warmup`` untimed steps (Jittor compiles its kernels in the first ones); images/s of the median
step. ViT-S is our ``mae_vit_small_patch16`` (decoder 256-d, 4 blocks); the official side builds the
same shapes with its ``MaskedAutoencoderViT`` class (ViT-B: its ``mae_vit_base_patch16_dec512d8b``).

The two sides run as ``benchmarks/bench_models.py`` runs its cases (``mae_vit_small_patch16:train``,
``mae_vit_base_patch16:train``; see its docstring): each implementation in a long-lived process
with ``--threads`` threads, asked for ``--block`` steps at a time, back to back, alternating, the
order rotated every round, so that a disturbance of the machine hits both alike; the first step of
each turn (after a pause) is left out of the median; the CPU time other processes took during the
steps is reported. The official ``models_mae.py`` is read from ``--official DIR`` (a clone or bare git
directory of facebookresearch/mae, as ``bench_models.py`` finds it) and runs unmodified in the PyTorch
interpreter ``--torch-python``, with a stand-in for the timm 0.3.2 pieces it imports. Without either,
the official column is reported as not measured.

Shard reader: the built-in collection written at ``--shard-image-size`` pixels, read through
``WebShards`` with MAE's augmentation (RandomResizedCrop 224 bicubic, flip, ToTensor, Normalize) by 1
and 2 readers: images/s.

Results go to stdout (a table) and ``benchmarks/results/bench_mim.json``. Figures are meaningful only
on an otherwise idle machine.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_models  # noqa: E402  (the interleaved two-process runner)

#: bench_mim's model name -> bench_models' case
MODELS = {"vit_s": "mae_vit_small_patch16:train", "vit_b": "mae_vit_base_patch16:train"}


def run_speed(args) -> dict:
    """Each model's case through ``bench_models.run_case``: {name: record}."""
    runner = SimpleNamespace(
        warmup=args.warmup, steps=args.steps, block=args.block, drop_path=0.0, sync_after_forward=True,
        official=args.official,
        torch_python=args.torch_python, batch=args.batch, size=0, setup_timeout=args.timeout,
        step_timeout=args.timeout, log_dir=Path(args.log_dir or f"/tmp/jvision_bench_mim_{os.getpid()}"))
    runner.log_dir.mkdir(parents=True, exist_ok=True)
    reason = bench_models._official_available(runner)
    out = {}
    for name in args.models:
        case = bench_models._resized(bench_models.CASES[MODELS[name]], runner)
        out[name] = bench_models.run_case(case, args.threads, runner, reason)
    return out


def run_shards(args) -> dict:
    from types import SimpleNamespace

    from jvision.data.builtin_shards import make_builtin_shards
    from jvision.data.shards import WebShards

    folder = make_builtin_shards(num_samples=args.shard_samples, image_size=args.shard_image_size,
                                 shard_size=max(1, args.shard_samples // 8))
    pipeline = [dict(type="RandomResizedCrop", size=224, scale=(0.2, 1.0), interpolation="bicubic"),
                dict(type="RandomHorizontalFlip"), dict(type="ToTensor"),
                dict(type="Normalize", mean=(123.675, 116.28, 103.53), std=(58.395, 57.12, 57.375))]
    out = {"folder": str(folder), "samples": args.shard_samples, "image_size": args.shard_image_size}
    for readers in (1, 2):
        ds = WebShards(str(folder), pipeline=pipeline, workers=readers, shuffle_buffer=64)
        loader = SimpleNamespace(batch_size=32, world_size=1, rank=0, seed=0, drop_last=False, num_workers=readers)
        t0, n = time.perf_counter(), 0
        for _, batch in ds.iter_batches(loader, 0, endless=False):
            n += int(batch["img"].shape[0])
        out[f"readers_{readers}_images_per_s"] = n / (time.perf_counter() - t0)
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--steps", type=int, default=6, help="timed steps per implementation")
    p.add_argument("--block", type=int, default=3, help="steps per turn, back to back; the first of each turn "
                   "is not timed (see bench_models.py)")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps first (Jittor compiles there)")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--torch-python", default=bench_models._default_torch_python(),
                   help="Python with torch for the official side (env JVISION_TORCH_PYTHON)")
    p.add_argument("--official", default=os.environ.get("JVISION_OFFICIAL_DIR"),
                   help="folder holding facebookresearch/mae (a clone DIR/mae or a bare git dir "
                        "DIR/facebookresearch+mae/repo; env JVISION_OFFICIAL_DIR)")
    p.add_argument("--shard-samples", type=int, default=512)
    p.add_argument("--shard-image-size", type=int, default=320)
    p.add_argument("--timeout", type=int, default=1800, help="seconds for a worker's set-up, and for one step")
    p.add_argument("--log-dir", default=None, help="workers' stderr (default: a folder under /tmp)")
    p.add_argument("--quick", action="store_true", help="smoke run: batch 2, 1 warm-up, 1 timed step, 64 shard images")
    p.add_argument("--json", default=str(ROOT / "benchmarks" / "results" / "bench_mim.json"))
    args = p.parse_args(argv)
    if args.quick:
        args.batch, args.warmup, args.steps, args.shard_samples, args.shard_image_size = 2, 1, 1, 64, 256
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    sys.path.insert(0, str(ROOT))
    import jvision  # noqa: F401  (configures Jittor with the thread count above, for the shard reader)

    record = {"host": platform.node(), "threads": args.threads, "batch": args.batch, "steps": args.steps,
              "warmup": args.warmup, "time": time.strftime("%Y-%m-%d %H:%M:%S"),
              "load_before": os.getloadavg()}
    print(f"MAE pre-training step, 224x224, mask 0.75, batch {args.batch}, {args.threads} threads, median of "
          f"{args.steps} steps (turns of {args.block}, interleaved) after {args.warmup} warm-up "
          f"(load average {record['load_before'][0]:.1f})",
          flush=True)
    record["speed"] = run_speed(args)
    record["shards"] = run_shards(args)
    record["load_after"] = os.getloadavg()
    print(f"{'model':<8s} {'ours img/s':>12s} {'official img/s':>15s} {'ratio':>7s} {'other load, cores':>18s}")
    for name in args.models:
        impls = record["speed"][name]["impls"]
        ours, off = impls["ours"].get("img_s_median"), impls.get("official", {}).get("img_s_median")
        ratio = f"{ours / off:.2f}x" if ours and off else "-"
        load = max((e.get("other_cores_median") or 0.0) for e in impls.values())
        print(f"{name:<8s} {bench_models._fmt(ours):>12s} {bench_models._fmt(off):>15s} {ratio:>7s} {load:>18.2f}")
        rounds = record["speed"][name].get("ratio_per_round")
        if rounds:
            print(f"  ratio of each round's turns (official time / ours): median "
                  f"{record['speed'][name]['ratio_per_round_median']:.2f}x, range {min(rounds):.2f}-{max(rounds):.2f}")
        leads = [f"{impl} {e['img_s_lead_median']:.2f}" for impl, e in impls.items() if e.get("img_s_lead_median")]
        if leads:
            print(f"  first step of a turn (after a pause), img/s: {', '.join(leads)}")
        for impl, e in impls.items():
            if e.get("img_s_median") is None:
                print(f"  {impl}: not measured ({e.get('error')})")
    s = record["shards"]
    print(f"shard reader (decode + MAE augmentation to 224): 1 reader {s['readers_1_images_per_s']:.1f} img/s, "
          f"2 readers {s['readers_2_images_per_s']:.1f} img/s ({s['samples']} images of ~{s['image_size']} px)")
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=1))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
