#!/usr/bin/env python
"""Whole models, ours (Jittor) against the official PyTorch code, training step and inference.

    python benchmarks/bench_models.py --official /path/to/official/repos --torch-python /path/to/venv/bin/python
    python benchmarks/bench_models.py --cases segnext_t:train --threads 2 --steps 3 --warmup 1   # one case
    python benchmarks/bench_models.py --list                                                  # the cases
    python benchmarks/bench_models.py --profile segnext_t:train --threads 1                   # where our time goes

For every case (model, mode) and thread count, each implementation runs in its own long-lived
process with that many threads (``OMP_NUM_THREADS``; ``torch.set_num_threads``). Both build the
model, take ``--warmup`` untimed steps (Jittor compiles there), then the parent asks them for one
block of ``--block`` steps at a time, alternating, the order rotated every round, so that a
disturbance of the machine hits both alike. Within a block the steps run back to back, as in a
training loop; the first step of a block follows the other side's turn, a pause for this process,
and is reported apart ("after a pause") and left out of the medians, so that what is timed is what
a training loop runs. (One check in one process found our step ~15% faster after a pause than back
to back, and PyTorch's not; later runs did not reproduce it. One-step turns, ``--block 1``, the
runner's former protocol, would time only such steps.) Per step the worker reports its wall time
and CPU time; the parent reads
``/proc/stat`` around the step and reports the CPU time *other* processes used meanwhile (in
cores), so a disturbed run is visible. Reported per implementation: images/s (median and best
step), peak resident memory (``VmHWM`` of the worker), and the ratio ours / official of the
medians.

What a step is (the same on both sides):
  train  forward in training mode, the loss, backward, one AdamW update (lr 1e-4, wd 0.05; every
         parameter decayed) -- classification: cross-entropy of the logits; SegNeXt: the decode
         head's loss (logits resized to the labels, cross-entropy ignoring 255, mean over pixels)
         and pixel accuracy; MAE: the normalised-pixel reconstruction loss (``norm_pix_loss``, the
         official pre-training recipe) with 75% masking. Our side computes
         the loss before building the backward, as the engine does by default
         (``train.sync_after_forward``); ``--no-sync-after-forward`` builds one graph.
  infer  forward in evaluation mode without gradients -- SegNeXt: backbone, head and the bilinear
         resize of the logits to the image (mmseg's whole inference); MAE: the masked forward.
Inputs are random (the same shapes both sides); drop path 0.1 in training where the model has it.

The official code is read from its repositories at the commits of the parity fixtures (see
``benchmarks/_official.py``: ``--official DIR`` holds clones, e.g. ``git clone
https://github.com/Visual-Attention-Network/SegNeXt DIR/SegNeXt``) and run unmodified in a PyTorch
interpreter (``--torch-python``, default: this one if it imports torch). Without either, only our
side runs. PyTorch is an optional extra of the project, never a dependency.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import select
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Case:
    model: str                 # our registry name (and the official builder's name)
    mode: str                  # "train" | "infer"
    batch: int
    size: int
    num_classes: int
    kind: str                  # "cls" | "seg" | "mae"
    official: str | None = None  # name for benchmarks/_official.build; None: not available yet
    note: str = ""
    default: bool = True       # run when --cases is not given

    @property
    def name(self) -> str:
        return f"{self.model}:{self.mode}"


def _cases() -> list[Case]:
    out = []
    for mode in ("train", "infer"):
        out.append(Case("van_b0", mode, 8, 224, 1000, "cls", "van_b0"))
        out.append(Case("conv2former_n", mode, 8, 224, 1000, "cls", "conv2former_n"))
        out.append(Case("segnext_t", mode, 2 if mode == "train" else 1, 512, 150, "seg", "segnext_t"))
        out.append(Case("mae_vit_base_patch16", mode, 8, 224, 0, "mae", "mae_vit_base_patch16"))
    # MAE pre-training at the batch of benchmarks/bench_mim.py (which runs these two through run_case).
    out.append(Case("mae_vit_small_patch16", "train", 32, 224, 0, "mae", "mae_vit_small_patch16",
                    "bench_mim's ViT-S case", default=False))
    # Hooks for the video models: listed, run once both sides can build them.
    out.append(Case("e2fgvi", "train", 1, 240, 0, "video", None, "official builder not written yet"))
    out.append(Case("videomae_vit_base_patch16", "train", 1, 224, 0, "video", None, "official builder not written yet"))
    return out


CASES = {c.name: c for c in _cases()}
DEFAULT_CASES = [c.name for c in CASES.values() if c.kind != "video" and c.default]


# ------------------------------------------------------------------------------------------------
# workers

def _ours(case: Case, drop_path: float, sync_after_forward: bool = True):
    import numpy as np

    import jvision  # noqa: F401  (configures Jittor)
    import jittor as jt
    from jvision.engine.optim import AdamW
    from jvision.registry import MODELS
    if case.kind == "seg":
        import jseg  # noqa: F401  (registers segnext_*)
    jt.set_seed(0)
    rng = np.random.default_rng(0)
    dp = drop_path if case.mode == "train" else 0.0
    if case.kind == "seg":
        kwargs = {"num_classes": case.num_classes, "backbone": dict(drop_path_rate=dp)}
    elif case.kind == "cls":
        kwargs = {"num_classes": case.num_classes, "drop_path_rate": dp}
    else:
        kwargs = {"img_size": case.size, "norm_pix_loss": True}   # MAE's pre-training recipe
    model = MODELS.build(dict(type=case.model, **kwargs))
    img = jt.array(rng.standard_normal((case.batch, 3, case.size, case.size)).astype(np.float32))
    if case.mode == "infer":
        model.eval()

        def step():
            with jt.no_grad():
                if case.kind == "seg":
                    out = model.encode_decode(img)
                elif case.kind == "mae":
                    out = model(img, 0.75)[1]
                else:
                    out = model(img)
                out.sync()
            jt.sync_all(True)
        return step
    model.train()
    opt = AdamW(model.parameters(), lr=1e-4, weight_decay=0.05)
    if case.kind == "cls":
        label = jt.array(rng.integers(0, case.num_classes, (case.batch,)).astype(np.int32))
    elif case.kind == "seg":
        label = jt.array(rng.integers(0, case.num_classes, (case.batch, case.size, case.size)).astype(np.int32))

    def step():
        if case.kind == "cls":
            loss = jt.nn.cross_entropy_loss(model(img), label)
        elif case.kind == "seg":
            loss = model.train_step({"img": img, "gt_seg": label})["loss"]
        else:
            loss = model(img, 0.75)[0]
        if sync_after_forward:
            loss.sync()  # the engine's train.sync_after_forward: forward computed before the backward is built
        opt.step(loss)
        jt.sync_all(True)
    return step


def _official(case: Case, drop_path: float, official_dir: str):
    import numpy as np
    import torch
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import _official
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    model = _official.build(case.official, Path(official_dir), case.num_classes,
                            drop_path if case.mode == "train" else 0.0, case.size)
    img = torch.from_numpy(rng.standard_normal((case.batch, 3, case.size, case.size)).astype(np.float32))
    if case.mode == "infer":
        model.eval()

        def step():
            with torch.no_grad():
                if case.kind == "seg":
                    model.encode_decode(img)
                elif case.kind == "mae":
                    model(img, 0.75)
                else:
                    model(img)
        return step
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.05)
    if case.kind == "cls":
        label = torch.from_numpy(rng.integers(0, case.num_classes, (case.batch,)))
    elif case.kind == "seg":
        label = torch.from_numpy(rng.integers(0, case.num_classes, (case.batch, case.size, case.size)))

    def step():
        opt.zero_grad(set_to_none=True)
        if case.kind == "cls":
            loss = torch.nn.functional.cross_entropy(model(img), label)
        elif case.kind == "seg":
            loss = model.forward_train(img, label)["loss_ce"]
        else:
            loss = model(img, 0.75)[0]
        loss.backward()
        opt.step()
    return step


def _cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _peak_rss_mib() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _op_kind(name: str) -> str:
    """A readable kind for a row of Jittor's profiler: our kernels by the first comment line of
    their source, oneDNN ops by name, fused Jittor loops by their first operator."""
    if name.startswith("code\u00ab"):
        code = name.split("\u00abCODE:", 1)[-1]
        first = [ln.strip()[3:] for ln in code.splitlines() if ln.strip().startswith("//")][:1]
        return "kernel: " + (first[0].split(",")[0] if first else "jt.code")
    for k in ("mkl_conv_backward_w", "mkl_conv_backward_x", "mkl_conv", "mkl_matmul", "getitem", "setitem",
              "transpose", "reindex_reduce", "reindex", "random"):
        if name.startswith(k) or f"opkey0:{k}" in name[:40]:
            return k
    ops = [p.split("\u00ab")[0] for p in name.split("opkey")[1:] if ":" in p]
    kinds = sorted({o.split(":", 1)[1] for o in ops if ":" in o})
    return "jittor fused: " + "+".join(kinds[:4]) if kinds else name[:40]


def profile(step, top: int = 25) -> str:
    """One step under Jittor's profiler, summed by op kind (see :func:`_op_kind`)."""
    import collections

    import jittor as jt
    with jt.profile_scope() as report:
        step()
    head, rows = report[0], report[1:]
    ti, ci = head.index("TotalTime"), head.index("Count")
    total, count = collections.Counter(), collections.Counter()
    for r in rows:
        total[_op_kind(r[0])] += float(r[ti])
        count[_op_kind(r[0])] += int(r[ci])
    whole = sum(total.values()) or 1.0
    lines = [f"profiled step: {whole / 1e9:.3f} s in ops (Jittor's profiler; absolute times need a quiet machine)",
             "| op kind | calls | share |", "| --- | --- | --- |"]
    lines += [f"| {k} | {count[k]} | {100 * v / whole:.1f}% |" for k, v in total.most_common(top)]
    return "\n".join(lines)


