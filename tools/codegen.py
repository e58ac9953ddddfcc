#!/usr/bin/env python3
"""The kernel lab: every op and variant, the source Jittor compiles, speed, tuning and checks.

    python tools/codegen.py list [--device cpu|cuda]
    python tools/codegen.py show dwconv_fwd --variant igemm --device cuda --shape 32 32 56 56 \\
        --kernel 31 --padding 15 [--dtype float16] [--target cuda|emu|cpu] [-o FILE]
    python tools/codegen.py bench dwconv_fwd --shape 32 32 56 56 --kernel 31 --padding 15 [--dtype ...]
    python tools/codegen.py bench lka --shape 32 32 56 56 [--json out.json]
    python tools/codegen.py tune --model segnext_t --input 2 3 512 512 [--mode train|infer|both] [--retune]
    python tools/codegen.py check [--target jittor|cpu|asan|emu] [--quick] [--variants a,b]

``list``: ops, variants, their source files, and why a variant may not apply. ``show``: a
translation unit holding exactly the header and body Jittor compiles for that op (its ``jt.code``
text, template parameters substituted) wrapped the way Jittor wraps it, with the shapes given
written in; it compiles as it is (``nvcc -c`` for CUDA, ``g++ -c`` for C++). ``bench``: every
eligible variant through Jittor against Jittor's built-in op and PyTorch (when installed; its own
process), with the max error against the float64 reference, GFLOP/s and GB/s, and both as a
fraction of this device's measured ceilings (a large matrix product, a large copy). ``tune``: runs
a model once per mode with autotuning on, which fills the cache for every op and shape it meets,
and prints the choices. ``check``: the variants against the float64 reference (see
``jvision.ops.verify``): through Jittor on its current device, stand-alone C++ (with
AddressSanitizer for ``asan``), or the CUDA sources run on the CPU (``emu``).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import jvision  # noqa: E402,F401  (configures Jittor before it is imported)
import jittor as jt  # noqa: E402
import numpy as np  # noqa: E402

from jvision.ops import _jtcode, autotune, dwconv, verify  # noqa: E402
from jvision.ops.dwconv import ConvGeom  # noqa: E402

BLOCKS = ("lka", "msca", "convmod")


# ------------------------------------------------------------------------------------------------
# list

def cmd_list(a) -> int:
    devices = [a.device] if a.device else ["cpu", "cuda"]
    print(f"backend: {dwconv.get_backend()}   autotune: {'on' if autotune.enabled() else 'off'} "
          f"(cache {autotune.cache_path()})   pins: {autotune.pins() or 'none'}   device now: {dwconv.device()}")
    for dev in devices:
        print(f"\n{dev}:")
        for name, info in autotune.ops().items():
            vs = [v for v in info.variants.values() if v.device == dev]
            if not vs:
                continue
            print(f"  {name:13s} {info.summary}")
            for v in vs:
                isa = f" [needs {v.isa}{'' if v.isa in autotune.cpu_features() else ': absent here'}]" if v.isa else ""
                files = ", ".join(v.files) if v.files else "(composition, no source of its own)"
                print(f"    {v.name:13s} {v.summary}{isa}\n    {'':13s} {files}")
    return 0


# ------------------------------------------------------------------------------------------------
# building cases from the command line

def _geom(a) -> ConvGeom:
    k = a.kernel or [3]
    kh, kw = (k[0], k[0]) if len(k) == 1 else (k[0], k[1])

    def pair(v, default):
        v = v or [default]
        return (v[0], v[0]) if len(v) == 1 else (v[0], v[1])
    (sh, sw), (ph, pw), (dh, dw) = pair(a.stride, 1), pair(a.padding, None), pair(a.dilation, 1)
    if ph is None:
        ph, pw = (kh - 1) * dh // 2, (kw - 1) * dw // 2  # "same" for odd kernels by default
    return ConvGeom(kh, kw, sh, sw, ph, pw, dh, dw)


def _cases(a, dev: str, reference: bool):
    variants = [a.variant] if getattr(a, "variant", None) else None
    k = (a.kernel or [11])[0]
    found = verify.op_cases(a.op, dev, a.shape, a.dtype, variants, _geom(a) if a.op.startswith("dwconv") else None,
                            convmod_k=k, reference=reference)
    if not found:
        names = autotune.op_info(a.op).names(dev)
        raise SystemExit(f"codegen: no variant with sources of {a.op!r} applies on {dev} to this call "
                         f"(variants there: {', '.join(names) or 'none'}; see tools/codegen.py list)")
    return found


# ------------------------------------------------------------------------------------------------
# show

def cmd_show(a) -> int:
    dev = a.device or dwconv.device()
    found = _cases(a, dev, reference=False)
    if a.variant is None:
        variants = sorted({c.spec.name.split("/")[1] for c in found})
        if len(variants) > 1:
            raise SystemExit(f"codegen show: choose one of --variant {' | '.join(variants)}")
    target = a.target or ("cuda" if dev == "cuda" else "cpu")
    parts = []
    for c in found:
        text = _jtcode.standalone_source(c.spec, target, fixed_shapes=True)
        shapes = ", ".join(f"{d} {list(s)}" for d, s in c.spec.inputs)
        parts.append(f"// {c.spec.name}: {c.name}\n// inputs: {shapes}\n// kernel sources: "
                     f"{', '.join(c.spec.files)}\n// entry point: jv_run_0 (Jittor: CodeOp::jit_run)\n{text}")
    text = "\n".join(parts) if len(parts) == 1 else "\n".join(
        f"// ==== pass {i + 1} of {len(parts)}: compile separately ====\n{p}" for i, p in enumerate(parts))
    if a.output:
        Path(a.output).write_text(text)
        print(f"wrote {a.output} ({len(parts)} op(s))")
    else:
        sys.stdout.write(text)
    return 0


# ------------------------------------------------------------------------------------------------
# bench

def _sync():
    if jt.flags.use_cuda:
        jt.sync_all(True)


def _var(a, dtype):
    v = jt.array(np.asarray(a, np.float32))
    return v.cast(dtype) if dtype != "float32" else v


def measure_ceilings(dev: str) -> dict:
    """This device's throughput ceilings as Jittor reaches them: float32 matrix product (GFLOP/s)
    and a large element-wise copy (GB/s, bytes read + written)."""
    n = 4096 if dev == "cuda" else 1024
    a, b = jt.randn(n, n), jt.randn(n, n)
    f = lambda: (jt.matmul(a, b).sync(), _sync())  # noqa: E731
    gemm = 2 * n ** 3 / (autotune.measure(f, 2, 5) * 1e-3) / 1e9
    m = (1 << 26) if dev == "cuda" else (1 << 23)
    x = jt.randn(m)
    g = lambda: ((x * 1.0001).sync(), _sync())  # noqa: E731
    bw = 2 * 4 * m / (autotune.measure(g, 2, 5) * 1e-3) / 1e9
    return {"gemm_gflops": round(gemm, 1), "copy_gbs": round(bw, 1)}


def _macs(op: str, shape, g: ConvGeom | None, k: int, pass_: str) -> int:
    n, c, h, w = shape
    if op.startswith("dwconv"):
        oh, ow = g.out_size(h, w)
        m = n * c * oh * ow * g.kh * g.kw
        return 2 * m if op == "dwconv_bwd" else m
    per = {"lka": 25 + 49, "msca": 25 + 2 * (7 + 11 + 21), "convmod": k * k}[op]
    return n * c * h * w * per * (2 if pass_ == "bwd" else 1)


def _builtin_steps(a, case) -> list:
    """(label, step) of Jittor's own ops for the same work: nn.conv2d for the depthwise stages, the
    blocks' spatial ops under the builtin backend (forward, and forward+backward)."""
    from jvision import ops
    from jvision.ops import _fused
    dt = a.dtype
    ins = [_var(t, dt) for t in case.inputs]
    if a.op.startswith("dwconv"):
        g = _geom(a)
        conv = lambda x, w, b=None: ops.depthwise_conv2d_impl(  # noqa: E731
            "builtin", x, w, b, (g.sh, g.sw), (g.ph, g.pw), (g.dh, g.dw))
        if a.op == "dwconv_fwd":
            return [("jittor builtin", lambda: (conv(*ins).sync(), _sync()))]
        x = _var(np.zeros(a.shape), dt) if a.op == "dwconv_dgrad" else ins[0]
        w = ins[1] if a.op in ("dwconv_bwd", "dwconv_dgrad") else _var(np.ones((a.shape[1], 1, g.kh, g.kw)), dt)
        dy = ins[2] if a.op == "dwconv_bwd" else (ins[0] if a.op == "dwconv_dgrad" else ins[1])
        targets = {"dwconv_bwd": [x, w], "dwconv_dgrad": [x], "dwconv_wgrad": [w]}[a.op]
        return [("jittor builtin", lambda: (jt.sync(jt.grad((conv(x, w) * dy).sum(), targets)), _sync()))]
    if a.op not in BLOCKS:
        return []
    from jvision.ops.attention import ConvModulation, LargeKernelAttention, MultiScaleConvAttention
    c, x = a.shape[1], ins[0]
    if a.op == "lka":
        m = LargeKernelAttention(c)
        f = lambda: _fused.lka_spatial(x, m.conv0, m.conv_spatial)  # noqa: E731
    elif a.op == "msca":
        m = MultiScaleConvAttention(c)
        pairs = ((m.conv0_1, m.conv0_2), (m.conv1_1, m.conv1_2), (m.conv2_1, m.conv2_2))
        f = lambda: _fused.msca_spatial(x, m.conv0, pairs)  # noqa: E731
    else:
        m = ConvModulation(c, (a.kernel or [11])[0])
        v = ins[1]
        f = lambda: _fused.convmod_modulate(x, v, m.att[1], m.att[2])  # noqa: E731
    params = list(m.parameters())

    def fwd():
        with ops.backend("builtin"):
            f().sync()
        _sync()

    def fwdbwd():
        with ops.backend("builtin"):
            jt.sync(jt.grad(f().sum(), [x] + params))
        _sync()
    return [("jittor builtin fwd", fwd), ("jittor builtin fwd+bwd", fwdbwd)]


