"""Kernel sources in ``jvision/ops/kernels/`` turned into ``jt.code`` ops, or into stand-alone programs.

Kernel sources are plain files, one variant per file, read once at import. Template parameters are
``JV_*`` preprocessor macros: :func:`defines` renders them as ``#define`` lines that go in front of
the shared headers, so that shape-invariant parameters (kernel size, stride, dilation, padding) are
compile-time constants while every tensor shape stays a run-time value (one compiled op serves any
batch size). The source text is Jittor's JIT cache key, so a distinct configuration costs one
compile (about 1-5 s on CPU, cached on disk in ``~/.cache/jittor``).

A :class:`CodeSpec` is one ``jt.code`` op, fully described: header, body, input and output dtypes
and shapes, run-time ``data``. :func:`run` hands it to Jittor. :func:`standalone_source` wraps the
same text the way Jittor does (``CodeOp::jit_run`` declares ``in0_p``, ``in0_shape0``, ...) into a
translation unit of its own, for

* ``target="cpu"``: g++, e.g. under AddressSanitizer (tests/test_ops_memory.py),
* ``target="cuda"``: ``nvcc -c`` on machines without a GPU (tests/test_ops_cuda_compile.py),
* ``target="emu"``: g++ with ``kernels/cuda_emu.h``, which runs the CUDA sources on the CPU, one
  fiber per CUDA thread (tests/test_ops_cuda_emu.py),

and :func:`build_standalone` / :class:`Standalone` compile it into a shared library and call it on
NumPy arrays. Kernel sources use no Jittor macro other than ``@alias`` (rejected otherwise), so
that this wrapping is exact.
"""
from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
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


# ------------------------------------------------------------------------------------------------
# one jt.code op

@dataclass
class CodeSpec:
    """Everything one ``jt.code`` op needs: ``device`` ("cpu" or "cuda") selects whether the header
    and body go to ``cpu_header``/``cpu_src`` or ``cuda_header``/``cuda_src``. ``inputs`` and
    ``outputs`` are ``(dtype, shape)`` pairs; ``files`` names the kernel sources used (reports)."""
    name: str
    device: str
    header: str
    body: str
    inputs: list
    outputs: list
    data: dict = field(default_factory=dict)
    files: tuple = ()

    def text(self) -> str:
        """The source Jittor compiles for this op, before its own wrapping (``tools/codegen.py show``)."""
        return self.header + "\n// ---- op body ----\n" + self.body


def run(spec: CodeSpec, inputs) -> list:
    """Runs ``spec`` as a ``jt.code`` op on the given Vars; returns the list of output Vars."""
    import jittor as jt

    if len(inputs) != len(spec.inputs):
        raise ValueError(f"{spec.name}: {len(inputs)} inputs given, the kernel takes {len(spec.inputs)}")
    src = {"cpu_header": spec.header, "cpu_src": spec.body} if spec.device == "cpu" else \
        {"cuda_header": spec.header, "cuda_src": spec.body}
    outs = jt.code([list(s) for _, s in spec.outputs], [d for d, _ in spec.outputs], list(inputs),
                   data=dict(spec.data), **src)
    return list(outs)


# ------------------------------------------------------------------------------------------------
# stand-alone translation units

_C_TYPES = {"float32": "float", "float64": "double", "int32": "int", "int64": "long long",
            "bool": "bool", "float16": "float16", "bfloat16": "bfloat16"}
_ALIAS = re.compile(r"@alias\(\s*([A-Za-z_]\w*)\s*,\s*([A-Za-z_]\w*)\s*\)")


def expand_aliases(text: str, dims: dict) -> str:
    """Jittor's ``@alias(a, b)`` as the ``#define`` lines its preprocessor produces (``a``, ``a_p``,
    ``a_type``, ``a_dim``, ``a_shapeK``, ``a_strideK``); any other ``@`` macro is rejected."""
    def one(m):
        a, b = m.group(1), m.group(2)
        if b not in dims:
            raise ValueError(f"@alias({a}, {b}): {b} is not an input or output of the op")
        lines = [f"#define {a} {b}", f"#define {a}_p {b}_p", f"#define {a}_type {b}_type",
                 f"#define {a}_dim {dims[b]}"]
        for d in range(dims[b]):
            lines += [f"#define {a}_shape{d} {b}_shape{d}", f"#define {a}_stride{d} {b}_stride{d}"]
        return "\n".join(lines)
    text = _ALIAS.sub(one, text)
    if "@" in text:
        at = text.index("@")
        raise ValueError(f"unsupported Jittor macro in kernel source: {text[at:at + 40]!r}")
    return text


