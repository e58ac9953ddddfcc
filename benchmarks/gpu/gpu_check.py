#!/usr/bin/env python3
"""The GPU check of the kernel lab, in stages (benchmarks/gpu/run.sh runs them, each in a process of
its own with a time limit, and writes one JSON plus a table):

  dump        Jittor on the CPU: every CUDA verification case (fresh random inputs, float64
              reference results) and every timing problem, as stand-alone CUDA sources + data
  standalone  PyTorch's Python, no Jittor: each case built with nvcc and run on the GPU, outputs
              poisoned with NaN first (a NaN left, or an error above tolerance, fails); then every
              variant timed with CUDA events (median of many runs after warm-up) against PyTorch
              eager (cuDNN) on the same stage
  jittor      Jittor on CUDA: the same variants through jt.code (the library's own path), and the
              blocks' spatial ops forward+backward: our kernel backend (fused, unfused) against
              Jittor's built-in convolution, and the 31x31 depthwise op
  train       VAN-B0 and SegNeXt-T for a few iterations through tools/train.py, train.amp off and on
  report      the stages' JSON files merged into one, and a markdown table

    python benchmarks/gpu/gpu_check.py dump --out DIR [--quick]
    python benchmarks/gpu/gpu_check.py standalone --dir DIR --out part.json [--arch 90]
    python benchmarks/gpu/gpu_check.py jittor --out part.json [--quick]
    python benchmarks/gpu/gpu_check.py train --out part.json --amp off,bfloat16 [--iters 12]
    python benchmarks/gpu/gpu_check.py report part*.json --out DIR
    python benchmarks/gpu/gpu_check.py emu --dir DIR --out part.json   # dry run: the CUDA cases on the CPU
"""
from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]

# Stage shapes, batch 32: VAN-B0 at 224x224 (stages 1-4) for LKA and ConvMod, MSCAN-T at 512x512
# (stages 1-2, where its time goes) for MSCA; and the large-kernel depthwise op of RepLKNet.
VAN_B0 = [(32, 32, 56, 56), (32, 64, 28, 28), (32, 160, 14, 14), (32, 256, 7, 7)]
MSCAN_T = [(32, 32, 128, 128), (32, 64, 64, 64)]
LARGE = [(32, 32, 56, 56), (32, 64, 28, 28)]
DTYPES = ("float32", "bfloat16")


def _load_by_path(name: str, path: Path):
    """A module of jvision that imports nothing from the package (loads without Jittor)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def _write(path, data) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, default=str))
    print(f"wrote {path}")


# ------------------------------------------------------------------------------------------------
# dump (Jittor, CPU)

def _small(shapes):
    """A dry run's stand-ins for the timed shapes: what runs is the same code, on small planes."""
    return [(1, 8, 20, 24)] if shapes else []


def timing_problems(quick: bool, small: bool = False):
    """(label, op, variant, spec, torch item, multiply-adds) for every timed configuration."""
    from jvision.ops import _fused, autotune, dwconv
    from jvision.ops.dwconv import ConvGeom
    van, mscan, large = (_small(VAN_B0), _small(MSCAN_T), _small(LARGE)) if small else (VAN_B0, MSCAN_T, LARGE)
    out = []
    geoms = [("dw31x31", ConvGeom(31, 31, 1, 1, 15, 15), large),
             ("dw7x7d3", ConvGeom(7, 7, 1, 1, 9, 9, 3, 3), van[:2]),
             ("dw5x5", ConvGeom(5, 5, 1, 1, 2, 2), van[:2])]
    if quick:
        geoms = [(n, g, s[:1]) for n, g, s in geoms]
    for label, g, shapes in geoms:
        for shape in shapes:
            n, c, h, w = shape
            oh, ow = g.out_size(h, w)
            dys = [n, c, oh, ow]
            macs = n * c * oh * ow * g.kh * g.kw
            torch_base = dict(op="dwconv", shape=list(shape), kernel=[g.kh, g.kw], stride=[g.sh, g.sw],
                              padding=[g.ph, g.pw], dilation=[g.dh, g.dw])
            for dtype in DTYPES:
                for stage, mode in (("dwconv_fwd", "fwd"), ("dwconv_dgrad", "dgrad"), ("dwconv_wgrad", "wgrad")):
                    params = dict(g.params(), HAS_BIAS=True) if stage == "dwconv_fwd" else \
                        dict(g.params(), NEED_DX=True, NEED_DW=True, NEED_DB=True)
                    p = autotune.problem(stage, "cuda", dtype, [shape], params)
                    for v in autotune.eligible(p):
                        if stage == "dwconv_fwd":
                            spec = dwconv.fwd_spec(v.name, "cuda", g, shape, dtype, True)
                        elif stage == "dwconv_dgrad":
                            spec = dwconv.dgrad_spec(v.name, g, shape, dys, dtype)
                        else:
                            spec = dwconv.wgrad_spec(v.name, g, shape, dys, dtype, True, True)
                        out.append((f"{label} {'x'.join(map(str, shape))} {dtype}", stage, v.name, spec,
                                    dict(torch_base, dtype=dtype, mode=mode), macs))
    ga, gb = ConvGeom(5, 5, 1, 1, 2, 2), ConvGeom(7, 7, 1, 1, 9, 9, 3, 3)
    for shape in (van[:1] if quick else van):
        for dtype in DTYPES:
            spec = _fused.lka_fwd_spec("fused", "cuda", ga, gb, shape, dtype, False)
            out.append((f"lka {'x'.join(map(str, shape))} {dtype}", "lka_fwd", "fused", spec,
                        dict(op="lka", shape=list(shape), dtype=dtype, mode="fwd"),
                        shape[0] * shape[1] * shape[2] * shape[3] * 74))
            spec = _fused.convmod_fwd_spec("fused", "cuda", ConvGeom(11, 11, 1, 1, 5, 5), shape, dtype)
            out.append((f"convmod11 {'x'.join(map(str, shape))} {dtype}", "convmod_fwd", "fused", spec,
                        dict(op="convmod", shape=list(shape), dtype=dtype, mode="fwd", kernel=[11]),
                        shape[0] * shape[1] * shape[2] * shape[3] * 121))
    for shape in (mscan[:1] if quick else mscan):
        for dtype in DTYPES:
            spec = _fused.msca_fwd_spec("fused", "cuda", 5, (7, 11, 21), shape, dtype)
            out.append((f"msca {'x'.join(map(str, shape))} {dtype}", "msca_fwd", "fused", spec,
                        dict(op="msca", shape=list(shape), dtype=dtype, mode="fwd"),
                        shape[0] * shape[1] * shape[2] * shape[3] * 103))
    return out


BLOCK_SHAPES = {"lka": VAN_B0, "convmod": VAN_B0, "msca": MSCAN_T, "dw31x31": LARGE}


def block_shapes(quick: bool, cpu: bool = False) -> dict:
    """Shapes of the block timings (the jittor stage), PyTorch's too (standalone stage). On the CPU
    (a dry run) one small shape per block and no 31x31 (its CPU kernels take minutes to compile)."""
    if cpu:
        return {k: [(2, v[0][1], 32, 32)] for k, v in BLOCK_SHAPES.items() if k != "dw31x31"}
    return {k: v[:1] for k, v in BLOCK_SHAPES.items()} if quick else BLOCK_SHAPES


def torch_block_items(quick: bool, small: bool = False) -> list:
    """PyTorch forward+backward of the blocks' spatial ops and of the 31x31 depthwise op."""
    items = []
    for block, shapes in block_shapes(quick).items():
        shapes = _small(shapes) if small else shapes
        for shape in shapes:
            for dtype in DTYPES:
                item = dict(shape=list(shape), dtype=dtype, mode="fwdbwd", block=block)
                if block == "dw31x31":
                    item.update(op="dwconv", kernel=[31, 31], padding=[15, 15])
                else:
                    item.update(op=block, kernel=[11])
                items.append(item)
    return items