def cmd_bench(a) -> int:
    dev = dwconv.device()
    print(f"measuring this device's ceilings ({dev}) ...", file=sys.stderr, flush=True)
    ceil = measure_ceilings(dev)
    found = _cases(a, dev, reference=True)
    g = _geom(a) if a.op.startswith("dwconv") else None
    k = (a.kernel or [11])[0]
    rows = []
    for c in found:
        pass_ = "bwd" if "_bwd/" in c.spec.name else "fwd"
        ins = [_var(t, d) for t, (d, _) in zip(c.inputs, c.spec.inputs)]
        try:
            err = verify.compare(c, verify.run_jittor(c))
            got = [o.float64().numpy() for o in _jtcode.run(c.spec, ins)]
            maxerr = max(float(np.abs(o - e).max()) / max(1.0, float(np.abs(e).max()))
                         for o, e in zip(got, c.expected) if e is not None)
            ms = autotune.measure(lambda: (jt.sync(_jtcode.run(c.spec, ins)), _sync()), a.warmup, a.repeats)
        except Exception as exc:
            rows.append({"name": c.spec.name, "error": f"{type(exc).__name__}: {exc}"})
            continue
        nbytes = sum(int(np.prod(s)) for _, s in list(c.spec.inputs) + list(c.spec.outputs)) * \
            (2 if a.dtype in ("float16", "bfloat16") else 4)
        gflops = 2 * _macs(a.op, a.shape, g, k, pass_) / (ms * 1e-3) / 1e9
        gbs = nbytes / (ms * 1e-3) / 1e9
        rows.append({"name": c.spec.name, "ms": round(ms, 4), "max_rel_err": maxerr, "ok": err is None,
                     "gflops": round(gflops, 2), "gbs": round(gbs, 2),
                     "pct_gemm": round(100 * gflops / ceil["gemm_gflops"], 1),
                     "pct_copy": round(100 * gbs / ceil["copy_gbs"], 1)})
    for label, step in _builtin_steps(a, found[0]):
        rows.append({"name": label, "ms": round(autotune.measure(step, a.warmup, a.repeats), 4)})
    for label, ms in _torch_times(a, dev):
        rows.append({"name": label, "ms": ms})
    print(f"{a.op} {'x'.join(map(str, a.shape))} {a.dtype} on {autotune.device_name(dev)}"
          + (f" ({g.label()})" if g else "") + f"; ceilings: {ceil['gemm_gflops']} GFLOP/s (matmul), "
          f"{ceil['copy_gbs']} GB/s (copy)")
    print(f"{'variant':28s} {'ms':>9s} {'max rel err':>11s} {'GFLOP/s':>9s} {'% gemm':>7s} {'GB/s':>8s} {'% copy':>7s}")
    for r in rows:
        if "error" in r:
            print(f"{r['name']:28s} ERROR {r['error']}")
        elif "gflops" in r:
            print(f"{r['name']:28s} {r['ms']:9.3f} {r['max_rel_err']:11.1e}{'' if r['ok'] else '!'} "
                  f"{r['gflops']:9.1f} {r['pct_gemm']:7.1f} {r['gbs']:8.1f} {r['pct_copy']:7.1f}")
        else:
            print(f"{r['name']:28s} {r['ms']:9.3f}")
    if a.json:
        Path(a.json).write_text(json.dumps({"op": a.op, "shape": a.shape, "dtype": a.dtype, "device": dev,
                                            "ceilings": ceil, "rows": rows}, indent=1))
        print(f"written to {a.json}")
    return 1 if any("error" in r or not r.get("ok", True) for r in rows) else 0


