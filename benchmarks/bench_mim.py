#!/usr/bin/env python
"""MAE pre-training speed: ours (Jittor) against the official PyTorch MAE code, in the same run, with
the same threads; and the web-shard reader's decode throughput.

    python benchmarks/bench_mim.py --torch-python /path/to/venv/bin/python --mae-repo /path/to/mae
    python benchmarks/bench_mim.py --quick          # smoke run: tiny batch, one timed iteration

What is timed, per model (MAE ViT-S/16 and ViT-B/16 at 224, mask 0.75, norm-pix loss): a full
training step (forward, backward, AdamW betas 0.9/0.95 update) on a fixed random batch, after
``--warmup`` untimed steps (Jittor compiles its kernels in the first ones); the median over
``--iters`` steps, reported as images/s. ViT-S is our ``mae_vit_small_patch16`` (decoder 256-d, 4
blocks); the official side builds the same shapes with its ``MaskedAutoencoderViT`` class.

The official side runs in a subprocess of ``--torch-python`` (a Python with torch; default: this one
if it imports torch) with ``torch.set_num_threads(--threads)``; ours sets ``OMP_NUM_THREADS`` the same
way before Jittor starts. ``--mae-repo`` is a clone of facebookresearch/mae (a work tree, or a bare
git directory read with ``git show``); its ``models_mae.py`` imports timm 0.3.2, which does not
install on current Python/torch, so the subprocess provides a minimal stand-in for the four timm
pieces it uses (``PatchEmbed``, ``Block`` with ``Attention``/``Mlp``, as timm 0.3.2 defines them), and
``numpy.float`` (used by ``util/pos_embed.py``, removed in numpy 1.24) is aliased to ``float``.
Without torch or the repository the official column is reported as not measured.

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
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

MODELS = {
    "vit_s": dict(ours="mae_vit_small_patch16", embed_dim=384, depth=12, num_heads=6, decoder_embed_dim=256,
                  decoder_depth=4, decoder_num_heads=8),
    "vit_b": dict(ours="mae_vit_base_patch16", embed_dim=768, depth=12, num_heads=12, decoder_embed_dim=512,
                  decoder_depth=8, decoder_num_heads=16),
}

# Runs in the torch subprocess: the official MAE model with a minimal timm 0.3.2 stand-in.
TORCH_SIDE = r'''
import json, statistics, sys, time, types
import torch, torch.nn as nn
args = json.loads(sys.argv[1])
torch.set_num_threads(args["threads"])
torch.manual_seed(0)

class PatchEmbed(nn.Module):
    def __init__(self, img_size=224, patch_size=16, in_chans=3, embed_dim=768):
        super().__init__()
        self.img_size, self.patch_size = (img_size, img_size), (patch_size, patch_size)
        self.num_patches = (img_size // patch_size) ** 2
        self.proj = nn.Conv2d(in_chans, embed_dim, patch_size, stride=patch_size)
    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)

class Mlp(nn.Module):
    def __init__(self, dim, hidden, act_layer=nn.GELU, drop=0.):
        super().__init__()
        self.fc1, self.act, self.fc2 = nn.Linear(dim, hidden), act_layer(), nn.Linear(hidden, dim)
        self.drop = nn.Dropout(drop)
    def forward(self, x):
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))

class Attention(nn.Module):
    def __init__(self, dim, num_heads=8, qkv_bias=False, qk_scale=None, attn_drop=0., proj_drop=0.):
        super().__init__()
        self.num_heads = num_heads
        self.scale = qk_scale or (dim // num_heads) ** -0.5
        self.qkv, self.proj = nn.Linear(dim, dim * 3, bias=qkv_bias), nn.Linear(dim, dim)
        self.attn_drop, self.proj_drop = nn.Dropout(attn_drop), nn.Dropout(proj_drop)
    def forward(self, x):
        b, n, c = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.num_heads, c // self.num_heads).permute(2, 0, 3, 1, 4)
        attn = self.attn_drop(((q @ k.transpose(-2, -1)) * self.scale).softmax(dim=-1))
        return self.proj_drop(self.proj((attn @ v).transpose(1, 2).reshape(b, n, c)))

class Block(nn.Module):
    def __init__(self, dim, num_heads, mlp_ratio=4., qkv_bias=False, qk_scale=None, drop=0., attn_drop=0.,
                 drop_path=0., act_layer=nn.GELU, norm_layer=nn.LayerNorm):
        super().__init__()
        self.norm1, self.norm2 = norm_layer(dim), norm_layer(dim)
        self.attn = Attention(dim, num_heads, qkv_bias, qk_scale, attn_drop, drop)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), act_layer, drop)
    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))

timm = types.ModuleType("timm"); models = types.ModuleType("timm.models")
vt = types.ModuleType("timm.models.vision_transformer"); vt.PatchEmbed, vt.Block = PatchEmbed, Block
timm.models, models.vision_transformer = models, vt
sys.modules.update({"timm": timm, "timm.models": models, "timm.models.vision_transformer": vt})
import numpy as np
if "float" not in np.__dict__:
    np.float = float        # util/pos_embed.py uses np.float, removed in numpy 1.24
sys.path.insert(0, args["mae_dir"])
from functools import partial
import models_mae

out = {"torch": torch.__version__, "threads": torch.get_num_threads(), "models": {}}
for name, m in args["models"].items():
    model = models_mae.MaskedAutoencoderViT(
        img_size=224, patch_size=16, embed_dim=m["embed_dim"], depth=m["depth"], num_heads=m["num_heads"],
        decoder_embed_dim=m["decoder_embed_dim"], decoder_depth=m["decoder_depth"],
        decoder_num_heads=m["decoder_num_heads"], mlp_ratio=4, norm_layer=partial(nn.LayerNorm, eps=1e-6),
        norm_pix_loss=True)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.95), weight_decay=0.05)
    x = torch.randn(args["batch"], 3, 224, 224)
    times = []
    for i in range(args["warmup"] + args["iters"]):
        t0 = time.perf_counter()
        loss, _, _ = model(x, mask_ratio=0.75)
        opt.zero_grad(); loss.backward(); opt.step()
        if i >= args["warmup"]:
            times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    out["models"][name] = {"s_per_iter": med, "images_per_s": args["batch"] / med, "loss": float(loss)}
print("RESULT " + json.dumps(out))
'''


def official_source(repo: str | None) -> tuple[str | None, str]:
    """A folder holding the official models_mae.py and util/pos_embed.py (or None, with the reason)."""
    if not repo:
        return None, "no --mae-repo given"
    path = Path(repo)
    if (path / "models_mae.py").is_file():
        return str(path), ""
    if (path / "HEAD").is_file() or path.name.endswith(".git") or (path / "objects").is_dir():
        tmp = Path(tempfile.mkdtemp(prefix="mae_official_"))
        (tmp / "util").mkdir()
        for rel in ("models_mae.py", "util/pos_embed.py"):
            blob = subprocess.run(["git", f"--git-dir={path}", "show", f"HEAD:{rel}"], capture_output=True)
            if blob.returncode:
                return None, f"{repo}: git show HEAD:{rel} failed: {blob.stderr.decode().strip()}"
            (tmp / rel).write_bytes(blob.stdout)
        (tmp / "util" / "__init__.py").write_text("")
        return str(tmp), ""
    return None, f"{repo}: neither a clone of facebookresearch/mae nor a bare git directory of it"


def run_official(args, models: dict) -> dict:
    folder, why = official_source(args.mae_repo)
    python = args.torch_python or sys.executable
    if folder is None:
        return {"error": why}
    payload = json.dumps({"threads": args.threads, "batch": args.batch, "warmup": args.warmup, "iters": args.iters,
                          "mae_dir": folder, "models": {k: MODELS[k] for k in models}})
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    proc = subprocess.run([python, "-c", TORCH_SIDE, payload], capture_output=True, text=True, env=env,
                          timeout=args.timeout)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if proc.returncode or line is None:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        return {"error": f"{python}: exit {proc.returncode}: {' | '.join(tail)}"}
    return json.loads(line[len("RESULT "):])


def run_ours(args, models: dict) -> dict:
    import statistics

    import numpy as np
    import jittor as jt
    from jvision import MODELS as REGISTRY
    from jvision.engine.optim import build_optimizer

    out = {"jittor": jt.__version__, "models": {}}
    rng = np.random.default_rng(0)
    for name in models:
        model = REGISTRY.build(dict(type=MODELS[name]["ours"], norm_pix_loss=True, mask_ratio=0.75))
        model.train()
        opt = build_optimizer(model, dict(type="AdamW", lr=1e-4, betas=(0.9, 0.95), weight_decay=0.05))
        x = jt.array(rng.standard_normal((args.batch, 3, 224, 224)).astype(np.float32))
        times = []
        for i in range(args.warmup + args.iters):
            t0 = time.perf_counter()
            loss = model.train_step({"img": x})["loss"]
            loss.sync()           # the engine's default graph cut (train.sync_after_forward)
            opt.step(loss)
            jt.sync_all(True)
            if i >= args.warmup:
                times.append(time.perf_counter() - t0)
        med = statistics.median(times)
        out["models"][name] = {"s_per_iter": med, "images_per_s": args.batch / med, "loss": float(loss.item())}
        del model, opt
        jt.gc()
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
    p.add_argument("--iters", type=int, default=5)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--torch-python", help="Python with torch for the official side (default: this one)")
    p.add_argument("--mae-repo", default=os.environ.get("MAE_REPO"),
                   help="clone (or bare git dir) of facebookresearch/mae (default $MAE_REPO)")
    p.add_argument("--shard-samples", type=int, default=512)
    p.add_argument("--shard-image-size", type=int, default=320)
    p.add_argument("--timeout", type=int, default=3600, help="seconds for the official subprocess")
    p.add_argument("--quick", action="store_true", help="smoke run: batch 2, 1 warm-up, 1 timed step, 64 shard images")
    p.add_argument("--json", default=str(ROOT / "benchmarks" / "results" / "bench_mim.json"))
    args = p.parse_args(argv)
    if args.quick:
        args.batch, args.warmup, args.iters, args.shard_samples, args.shard_image_size = 2, 1, 1, 64, 256
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    sys.path.insert(0, str(ROOT))
    import jvision  # noqa: F401  (configures Jittor with the thread count above)

    record = {"host": platform.node(), "threads": args.threads, "batch": args.batch, "iters": args.iters,
              "warmup": args.warmup, "time": time.strftime("%Y-%m-%d %H:%M:%S"),
              "load_before": os.getloadavg()}
    print(f"MAE pre-training step, 224x224, mask 0.75, batch {args.batch}, {args.threads} threads, "
          f"median of {args.iters} after {args.warmup} warm-up (load average {record['load_before'][0]:.1f})")
    record["official"] = run_official(args, args.models)
    record["ours"] = run_ours(args, args.models)
    record["shards"] = run_shards(args)
    record["load_after"] = os.getloadavg()
    print(f"{'model':<8s} {'ours img/s':>12s} {'official img/s':>15s} {'ratio':>7s}")
    for name in args.models:
        ours = record["ours"]["models"][name]["images_per_s"]
        off = record["official"].get("models", {}).get(name, {}).get("images_per_s")
        ratio = f"{ours / off:.2f}x" if off else "-"
        print(f"{name:<8s} {ours:>12.2f} {off if off is None else round(off, 2)!s:>15s} {ratio:>7s}")
    if "error" in record["official"]:
        print(f"official: not measured ({record['official']['error']})")
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
