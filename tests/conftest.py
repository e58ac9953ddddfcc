"""Shared pytest fixtures and the test session's environment."""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

# Kernel variants: the defaults, not timings of this (busy) machine, and nothing written to
# ~/.cache/jvision (tests of the autotuner turn it on with a cache in tmp_path).
os.environ.setdefault("JVISION_AUTOTUNE", "0")

import jvision  # noqa: E402,F401  (configures Jittor's runtime before any test imports it)

REPO = Path(__file__).resolve().parents[1]
_SESSION_CACHE: str | None = None


def pytest_configure(config):
    """Generated data (the built-in scenes, synthetic shapes) goes to a folder of this session,
    never the user's ~/.cache/jvision: set before collection, so module-level code and the
    subprocesses the tests start see it too. Removed when the session ends."""
    global _SESSION_CACHE
    _SESSION_CACHE = tempfile.mkdtemp(prefix="jvision-test-cache-")
    os.environ["JVISION_CACHE"] = _SESSION_CACHE


def pytest_unconfigure(config):
    if _SESSION_CACHE:
        shutil.rmtree(_SESSION_CACHE, ignore_errors=True)


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
