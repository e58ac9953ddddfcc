"""Shared pytest fixtures."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

# Kernel variants: the defaults, not timings of this (busy) machine, and nothing written to
# ~/.cache/jvision (tests of the autotuner turn it on with a cache in tmp_path).
os.environ.setdefault("JVISION_AUTOTUNE", "0")

import jvision  # noqa: E402,F401  (configures Jittor's runtime before any test imports it)

REPO = Path(__file__).resolve().parents[1]


def find_parity_dir() -> Path | None:
    """The shared parity fixtures: $JVISION_PARITY_DIR, else ../shared/parity beside the repository."""
    env = os.environ.get("JVISION_PARITY_DIR")
    candidates = [Path(env)] if env else []
    candidates += [REPO.parent / "shared" / "parity", REPO.parent.parent / "shared" / "parity"]
    for c in candidates:
        if c.is_dir():
            return c
    return None


@pytest.fixture(scope="session")
def parity_dir() -> Path:
    """Skips with a reason when the fixtures are absent; fails instead when CI is set."""
    d = find_parity_dir()
    if d is None:
        msg = ("parity fixtures not found: set JVISION_PARITY_DIR or place them at ../shared/parity")
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
    return d


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO
