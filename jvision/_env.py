"""Make Jittor start anywhere, before it is imported.

Jittor configures itself from environment variables at import time, and out of the box it
(1) sets up CUDA whenever it finds ``nvcc``, even on a machine without a GPU, and
(2) downloads oneDNN, cutlass, cutt and nccl from the internet on first use.
This module decides, before ``import jittor``, what this machine can really do:

* device: CUDA when nvcc *and* a GPU driver with at least one device are present, CPU otherwise;
  ``JVISION_DEVICE=cpu|cuda`` overrides the choice.
* oneDNN (Jittor's fast CPU convolutions): taken from the system library (Debian ``libdnnl-dev``)
  by pointing Jittor's cache folder at it; without it oneDNN is switched off with one warning.
  (Jittor 1.3.11's own ``mkl_include_path``/``mkl_lib_path`` route is broken.)
* downloads of cutlass / cutt / nccl are switched off (their loaders fetch from the network).
* under ``mpirun``, OpenMP threads are split between the ranks of one machine.

Every choice is only a default: a variable the user set explicitly is left alone.
``jvision.runtime`` re-exports this module and adds the report (``python -m jvision.runtime``);
the logic lives here so that the package can import it without importing ``jvision.runtime``.
"""
from __future__ import annotations

import ctypes
import glob
import json
import os
import shutil
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path

# The folder name Jittor's ``install_mkl`` looks for; anything else triggers a download.
_JITTOR_DNNL_DIR = "dnnl_lnx_2.2.0_cpu_gomp"


@dataclass
class RuntimeInfo:
    device: str = "cpu"              # what was configured: "cpu" or "cuda"
    device_reason: str = ""
    onednn: bool = False
    onednn_source: str = ""
    mpi_rank: int = 0
    mpi_world: int = 1
    omp_threads: str = ""
    warnings: list = field(default_factory=list)


INFO = RuntimeInfo()
_CONFIGURED = False


def _jittor_home() -> Path:
    """Replicates ``jittor_utils.home()`` without importing Jittor."""
    config = Path.home() / ".cache" / "jittor" / "config.json"
    default = str(Path.home())
    if config.exists():
        try:
            default = json.loads(config.read_text()).get("JITTOR_HOME", default)
        except (OSError, ValueError):
            pass
    return Path(os.environ.get("JITTOR_HOME", default)).absolute()


def _find_nvcc() -> str | None:
    for cand in (os.environ.get("nvcc_path") or None, shutil.which("nvcc"),
                 "/usr/local/cuda/bin/nvcc", "/usr/bin/nvcc", "/opt/cuda/bin/nvcc"):
        if cand and os.path.isfile(cand) and os.access(cand, os.X_OK):
            return cand
    return None


def _cuda_device_count() -> int:
    """Number of CUDA devices the driver reports (0 when there is no driver)."""
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1"):
        return 0
    try:
        lib = ctypes.CDLL("libcuda.so.1")
    except OSError:
        return 0
    try:
        if lib.cuInit(0) != 0:
            return 0
        count = ctypes.c_int(0)
        if lib.cuDeviceGetCount(ctypes.byref(count)) != 0:
            return 0
        return count.value
    except (AttributeError, OSError):
        return 0


def _choose_device() -> tuple[str, str, str | None]:
    want = os.environ.get("JVISION_DEVICE", "auto").strip().lower() or "auto"
    if want not in ("auto", "cpu", "cuda"):
        raise ValueError(f"JVISION_DEVICE={want!r}: expected one of 'cpu', 'cuda', 'auto'")
    nvcc = _find_nvcc()
    if want == "cpu":
        return "cpu", "JVISION_DEVICE=cpu", None
    ngpu = _cuda_device_count()
    if want == "cuda":
        if nvcc is None:
            raise RuntimeError("JVISION_DEVICE=cuda but no nvcc was found (set nvcc_path or PATH)")
        if ngpu == 0:
            raise RuntimeError("JVISION_DEVICE=cuda but the CUDA driver reports no device")
        return "cuda", "JVISION_DEVICE=cuda", nvcc
    if nvcc and ngpu > 0:
        return "cuda", f"nvcc at {nvcc} and {ngpu} CUDA device(s)", nvcc
    if nvcc:
        return "cpu", f"nvcc at {nvcc} but no CUDA device", None
    return "cpu", "no nvcc", None


def _system_onednn() -> tuple[str, str] | None:
    """(include dir, library) of a system oneDNN, e.g. Debian's libdnnl-dev."""
    for inc in ("/usr/include", "/usr/local/include"):
        if os.path.isfile(os.path.join(inc, "dnnl.hpp")):
            libs = []
            for d in ("/usr/lib/*-linux-gnu", "/usr/lib", "/usr/local/lib", "/usr/lib64"):
                libs += glob.glob(os.path.join(d, "libdnnl.so"))
            if libs:
                return inc, libs[0]
    return None


