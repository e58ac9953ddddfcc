"""Loading the kernel sources in ``jvision/ops/kernels/`` and turning them into ``jt.code`` text.

Kernel sources are plain files, one variant per file, read once at import. Template parameters
are ``JV_*`` preprocessor macros: :func:`defines` renders them as ``#define`` lines that go in
front of the shared header, so that shape-invariant parameters (kernel size, stride, dilation,
padding) are compile-time constants while every tensor shape stays a run-time value (one
compiled op serves any batch size). The source text is Jittor's JIT cache key, so a distinct
configuration costs one compile (about 1-5 s, cached on disk in ``~/.cache/jittor``).
"""
from __future__ import annotations

import functools
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

KERNEL_DIR = Path(__file__).resolve().parent / "kernels"


@functools.lru_cache(maxsize=None)
def source(name: str) -> str:
    """Text of ``kernels/<name>``; raises FileNotFoundError naming the folder when missing."""
    path = KERNEL_DIR / name
    if not path.is_file():
        raise FileNotFoundError(f"kernel source {name!r} not found in {KERNEL_DIR}")
    return path.read_text()


def defines(params: dict) -> str:
    """``#define JV_<KEY> <value>`` lines (booleans become 0/1)."""
    lines = []
    for key, value in params.items():
        if isinstance(value, bool):
            value = int(value)
        lines.append(f"#define JV_{key} {value}")
    return "\n".join(lines) + "\n"


def header(params: dict, *files: str) -> str:
    """Defines followed by the named header files, ready for ``cpu_header`` / ``cuda_header``."""
    return defines(params) + "".join(source(f) + "\n" for f in files)


def aliases(kind: str, names) -> str:
    """``@alias(name, in<i>)`` / ``@alias(name, out<i>)`` lines for the given names, in order."""
    return "".join(f"@alias({n}, {kind}{i})\n" for i, n in enumerate(names) if n)


_JT_TYPES = {"float32": "float", "float16": "float16", "float64": "double", "int32": "int",
             "int64": "long long", "bool": "bool"}


def emulate_code_op(header_text: str, src: str, inputs, outputs, index_t: str = "int") -> str:
    """A stand-alone translation unit equivalent to what Jittor builds for a ``jt.code`` op.

    ``inputs`` / ``outputs`` are ``(dtype, ndim)`` pairs, or ``(dtype, [shape...])`` pairs: then
    the shapes are those values and the pointers are taken from ``jv_ptrs[k]`` (inputs first, then
    outputs), an array the including program defines (micro-benchmarks of the CPU bodies). Jittor's ``@alias(a, b)`` lines become
    ``#define`` lines exactly as Jittor's preprocessor expands them (``a``, ``a_p``, ``a_type``,
    ``a_dim``, ``a_shapeK``, ``a_strideK``); any other ``@`` macro is rejected, since kernel sources
    here use only ``@alias``. The body is wrapped in a function that declares the op's pointers,
    shapes and strides like ``CodeOp::jit_run`` does. Used by tests to compile every CUDA source
    with ``nvcc -c`` on machines without a GPU (and without Jittor's CUDA setup).
    """
    import re

    decl = []
    dims = {}
    k = 0
    for kind, specs in (("in", inputs), ("out", outputs)):
        for i, (dtype, nd) in enumerate(specs):
            name = f"{kind}{i}"
            ctype = _JT_TYPES[str(dtype)]
            shape = list(nd) if isinstance(nd, (list, tuple)) else None
            ndim = len(shape) if shape is not None else nd
            dims[name] = ndim
            decl.append(f"typedef {ctype} {name}_type;")
            ptr = f"({name}_type*)jv_ptrs[{k}]" if shape is not None else "nullptr"
            decl.append(f"{name}_type* __restrict__ {name}_p = {ptr};")
            k += 1
            for d in range(ndim):
                decl.append(f"index_t {name}_shape{d} = {shape[d] if shape is not None else 1};")
            decl.append(f"index_t {name}_stride{ndim - 1} = 1;")
            for d in range(ndim - 2, -1, -1):
                decl.append(f"index_t {name}_stride{d} = {name}_stride{d + 1} * {name}_shape{d + 1};")
            decl.append(f"(void){name}_p;")

    def expand(text: str) -> str:
        def one(m):
            a, b = m.group(1).strip(), m.group(2).strip()
            if b not in dims:
                raise ValueError(f"@alias({a}, {b}): {b} is not an input or output of the op")
            lines = [f"#define {a} {b}", f"#define {a}_p {b}_p", f"#define {a}_type {b}_type",
                     f"#define {a}_dim {dims[b]}"]
            for d in range(dims[b]):
                lines += [f"#define {a}_shape{d} {b}_shape{d}", f"#define {a}_stride{d} {b}_stride{d}"]
            return "\n".join(lines)
        text = re.sub(r"@alias\(\s*([A-Za-z_]\w*)\s*,\s*([A-Za-z_]\w*)\s*\)", one, text)
        if "@" in text:
            bad = text[text.index("@"):text.index("@") + 40]
            raise ValueError(f"unsupported Jittor macro in kernel source: {bad!r}")
        return text

    cuda = "__global__" in header_text or "<<<" in src
    prelude = (["#include <cuda_runtime.h>", "#include <cuda_fp16.h>", "typedef __half float16;"]
               if cuda else [])
    return "\n".join([
        "#include <cstdint>", "#include <stdexcept>", "#include <string>", *prelude,
        f"typedef {index_t} index_t;", "typedef float float32;", "extern void* jv_ptrs[];",
        expand(header_text),
        "namespace jittor {", "void jvision_code_op_run() {",
        *decl, expand(src), "}", "}  // namespace jittor", ""])


# ------------------------------------------------------------------------------------------------
# isolated runs

@dataclass
class ChildResult:
    returncode: int
    stdout: str
    stderr: str
    timed_out: bool

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    def describe(self) -> str:
        """One line: how the child ended (signal names for crashes)."""
        if self.timed_out:
            return "timed out (killed with its process group)"
        if self.returncode < 0:
            import signal
            try:
                name = signal.Signals(-self.returncode).name
            except ValueError:
                name = f"signal {-self.returncode}"
            return f"crashed ({name})"
        return f"exit status {self.returncode}"


def run_isolated(cmd, timeout: float, env=None, cwd=None) -> ChildResult:
    """Runs ``cmd`` in a new process group with a time limit. Jittor work goes through this where a
    crash or a hang must not take the caller down: a process that hangs while holding Jittor's
    compile-cache lock blocks every later Jittor process on the machine, so on time-out the whole
    group (the compiler processes too) is killed, which releases the lock."""
    import signal
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=cwd,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
        return ChildResult(proc.returncode, out, err, False)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        out, err = proc.communicate()
        return ChildResult(proc.returncode if proc.returncode is not None else -9, out, err, True)