def _torch_times(a, dev: str) -> list:
    """(label, ms) of PyTorch for the same work, in a process of its own ([] when torch is absent)."""
    import importlib.util
    python = a.torch_python or sys.executable
    if a.torch_python is None and importlib.util.find_spec("torch") is None:
        return []
    base = {"shape": a.shape, "dtype": a.dtype}
    if a.op.startswith("dwconv"):
        g = _geom(a)
        base.update(op="dwconv", kernel=[g.kh, g.kw], stride=[g.sh, g.sw], padding=[g.ph, g.pw],
                    dilation=[g.dh, g.dw])
        modes = [{"dwconv_fwd": "fwd", "dwconv_dgrad": "dgrad", "dwconv_wgrad": "wgrad", "dwconv_bwd": "fwdbwd"}[a.op]]
    elif a.op in BLOCKS:
        base.update(op=a.op, kernel=[(a.kernel or [11])[0]])
        modes = ["fwd", "fwdbwd"]
    else:
        return []
    req = {"device": dev, "threads": int(os.environ.get("OMP_NUM_THREADS", os.cpu_count() or 1)),
           "warmup": a.warmup, "repeats": a.repeats, "items": [dict(base, mode=m) for m in modes]}
    res = _jtcode.run_isolated([python, str(REPO / "jvision" / "ops" / "torch_ref.py"), json.dumps(req)],
                               timeout=600)
    if not res.ok:
        print(f"pytorch timing failed: {res.describe()}: {res.stderr.strip()[-300:]}", file=sys.stderr)
        return []
    out = json.loads(res.stdout.strip().splitlines()[-1])
    return [(f"pytorch {o['mode']}", o.get("ms", o.get("error"))) for o in out]


