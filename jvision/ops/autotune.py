"""Kernel variants and the choice between them: pinned, cached, tuned or default.

Every operator that has our own kernels declares its variants here (``register_op`` /
``register_variant``, called by the op's own module): for the depthwise convolution on CUDA a direct,
a shared-memory tiled and an implicit-GEMM kernel, on CPU a portable and an AVX-512 build; for the
attention blocks a fused kernel and the unfused composition. The ``kernel`` backend
(:func:`jvision.ops.set_backend`) runs exactly one of them per call, chosen by :func:`select`:

1. a pin: :func:`pin` / :func:`pinned`, or ``JVISION_OPS_VARIANTS="dwconv_fwd=tiled,lka=unfused"``
   (a pinned variant that cannot run the call is an error, never silently replaced);
2. the only eligible variant, when there is one (e.g. 'unfused' for a block whose layers the fused
   kernel does not cover);
3. the op's default rule when autotuning is off (``JVISION_AUTOTUNE=0``) or under MPI with no cache
   entry (ranks must run the same code);
4. the autotune cache: ``~/.cache/jvision/autotune.json`` (``JVISION_AUTOTUNE_CACHE`` or
   :func:`set_cache_path` to move it), keyed by device name and library version, then by problem
   (op, compile-time parameters, shapes, dtype, whether gradients are needed);
5. otherwise every eligible variant is timed once on random inputs of the call's shapes (median of
   a few runs after warm-up), the fastest is cached and used from then on.

Given the cache, the choice is deterministic. :func:`report` lists what was chosen in this process
and why; ``python tools/codegen.py list`` shows every op and variant.
"""
from __future__ import annotations

import contextlib
import json
import os
import platform
import statistics
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

CACHE_ENV = "JVISION_AUTOTUNE_CACHE"
ENABLE_ENV = "JVISION_AUTOTUNE"
PIN_ENV = "JVISION_OPS_VARIANTS"
CACHE_FORMAT = 1


# ------------------------------------------------------------------------------------------------
# what is being run

@dataclass(frozen=True)
class Problem:
    """One call of an op, as far as the choice of a variant is concerned."""
    op: str
    device: str              # "cpu" | "cuda"
    dtype: str
    shapes: tuple            # shapes of the main inputs
    params: tuple = ()       # sorted (name, value) pairs: the kernel's compile-time parameters
    grad: bool = False       # gradients will be needed (blocks: tuned on forward + backward)

    @property
    def param(self) -> dict:
        return dict(self.params)

    def key(self) -> str:
        shapes = ",".join("x".join(str(int(d)) for d in s) for s in self.shapes)
        params = " ".join(f"{k}={_fmt(v)}" for k, v in self.params)
        return f"{self.op}|{params}|{shapes}|{self.dtype}" + ("|fwd+bwd" if self.grad else "")


def _fmt(v) -> str:
    if isinstance(v, (tuple, list)):
        return "x".join(str(x) for x in v)
    return str(int(v)) if isinstance(v, bool) else str(v)


def problem(op: str, device: str, dtype, shapes, params: dict | None = None, grad: bool = False) -> Problem:
    return Problem(op, device, str(dtype), tuple(tuple(int(d) for d in s) for s in shapes),
                   tuple(sorted((params or {}).items())), bool(grad))


def _always(_p: Problem):
    return None


@dataclass(frozen=True)
class Variant:
    """One implementation of an op. ``eligible(problem)`` returns None when the variant can run the
    problem, else the reason why not; ``isa`` names a CPU feature it needs (checked at run time)."""
    op: str
    name: str
    device: str
    summary: str
    files: tuple = ()
    eligible: Callable = _always
    isa: str | None = None

    def why_not(self, p: Problem) -> str | None:
        if p.device != self.device:
            return f"runs on {self.device}, not {p.device}"
        if self.isa and self.isa not in cpu_features():
            return f"needs the CPU feature {self.isa}"
        return self.eligible(p)


