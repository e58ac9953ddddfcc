#!/usr/bin/env python
"""VideoMAE pre-training speed, ours against the official PyTorch code, and video decoding speed.
A measurement, not a test.

    python benchmarks/bench_video_mim.py --official PATH/TO/VideoMAE --torch-python /path/to/venv/bin/python
    python benchmarks/bench_video_mim.py --skip-official --batch 1 --frames 4 --size 64 --iters 2   # smoke run

Pre-training: ``pretrain_videomae_small_patch16_224`` (decoder depth 4, as the official scripts),
16 frames of 224x224 by default, tube masking 0.9, the normalised-tubelet target and MSE, AdamW: one
optimizer step is one iteration. Ours runs in this interpreter; the official ``modeling_pretrain.py``
(a checkout of MCG-NJU/VideoMAE given by ``--official``; a stand-in for the few timm helpers it
imports is installed when timm is absent) runs under ``--torch-python``. Both workers start, compile
and warm up, then take turns: each round times ``--iters`` iterations of ours, then of the official
code, so the load of a shared machine hits both alike; medians over all rounds are reported, with
clips/s and the ratio ours / official. Both use ``--threads`` threads (OMP_NUM_THREADS, and
``torch.set_num_threads``).

Decoding: frames/s of ``jvision.data.video.VideoReader`` (OpenCV) reading the frames of Kinetics-style
training clips (16 frames every 4) from a generated 340x256 mp4 of 300 frames, and of a full sequential
decode; PyAV too when it is importable (``--torch-python``'s interpreter is not used for this).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# ------------------------------------------------------------------------------------------------
# Workers: read "run N" / "quit" on stdin, answer one JSON line on stdout
# ------------------------------------------------------------------------------------------------
TIMM_STANDIN = '''
import sys, types, collections.abc, itertools
import torch
def _ntuple(n):
    return lambda x: tuple(x) if isinstance(x, collections.abc.Iterable) else tuple(itertools.repeat(x, n))
def drop_path(x, drop_prob=0., training=False):
    if drop_prob == 0. or not training:
        return x
    keep = 1 - drop_prob
    mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
    return x * mask / keep
def trunc_normal_(t, mean=0., std=1., a=-2., b=2.):
    return torch.nn.init.trunc_normal_(t, mean, std, a, b)
def register_model(fn):
    return fn
timm = types.ModuleType("timm"); models = types.ModuleType("timm.models")
layers = types.ModuleType("timm.models.layers"); registry = types.ModuleType("timm.models.registry")
layers.drop_path, layers.to_2tuple, layers.trunc_normal_ = drop_path, _ntuple(2), trunc_normal_
registry.register_model = register_model
timm.models, models.layers, models.registry = models, layers, registry
sys.modules.update({"timm": timm, "timm.models": models, "timm.models.layers": layers, "timm.models.registry": registry})
'''


def _serve(step, batch: int, meta: dict) -> None:
    print("READY " + json.dumps(meta), flush=True)
    for line in sys.stdin:
        cmd = line.split()
        if not cmd or cmd[0] == "quit":
            break
        times = []
        for _ in range(int(cmd[1])):
            t0 = time.perf_counter()
            step()
            times.append(time.perf_counter() - t0)
        print("TIMES " + json.dumps(times), flush=True)


def worker_ours(args) -> None:
    sys.path.insert(0, str(REPO))
    import numpy as np
    import jvision  # noqa: F401  (configures Jittor)
    import jittor as jt
    from jvision.engine.optim import build_optimizer
    from jvision.registry import MODELS

    jt.set_seed(0)
    model = MODELS.build(dict(type="pretrain_videomae_small_patch16_224", decoder_depth=4, mask_ratio=args.mask_ratio,
                              num_frames=args.frames, img_size=args.size))
    model.train()
    opt = build_optimizer(model, dict(type="AdamW", lr=1.5e-4, betas=(0.9, 0.95), weight_decay=0.05,
                                      paramwise=dict(norm_decay_mult=0.0, bias_decay_mult=0.0)))
    rng = np.random.default_rng(0)
    videos = jt.array(rng.standard_normal((args.batch, 3, args.frames, args.size, args.size)).astype(np.float32))
    state = {"i": 0}

    def step():
        batch = {"img": videos, "_rng": np.random.default_rng(state["i"])}
        state["i"] += 1
        opt.step(model.train_step(batch)["loss"])
        jt.sync_all(True)

    for _ in range(args.warmup):
        step()
    _serve(step, args.batch, {"impl": "ours (Jittor)", "device": "cuda" if jt.flags.use_cuda else "cpu"})


def worker_official(args) -> None:
    import numpy as np
    import torch
    torch.set_num_threads(args.threads)
    try:
        import timm  # noqa: F401
    except ImportError:
        exec(TIMM_STANDIN, {})
    sys.path.insert(0, str(Path(args.official).resolve()))
    from functools import partial
    from modeling_pretrain import PretrainVisionTransformer  # the official model file

    torch.manual_seed(0)
    if args.frames != 16:
        raise SystemExit("the official PretrainVisionTransformer runs with 16 frames only")
    # pretrain_videomae_small_patch16_224(decoder_depth=4), with img_size passed through
    model = PretrainVisionTransformer(img_size=args.size, patch_size=16, encoder_embed_dim=384, encoder_depth=12,
                                      encoder_num_heads=6, encoder_num_classes=0, decoder_num_classes=1536,
                                      decoder_embed_dim=192, decoder_num_heads=3, decoder_depth=4, mlp_ratio=4,
                                      qkv_bias=True, norm_layer=partial(torch.nn.LayerNorm, eps=1e-6))
    model.train()
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (no_decay if p.ndim == 1 or name.endswith(".bias") or name in ("mask_token",) else decay).append(p)
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.05}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=1.5e-4, betas=(0.9, 0.95))
    rng = np.random.default_rng(0)
    videos = torch.from_numpy(rng.standard_normal((args.batch, 3, 16, args.size, args.size)).astype(np.float32))
    gt, gh = 8, args.size // 16
    per_frame, masked = gh * gh, int(args.mask_ratio * gh * gh)
    mean = torch.tensor([0.485, 0.456, 0.406])[None, :, None, None, None]
    std = torch.tensor([0.229, 0.224, 0.225])[None, :, None, None, None]
    state = {"i": 0}

    def tube_mask():       # masking_generator.TubeMaskingGenerator, one per sample
        r = np.random.default_rng(state["i"])
        rows = []
        for _ in range(args.batch):
            m = np.hstack([np.zeros(per_frame - masked), np.ones(masked)])
            r.shuffle(m)
            rows.append(np.tile(m, (gt, 1)).flatten())
        return torch.from_numpy(np.stack(rows)).to(torch.bool)

    def step():           # engine_for_pretraining.train_one_epoch, one iteration (normlize_target=True)
        mask = tube_mask()
        state["i"] += 1
        with torch.no_grad():
            unnorm = videos * std + mean
            b, c, t, h, w = unnorm.shape
            x = unnorm.reshape(b, c, t // 2, 2, h // 16, 16, w // 16, 16).permute(0, 2, 4, 6, 3, 5, 7, 1)
            x = x.reshape(b, -1, 2 * 16 * 16, c)
            x = (x - x.mean(dim=-2, keepdim=True)) / (x.var(dim=-2, unbiased=True, keepdim=True).sqrt() + 1e-6)
            labels = x.reshape(b, x.shape[1], -1)[mask].reshape(b, -1, 2 * 16 * 16 * c)
        loss = torch.nn.functional.mse_loss(model(videos, mask), labels)
        opt.zero_grad()
        loss.backward()
        opt.step()

    for _ in range(args.warmup):
        step()
    _serve(step, args.batch, {"impl": "official (PyTorch)", "torch": torch.__version__,
                              "threads": torch.get_num_threads()})


# ------------------------------------------------------------------------------------------------
# Decoding
# ------------------------------------------------------------------------------------------------
def bench_decode(args) -> dict:
    sys.path.insert(0, str(REPO))
    import numpy as np
    import jvision  # noqa: F401
    from jvision.data.video import VideoReader, dense_sample, write_video

    rng = np.random.default_rng(0)
    n, h, w = args.decode_frames, 256, 340
    base = rng.integers(0, 256, (h + n, w, 3), dtype=np.uint8)
    frames = np.stack([base[i:i + h] for i in range(n)])          # a texture scrolling one row a frame
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = write_video(Path(tmp) / "clip.mp4", frames)
        reader = VideoReader(path)
        clips = [dense_sample(len(reader), 16, 4, np.random.default_rng(i)) for i in range(args.decode_clips)]
        t0 = time.perf_counter()
        for idx in clips:
            reader.read(idx)
        dt = time.perf_counter() - t0
        out["opencv_clip_frames_per_s"] = 16 * len(clips) / dt
        out["opencv_clips_per_s"] = len(clips) / dt
        t0 = time.perf_counter()
        reader.read(np.arange(len(reader)))
        out["opencv_sequential_frames_per_s"] = len(reader) / (time.perf_counter() - t0)
        try:
            import av
        except ImportError:
            out["pyav"] = "not installed"
        else:
            t0 = time.perf_counter()
            with av.open(str(path)) as container:
                count = sum(1 for f in container.decode(video=0) if f.to_ndarray(format="rgb24") is not None)
            out["pyav_sequential_frames_per_s"] = count / (time.perf_counter() - t0)
    out["video"] = f"{n} frames of {w}x{h} mp4 (mp4v), clips of 16 frames every 4"
    return out


# ------------------------------------------------------------------------------------------------
# Driver
# ------------------------------------------------------------------------------------------------
class _Worker:
    def __init__(self, cmd, env):
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, env=env)
        self.meta = json.loads(self._expect("READY"))

    def _expect(self, tag: str) -> str:
        for line in self.proc.stdout:
            if line.startswith(tag + " "):
                return line[len(tag) + 1:]
        raise RuntimeError(f"worker {self.proc.args[-1]} ended: {self.proc.stderr.read()[-3000:]}")

    def run(self, iters: int) -> list[float]:
        self.proc.stdin.write(f"run {iters}\n")
        self.proc.stdin.flush()
        return json.loads(self._expect("TIMES"))

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.write("quit\n")
            self.proc.stdin.flush()
            self.proc.wait(timeout=60)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--official", help="a checkout of MCG-NJU/VideoMAE (modeling_pretrain.py, modeling_finetune.py)")
    p.add_argument("--torch-python", default=sys.executable, help="an interpreter with torch for the official code")
    p.add_argument("--skip-official", action="store_true", help="time ours alone")
    p.add_argument("--skip-decode", action="store_true")
    p.add_argument("--batch", type=int, default=2, help="clips per iteration (default 2)")
    p.add_argument("--frames", type=int, default=16)
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--mask-ratio", type=float, default=0.9)
    p.add_argument("--threads", type=int, default=os.cpu_count(), help="threads of both (default: all CPUs)")
    p.add_argument("--iters", type=int, default=3, help="timed iterations per round and implementation")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--warmup", type=int, default=2, help="untimed iterations (include Jittor's compile)")
    p.add_argument("--decode-frames", type=int, default=300)
    p.add_argument("--decode-clips", type=int, default=20)
    p.add_argument("--json", help="write the results here")
    p.add_argument("--_worker", choices=["ours", "official"], help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args._worker == "ours":
        worker_ours(args)
        return 0
    if args._worker == "official":
        worker_official(args)
        return 0
    if not args.skip_official and not args.official:
        p.error("--official PATH (a MCG-NJU/VideoMAE checkout) is needed, or --skip-official")

    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    common = ["--batch", str(args.batch), "--frames", str(args.frames), "--size", str(args.size), "--mask-ratio",
              str(args.mask_ratio), "--threads", str(args.threads), "--warmup", str(args.warmup)]
    load_before = os.getloadavg()
    print(f"VideoMAE ViT-S pre-training: batch {args.batch} x {args.frames}x{args.size}x{args.size}, mask "
          f"{args.mask_ratio}, {args.threads} threads, {args.rounds} rounds x {args.iters} iterations; "
          f"{os.cpu_count()} CPUs, load average {load_before[0]:.1f}", flush=True)
    results: dict = {"settings": vars(args)}
    workers = {"ours": _Worker([sys.executable, __file__, "--_worker", "ours"] + common, env)}
    if not args.skip_official:
        workers["official"] = _Worker([args.torch_python, __file__, "--_worker", "official", "--official",
                                       args.official] + common, env)
    times = {k: [] for k in workers}
    try:
        for _ in range(args.rounds):
            for name, worker in workers.items():
                times[name] += worker.run(args.iters)
    finally:
        for worker in workers.values():
            worker.close()
    for name, ts in times.items():
        sec = statistics.median(ts)
        results[name] = dict(workers[name].meta, sec_per_iter=sec, clips_per_s=args.batch / sec, times=ts)
        print(f"{workers[name].meta['impl']:<20} {sec:8.3f} s/iter  {args.batch / sec:7.3f} clips/s", flush=True)
    if "official" in results:
        ratio = results["ours"]["clips_per_s"] / results["official"]["clips_per_s"]
        results["ratio_ours_over_official"] = ratio
        print(f"ours / official: {ratio:.2f}x (target >= 1.0x)")
    if not args.skip_decode:
        results["decode"] = bench_decode(args)
        for key, value in results["decode"].items():
            print(f"decode {key}: {value if isinstance(value, str) else f'{value:.1f}'}")
    results["load_before"], results["load_after"] = load_before, os.getloadavg()
    print(f"load average before {load_before[0]:.1f}, after {results['load_after'][0]:.1f} "
          "(other processes share the CPUs)")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(results, indent=1))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