def _link_onednn(inc: str, lib: str) -> Path:
    """Point Jittor's oneDNN cache folder at the system library (symlinks only)."""
    root = _jittor_home() / ".cache" / "jittor" / "mkl" / _JITTOR_DNNL_DIR
    (root / "include").mkdir(parents=True, exist_ok=True)
    (root / "lib").mkdir(parents=True, exist_ok=True)
    headers = glob.glob(os.path.join(inc, "dnnl*.h")) + glob.glob(os.path.join(inc, "dnnl*.hpp"))
    if os.path.isdir(os.path.join(inc, "oneapi")):
        headers.append(os.path.join(inc, "oneapi"))
    for src in headers:
        dst = root / "include" / os.path.basename(src)
        if dst.is_symlink() and os.readlink(dst) == src:
            continue
        if dst.is_symlink() or dst.exists():
            dst.unlink()
        dst.symlink_to(src)
    dst = root / "lib" / "libmkldnn.so"
    if not (dst.is_symlink() and os.readlink(dst) == lib):
        if dst.is_symlink() or dst.exists():
            dst.unlink()
        dst.symlink_to(lib)
    return root


def _setup_onednn(info: RuntimeInfo) -> None:
    if "use_mkl" in os.environ:
        info.onednn = os.environ["use_mkl"] == "1"
        info.onednn_source = f"use_mkl={os.environ['use_mkl']} set by the user"
        return
    root = _jittor_home() / ".cache" / "jittor" / "mkl" / _JITTOR_DNNL_DIR
    so = root / "lib" / "libmkldnn.so"
    system = _system_onednn()
    if system is not None:
        try:
            if so.exists() and not so.is_symlink():
                info.onednn_source = f"Jittor's own copy in {root}"
            else:
                _link_onednn(*system)
                info.onednn_source = f"system library {system[1]}"
            os.environ["use_mkl"] = "1"
            info.onednn = True
            return
        except OSError as exc:  # read-only home, say
            info.warnings.append(f"could not link the system oneDNN into {root}: {exc}")
    elif so.exists():  # a copy Jittor downloaded earlier
        os.environ["use_mkl"] = "1"
        info.onednn = True
        info.onednn_source = f"Jittor's own copy in {root}"
        return
    os.environ["use_mkl"] = "0"
    info.onednn = False
    info.onednn_source = "not found"
    info.warnings.append(
        "jvision: oneDNN not found, CPU convolutions will be much slower "
        "(install it with: apt-get install libdnnl-dev)")


def _setup_mpi(info: RuntimeInfo) -> None:
    world = int(os.environ.get("OMPI_COMM_WORLD_SIZE", "1"))
    info.mpi_world = world
    info.mpi_rank = int(os.environ.get("OMPI_COMM_WORLD_RANK", "0"))
    if world > 1 and "OMP_NUM_THREADS" not in os.environ:
        local = int(os.environ.get("OMPI_COMM_WORLD_LOCAL_SIZE", str(world)))
        os.environ["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // max(1, local)))
    info.omp_threads = os.environ.get("OMP_NUM_THREADS", f"default ({os.cpu_count()} cores)")


def configure() -> RuntimeInfo:
    """Set Jittor's environment variables for this machine. Idempotent; call before import jittor."""
    global _CONFIGURED
    if _CONFIGURED:
        return INFO
    if "jittor" in sys.modules:
        INFO.warnings.append("jvision: jittor was imported before jvision; runtime defaults not applied")
        _CONFIGURED = True
        return INFO
    device, reason, nvcc = _choose_device()
    INFO.device, INFO.device_reason = device, reason
    if device == "cpu":
        os.environ["nvcc_path"] = ""
    else:
        os.environ.setdefault("nvcc_path", nvcc)
        # These loaders download from the internet on first use; Jittor runs without them.
        for flag in ("use_cutlass", "use_cutt", "use_nccl"):
            os.environ.setdefault(flag, "0")
    _setup_onednn(INFO)
    _setup_mpi(INFO)
    os.environ.setdefault("log_silent", "1")  # Jittor's per-compile chatter
    for msg in INFO.warnings:
        if INFO.mpi_rank == 0:
            warnings.warn(msg, RuntimeWarning, stacklevel=3)
    _CONFIGURED = True
    return INFO


def restore_signal_handlers() -> None:
    """Undo two process-wide handlers Jittor installs at import (call after ``import jittor``).

    * SIGCHLD: Jittor exits the whole process when ANY child dies from a signal (meant for its own
      dataset workers, which jvision does not use); a user's killed subprocess would take the
      training script down with it.
    * SIGINT: Jittor quick-exits without unwinding; Python's handler raises KeyboardInterrupt so
      ``finally`` blocks (closing progress bars and loaders) run.
    """
    import signal
    import threading
    if threading.current_thread() is not threading.main_thread():
        return
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    if os.environ.get("JPY_PARENT_PID") is None:
        signal.signal(signal.SIGINT, signal.default_int_handler)
