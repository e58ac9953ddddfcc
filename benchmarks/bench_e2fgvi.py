#!/usr/bin/env python3
"""E2FGVI speed and memory (a benchmark, not a test; run it on a quiet machine).

    python benchmarks/bench_e2fgvi.py [--what op,infer,memory] [--threads 2] [--repeat 5]
        [--torch-python /path/to/venv/bin/python] [--official-repo /path/to/E2FGVI] [--tiny]

* op: ``modulated_deform_conv2d`` forward + backward at E2FGVI's alignment shape (input 256 ch,
  60x108, 128 out, 3x3, 16 deform groups), ours (``kernel`` and ``reference``) against
  torchvision's ``deform_conv2d`` (the same operation as mmcv's) run by ``--torch-python`` (a venv
  with torch + torchvision, e.g. ``pip install torch==2.14.1 torchvision==0.29.1``).
* infer: seconds per frame of one official evaluation window (10 local + 3 reference frames at
  432x240, E2FGVI), ours against the official PyTorch model from ``--official-repo`` (a checkout of
  MCG-NKU/E2FGVI; its mmcv imports are served by a small stand-in over torchvision's op).
* memory: peak RSS of ``tools/inpaint.py`` on synthetic 100- and 300-frame clips (it must not grow).

Both sides run with the same number of threads (``--threads``: OMP_NUM_THREADS and
``torch.set_num_threads``). ``--tiny`` shrinks every size for a smoke run (figures meaningless).
Prints one JSON line per measurement and a summary with the ratios (>1: ours faster).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# The PyTorch side, run in the torch venv. Its mmcv stand-in maps mmcv's modulated deformable conv
# to torchvision.ops.deform_conv2d (same offset layout and sampling rule).
TORCH_SIDE = textwrap.dedent(r'''
import json, sys, time, types
import torch
cfg = json.loads(sys.argv[1])
torch.set_num_threads(cfg["threads"])
def timeit(fn, repeat):
    fn()
    ts = []
    for _ in range(repeat):
        t = time.perf_counter(); fn(); ts.append(time.perf_counter() - t)
    return min(ts)
from torchvision.ops import deform_conv2d
if cfg["what"] == "op":
    n, c, h, w, o, dg = cfg["shape"]
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, c, h, w, generator=g, requires_grad=True)
    off = (torch.randn(n, dg * 18, h, w, generator=g) * 2).requires_grad_()
    m = torch.rand(n, dg * 9, h, w, generator=g).requires_grad_()
    wt = (torch.randn(o, c, 3, 3, generator=g) * 0.02).requires_grad_()
    b = torch.zeros(o, requires_grad=True)
    def step():
        y = deform_conv2d(x, off, wt, b, padding=1, mask=m)
        y.sum().backward()
    print(json.dumps({"torchvision_fwd_bwd_s": timeit(step, cfg["repeat"])}))
else:
    class MDC(torch.nn.Module):
        def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                     groups=1, deform_groups=1, bias=True):
            super().__init__()
            k = kernel_size if isinstance(kernel_size, tuple) else (kernel_size, kernel_size)
            self.in_channels, self.out_channels, self.kernel_size = in_channels, out_channels, k
            self.stride, self.padding, self.dilation = stride, padding, dilation
            self.groups, self.deform_groups = groups, deform_groups
            self.weight = torch.nn.Parameter(torch.randn(out_channels, in_channels // groups, *k) * 0.01)
            self.bias = torch.nn.Parameter(torch.zeros(out_channels))
    def mdc(x, offset, mask, weight, bias, stride, padding, dilation, groups, deform_groups):
        return deform_conv2d(x, offset, weight, bias, stride=stride, padding=padding, dilation=dilation, mask=mask)
    class ConvModule(torch.nn.Module):
        def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, norm_cfg=None, act_cfg=None):
            super().__init__()
            self.conv = torch.nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding)
            self.act = torch.nn.ReLU() if act_cfg else torch.nn.Identity()
        def forward(self, x):
            return self.act(self.conv(x))
    mm = types.ModuleType("mmcv"); ops = types.ModuleType("mmcv.ops"); cnn = types.ModuleType("mmcv.cnn")
    runner = types.ModuleType("mmcv.runner")
    ops.ModulatedDeformConv2d, ops.modulated_deform_conv2d = MDC, mdc
    cnn.ConvModule = ConvModule
    cnn.constant_init = lambda m, val, bias=0: (torch.nn.init.constant_(m.weight, val), torch.nn.init.constant_(m.bias, bias))
    runner.load_checkpoint = lambda *a, **k: None
    sys.modules.update({"mmcv": mm, "mmcv.ops": ops, "mmcv.cnn": cnn, "mmcv.runner": runner})
    sys.path.insert(0, cfg["official_repo"])
    from model.e2fgvi import InpaintGenerator
    model = InpaintGenerator().eval()
    t, l, (h, w) = cfg["frames"], cfg["local"], cfg["size"]
    x = torch.rand(1, t, 3, h, w) * 2 - 1
    with torch.no_grad():
        s = timeit(lambda: model(x, l), cfg["repeat"])
    print(json.dumps({"official_window_s": s, "official_s_per_frame": s / l}))
''')


def _torch(python: str, cfg: dict, threads: int) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    proc = subprocess.run([python, "-c", TORCH_SIDE, json.dumps(cfg)], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "failed"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _timeit(fn, repeat: int) -> float:
    fn()
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def bench_op(args) -> dict:
    import jittor as jt
    import numpy as np
    from jvision.ops.deform import modulated_deform_conv2d_impl
    n, c, h, w, o, dg = (1, 32, 12, 20, 16, 4) if args.tiny else (1, 256, 60, 108, 128, 16)
    rng = np.random.default_rng(0)
    x = jt.array(rng.standard_normal((n, c, h, w)).astype("float32"))
    off = jt.array((rng.standard_normal((n, dg * 18, h, w)) * 2).astype("float32"))
    m = jt.array(rng.uniform(0, 1, (n, dg * 9, h, w)).astype("float32"))
    wt = jt.array((rng.standard_normal((o, c, 3, 3)) * 0.02).astype("float32"))
    b = jt.zeros((o,))
    res = {"what": "op", "shape": [n, c, h, w, o, dg], "threads": args.threads}
    for impl in ("kernel", "reference"):
        if impl == "reference" and not args.tiny and not args.with_reference:
            continue

        def step():
            y = modulated_deform_conv2d_impl(impl, x, off, m, wt, b, 1, 1, 1, 1, dg)
            grads = jt.grad(y.sum(), [x, off, m, wt, b])
            jt.sync(grads)
        res[f"ours_{impl}_fwd_bwd_s"] = _timeit(step, args.repeat)
    if args.torch_python:
        res.update(_torch(args.torch_python, {"what": "op", "shape": [n, c, h, w, o, dg], "threads": args.threads,
                                              "repeat": args.repeat}, args.threads))
        if "torchvision_fwd_bwd_s" in res:
            res["ratio_torchvision_over_ours"] = res["torchvision_fwd_bwd_s"] / res["ours_kernel_fwd_bwd_s"]
    return res


def bench_infer(args) -> dict:
    import jittor as jt
    import numpy as np
    from jvision.models.e2fgvi import InpaintGenerator
    size = (60, 108) if args.tiny else (240, 432)
    local, refs = (3, 1) if args.tiny else (10, 3)
    kw = dict(hidden=32, depth=1, num_heads=2) if args.tiny else {}
    model = InpaintGenerator(hq=args.tiny, warn_spynet=False, **kw)
    model.eval()
    x = jt.array(np.random.default_rng(0).uniform(-1, 1, (1, local + refs, 3, *size)).astype("float32"))

    def step():
        with jt.no_grad():
            y, _ = model(x, local)
            y.sync()
    s = _timeit(step, args.repeat)
    res = {"what": "infer", "size": list(size), "local": local, "refs": refs, "threads": args.threads,
           "ours_window_s": s, "ours_s_per_frame": s / local}
    if args.torch_python and args.official_repo and not args.tiny:
        res.update(_torch(args.torch_python, {"what": "infer", "official_repo": args.official_repo, "frames": local + refs,
                                              "local": local, "size": list(size), "threads": args.threads,
                                              "repeat": args.repeat}, args.threads))
        if "official_s_per_frame" in res:
            res["ratio_official_over_ours"] = res["official_s_per_frame"] / res["ours_s_per_frame"]
    return res


def bench_memory(args) -> dict:
    from jvision.data.video_synthetic import make_clip
    from jvision.video.io import VideoWriter
    size = (60, 108) if args.tiny else tuple(args.memory_size)
    model = "e2fgvi_hq" if args.tiny or size != (240, 432) else "e2fgvi"   # e2fgvi runs at 432x240 only
    lengths = (10, 30) if args.tiny else (100, 300)
    res = {"what": "memory", "size": list(size), "model": model, "threads": args.threads}
    with tempfile.TemporaryDirectory() as tmp:
        for n in lengths:
            clip = make_clip(n, size, seed=0, max_speed=1)
            vw = VideoWriter(f"{tmp}/v{n}.mp4", 24, size)
            mw = VideoWriter(f"{tmp}/m{n}.mp4", 24, size)
            for f, m in zip(clip.frames, clip.masks):
                vw.write(f)
                mw.write(m[..., None].repeat(3, 2) * 255)
            vw.close()
            mw.close()
            code = ("import resource, runpy, sys; sys.argv = sys.argv[1:]; "
                    "exec('try:\\n runpy.run_path(sys.argv[0], run_name=\"__main__\")\\nexcept SystemExit: pass'); "
                    "print('MAXRSS_KB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")
            cmd = [sys.executable, "-c", code, str(REPO / "tools" / "inpaint.py"), f"{tmp}/v{n}.mp4", f"{tmp}/m{n}.mp4",
                   "--out", f"{tmp}/o{n}", "--model", model]
            env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), PYTHONPATH=str(REPO))
            t = time.time()
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
            line = [ln for ln in proc.stdout.splitlines() if ln.startswith("MAXRSS_KB")]
            res[f"peak_rss_mib_{n}_frames"] = int(line[-1].split()[1]) / 1024 if line else None
            res[f"seconds_{n}_frames"] = time.time() - t
            if proc.returncode != 0 or not line:
                res[f"error_{n}"] = proc.stderr.strip().splitlines()[-1:] or ["failed"]
    return res


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("--what", default="op,infer,memory")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--torch-python", help="python of a venv with torch + torchvision")
    p.add_argument("--official-repo", help="checkout of MCG-NKU/E2FGVI (for --what infer)")
    p.add_argument("--with-reference", action="store_true", help="also time the meta-operator reference op")
    p.add_argument("--memory-size", type=int, nargs=2, default=[240, 432], metavar=("H", "W"),
                   help="frame size of --what memory (not 240 432: e2fgvi_hq, which takes any size)")
    p.add_argument("--tiny", action="store_true", help="tiny sizes: a smoke run, figures meaningless")
    args = p.parse_args(argv)
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    sys.path.insert(0, str(REPO))
    import jvision  # noqa: F401
    results = []
    for what in args.what.split(","):
        res = {"op": bench_op, "infer": bench_infer, "memory": bench_memory}[what.strip()](args)
        print(json.dumps(res), flush=True)
        results.append(res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