# ------------------------------------------------------------------------------------------------
# tune

def cmd_tune(a) -> int:
    os.environ["JVISION_AUTOTUNE"] = "1"
    if a.cache:
        autotune.set_cache_path(a.cache)
    if a.retune:
        autotune.set_retune(True)
    load, cores = os.getloadavg()[0], os.cpu_count() or 1
    if load > 0.5 * cores:
        print(f"warning: load average {load:.1f} on {cores} cores: variants timed now may not be the fastest on an "
              f"idle machine (run tune --retune when it is idle)", file=sys.stderr)
    try:
        import jseg  # noqa: F401  (registers the segmentation models)
    except ModuleNotFoundError:
        pass
    from jvision import ops
    from jvision.registry import MODELS
    model = MODELS.build({"type": a.model})
    x = jt.randn(*a.input)
    with ops.backend("kernel"):
        if a.mode in ("infer", "both"):
            model.eval()
            with jt.no_grad():
                out = model(x)
            jt.sync(list(out) if isinstance(out, (list, tuple)) else [out])
        if a.mode in ("train", "both"):
            model.train()
            out = model(x)
            outs = list(out) if isinstance(out, (list, tuple)) else [out]
            loss = sum(o.float32().sum() for o in outs if hasattr(o, "sum"))
            jt.sync(jt.grad(loss, model.parameters()))
    print(autotune.format_report())
    print(f"\ncache: {autotune.cache_path()}")
    return 0