def cmd_dump(a) -> int:
    import numpy as np
    from jvision.ops import _jtcode, verify
    out = Path(a.out)
    (out / "units").mkdir(parents=True, exist_ok=True)
    cases = verify.cases("cuda", quick=a.quick)
    meta, arrays = {"cases": [], "timing": []}, {}
    groups = verify.groups(cases, "emu")  # one unit per variant and geometry: its dtypes together
    for gi, group in enumerate(groups):
        unit = f"case{gi:03d}"
        (out / "units" / f"{unit}.cu").write_text(_jtcode.standalone_source([c.spec for c in group], "cuda"))
        (out / "units" / f"{unit}.emu.cc").write_text(_jtcode.standalone_source([c.spec for c in group], "emu"))
        for k, c in enumerate(group):
            idx = len(meta["cases"])
            for j, x in enumerate(c.inputs):
                arrays[f"c{idx}_in{j}"] = np.asarray(x, np.float64)
            for j, e in enumerate(c.expected):
                if e is not None:
                    arrays[f"c{idx}_out{j}"] = np.asarray(e, np.float64)
            meta["cases"].append({"name": c.name, "unit": unit, "entry": k, "dtype": c.dtype, "tol": c.tol,
                                  "inputs": c.spec.inputs, "outputs": c.spec.outputs,
                                  "expected": [e is not None for e in c.expected]})
    by_header: dict = {}  # one unit per variant and geometry, its dtypes as entry points
    for problem in timing_problems(a.quick, a.small):
        by_header.setdefault(problem[3].header, []).append(problem)
    for ti, problems in enumerate(by_header.values()):
        unit = f"time{ti:03d}"
        (out / "units" / f"{unit}.cu").write_text(_jtcode.standalone_source([p[3] for p in problems], "cuda"))
        (out / "units" / f"{unit}.emu.cc").write_text(_jtcode.standalone_source([p[3] for p in problems], "emu"))
        for entry, (label, op, variant, spec, item, macs) in enumerate(problems):
            moved = list(spec.inputs) + list(spec.outputs[:-1] if op == "dwconv_wgrad" else spec.outputs)
            nbytes = sum(int(np.prod(s)) * (4 if d == "float32" else 2) for d, s in moved)  # not the scratch
            meta["timing"].append({"label": label, "op": op, "variant": variant, "unit": unit, "entry": entry,
                                   "inputs": spec.inputs, "outputs": spec.outputs, "torch": item, "macs": macs,
                                   "bytes": nbytes})
    meta["torch_blocks"] = torch_block_items(a.quick, a.small)
    np.savez_compressed(out / "data.npz", **arrays)
    sources = sorted((REPO / "jvision" / "ops" / "kernels").glob("*"))
    meta["kernel_sources"] = {p.name: len(p.read_bytes()) for p in sources}
    _write(out / "cases.json", meta)
    print(f"{len(meta['cases'])} cases in {len(groups)} units, {len(meta['timing'])} timing problems")
    return 0


# ------------------------------------------------------------------------------------------------
# standalone (PyTorch's Python)

def _nvcc() -> str:
    for cand in (os.environ.get("NVCC"), "/usr/local/cuda/bin/nvcc"):
        if cand and os.path.isfile(cand):
            return cand
    import shutil
    found = shutil.which("nvcc")
    if not found:
        raise SystemExit("nvcc not found (set NVCC)")
    return found