def worker(args) -> int:
    """Builds one implementation of one case, warms up, then steps on request (stdin: ``step`` / ``quit``)."""
    case = _resized(CASES[args.case], args)
    t0 = time.perf_counter()
    try:
        if args._worker == "ours":
            step = _ours(case, args.drop_path, args.sync_after_forward)
            import jittor as jt
            version = f"jittor {jt.__version__}"
        else:
            import torch
            torch.set_num_threads(args.threads[0])
            step = _official(case, args.drop_path, args.official)
            version = f"torch {torch.__version__}"
        for _ in range(args.warmup):
            step()
    except Exception as exc:  # reported to the parent, which prints it and goes on
        print("FAILED " + json.dumps({"error": f"{type(exc).__name__}: {exc}"}), flush=True)
        return 1
    if args.profile_worker:
        print(profile(step), flush=True)
        return 0
    print("READY " + json.dumps({"setup_s": time.perf_counter() - t0, "version": version}), flush=True)
    for line in sys.stdin:
        words = line.split()
        if not words or words[0] != "step":
            break
        timed = []
        for _ in range(int(words[1]) if len(words) > 1 else 1):  # a block: steps back to back
            c0, w0 = _cpu_seconds(), time.perf_counter()
            step()
            timed.append({"wall": time.perf_counter() - w0, "cpu": _cpu_seconds() - c0})
        print("DONE " + json.dumps({"steps": timed}), flush=True)
    print("END " + json.dumps({"peak_rss_mib": _peak_rss_mib()}), flush=True)
    return 0