@dataclass
class OpInfo:
    name: str
    summary: str
    default: Callable            # (problem, eligible variant names) -> variant name
    bench: Callable | None       # (problem, variant name) -> zero-argument callable that runs and syncs
    variants: dict = field(default_factory=dict)   # (device, name) -> Variant

    def names(self, device: str | None = None) -> list:
        """Variant names, of one device or of all (in registration order, without repeats)."""
        out = []
        for (dev, name) in self.variants:
            if (device is None or dev == device) and name not in out:
                out.append(name)
        return out

    def get(self, device: str, name: str):
        return self.variants.get((device, name))


_OPS: dict[str, OpInfo] = {}


def register_op(name: str, summary: str, default: Callable, bench: Callable | None = None) -> None:
    """Declare an op; ``default(problem, names)`` picks among the eligible variant names when not tuning."""
    old = _OPS.get(name)
    _OPS[name] = OpInfo(name, summary, default, bench, old.variants if old else {})


def register_variant(v: Variant) -> Variant:
    if v.op not in _OPS:
        raise KeyError(f"register_variant: op {v.op!r} is not registered (register_op first)")
    _OPS[v.op].variants[(v.device, v.name)] = v
    return v


def ops() -> dict:
    """Every registered op by name (``OpInfo`` with its ``variants``)."""
    return dict(_OPS)


def op_info(name: str) -> OpInfo:
    if name not in _OPS:
        raise KeyError(f"unknown op {name!r}; known ops: {', '.join(sorted(_OPS))}")
    return _OPS[name]


def eligible(p: Problem) -> list:
    """The variants of ``p.op`` that can run ``p``, in registration order."""
    return [v for v in op_info(p.op).variants.values() if v.device == p.device and v.why_not(p) is None]


# ------------------------------------------------------------------------------------------------
# machine

_FEATURES: set | None = None


def cpu_features() -> set:
    """CPU flags of this machine (``/proc/cpuinfo``; empty elsewhere)."""
    global _FEATURES
    if _FEATURES is None:
        flags: set = set()
        try:
            for line in Path("/proc/cpuinfo").read_text().splitlines():
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    break
        except OSError:
            pass
        _FEATURES = flags
    return _FEATURES


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _gpu_name() -> str:
    import ctypes
    try:
        lib = ctypes.CDLL("libcuda.so.1")
        if lib.cuInit(0) == 0:
            dev, buf = ctypes.c_int(0), ctypes.create_string_buffer(256)
            if lib.cuDeviceGet(ctypes.byref(dev), 0) == 0 and lib.cuDeviceGetName(buf, 256, dev) == 0:
                return buf.value.decode(errors="replace")
    except (OSError, AttributeError):
        pass
    return "CUDA device"


def device_name(device: str) -> str:
    """What timings depend on: the GPU's name, or the CPU's name and OpenMP thread count."""
    if device == "cuda":
        return _gpu_name()
    threads = os.environ.get("OMP_NUM_THREADS") or str(os.cpu_count() or 1)
    return f"{_cpu_name()}, {threads} threads"


def library_version() -> str:
    from .. import __version__
    try:
        import jittor as jt
        return f"jvision {__version__}, jittor {jt.__version__}"
    except ImportError:  # pragma: no cover
        return f"jvision {__version__}"


# ------------------------------------------------------------------------------------------------
# pins

_PINS: dict[str, str] = {}


def _env_pins() -> dict:
    text = os.environ.get(PIN_ENV, "").strip()
    pins = {}
    for item in filter(None, (t.strip() for t in text.split(","))):
        if "=" not in item:
            raise ValueError(f"{PIN_ENV}: item {item!r} must be op=variant (e.g. dwconv_fwd=tiled)")
        op, name = (s.strip() for s in item.split("=", 1))
        pins[op] = name
    return pins


def pin(op: str, variant: str | None) -> None:
    """Run ``variant`` for every call of ``op`` (``None`` removes the pin)."""
    info = op_info(op)
    if variant is None:
        _PINS.pop(op, None)
    elif variant not in info.names():
        raise ValueError(f"op {op!r} has no variant {variant!r}; variants: {', '.join(info.names())}")
    else:
        _PINS[op] = variant
    _MEMO.clear()


