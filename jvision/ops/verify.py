"""Every kernel variant against a float64 NumPy reference, wherever it can run.

A :class:`Case` is one ``jt.code`` op of one variant (forward, input gradient, weight gradient,
fused block pass, ...) with random inputs rounded to its dtype and the float64 result those exact
inputs should give. :func:`cases` lists them for a device; a case runs

* ``"jittor"``: through Jittor (``jt.code`` writing into outputs first filled with NaN), on the
  device Jittor uses now: the GPU check (benchmarks/gpu) and ``tools/codegen.py check``;
* ``"cpu"`` / ``"asan"``: C++ ops built stand-alone (``asan``: AddressSanitizer and UBSan; the
  process must have libasan preloaded, see :func:`asan_env`);
* ``"emu"``: CUDA ops built for the CPU with ``kernels/cuda_emu.h`` (a fiber per CUDA thread).

Outputs are poisoned (NaN) before each run; a NaN left in an output, or an error above the case's
tolerance (relative to the largest reference value: 1e-4 float32, 4e-3 float16, 2e-2 bfloat16),
fails. ``python -m jvision.ops.verify --target asan`` is what tests/test_ops_memory.py runs.
"""
from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import _jtcode
from .reference_np import (TOL, conv, conv_grads, from_storage, gelu, gelu_grad, poisoned, relative_error,
                           round_to, to_storage)


# ------------------------------------------------------------------------------------------------
# cases

@dataclass
class Case:
    name: str
    spec: _jtcode.CodeSpec
    inputs: list                       # float64 values (already representable in the dtype)
    expected: list                     # float64 per output, None for scratch outputs
    dtype: str
    tol: float = 0.0

    def __post_init__(self):
        self.tol = self.tol or TOL.get(self.dtype, 1e-4)


def _rng(name: str):
    return np.random.default_rng(zlib.crc32(name.encode()))


def _dw_cases(dev: str, variants, geoms, shape, dtypes, stages=None, reference: bool = True) -> list:
    from . import autotune, dwconv
    out = []
    all_stages = ("dwconv_fwd", "dwconv_bwd") if dev == "cpu" else ("dwconv_fwd", "dwconv_dgrad", "dwconv_wgrad")
    stages = [s for s in all_stages if not stages or s in stages]
    for g in geoms:
        n, c, h, w = shape
        oh, ow = g.out_size(h, w)
        dys = [n, c, oh, ow]
        for dtype in dtypes:
            for op in stages:
                p = autotune.problem(op, dev, dtype, [shape], dict(g.params(), HAS_BIAS=True) if op ==
                                     "dwconv_fwd" else dict(g.params(), NEED_DX=True, NEED_DW=True,
                                                            NEED_DB=True))
                for v in autotune.eligible(p):
                    if variants and v.name not in variants:
                        continue
                    name = f"{op}/{v.name} {g.label()} {'x'.join(map(str, shape))} {dtype}"
                    rng = _rng(name)
                    x = round_to(rng.standard_normal(shape), dtype)
                    wt = round_to(rng.standard_normal((c, 1, g.kh, g.kw)) / math.sqrt(g.kh * g.kw), dtype)
                    b = round_to(rng.standard_normal(c), dtype)
                    dy = round_to(rng.standard_normal(dys), dtype)
                    if op == "dwconv_fwd":
                        spec = dwconv.fwd_spec(v.name, dev, g, shape, dtype, True)
                        out.append(Case(name, spec, [x, wt, b], [conv(x, wt, b, g) if reference else None], dtype))
                        continue
                    dx, dw, db = conv_grads(x, wt, dy, g) if reference else (None, None, None)
                    if op == "dwconv_bwd":
                        spec = dwconv.bwd_spec(v.name, g, shape, dys, dtype, True, True, True)
                        out.append(Case(name, spec, [x, wt, dy], [dx, dw, db], dtype))
                    elif op == "dwconv_dgrad":
                        spec = dwconv.dgrad_spec(v.name, g, shape, dys, dtype)
                        out.append(Case(name, spec, [dy, wt], [dx], dtype))
                    else:
                        spec = dwconv.wgrad_spec(v.name, g, shape, dys, dtype, True, True)
                        out.append(Case(name, spec, [x, dy], [dw, db, None], dtype))
    return out