# ------------------------------------------------------------------------------------------------
# parent

def _proc_busy_seconds() -> float:
    """CPU time (all cores, all processes) spent not idle since boot, from /proc/stat."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return float("nan")
    ticks = [int(f) for f in fields]
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)
    return (sum(ticks[:8]) - idle) / os.sysconf("SC_CLK_TCK")


@dataclass
class Worker:
    impl: str
    proc: subprocess.Popen
    info: dict = field(default_factory=dict)
    steps: list = field(default_factory=list)
    lead_steps: list = field(default_factory=list)   # first step of each block (after the other side ran)
    turns: list = field(default_factory=list)        # mean timed step of each turn (round)
    error: str | None = None

    def read(self, timeout: float) -> tuple[str, dict]:
        deadline = time.time() + timeout
        while True:
            left = deadline - time.time()
            if left <= 0:
                raise TimeoutError(f"{self.impl}: no answer within {timeout:.0f} s")
            ready, _, _ = select.select([self.proc.stdout], [], [], left)
            if not ready:
                continue
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError(f"{self.impl}: worker exited (code {self.proc.poll()})")
            tag, _, payload = line.strip().partition(" ")
            if tag in ("READY", "DONE", "END", "FAILED"):
                return tag, json.loads(payload)

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.flush()
                tag, payload = self.read(120)
                if tag == "END":
                    self.info.update(payload)
            except Exception:
                pass
            if self.proc.poll() is None:
                self.proc.kill()
        self.proc.wait()


def _resized(case: Case, args) -> Case:
    """``case`` with ``--batch`` / ``--size`` applied (quick checks)."""
    from dataclasses import replace
    return replace(case, batch=args.batch or case.batch, size=args.size or case.size)


def _spawn(impl: str, case: Case, threads: int, args) -> Worker:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads), PYTHONUNBUFFERED="1")
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    python = sys.executable if impl == "ours" else args.torch_python
    cmd = [python, str(Path(__file__).resolve()), "--_worker", impl, "--case", case.name, "--threads", str(threads),
           "--warmup", str(args.warmup), "--drop-path", str(args.drop_path),
           *([] if args.sync_after_forward else ["--no-sync-after-forward"]), "--official", str(args.official or ""),
           "--batch", str(args.batch or 0), "--size", str(args.size or 0)]
    stderr = open(args.log_dir / f"{case.model}_{case.mode}_{impl}_t{threads}.log", "w")
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, text=True, env=env,
                            cwd=str(REPO))
    return Worker(impl, proc)


def _official_available(args) -> str | None:
    """None when the official side can run, else the reason it cannot."""
    if not args.torch_python:
        return "no PyTorch interpreter (pass --torch-python)"
    if not args.official or not Path(args.official).is_dir():
        return "no official repositories (pass --official DIR)"
    return None


def run_case(case: Case, threads: int, args, official_reason: str | None) -> dict:
    impls = ["ours"] + ([] if official_reason or case.official is None else ["official"])
    workers = [_spawn(i, case, threads, args) for i in impls]
    try:
        for w in workers:
            try:
                tag, payload = w.read(args.setup_timeout)
            except Exception as exc:
                tag, payload = "FAILED", {"error": str(exc)}
            if tag == "FAILED":
                w.error = payload["error"]
            else:
                w.info.update(payload)
        live = [w for w in workers if w.error is None]
        block = max(1, args.block)
        timed_per_turn = block - 1 if block > 1 else 1   # the step after the other side's turn is not timed
        for r in range(-(-args.steps // timed_per_turn)):
            order = live[r % len(live):] + live[:r % len(live)] if live else []
            for w in order:
                busy0 = _proc_busy_seconds()
                w.proc.stdin.write(f"step {block}\n")
                w.proc.stdin.flush()
                tag, payload = w.read(args.step_timeout * block)
                steps = payload["steps"]
                other = max(0.0, _proc_busy_seconds() - busy0 - sum(s["cpu"] for s in steps))
                other_cores = other / max(sum(s["wall"] for s in steps), 1e-9)
                if block > 1:
                    w.lead_steps.append(steps[0]["wall"])
                    steps = steps[1:]
                w.steps.extend(dict(s, other_cores=other_cores) for s in steps)
                w.turns.append(statistics.mean(s["wall"] for s in steps))
    finally:
        for w in workers:
            w.stop()
    rec = {"case": case.name, "model": case.model, "mode": case.mode, "batch": case.batch, "size": case.size,
           "threads": threads, "impls": {}}
    for w in workers:
        entry = {"error": w.error, "version": w.info.get("version"), "setup_s": w.info.get("setup_s"),
                 "peak_rss_mib": w.info.get("peak_rss_mib"), "steps": w.steps, "lead_steps": w.lead_steps}
        if w.lead_steps:
            entry["img_s_lead_median"] = case.batch / statistics.median(w.lead_steps)
        if w.steps:
            walls = [s["wall"] for s in w.steps]
            entry["img_s_median"] = case.batch / statistics.median(walls)
            entry["img_s_best"] = case.batch / min(walls)
            entry["other_cores_median"] = statistics.median(s["other_cores"] for s in w.steps)
            entry["other_cores_max"] = max(s["other_cores"] for s in w.steps)
        rec["impls"][w.impl] = entry
    if len(workers) == 2 and workers[0].turns and len(workers[0].turns) == len(workers[1].turns):
        # the same round's turns ran within seconds of each other: their ratio cancels slow drifts
        per_round = [f / o for o, f in zip(workers[0].turns, workers[1].turns)]
        rec["ratio_per_round"] = per_round
        rec["ratio_per_round_median"] = statistics.median(per_round)
    if official_reason and case.official is not None:
        rec["impls"]["official"] = {"error": f"not run: {official_reason}"}
    elif case.official is None:
        rec["impls"]["official"] = {"error": f"not run: {case.note}"}
    return rec


def _fmt(v, spec=".2f", none="-"):
    return none if v is None else format(v, spec)


def table(records: list) -> str:
    lines = ["| model | mode | batch@size | threads | ours img/s (median / best) | official img/s (median / best) "
             "| ours / official | peak RSS MiB ours / official | other load, cores (median / max) |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in records:
        o, f = r["impls"].get("ours", {}), r["impls"].get("official", {})
        ratio = (o["img_s_median"] / f["img_s_median"]) if o.get("img_s_median") and f.get("img_s_median") else None
        loads = [x for x in (o, f) if x.get("other_cores_median") is not None]
        load = (f"{max(x['other_cores_median'] for x in loads):.2f} / {max(x['other_cores_max'] for x in loads):.2f}"
                if loads else "-")

        def ips(e):
            if e.get("img_s_median") is None:
                return "failed" if e.get("error") and not e["error"].startswith("not run") else "-"
            return f"{e['img_s_median']:.2f} / {e['img_s_best']:.2f}"
        lines.append(f"| {r['model']} | {r['mode']} | {r['batch']}@{r['size']} | {r['threads']} | {ips(o)} | {ips(f)} "
                     f"| {_fmt(ratio, '.2f')}{'x' if ratio else ''} | {_fmt(o.get('peak_rss_mib'), '.0f')} / "
                     f"{_fmt(f.get('peak_rss_mib'), '.0f')} | {load} |")
    return "\n".join(lines)


def _default_torch_python() -> str | None:
    env = os.environ.get("JVISION_TORCH_PYTHON")
    if env:
        return env
    try:
        import importlib.util
        return sys.executable if importlib.util.find_spec("torch") else None
    except Exception:
        return None


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cases", default=",".join(DEFAULT_CASES), help="comma-separated model:mode (see --list)")
    p.add_argument("--threads", type=int, nargs="+", default=[2, 1])
    p.add_argument("--steps", type=int, default=8, help="timed steps per implementation")
    p.add_argument("--block", type=int, default=3,
                   help="steps per turn, back to back; the first of each turn is not timed (1: one timed step "
                        "per turn, each after the other side's)")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps first (Jittor compiles there)")
    p.add_argument("--drop-path", type=float, default=0.1, help="drop path rate in training (both sides)")
    p.add_argument("--sync-after-forward", action=argparse.BooleanOptionalAction, default=True,
                   help="our training step computes the loss before building the backward, as the engine's "
                        "train.sync_after_forward (default: on, as the engine)")
    p.add_argument("--batch", type=int, default=0, help="override every case's batch (quick checks)")
    p.add_argument("--size", type=int, default=0, help="override every case's image size (quick checks)")
    p.add_argument("--official", default=os.environ.get("JVISION_OFFICIAL_DIR"),
                   help="folder with the official repositories (env JVISION_OFFICIAL_DIR)")
    p.add_argument("--torch-python", default=_default_torch_python(),
                   help="Python interpreter with torch for the official side (env JVISION_TORCH_PYTHON)")
    p.add_argument("--setup-timeout", type=float, default=1800, help="seconds for build + warm-up of one worker")
    p.add_argument("--step-timeout", type=float, default=600, help="seconds for one timed step")
    p.add_argument("--json", help="also write the records here")
    p.add_argument("--log-dir", default=None, help="workers' stderr (default: a folder under /tmp)")
    p.add_argument("--list", action="store_true", help="print the cases and exit")
    p.add_argument("--profile", metavar="CASE", help="profile one step of our side of CASE (Jittor's profiler, "
                   "by op kind) with the first --threads value, and exit")
    p.add_argument("--profile-worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--_worker", choices=["ours", "official"], help=argparse.SUPPRESS)
    p.add_argument("--case", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args._worker:
        return worker(args)
    if args.list:
        for c in CASES.values():
            print(f"{c.name:<34} batch {c.batch} @ {c.size}  {'(default)' if c.name in DEFAULT_CASES else c.note}")
        return 0
    if args.profile:
        if args.profile not in CASES:
            p.error(f"unknown case {args.profile!r}; see --list")
        env = dict(os.environ, OMP_NUM_THREADS=str(args.threads[0]))
        env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        cmd = [sys.executable, str(Path(__file__).resolve()), "--_worker", "ours", "--case", args.profile,
               "--threads", str(args.threads[0]), "--warmup", str(max(args.warmup, 2)), "--profile-worker",
               "--batch", str(args.batch or 0), "--size", str(args.size or 0), "--drop-path", str(args.drop_path)]
        return subprocess.run(cmd, env=env, cwd=str(REPO)).returncode
    names = [n.strip() for n in args.cases.split(",") if n.strip()]
    unknown = [n for n in names if n not in CASES]
    if unknown:
        p.error(f"unknown case(s) {unknown}; see --list")
    args.log_dir = Path(args.log_dir or f"/tmp/jvision_bench_models_{os.getpid()}")
    args.log_dir.mkdir(parents=True, exist_ok=True)
    reason = _official_available(args)
    started = time.strftime("%Y-%m-%d %H:%M")
    print(f"bench_models: {len(names)} case(s) x threads {args.threads}, {args.warmup} warm-up + {args.steps} timed "
          f"steps each in blocks of {args.block}; {os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.2f}; "
          f"official side: {'yes (' + args.torch_python + ')' if reason is None else reason}; "
          f"worker logs in {args.log_dir}", flush=True)
    records = []
    for threads in args.threads:
        for name in names:
            t0 = time.time()
            rec = run_case(_resized(CASES[name], args), threads, args, reason)
            records.append(rec)
            for impl, e in rec["impls"].items():
                if e.get("img_s_median") is not None:
                    lead = (f", {e['img_s_lead_median']:.2f} after a pause" if e.get("img_s_lead_median") else "")
                    print(f"  {name:<30} t{threads} {impl:<8} {e['img_s_median']:7.2f} img/s median, "
                          f"{e['img_s_best']:7.2f} best{lead}, peak RSS {_fmt(e.get('peak_rss_mib'), '.0f')} MiB, "
                          f"other load {e['other_cores_median']:.2f} cores ({e['version']})", flush=True)
                else:
                    print(f"  {name:<30} t{threads} {impl:<8} {e.get('error')}", flush=True)
            if rec.get("ratio_per_round"):
                r = rec["ratio_per_round"]
                print(f"  ours / official, each round's turns: median {rec['ratio_per_round_median']:.2f}x, "
                      f"range {min(r):.2f}-{max(r):.2f}", flush=True)
            print(f"  ({time.time() - t0:.0f} s)", flush=True)
    print(f"\nMeasured {started} with `python benchmarks/bench_models.py {' '.join(argv or sys.argv[1:])}`; "
          f"steps: train = forward + loss + backward + AdamW update, infer = forward without gradients "
          f"(see --help).\n")
    print(table(records))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"started": started, "records": records}, indent=1))
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