@contextlib.contextmanager
def pinned(**pins):
    """``with pinned(dwconv_fwd="direct", lka="unfused"): ...`` restores the previous pins after
    (and forgets the choices made under them); ``pinned()`` with no pins changes nothing."""
    if not pins:
        yield
        return
    old = dict(_PINS)
    try:
        for op, name in pins.items():
            pin(op, name)
        yield
    finally:
        _PINS.clear()
        _PINS.update(old)
        _MEMO.clear()


def pins() -> dict:
    """Active pins: the environment's, overridden by :func:`pin`."""
    return {**_env_pins(), **_PINS}


# ------------------------------------------------------------------------------------------------
# the cache

_STATE = {"path": None, "data": None, "mtime": None}


def default_cache_path() -> Path:
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "jvision" / "autotune.json")


def cache_path() -> Path:
    return Path(_STATE["path"]) if _STATE["path"] else default_cache_path()


def set_cache_path(path) -> None:
    """Use ``path`` as the autotune cache (``None``: back to $JVISION_AUTOTUNE_CACHE or the default)."""
    _STATE.update(path=None if path is None else str(path), data=None, mtime=None)
    _MEMO.clear()


def enabled() -> bool:
    """Autotuning is on unless ``JVISION_AUTOTUNE=0``."""
    return os.environ.get(ENABLE_ENV, "1").strip() not in ("0", "false", "off", "no")


def _load() -> dict:
    path = cache_path()
    try:
        mtime = path.stat().st_mtime_ns
    except OSError:
        return {"format": CACHE_FORMAT, "devices": {}}
    if _STATE["data"] is not None and _STATE["mtime"] == mtime:
        return _STATE["data"]
    try:
        data = json.loads(path.read_text())
        if not isinstance(data, dict) or data.get("format") != CACHE_FORMAT:
            raise ValueError(f"not a format-{CACHE_FORMAT} autotune cache")
    except (OSError, ValueError) as exc:
        warnings.warn(f"jvision autotune: ignoring the cache {path} ({exc}); it will be rewritten",
                      RuntimeWarning, stacklevel=3)
        data = {"format": CACHE_FORMAT, "devices": {}}
    data.setdefault("devices", {})
    _STATE.update(data=data, mtime=mtime)
    return data


def _section(device: str) -> str:
    return f"{device_name(device)} | {library_version()}"


def cached(p: Problem) -> dict | None:
    """The cache entry of ``p`` on this device and library version, if any."""
    return _load()["devices"].get(_section(p.device), {}).get(p.key())


def store(p: Problem, entry: dict) -> None:
    """Adds ``entry`` for ``p`` to the cache file (re-read first, written atomically)."""
    path = cache_path()
    _STATE["mtime"] = None
    data = _load()
    data["devices"].setdefault(_section(p.device), {})[p.key()] = entry
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=1, sort_keys=True)
        os.replace(tmp, path)
        _STATE.update(data=data, mtime=path.stat().st_mtime_ns)
    except OSError as exc:
        warnings.warn(f"jvision autotune: could not write the cache {path}: {exc}", RuntimeWarning,
                      stacklevel=3)


# ------------------------------------------------------------------------------------------------
# timing

