"""Runtime set-up of Jittor for this machine; ``python -m jvision.runtime`` prints a report.

The set-up itself (device choice, oneDNN from the system library, no downloads, MPI threads) is done
by ``jvision._env.configure()`` when ``jvision`` is imported; see that module for the rules.
"""
from __future__ import annotations

from ._env import INFO, RuntimeInfo, configure  # noqa: F401


def report() -> dict:
    """What the configured Jittor really uses (imports Jittor)."""
    import jittor as jt
    from jittor import compile_extern
    return {
        "jittor": jt.__version__,
        "device": "cuda" if jt.flags.use_cuda else "cpu",
        "device_reason": INFO.device_reason,
        "has_cuda": bool(jt.has_cuda),
        "onednn": bool(getattr(compile_extern, "mkl_ops", None) is not None),
        "onednn_source": INFO.onednn_source,
        "mpi": bool(jt.in_mpi),
        "mpi_rank": int(jt.rank) if jt.in_mpi else 0,
        "mpi_world": int(jt.world_size) if jt.in_mpi else 1,
        "omp_threads": INFO.omp_threads,
        "compile_cache": jt.flags.cache_path,
    }


def main() -> None:
    for key, value in report().items():
        print(f"{key:14s} {value}")


if __name__ == "__main__":
    main()