# ------------------------------------------------------------------------------------------------
# check

def cmd_check(a) -> int:
    argv = ["--target", a.target] + (["--quick"] if a.quick else []) + \
        (["--variants", a.variants] if a.variants else []) + (["--dtypes", a.dtypes] if a.dtypes else [])
    if a.target != "jittor":
        return subprocess.run([sys.executable, "-m", "jvision.ops.verify", *argv], cwd=str(REPO),
                              env=dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
                              ).returncode
    dev = dwconv.device()
    found = verify.cases(dev, [v for v in (a.variants or "").split(",") if v] or None,
                         [d for d in (a.dtypes or "").split(",") if d] or None, a.quick)
    with tempfile.TemporaryDirectory() as tmp:
        failures = verify.run_cases(found, "jittor", tmp)
    print(f"{len(found) - len(failures)}/{len(found)} cases passed (jittor on {dev})")
    return 1 if failures else 0


# ------------------------------------------------------------------------------------------------

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("list", help="ops and variants")
    p.add_argument("--device", choices=["cpu", "cuda"])

    def op_args(p):
        p.add_argument("op", help="dwconv_fwd, dwconv_bwd, dwconv_dgrad, dwconv_wgrad, lka, msca, convmod, layernorm2d")
        p.add_argument("--shape", type=int, nargs=4, required=True, metavar=("N", "C", "H", "W"))
        p.add_argument("--kernel", type=int, nargs="+", help="KH [KW] (dwconv; convmod: K)")
        p.add_argument("--stride", type=int, nargs="+")
        p.add_argument("--padding", type=int, nargs="+", help="default: 'same' for odd kernels")
        p.add_argument("--dilation", type=int, nargs="+")
        p.add_argument("--dtype", default="float32", choices=["float32", "float16", "bfloat16"])
    p = sub.add_parser("show", help="the source Jittor compiles for one op")
    op_args(p)
    p.add_argument("--variant")
    p.add_argument("--device", choices=["cpu", "cuda"], help="default: Jittor's device now")
    p.add_argument("--target", choices=["cpu", "cuda", "emu"],
                   help="wrapping: cpu (g++), cuda (nvcc), emu (g++ with kernels/cuda_emu.h)")
    p.add_argument("-o", "--output")
    p = sub.add_parser("bench", help="every variant vs Jittor built-in vs PyTorch")
    op_args(p)
    p.add_argument("--variant")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--torch-python", help="an interpreter with PyTorch (default: this one, when it has torch)")
    p.add_argument("--json")
    p = sub.add_parser("tune", help="fill the autotune cache for a model's shapes")
    p.add_argument("--model", required=True, help="a registered model, e.g. segnext_t, van_b0")
    p.add_argument("--input", type=int, nargs=4, required=True, metavar=("N", "C", "H", "W"))
    p.add_argument("--mode", choices=["train", "infer", "both"], default="both")
    p.add_argument("--retune", action="store_true", help="time again the problems already in the cache")
    p.add_argument("--cache", help="cache file (default: $JVISION_AUTOTUNE_CACHE or ~/.cache/jvision/autotune.json)")
    p = sub.add_parser("check", help="variants against the float64 reference")
    p.add_argument("--target", choices=["jittor", "cpu", "asan", "emu"], default="jittor")
    p.add_argument("--variants")
    p.add_argument("--dtypes")
    p.add_argument("--quick", action="store_true")
    a = ap.parse_args(argv)
    if a.cmd in ("show", "bench"):
        try:
            autotune.op_info(a.op)
        except KeyError as exc:
            ap.error(str(exc).strip("'\""))
    return {"list": cmd_list, "show": cmd_show, "bench": cmd_bench, "tune": cmd_tune, "check": cmd_check}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