def _block_cases(dev: str, variants, shape, dtypes, blocks=("lka", "msca", "convmod"), convmod_k: int = 7) -> list:
    from . import _fused, autotune
    from .dwconv import ConvGeom
    n, c, h, w = shape
    ga, gb = ConvGeom(5, 5, 1, 1, 2, 2), ConvGeom(7, 7, 1, 1, 9, 9, 3, 3)
    k0, strips = 5, (7, 11, 21)
    g0 = ConvGeom(k0, k0, 1, 1, k0 // 2, k0 // 2)
    gs = [ConvGeom(1, k, 1, 1, 0, k // 2) if i % 2 == 0 else ConvGeom(k, 1, 1, 1, k // 2, 0)
          for k in strips for i in range(2)]
    gc = ConvGeom(convmod_k, convmod_k, 1, 1, convmod_k // 2, convmod_k // 2)
    out = []
    for dtype in dtypes:
        for op in blocks:
            names = [v.name for v in autotune.op_info(op).variants.values()
                     if v.device == dev and v.files and (not variants or v.name in variants)]
            for vname in names:
                tag = f"{vname} {'x'.join(map(str, shape))} {dtype}"
                rng = _rng(op + tag)

                def r(*s, scale=1.0):
                    return round_to(rng.standard_normal(s) * scale, dtype)
                x = r(*shape)
                dy = r(*shape)
                if op == "lka":
                    wa, ba, wb, bb = r(c, 1, 5, 5, scale=0.2), r(c), r(c, 1, 7, 7, scale=0.15), r(c)
                    a = conv(x, wa, ba, ga)
                    y = conv(a, wb, bb, gb)
                    spec = _fused.lka_fwd_spec(vname, dev, ga, gb, shape, dtype, True)
                    out.append(Case(f"lka_fwd/{tag}", spec, [x, wa, ba, wb, bb], [y, a], dtype))
                    if dev == "cpu":
                        da, dwb, dbb = conv_grads(a, wb, dy, gb)
                        dx, dwa, dba = conv_grads(x, wa, da, ga)
                        spec = _fused.lka_bwd_spec(vname, ga, gb, shape, dtype)
                        out.append(Case(f"lka_bwd/{tag}", spec, [x, wa, ba, wb, bb, dy, round_to(a, dtype)],
                                        [dx, dwa, dba, dwb, dbb], dtype))
                elif op == "msca":
                    ws = [r(c, 1, k0, k0, scale=0.2)] + [r(c, 1, g.kh, g.kw, scale=0.3) for g in gs]
                    bs = [r(c) for _ in range(7)]
                    a = conv(x, ws[0], bs[0], g0)
                    hs = [conv(a, ws[1 + 2 * k], bs[1 + 2 * k], gs[2 * k]) for k in range(3)]
                    s = a + sum(conv(hs[k], ws[2 + 2 * k], bs[2 + 2 * k], gs[2 * k + 1]) for k in range(3))
                    ins = [x] + [t for pair in zip(ws, bs) for t in pair]
                    spec = _fused.msca_fwd_spec(vname, dev, k0, strips, shape, dtype)
                    out.append(Case(f"msca_fwd/{tag}", spec, ins, [s], dtype))
                    if dev == "cpu":
                        grads = [None] * 14
                        da = dy.copy()
                        for k in range(3):
                            dh, grads[2 + 4 * k], grads[3 + 4 * k] = conv_grads(hs[k], ws[2 + 2 * k], dy, gs[2 * k + 1])
                            dak, grads[4 * k], grads[1 + 4 * k] = conv_grads(a, ws[1 + 2 * k], dh, gs[2 * k])
                            da = da + dak
                        dx, dw0, db0 = conv_grads(x, ws[0], da, g0)
                        spec = _fused.msca_bwd_spec(vname, k0, strips, shape, dtype)
                        out.append(Case(f"msca_bwd/{tag}", spec, ins + [dy], [dx, dw0, db0] + grads, dtype))
                else:
                    v, wt, b = r(*shape), r(c, 1, convmod_k, convmod_k, scale=1.0 / convmod_k), r(c)
                    gl = gelu(x)
                    t = conv(gl, wt, b, gc)
                    spec = _fused.convmod_fwd_spec(vname, dev, gc, shape, dtype)
                    out.append(Case(f"convmod_fwd/{tag}", spec, [x, v, wt, b], [t * v], dtype))
                    if dev == "cpu":
                        dgl, dw, db = conv_grads(gl, wt, dy * v, gc)
                        spec = _fused.convmod_bwd_spec(vname, gc, shape, dtype)
                        out.append(Case(f"convmod_bwd/{tag}", spec, [x, v, wt, b, dy],
                                        [dgl * gelu_grad(x), dy * t, dw, db], dtype))
    return out


def _layernorm_cases(shape) -> list:
    n, c, h, w = shape
    name = f"layernorm2d/fused {'x'.join(map(str, shape))} float32"
    rng = _rng(name)
    x = round_to(rng.standard_normal(shape) * 3 + 1, "float32")
    wt, b, dy = (round_to(rng.standard_normal(s), "float32") for s in ((c,), (c,), shape))
    eps = 1e-6
    mu = x.mean(1, keepdims=True)
    xc = x - mu
    rs = 1 / np.sqrt((xc * xc).mean(1, keepdims=True) + eps)
    xh = xc * rs
    y = xh * wt[None, :, None, None] + b[None, :, None, None]
    gsum = dy * wt[None, :, None, None]
    dx = rs * (gsum - gsum.mean(1, keepdims=True) - xh * (gsum * xh).mean(1, keepdims=True))
    hdr = _jtcode.source("dwconv_cpu.h")
    io = [("float32", list(shape)), ("float32", [c]), ("float32", [c])]
    fwd = _jtcode.CodeSpec("layernorm2d_fwd/fused", "cpu", hdr, _jtcode.source("layernorm2d_fwd.cc"),
                           io, [io[0]], {"eps": eps}, ("dwconv_cpu.h", "layernorm2d_fwd.cc"))
    bwd = _jtcode.CodeSpec("layernorm2d_bwd/fused", "cpu", hdr, _jtcode.source("layernorm2d_bwd.cc"),
                           io + [io[0]], io, {"eps": eps}, ("dwconv_cpu.h", "layernorm2d_bwd.cc"))
    return [Case(name.replace("layernorm2d", "layernorm2d_fwd"), fwd, [x, wt, b], [y], "float32"),
            Case(name.replace("layernorm2d", "layernorm2d_bwd"), bwd, [x, wt, b, dy],
                 [dx, (dy * xh).sum((0, 2, 3)), dy.sum((0, 2, 3))], "float32")]


def op_cases(op: str, dev: str, shape, dtype: str = "float32", variants=None, geom=None,
             convmod_k: int = 7, reference: bool = True) -> list:
    """The cases of one registered op (``dwconv_fwd``, ``dwconv_bwd``, ``dwconv_dgrad``,
    ``dwconv_wgrad``, ``lka``, ``msca``, ``convmod``, ``layernorm2d``) at one shape: every
    eligible variant with sources, every pass (blocks: forward, and backward on CPU). ``geom``: the
    ConvGeom of a dwconv op; ``reference=False`` skips the float64 results (sources only)."""
    if op.startswith("dwconv"):
        return _dw_cases(dev, variants, [geom], list(shape), [dtype], stages=[op], reference=reference)
    if op in ("lka", "msca", "convmod"):
        return _block_cases(dev, variants, list(shape), [dtype], blocks=(op,), convmod_k=convmod_k)
    if op == "layernorm2d":
        return _layernorm_cases(list(shape)) if dev == "cpu" else []
    raise KeyError(f"op {op!r} has no kernel sources; see tools/codegen.py list")


def cases(dev: str, variants=None, dtypes=None, quick: bool = False) -> list:
    """The verification cases of every variant of ``dev`` ("cpu" or "cuda") that has kernel
    sources, on odd shapes: batch 2, odd channel count, odd sizes, stride, dilation, strips,
    padding beyond the kernel, a large kernel; ``quick``: fewer geometries."""
    from .dwconv import ConvGeom
    dtypes = list(dtypes or (("float32",) if dev == "cpu" else ("float32", "float16", "bfloat16")))
    geoms = [ConvGeom(3, 3, 1, 1, 1, 1), ConvGeom(7, 7, 1, 2, 9, 9, 3, 3), ConvGeom(1, 21, 1, 1, 0, 10),
             ConvGeom(5, 3, 2, 1, 4, 0, 1, 2), ConvGeom(13, 13, 1, 1, 6, 6)]
    if quick:
        geoms = [geoms[1], geoms[4]]
    shape = [2, 3, 13, 19]
    out = _dw_cases(dev, variants, geoms, shape, dtypes)
    out += _block_cases(dev, variants, [2, 3, 11, 21], dtypes)
    if dev == "cpu" and (not variants or "fused" in variants):
        out += _layernorm_cases([2, 5, 23, 25])
    return out


# ------------------------------------------------------------------------------------------------
# running

def compare(case: Case, outputs) -> str | None:
    """None when every output matches, else one line naming the output and the error."""
    for k, (got, want) in enumerate(zip(outputs, case.expected)):
        if want is None:
            continue
        msg = relative_error(got, want, case.tol)
        if msg:
            return f"{case.name}: output {k} {msg}"
    return None


def run_standalone(case: Case, lib: _jtcode.Standalone, which: int = 0) -> list:
    ins = [to_storage(a, d) for a, (d, _) in zip(case.inputs, case.spec.inputs)]
    outs = [poisoned(s, d) for d, s in case.spec.outputs]
    lib(ins + outs, which)
    return [from_storage(o, d) for o, (d, _) in zip(outs, case.spec.outputs)]


def run_jittor(case: Case) -> list:
    """Runs the case through ``jt.code`` on Jittor's current device, outputs pre-filled with NaN."""
    import jittor as jt
    ins = [jt.array(np.asarray(a, np.float32)).cast(d) if d != "float32" else jt.array(np.asarray(a, np.float32))
           for a, (d, _) in zip(case.inputs, case.spec.inputs)]
    outs = [jt.full(list(s), float("nan"), d) if not d.startswith("int") else jt.zeros(list(s), d)
            for d, s in case.spec.outputs]
    src = {"cpu_header": case.spec.header, "cpu_src": case.spec.body} if case.spec.device == "cpu" else \
        {"cuda_header": case.spec.header, "cuda_src": case.spec.body}
    res = jt.code(ins, outs, data=dict(case.spec.data), **src)
    res = res if isinstance(res, (list, tuple)) else [res]
    jt.sync(list(res))
    return [r.float64().numpy() for r in res]


def build_group(group: list, target: str, out_dir, flags=()) -> _jtcode.Standalone:
    """One library for cases that can share a translation unit (see :func:`groups`)."""
    specs = [c.spec for c in group]
    path = _jtcode.build_standalone(specs, "emu" if target == "emu" else "cpu", out_dir, flags=list(flags))
    return _jtcode.Standalone(path, specs)


def groups(case_list: list, target: str) -> list:
    """Cases grouped so that each group compiles as one unit: CPU ops by header files (their
    parameters are per-op defines), CUDA ops by identical header (one variant in several dtypes)."""
    keyed: dict = {}
    for c in case_list:
        key = _jtcode._split_defines(c.spec.header)[1] if target != "emu" else c.spec.header
        keyed.setdefault(key, []).append(c)
    return list(keyed.values())


_NO_DEEPBIND = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
/* dlopen without RTLD_DEEPBIND: Jittor asks for it, AddressSanitizer refuses it. */
void* dlopen(const char* file, int flags) {
    static void* (*real)(const char*, int) = 0;
    if (!real) real = (void* (*)(const char*, int))dlsym(RTLD_NEXT, "dlopen");
    return real(file, flags & ~RTLD_DEEPBIND);
}
"""


def asan_env(build_dir) -> dict | None:
    """Environment for a child process that loads AddressSanitizer-built libraries: libasan
    preloaded, behind a small shim (built in ``build_dir``) that drops RTLD_DEEPBIND from Jittor's
    dlopen calls. None when the compiler has no AddressSanitizer runtime."""
    cxx = os.environ.get("CXX", "g++")
    lib = subprocess.run([cxx, "-print-file-name=libasan.so"], capture_output=True, text=True).stdout.strip()
    if not lib or not os.path.isabs(lib):
        return None
    shim = Path(build_dir) / "no_deepbind.so"
    src = shim.with_suffix(".c")
    src.write_text(_NO_DEEPBIND)
    if subprocess.run([cxx, "-x", "c", "-shared", "-fPIC", "-O2", str(src), "-o", str(shim), "-ldl"],
                      capture_output=True).returncode != 0:
        return None
    return dict(os.environ, LD_PRELOAD=f"{shim}:{lib}", JVISION_VERIFY_ASAN="1",
                ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:verify_asan_link_order=0",
                UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")


def run_cases(case_list: list, target: str, out_dir, log=print) -> list:
    """Runs every case on ``target`` ("jittor", "cpu", "asan", "emu"); returns the failure lines."""
    failures = []
    if target == "jittor":
        for c in case_list:
            try:
                msg = compare(c, run_jittor(c))
            except Exception as exc:  # a compile or launch error is a failure of that case
                msg = f"{c.name}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            log(("FAIL " + msg) if msg else f"ok   {c.name}")
            if msg:
                failures.append(msg)
        return failures
    # the emulator's fibers run small shapes: -O1 halves the build time and changes nothing else
    flags = list(_jtcode.SANITIZE_FLAGS) if target == "asan" else (["-O1"] if target == "emu" else [])
    for group in groups(case_list, target):
        try:
            lib = build_group(group, target, out_dir, flags)
        except RuntimeError as exc:
            msg = f"{group[0].name}: does not compile:\n{exc}"
            log("FAIL " + msg)
            failures.append(msg)
            continue
        for k, c in enumerate(group):
            msg = compare(c, run_standalone(c, lib, k))
            log(("FAIL " + msg) if msg else f"ok   {c.name}")
            if msg:
                failures.append(msg)
    return failures


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--target", choices=["cpu", "asan", "emu"], default="asan",
                    help="cpu / asan: the C++ variants built stand-alone (asan: with AddressSanitizer "
                         "and UBSan, run in a child process with libasan preloaded); emu: the CUDA "
                         "variants on the CPU")
    ap.add_argument("--variants", default="", help="comma list of variant names (default: all)")
    ap.add_argument("--dtypes", default="", help="comma list (emu; default float32,float16,bfloat16)")
    ap.add_argument("--quick", action="store_true", help="two geometries instead of five")
    ap.add_argument("--out", default=None, help="build folder (default: a temporary one)")
    argv = list(sys.argv[1:] if argv is None else argv)
    a = ap.parse_args(argv)
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(a.out or tmp)
        out.mkdir(parents=True, exist_ok=True)
        if a.target == "asan" and os.environ.get("JVISION_VERIFY_ASAN") != "1":
            env = asan_env(out)
            if env is None:
                print("no AddressSanitizer runtime (libasan) for this compiler", file=sys.stderr)
                return 2
            # LD_PRELOAD is dropped before anything is imported: Jittor's import and the compiler
            # start child processes, which must not load the sanitizer runtime.
            boot = ("import os, runpy, sys; os.environ.pop('LD_PRELOAD', None); "
                    "sys.argv = ['jvision.ops.verify'] + sys.argv[1:]; "
                    "runpy.run_module('jvision.ops.verify', run_name='__main__')")
            return subprocess.run([sys.executable, "-c", boot, *argv, "--out", str(out)], env=env).returncode
        dev = "cuda" if a.target == "emu" else "cpu"
        found = cases(dev, [v for v in a.variants.split(",") if v] or None,
                      [d for d in a.dtypes.split(",") if d] or None, a.quick)
        failures = run_cases(found, a.target, out)
    print(f"{len(found) - len(failures)}/{len(found)} cases passed ({a.target})")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