def _prelude(target: str) -> list:
    common = ["#include <cstdint>", "#include <cstring>", "#include <stdexcept>", "#include <string>",
              "#include <unordered_map>"]
    if target == "cuda":
        return common + ["#include <cuda_runtime.h>", "#include <cuda_fp16.h>", "#include <cuda_bf16.h>",
                         "typedef __half float16;", "typedef __nv_bfloat16 bfloat16;"]
    if target == "emu":
        return common + [f'#include "{KERNEL_DIR / "cuda_emu.h"}"',
                         "typedef jvemu::half float16;", "typedef jvemu::bfloat16 bfloat16;"]
    return common + ["struct float16; struct bfloat16;"]


def _split_defines(text: str) -> tuple:
    """(leading ``#define JV_...`` lines, the rest) of a header made by :func:`header`."""
    lines = text.split("\n")
    i = 0
    while i < len(lines) and lines[i].startswith("#define JV_"):
        i += 1
    return lines[:i], "\n".join(lines[i:])


def standalone_source(specs, target: str = "cpu", index_t: str = "int", fixed_shapes: bool = False) -> str:
    """One translation unit running the given op(s) outside Jittor.

    ``specs``: a :class:`CodeSpec` or a list of them whose headers differ at most in their leading
    ``#define JV_...`` lines (e.g. one op in several dtypes, or the forward and backward ops of a
    block, compiled with one compiler call; each body then sees its own defines). For each, an
    entry point ``extern "C" void jv_run_<i>(void** ptrs, const long long* shapes)`` takes the data
    pointers of the inputs then the outputs, and all their dimensions in the same order,
    flattened; inside it the body sees ``in0_p``, ``in0_shape0``, ``in0_stride0``, ... and
    ``data[...]`` as in Jittor. ``fixed_shapes``: the spec's shapes are written in as constants
    (``tools/codegen.py show``) instead of being read from ``shapes``.
    """
    specs = [specs] if isinstance(specs, CodeSpec) else list(specs)
    if not specs:
        raise ValueError("standalone_source: no op given")
    split = [_split_defines(s.header) for s in specs]
    if any(rest != split[0][1] for _, rest in split):
        raise ValueError("standalone_source: the ops of one translation unit must share their header "
                         "(apart from the leading #define JV_... lines)")
    hdr = specs[0].header
    dims0 = {f"{k}{i}": len(shape) for k, lst in (("in", specs[0].inputs), ("out", specs[0].outputs))
             for i, (_, shape) in enumerate(lst)}
    # As CodeOp's JIT source: ``out`` aliases out0 (and is undefined while the header is read),
    # the header sits at global scope, the body inside ``namespace jittor``.
    out_alias = expand_aliases("@alias(out, out0)", dims0) if "out0" in dims0 else ""
    parts = _prelude(target) + [f"typedef {index_t} index_t;", "typedef float float32;",
                                "typedef double float64;",
                                "#pragma GCC diagnostic ignored \"-Wunused-variable\"",
                                out_alias, "#undef out", expand_aliases(hdr, dims0),
                                "#define out out0" if out_alias else ""]
    prev = split[0][0]
    for n, spec in enumerate(specs):
        if split[n][0] != prev:  # this op's own compile-time parameters
            parts += [f"#undef {line.split()[1]}" for line in prev] + split[n][0]
            prev = split[n][0]
        decl, k, j = [], 0, 0
        dims = {}
        for kind, lst in (("in", spec.inputs), ("out", spec.outputs)):
            for i, (dtype, shape) in enumerate(lst):
                name, nd = f"{kind}{i}", len(shape)
                dims[name] = nd
                decl.append(f"typedef {_C_TYPES[str(dtype)]} {name}_type;")
                decl.append(f"{name}_type* __restrict__ {name}_p = ({name}_type*)jv_ptrs[{k}];")
                for d in range(nd):
                    value = str(int(shape[d])) if fixed_shapes else f"(index_t)jv_shapes[{j}]"
                    decl.append(f"index_t {name}_shape{d} = {value};")
                    j += 1
                decl.append(f"index_t {name}_stride{nd - 1} = 1;")
                for d in range(nd - 2, -1, -1):
                    decl.append(f"index_t {name}_stride{d} = {name}_stride{d + 1} * {name}_shape{d + 1};")
                decl.append(f"(void){name}_p;")
                k += 1
        data = "".join(f'data["{key}"] = {float(v)!r};' for key, v in spec.data.items())
        parts += ["namespace jittor {",
                  f'extern "C" void jv_run_{n}(void** jv_ptrs, const long long* jv_shapes) {{',
                  "std::unordered_map<std::string, double> data; (void)data;", data,
                  *decl, "{", expand_aliases(spec.body, dims), "}", "}", "}  // namespace jittor"]
    return "\n".join(parts) + "\n"