def measure(fn: Callable, warmup: int = 2, repeats: int = 5, stat: str = "median") -> float:
    """Wall time of ``fn()`` in milliseconds after ``warmup`` calls (``fn`` must sync): the median
    of ``repeats`` runs, or their minimum (``stat="min"``, what the tuner compares: the least
    disturbed run when other processes share the machine)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return min(times) if stat == "min" else statistics.median(times)


def tune(p: Problem, names=None, warmup: int = 2, repeats: int = 5) -> dict:
    """Times the eligible variants of ``p`` (or those named: fastest run of ``repeats``) and returns
    the cache entry ``{"variant", "times_ms", "when"}`` of the fastest. Does not write the cache."""
    info = op_info(p.op)
    if info.bench is None:
        raise RuntimeError(f"op {p.op!r} has no benchmark: it cannot be tuned")
    cands = [v.name for v in eligible(p)] if names is None else list(names)
    if not cands:
        raise RuntimeError(f"no variant of {p.op!r} can run {p.key()}")
    times = {}
    for name in cands:
        times[name] = round(measure(info.bench(p, name), warmup, repeats, "min"), 4)
    best = min(cands, key=lambda n: (times[n], cands.index(n)))
    return {"variant": best, "times_ms": times, "when": time.strftime("%Y-%m-%d %H:%M:%S")}


# ------------------------------------------------------------------------------------------------
# the choice

@dataclass(frozen=True)
class Choice:
    op: str
    key: str
    variant: str
    reason: str          # pinned | only eligible | default | cached | tuned
    detail: str = ""


_MEMO: dict[str, Choice] = {}
_RETUNE = False


def set_retune(flag: bool) -> None:
    """Time every multi-variant problem met from now on again, overwriting its cache entry (for
    ``tools/codegen.py tune --retune``: entries timed on a busy machine can name slow variants --
    a loaded core delays every OpenMP barrier of a multi-threaded kernel by a scheduler slice)."""
    global _RETUNE
    _RETUNE = bool(flag)
    _MEMO.clear()


def _mpi_world() -> int:
    try:
        from .. import _env
        return int(_env.INFO.mpi_world)
    except Exception:  # pragma: no cover
        return 1


def select(p: Problem) -> Variant:
    """The variant that runs ``p`` (see the module docstring for the order of the rules)."""
    key = f"{p.device}|{p.key()}"
    choice = _MEMO.get(key)
    if choice is None:
        choice = _choose(p)
        _MEMO[key] = choice
    return op_info(p.op).get(p.device, choice.variant)


def _choose(p: Problem) -> Choice:
    info = op_info(p.op)
    ok = eligible(p)
    names = [v.name for v in ok]
    pinned_name = pins().get(p.op)
    if pinned_name is not None:
        v = info.get(p.device, pinned_name)
        if v is None:
            raise ValueError(f"pinned variant {pinned_name!r} of op {p.op!r} does not exist on {p.device}; "
                             f"variants there: {', '.join(info.names(p.device))}")
        why = v.why_not(p)
        if why is not None:
            raise ValueError(f"pinned variant {pinned_name!r} of op {p.op!r} cannot run {p.key()} on "
                             f"{p.device}: {why}")
        return Choice(p.op, p.key(), pinned_name, "pinned")
    if not ok:
        reasons = "; ".join(f"{v.name}: {v.why_not(p)}" for v in info.variants.values()
                            if v.device == p.device)
        raise RuntimeError(f"no variant of op {p.op!r} can run {p.key()} on {p.device} ({reasons})")
    if len(ok) == 1:
        return Choice(p.op, p.key(), names[0], "only eligible")
    if not enabled():
        return Choice(p.op, p.key(), info.default(p, names), "default", f"{ENABLE_ENV}=0")
    entry = cached(p)
    if entry is not None and entry.get("variant") in names and not _RETUNE:
        return Choice(p.op, p.key(), entry["variant"], "cached", str(cache_path()))
    if _mpi_world() > 1 or info.bench is None:
        why = ("MPI: ranks must run the same code; fill the cache first with tools/codegen.py tune"
               if _mpi_world() > 1 else "the op has no benchmark")
        return Choice(p.op, p.key(), info.default(p, names), "default", why)
    entry = tune(p, names)
    store(p, entry)
    times = ", ".join(f"{n} {t:.3g} ms" for n, t in entry["times_ms"].items())
    return Choice(p.op, p.key(), entry["variant"], "tuned", times)


def forget() -> None:
    """Drops this process's memo of choices (the next call of each problem chooses again)."""
    _MEMO.clear()


def report() -> list:
    """The choices made in this process: ``[{op, key, variant, reason, detail}, ...]``."""
    return [dict(op=c.op, key=c.key, variant=c.variant, reason=c.reason, detail=c.detail)
            for c in _MEMO.values()]


def format_report() -> str:
    rows = report()
    if not rows:
        return "no kernel-backend op has run in this process"
    return "\n".join(f"{r['key']:70s} -> {r['variant']:13s} ({r['reason']}{': ' + r['detail'] if r['detail'] else ''})"
                     for r in rows)
