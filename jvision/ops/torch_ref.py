"""PyTorch timings of the same ops, for comparisons (optional: needs ``torch``).

The official PyTorch forms of the blocks (VAN ``LKA``, SegNeXt ``AttentionModule``, Conv2Former
``SpatialAttention`` modulation) and the depthwise convolution stages, timed in a process of their
own: this file imports neither Jittor nor jvision, so it runs under any interpreter that has torch
(``python jvision/ops/torch_ref.py JSON``, e.g. the GPU machine's own Python with NumPy 2 while
Jittor needs NumPy < 2). Input JSON: ``{"device": "cpu"|"cuda", "threads": N, "warmup": W,
"repeats": R, "items": [{"op", "shape", "dtype", "mode", ...}]}``; output, one JSON line: the
items with ``ms`` (median; CUDA events on a GPU) or ``error`` added.

``op``: ``dwconv`` (``kernel``, ``stride``, ``padding``, ``dilation``; ``mode`` ``fwd`` / ``dgrad``
/ ``wgrad`` / ``fwdbwd``), ``lka``, ``msca``, ``convmod`` (``kernel``; ``mode`` ``fwd`` / ``fwdbwd``).
"""
from __future__ import annotations

import json
import statistics
import sys
import time


def modules():
    import torch
    from torch import nn

    class LKA(nn.Module):
        def __init__(self, dim):
            super().__init__()
            self.conv0 = nn.Conv2d(dim, dim, 5, padding=2, groups=dim)
            self.conv_spatial = nn.Conv2d(dim, dim, 7, padding=9, dilation=3, groups=dim)

        def forward(self, x):
            return self.conv_spatial(self.conv0(x))

    class MSCA(nn.Module):
        def __init__(self, dim):
            super().__init__()
            self.conv0 = nn.Conv2d(dim, dim, 5, padding=2, groups=dim)
            self.branches = nn.ModuleList(
                nn.Sequential(nn.Conv2d(dim, dim, (1, k), padding=(0, k // 2), groups=dim),
                              nn.Conv2d(dim, dim, (k, 1), padding=(k // 2, 0), groups=dim))
                for k in (7, 11, 21))

        def forward(self, x):
            a = self.conv0(x)
            return a + sum(br(a) for br in self.branches)

    class ConvMod(nn.Module):
        """dwconv(GELU(a)) * v: the part our convmod op covers (inputs a and v)."""

        def __init__(self, dim, k=11):
            super().__init__()
            self.act = nn.GELU()
            self.conv = nn.Conv2d(dim, dim, k, padding=k // 2, groups=dim)

        def forward(self, a, v):
            return self.conv(self.act(a)) * v

    return torch, {"lka": LKA, "msca": MSCA, "convmod": ConvMod}


def full_modules():
    """The whole attention modules (1x1 convolutions, LayerNorm, products included), for
    module-level comparisons (benchmarks/bench_ops.py)."""
    torch, spatial = modules()
    from torch import nn

    class LargeKernelAttention(nn.Module):
        def __init__(self, dim):
            super().__init__()
            self.spatial, self.conv1 = spatial["lka"](dim), nn.Conv2d(dim, dim, 1)

        def forward(self, x):
            return x * self.conv1(self.spatial(x))

    class MultiScaleConvAttention(nn.Module):
        def __init__(self, dim):
            super().__init__()
            self.spatial, self.conv3 = spatial["msca"](dim), nn.Conv2d(dim, dim, 1)

        def forward(self, x):
            return self.conv3(self.spatial(x)) * x

    class LayerNorm2d(nn.Module):
        def __init__(self, dim, eps=1e-6):
            super().__init__()
            self.weight, self.bias, self.eps = nn.Parameter(torch.ones(dim)), nn.Parameter(torch.zeros(dim)), eps

        def forward(self, x):
            u = x.mean(1, keepdim=True)
            s = (x - u).pow(2).mean(1, keepdim=True)
            return self.weight[:, None, None] * (x - u) / torch.sqrt(s + self.eps) + self.bias[:, None, None]

    class ConvModulation(nn.Module):
        def __init__(self, dim, kernel_size=11):
            super().__init__()
            self.norm, self.a = LayerNorm2d(dim), nn.Conv2d(dim, dim, 1)
            self.modulate = spatial["convmod"](dim, kernel_size)
            self.v, self.proj = nn.Conv2d(dim, dim, 1), nn.Conv2d(dim, dim, 1)

        def forward(self, x):
            x = self.norm(x)
            return self.proj(self.modulate(self.a(x), self.v(x)))

    return torch, {"LargeKernelAttention": LargeKernelAttention,
                   "MultiScaleConvAttention": MultiScaleConvAttention, "ConvModulation": ConvModulation}


def time_item(torch, mods, item, device, warmup, repeats) -> float:
    dt = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}[item.get("dtype", "float32")]
    n, c, h, w = item["shape"]
    x = torch.randn(n, c, h, w, device=device, dtype=dt, requires_grad=True)
    op, mode = item["op"], item.get("mode", "fwd")
    if op == "dwconv":
        kh, kw = item["kernel"]
        mod = torch.nn.Conv2d(c, c, (kh, kw), stride=tuple(item.get("stride", (1, 1))),
                              padding=tuple(item.get("padding", (0, 0))), dilation=tuple(item.get("dilation", (1, 1))),
                              groups=c).to(device, dt)
        args = (x,)
    elif op == "convmod":
        mod = mods[op](c, item.get("kernel", [11])[0]).to(device, dt)
        args = (x, torch.randn_like(x, requires_grad=True))
    else:
        mod = mods[op](c).to(device, dt)
        args = (x,)
    with torch.no_grad():
        gy = torch.randn_like(mod(*args))

    if mode == "fwd":
        def step():
            with torch.no_grad():
                mod(*args)
    else:
        y = mod(*args)
        targets = [x] if mode == "dgrad" else [mod.weight] if mode == "wgrad" else None

        def step():
            if mode in ("dgrad", "wgrad"):  # the backward pass alone, of a kept graph
                torch.autograd.grad(y, targets, gy, retain_graph=True)
            else:
                torch.autograd.grad(mod(*args), [*args, *mod.parameters()], gy)
    return time_callable(torch, step, device == "cuda", warmup, repeats)


def time_callable(torch, step, cuda: bool, warmup: int, repeats: int) -> float:
    """Median milliseconds of ``step()`` after ``warmup`` calls: CUDA events on a GPU (the stream's
    own time, no host overhead in between), the wall clock otherwise."""
    for _ in range(warmup):
        step()
    times = []
    for _ in range(repeats):
        if cuda:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            step()
            end.record()
            torch.cuda.synchronize()
            times.append(start.elapsed_time(end))
        else:
            t0 = time.perf_counter()
            step()
            times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def main(argv=None) -> int:
    req = json.loads((argv or sys.argv[1:])[0])
    torch, mods = modules()
    device = req.get("device", "cpu")
    if device == "cpu":
        torch.set_num_threads(int(req.get("threads", 1)))
    torch.backends.cudnn.benchmark = True
    out = []
    for item in req["items"]:
        try:
            item = dict(item, ms=round(time_item(torch, mods, item, device, req.get("warmup", 3),
                                                 req.get("repeats", 10)), 4))
        except Exception as exc:  # report per item, keep going
            item = dict(item, error=f"{type(exc).__name__}: {exc}")
        out.append(item)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