def emulate_code_op(header_text: str, src: str, inputs, outputs, index_t: str = "int") -> str:
    """Stand-alone CUDA or C++ translation unit for a header and a body with ``(dtype, ndim)`` or
    ``(dtype, shape)`` inputs/outputs (shapes are read at run time in any case)."""
    def norm(lst):
        return [(d, [1] * s if isinstance(s, int) else list(s)) for d, s in lst]
    cuda = "__global__" in header_text or "<<<" in src
    spec = CodeSpec("op", "cuda" if cuda else "cpu", header_text, src, norm(inputs), norm(outputs))
    return standalone_source(spec, "cuda" if cuda else "cpu", index_t)


# ------------------------------------------------------------------------------------------------
# compiling and calling stand-alone units

def find_nvcc() -> str | None:
    """nvcc from $NVCC, PATH, or the usual install folders; None when absent."""
    for cand in (os.environ.get("NVCC"), shutil.which("nvcc"), "/usr/local/cuda/bin/nvcc",
                 "/usr/local/bin/nvcc"):
        if cand and os.path.isfile(cand) and os.access(cand, os.X_OK):
            return cand
    return None


CPU_FLAGS = ["-std=c++14", "-O2", "-march=native", "-fopenmp", "-fPIC", "-shared",
             "-Wno-unknown-pragmas"]
SANITIZE_FLAGS = ["-O1", "-g", "-fsanitize=address,undefined", "-fno-omit-frame-pointer",
                  "-fno-sanitize-recover=all"]


def build_standalone(specs, target: str, out_dir: Path, flags=(), name: str | None = None) -> Path:
    """Compiles :func:`standalone_source` into ``out_dir``: a shared library for ``cpu`` / ``emu``
    (g++), an object file for ``cuda`` (nvcc ``-c``). Raises RuntimeError with the compiler's
    message on failure."""
    text = standalone_source(specs, target)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tag = name or hashlib.sha1((text + " ".join(flags)).encode()).hexdigest()[:16]
    src = out_dir / (tag + (".cu" if target == "cuda" else ".cc"))
    src.write_text(text)
    if target == "cuda":
        nvcc = find_nvcc()
        if nvcc is None:
            raise RuntimeError("nvcc not found (set NVCC or put it on PATH)")
        out = out_dir / (tag + ".o")
        cmd = [nvcc, "-c", "-std=c++17", "-O2", *flags, str(src), "-o", str(out)]
    else:
        out = out_dir / (tag + ".so")
        cmd = [os.environ.get("CXX", "g++"), *CPU_FLAGS, *(["-std=c++17"] if target == "emu" else []),
               *flags, str(src), "-o", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}\n{proc.stderr[-6000:]}")
    return out


class Standalone:
    """A library built by :func:`build_standalone` (cpu / emu), called on NumPy arrays."""

    def __init__(self, path: Path, specs):
        self.specs = [specs] if isinstance(specs, CodeSpec) else list(specs)
        self.lib = ctypes.CDLL(str(path))

    def __call__(self, arrays, which: int = 0):
        """Runs op ``which`` on ``arrays`` (inputs then outputs, C-contiguous, in the spec's dtypes
        and shapes; outputs are written in place)."""
        import numpy as np

        spec = self.specs[which]
        want = list(spec.inputs) + list(spec.outputs)
        if len(arrays) != len(want):
            raise ValueError(f"{spec.name}: {len(arrays)} arrays given, {len(want)} expected")
        shapes = []
        for a, (dtype, shape) in zip(arrays, want):
            if not a.flags.c_contiguous or list(a.shape) != list(shape):
                raise ValueError(f"{spec.name}: array of shape {list(a.shape)} given, {list(shape)} expected")
            if dtype in ("float16", "bfloat16"):
                if a.dtype != np.uint16 and not (dtype == "float16" and a.dtype == np.float16):
                    raise ValueError(f"{spec.name}: {dtype} data must be passed as uint16 bits or float16")
            elif a.dtype != np.dtype(dtype):
                raise ValueError(f"{spec.name}: array of dtype {a.dtype} given, {dtype} expected")
            shapes += list(shape)
        ptrs = (ctypes.c_void_p * max(1, len(arrays)))(*[a.ctypes.data for a in arrays])
        dims = (ctypes.c_longlong * max(1, len(shapes)))(*shapes)
        getattr(self.lib, f"jv_run_{which}")(ptrs, dims)


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