def build_units(units_dir: Path, names, arch: str, jobs: int, emu: bool = False) -> dict:
    """nvcc -shared for each unit (``emu``: g++ on its CPU-emulator source), in parallel; returns
    name -> (library path or None, error)."""
    nvcc = None if emu else _nvcc()

    def one(name):
        if emu:
            src, lib = units_dir / f"{name}.emu.cc", units_dir / f"{name}.emu.so"
            cmd = ["g++", "-std=c++17", "-O1", "-fPIC", "-shared", "-march=native", "-Wno-unknown-pragmas",
                   str(src), "-o", str(lib)]
        else:
            src, lib = units_dir / f"{name}.cu", units_dir / f"{name}.so"
            cmd = [nvcc, "-std=c++17", "-O3", "-shared", "-Xcompiler", "-fPIC", "-diag-suppress=177,550",
                   f"-gencode=arch=compute_{arch},code=sm_{arch}", str(src), "-o", str(lib)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        return name, (str(lib) if proc.returncode == 0 else None, proc.stderr[-3000:])
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        return dict(pool.map(one, sorted(set(names))))


class Unit:
    """A built unit called with device pointers (PyTorch tensors)."""

    def __init__(self, path: str):
        import ctypes
        self.ctypes = ctypes
        self.lib = ctypes.CDLL(path)

    def __call__(self, tensors, shapes, entry: int = 0):
        c = self.ctypes
        ptrs = (c.c_void_p * len(tensors))(*[t.data_ptr() for t in tensors])
        dims = (c.c_longlong * max(1, len(shapes)))(*shapes)
        getattr(self.lib, f"jv_run_{entry}")(ptrs, dims)


_TORCH_DT = {"float32": "float32", "float16": "float16", "bfloat16": "bfloat16", "int32": "int32"}


def cmd_build(a) -> int:
    """Dry run: every stand-alone unit built with nvcc (nothing runs: no GPU needed)."""
    d = Path(a.dir)
    meta = json.loads((d / "cases.json").read_text())
    t0 = time.time()
    built = build_units(d / "units", [c["unit"] for c in meta["cases"]] + [t["unit"] for t in meta["timing"]],
                        a.arch, a.jobs)
    failed = {k: err for k, (path, err) in built.items() if path is None}
    for k, err in failed.items():
        print(f"FAIL {k}:\n{err}")
    _write(a.out, {"stage": "build", "arch": a.arch, "units": len(built), "failed": failed,
                   "seconds": round(time.time() - t0, 1)})
    print(f"built {len(built) - len(failed)}/{len(built)} units for sm_{a.arch} in {time.time() - t0:.0f} s")
    return 1 if failed else 0


def cmd_standalone(a) -> int:
    if a.build_only:
        return cmd_build(a)
    import numpy as np
    import torch
    ref = _load_by_path("jv_reference_np", REPO / "jvision" / "ops" / "reference_np.py")
    torch_ref = _load_by_path("jv_torch_ref", REPO / "jvision" / "ops" / "torch_ref.py")
    d = Path(a.dir)
    meta = json.loads((d / "cases.json").read_text())
    data = np.load(d / "data.npz")
    # --emu (a dry run): the same steps with the CPU-emulator builds on PyTorch CPU tensors
    dev = torch.device("cpu" if a.emu else "cuda")
    cuda = not a.emu
    t0 = time.time()
    units = [c["unit"] for c in meta["cases"]] + [t["unit"] for t in meta["timing"]]
    built = build_units(d / "units", units, a.arch, a.jobs, emu=a.emu)
    result = {"stage": "standalone", "device": torch.cuda.get_device_name(0) if cuda else "CPU emulator",
              "torch": torch.__version__, "build_s": round(time.time() - t0, 1), "cases": [], "timing": []}
    print(f"built {sum(1 for p, _ in built.values() if p)}/{len(built)} units in {result['build_s']} s", flush=True)
    libs = {}

    def lib(name):
        if name not in libs:
            libs[name] = Unit(built[name][0])
        return libs[name]

    def dt(name):
        return getattr(torch, _TORCH_DT[name])
    for i, c in enumerate(meta["cases"]):
        path, err = built[c["unit"]]
        row = {"name": c["name"], "dtype": c["dtype"]}
        if path is None:
            row.update(ok=False, error="nvcc: " + err.strip().splitlines()[-1] if err.strip() else "nvcc failed")
            result["cases"].append(row)
            continue
        ins = [torch.from_numpy(data[f"c{i}_in{j}"]).to(dev, dt(dtp)) for j, (dtp, _) in enumerate(c["inputs"])]
        outs = [torch.full(s, float("nan"), dtype=dt(dtp), device=dev) for dtp, s in c["outputs"]]
        shapes = [int(x) for _, s in c["inputs"] + c["outputs"] for x in s]
        try:
            lib(c["unit"])(ins + outs, shapes, c["entry"])
            if cuda:
                torch.cuda.synchronize()
            msg = None
            for j, has in enumerate(c["expected"]):
                if has:
                    got = outs[j].double().cpu().numpy()
                    m = ref.relative_error(got, data[f"c{i}_out{j}"], c["tol"])
                    if m:
                        msg = f"output {j} {m}"
                        break
            row.update(ok=msg is None, error=msg)
        except Exception as exc:
            row.update(ok=False, error=f"{type(exc).__name__}: {exc}")
        result["cases"].append(row)
        print(("ok   " if row["ok"] else "FAIL ") + c["name"] + ("" if row["ok"] else f": {row['error']}"), flush=True)
    _write(a.out, result)  # and again after the timings: a time-out keeps what was measured

    # timings: ours with CUDA events, then PyTorch's eager op for the same stage
    for t in meta["timing"]:
        path, err = built[t["unit"]]
        row = {k: t[k] for k in ("label", "op", "variant", "macs", "bytes")}
        if path is None:
            row["error"] = "nvcc failed"
            result["timing"].append(row)
            continue
        gen = torch.Generator(device=dev).manual_seed(0)
        ins = [torch.randn(s, generator=gen, device=dev, dtype=torch.float32).to(dt(dtp)) for dtp, s in t["inputs"]]
        outs = [torch.empty(s, dtype=dt(dtp), device=dev) for dtp, s in t["outputs"]]
        shapes = [int(x) for _, s in t["inputs"] + t["outputs"] for x in s]
        run = lambda: lib(t["unit"])(ins + outs, shapes, t["entry"])  # noqa: E731
        ms = torch_ref.time_callable(torch, run, cuda, a.warmup, a.repeats)
        row.update(ms=round(ms, 4), tflops=round(2 * t["macs"] / (ms * 1e-3) / 1e12, 3),
                   gbs=round(t["bytes"] / (ms * 1e-3) / 1e9, 1))
        result["timing"].append(row)
        print(f"time {t['label']:34s} {t['op']:13s} {t['variant']:7s} {ms:9.4f} ms", flush=True)
    # PyTorch, once per distinct torch item
    seen = {}
    for t in meta["timing"]:
        key = json.dumps(t["torch"], sort_keys=True)
        if key in seen:
            continue
        try:
            seen[key] = round(torch_ref.time_item(torch, torch_ref.modules()[1], t["torch"], dev.type, a.warmup,
                                                  a.repeats), 4)
        except Exception as exc:
            seen[key] = f"{type(exc).__name__}: {exc}"
    for row, t in zip(result["timing"], meta["timing"]):
        row["torch_ms"] = seen[json.dumps(t["torch"], sort_keys=True)]
    result["torch_blocks"] = []
    for item in meta.get("torch_blocks", []):
        try:
            ms = round(torch_ref.time_item(torch, torch_ref.modules()[1], item, dev.type, a.warmup, a.repeats), 4)
            result["torch_blocks"].append(dict(item, ms=ms))
        except Exception as exc:
            result["torch_blocks"].append(dict(item, error=f"{type(exc).__name__}: {exc}"))
    result["seconds"] = round(time.time() - t0, 1)
    _write(a.out, result)
    return 0 if all(c["ok"] for c in result["cases"]) else 1


def cmd_emu(a) -> int:
    """Dry run: the dumped CUDA cases built with the emulator and run on the CPU."""
    import ctypes

    import numpy as np
    ref = _load_by_path("jv_reference_np", REPO / "jvision" / "ops" / "reference_np.py")
    d = Path(a.dir)
    meta = json.loads((d / "cases.json").read_text())
    data = np.load(d / "data.npz")
    t0 = time.time()

    def build(name):
        src, lib = d / "units" / f"{name}.emu.cc", d / "units" / f"{name}.emu.so"
        proc = subprocess.run(["g++", "-std=c++17", "-O1", "-fPIC", "-shared", "-march=native",
                               "-Wno-unknown-pragmas", str(src), "-o", str(lib)], capture_output=True, text=True)
        return name, (str(lib) if proc.returncode == 0 else None, proc.stderr[-2000:])
    with ThreadPoolExecutor(max_workers=a.jobs) as pool:
        built = dict(pool.map(build, sorted({c["unit"] for c in meta["cases"]})))
    rows = []
    for i, c in enumerate(meta["cases"]):
        path, err = built[c["unit"]]
        row = {"name": c["name"], "dtype": c["dtype"]}
        if path is None:
            rows.append(dict(row, ok=False, error="g++: " + err.strip()[-300:]))
            continue
        lib = ctypes.CDLL(path)
        ins = [ref.to_storage(data[f"c{i}_in{j}"], dtp) for j, (dtp, _) in enumerate(c["inputs"])]
        outs = [ref.poisoned(s, dtp) for dtp, s in c["outputs"]]
        arrs = ins + outs
        ptrs = (ctypes.c_void_p * len(arrs))(*[x.ctypes.data for x in arrs])
        shapes = [int(x) for _, s in c["inputs"] + c["outputs"] for x in s]
        getattr(lib, f"jv_run_{c['entry']}")(ptrs, (ctypes.c_longlong * len(shapes))(*shapes))
        msg = None
        for j, has in enumerate(c["expected"]):
            if has:
                m = ref.relative_error(ref.from_storage(outs[j], c["outputs"][j][0]), data[f"c{i}_out{j}"], c["tol"])
                if m:
                    msg = f"output {j} {m}"
                    break
        rows.append(dict(row, ok=msg is None, error=msg))
    _write(a.out, {"stage": "emu", "device": "CPU emulator (kernels/cuda_emu.h)", "cases": rows,
                   "seconds": round(time.time() - t0, 1)})
    return 0 if all(r["ok"] for r in rows) else 1


# ------------------------------------------------------------------------------------------------
# jittor (Jittor on CUDA, or on CPU in a dry run)

def cmd_jittor(a) -> int:
    import numpy as np
    import jvision  # noqa: F401  (configures Jittor)
    import jittor as jt
    from jittor import compile_extern
    from jvision import ops
    from jvision.ops import _fused, autotune, dwconv, verify
    t0 = time.time()
    dev = dwconv.device()
    result = {"stage": "jittor", "device": autotune.device_name(dev), "jittor": jt.__version__,
              "cudnn": getattr(compile_extern, "cudnn", None) is not None, "cases": [], "blocks": []}
    found = verify.cases(dev, quick=True)
    fails = verify.run_cases(found, "jittor", "/tmp", log=lambda s: print(s, flush=True))
    result["cases"] = [{"name": c.name, "dtype": c.dtype, "ok": not any(f.startswith(c.name + ":") for f in fails)}
                       for c in found]
    result["failures"] = fails
    _write(a.out, result)  # written again after each block: a time-out keeps what was measured

    def sync():
        if jt.flags.use_cuda:
            jt.sync_all(True)

    def timeit(fn):
        return autotune.measure(lambda: (fn(), sync()), a.warmup, a.repeats)
    rng = np.random.default_rng(0)
    shapes = block_shapes(a.quick, cpu=dev == "cpu")
    from jvision.ops.attention import ConvModulation, LargeKernelAttention, MultiScaleConvAttention
    for block, shp_list in shapes.items():
        for shape in shp_list:
            for dtype in (DTYPES if dev == "cuda" else ("float32",)):
                n, c, h, w = shape
                x = jt.array(rng.standard_normal(shape).astype(np.float32)).cast(dtype)
                if block == "lka":
                    m = LargeKernelAttention(c)
                    convs = (m.conv0, m.conv_spatial)
                    f = lambda: _fused.lka_spatial(x, *convs)  # noqa: E731
                elif block == "msca":
                    m = MultiScaleConvAttention(c)
                    pairs = ((m.conv0_1, m.conv0_2), (m.conv1_1, m.conv1_2), (m.conv2_1, m.conv2_2))
                    convs = [m.conv0] + [q for p in pairs for q in p]
                    f = lambda: _fused.msca_spatial(x, m.conv0, pairs)  # noqa: E731
                elif block == "convmod":
                    m = ConvModulation(c, 11)
                    convs = [m.att[2]]
                    v = jt.array(rng.standard_normal(shape).astype(np.float32)).cast(dtype)
                    f = lambda: _fused.convmod_modulate(x, v, m.att[1], m.att[2])  # noqa: E731
                else:
                    conv = ops.DepthwiseConv2d(c, 31, padding=15)
                    convs = [conv]
                    f = lambda: conv(x)  # noqa: E731
                params = []
                for cv in convs:
                    cv.weight = cv.weight.cast(dtype)
                    if cv.bias is not None:
                        cv.bias = cv.bias.cast(dtype)
                    params += [t for t in (cv.weight, cv.bias) if t is not None]
                gy = jt.array(rng.standard_normal(shape).astype(np.float32)).cast(dtype)

                def fb():
                    y = f()
                    jt.sync(jt.grad((y * gy).float32().sum(), [x] + params))
                row = {"block": block, "shape": list(shape), "dtype": dtype}
                modes = [("builtin", None)] + ([("kernel", "fused"), ("kernel", "unfused")] if block != "dw31x31"
                                               else [("kernel", None)])
                for backend, variant in modes:
                    label = backend + ("" if variant is None else f"-{variant}")
                    try:
                        pins = {block: variant} if variant else {}
                        with ops.backend(backend), autotune.pinned(**pins):
                            autotune.forget()
                            row[label + "_fwd_ms"] = round(timeit(lambda: f().sync()), 4)
                            row[label + "_fwdbwd_ms"] = round(timeit(fb), 4)
                            if backend == "kernel":
                                ran = {f"{r['op']}={r['variant']}" for r in autotune.report()}
                                row[label + "_variants"] = sorted(ran)
                    except Exception as exc:
                        row[label + "_error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}"
                result["blocks"].append(row)
                print(json.dumps(row), flush=True)
                _write(a.out, result)
                jt.gc()
    result["seconds"] = round(time.time() - t0, 1)
    _write(a.out, result)
    return 0 if not fails else 1


# ------------------------------------------------------------------------------------------------
# train

CONFIGS = {"van_b0": HERE / "van_b0_synthetic.py", "segnext_t": HERE / "segnext_t_scenes.py"}


# Smaller inputs for a dry run on the CPU (the same code paths).
SMALL = {"van_b0": ["data.train.image_size=64", "data.val.image_size=64", "data.num_workers=0"],
         "segnext_t": ["data.num_workers=0"]}


def cmd_train(a) -> int:
    jtcode = _load_by_path("jv_jtcode", REPO / "jvision" / "ops" / "_jtcode.py")  # no Jittor in this process
    result = {"stage": "train", "runs": []}
    runs = [(m, amp) for m in a.models.split(",") for amp in a.amp.split(",")]
    deadline = time.time() + a.budget
    for k, (model, amp) in enumerate(runs):
        limit = max(30.0, (deadline - time.time()) / (len(runs) - k))  # the budget shared by the runs left
        work = Path(a.work_dir) / f"{model}_{amp}"
        opts = [f"train.max_iters={a.iters}", f"train.amp={'False' if amp == 'off' else amp}",
                f"data.batch_size={a.batch}"] + (SMALL[model] if a.small else [])
        cmd = [sys.executable, str(REPO / "tools" / "train.py"), str(CONFIGS[model]), "--work-dir", str(work),
               "--cfg-options", *opts]
        t0 = time.time()
        res = jtcode.run_isolated(cmd, limit, cwd=str(REPO))  # killed with its loader workers on time-out
        rc = "timeout" if res.timed_out else res.returncode
        tail = (res.stdout + res.stderr).strip().splitlines()[-8:]
        losses = []
        for f in sorted(work.rglob("metrics.jsonl")):
            for line in f.read_text().splitlines():
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue
                if "loss" in rec:
                    losses.append(rec["loss"])
        row = {"model": model, "amp": amp, "rc": rc, "seconds": round(time.time() - t0, 1),
               "losses": losses, "finite": bool(losses) and all(math.isfinite(x) for x in losses),
               "tail": tail}
        result["runs"].append(row)
        print(json.dumps({k: row[k] for k in ("model", "amp", "rc", "seconds", "losses")}), flush=True)
        _write(a.out, result)
    return 0 if all(r["rc"] == 0 and r["finite"] for r in result["runs"]) else 1


# ------------------------------------------------------------------------------------------------
# report

def _ratio(a, b):
    return round(a / b, 2) if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b > 0 else None


def cmd_report(a) -> int:
    parts = {}
    for p in a.parts:
        try:
            d = json.loads(Path(p).read_text())
            parts[d.get("stage", Path(p).stem)] = d
        except (OSError, ValueError) as exc:
            parts[Path(p).stem] = {"stage": Path(p).stem, "error": str(exc)}
    status = {}
    if a.status and Path(a.status).exists():
        for line in Path(a.status).read_text().splitlines():
            if line.strip():
                name, _, rest = line.partition(" ")
                status[name] = rest
    lines = ["# GPU check of the jvision kernel lab", ""]
    if status:
        lines += ["| stage | status |", "| --- | --- |"] + [f"| {k} | {v} |" for k, v in status.items()] + [""]
    for stage in ("standalone", "emu", "jittor"):
        d = parts.get(stage)
        if not d or "cases" not in d:
            continue
        by = {}
        for c in d["cases"]:
            key = c["name"].split(" ")[0]
            ok, tot = by.get(key, (0, 0))
            by[key] = (ok + bool(c["ok"]), tot + 1)
        lines += [f"## Correctness: {stage} ({d.get('device', '')})", "",
                  "| variant | passed |", "| --- | --- |"]
        lines += [f"| {k} | {ok}/{tot}{'' if ok == tot else ' FAIL'} |" for k, (ok, tot) in sorted(by.items())]
        bad = [c for c in d["cases"] if not c["ok"]]
        lines += [""] + [f"- FAIL {c['name']}: {c.get('error')}" for c in bad[:30]] + [""]
    d = parts.get("standalone")
    if d and d.get("timing"):
        how = ("CUDA events, median) vs PyTorch eager (cuDNN)" if "emulator" not in str(d.get("device"))
               else "CPU emulator, wall clock: a dry run, these are not GPU figures) vs PyTorch CPU")
        lines += [f"## Speed of each variant ({how}", "",
                  "| problem | stage | variant | ms | TFLOP/s | GB/s | PyTorch ms | PyTorch / ours |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- |"]
        for t in d["timing"]:
            lines.append(f"| {t['label']} | {t['op']} | {t['variant']} | {t.get('ms', t.get('error'))} | "
                         f"{t.get('tflops', '')} | {t.get('gbs', '')} | {t.get('torch_ms', '')} | "
                         f"{_ratio(t.get('torch_ms'), t.get('ms')) or ''} |")
        lines += [""]
        best = {}
        for t in d["timing"]:
            if "ms" in t:
                k = (t["label"], t["op"])
                if k not in best or t["ms"] < best[k]["ms"]:
                    best[k] = t
        large = {}
        for (label, op), t in best.items():
            if label.startswith("dw31x31"):
                s = large.setdefault(label, {"ours": 0.0, "torch": 0.0})
                s["ours"] += t["ms"]
                s["torch"] += t["torch_ms"] if isinstance(t["torch_ms"], (int, float)) else float("nan")
        if large:
            lines += ["31x31 depthwise, forward + input gradient + weight gradient, best variant of each stage "
                      "(target: >= 3x cuDNN):", ""]
            lines += [f"- {k}: ours {v['ours']:.3f} ms, PyTorch/cuDNN {v['torch']:.3f} ms, "
                      f"{_ratio(v['torch'], v['ours'])}x" for k, v in large.items()] + [""]
    d = parts.get("jittor")
    if d and d.get("blocks"):
        torch_ms = {(t["block"], tuple(t["shape"]), t["dtype"]): t.get("ms")
                    for t in (parts.get("standalone") or {}).get("torch_blocks", [])}
        lines += [f"## Blocks through Jittor, forward+backward ms ({d.get('device')}, cuDNN loaded: "
                  f"{d.get('cudnn')}); targets: best kernel >= 1.5x builtin, >= 1.2x PyTorch", "",
                  "(Jittor: wall clock around a device sync, median; PyTorch: CUDA events, median)", "",
                  "| block | shape | dtype | builtin | kernel fused | kernel unfused | kernel | PyTorch | "
                  "builtin / best | PyTorch / best |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
        for r in d["blocks"]:
            ours = [r.get(k) for k in ("kernel-fused_fwdbwd_ms", "kernel-unfused_fwdbwd_ms", "kernel_fwdbwd_ms")
                    if isinstance(r.get(k), (int, float))]
            pt = torch_ms.get((r["block"], tuple(r["shape"]), r["dtype"]))
            lines.append(f"| {r['block']} | {'x'.join(map(str, r['shape']))} | {r['dtype']} | "
                         f"{r.get('builtin_fwdbwd_ms', r.get('builtin_error', ''))} | "
                         f"{r.get('kernel-fused_fwdbwd_ms', r.get('kernel-fused_error', ''))} | "
                         f"{r.get('kernel-unfused_fwdbwd_ms', r.get('kernel-unfused_error', ''))} | "
                         f"{r.get('kernel_fwdbwd_ms', r.get('kernel_error', ''))} | {pt or ''} | "
                         f"{(_ratio(r.get('builtin_fwdbwd_ms'), min(ours)) if ours else '') or ''} | "
                         f"{(_ratio(pt, min(ours)) if ours else '') or ''} |")
        lines += [""]
    d = parts.get("train")
    if d and d.get("runs"):
        lines += ["## Training (tools/train.py)", "", "| model | train.amp | exit | s | first loss | last loss |",
                  "| --- | --- | --- | --- | --- | --- |"]
        for r in d["runs"]:
            ls = r.get("losses") or []
            lines.append(f"| {r['model']} | {r['amp']} | {r['rc']} | {r['seconds']} | "
                         f"{ls[0] if ls else ''} | {ls[-1] if ls else ''} |")
        lines += [""]
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    _write(out / "gpu_check.json", {"status": status, "parts": parts})
    (out / "gpu_check.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"wrote {out / 'gpu_check.md'}")
    return 0


# ------------------------------------------------------------------------------------------------

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("dump")
    p.add_argument("--out", required=True)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--small", action="store_true", help="small timing shapes (a dry run on the CPU)")
    for name in ("standalone", "emu"):
        p = sub.add_parser(name)
        p.add_argument("--dir", required=True)
        p.add_argument("--out", required=True)
        p.add_argument("--arch", default="90")
        p.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
        p.add_argument("--warmup", type=int, default=5)
        p.add_argument("--repeats", type=int, default=20)
        p.add_argument("--build-only", action="store_true", help="standalone: nvcc builds only (dry run)")
        p.add_argument("--emu", action="store_true",
                       help="standalone: CPU-emulator builds on PyTorch CPU tensors (dry run of this stage)")
    p = sub.add_parser("jittor")
    p.add_argument("--out", required=True)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--repeats", type=int, default=10)
    p = sub.add_parser("train")
    p.add_argument("--out", required=True)
    p.add_argument("--models", default="van_b0,segnext_t")
    p.add_argument("--amp", default="off,bfloat16")
    p.add_argument("--iters", type=int, default=12)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--budget", type=float, default=600, help="seconds for all runs together")
    p.add_argument("--small", action="store_true", help="small inputs, no loader workers (a dry run)")
    p.add_argument("--work-dir", default="/tmp/jvision_gpu_train")
    p = sub.add_parser("report")
    p.add_argument("parts", nargs="*")
    p.add_argument("--out", required=True)
    p.add_argument("--status", help="file of 'stage status' lines written by run.sh")
    a = ap.parse_args(argv)
    return {"dump": cmd_dump, "standalone": cmd_standalone, "emu": cmd_emu, "jittor": cmd_jittor,
            "train": cmd_train, "report": cmd_report}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
