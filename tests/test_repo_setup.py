"""The quick start: the README's two commands are Makefile targets that run in the project
environment, CI runs the README's test command, and scripts/install.sh decides right for root and
for a normal user (checked with --check, commands faked on PATH; the real run on a bare Debian 12
is scripts/check_fresh_debian.sh)."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def readme_commands() -> list[str]:
    """The commands of the README's first code block (what a new user runs first)."""
    text = (REPO / "README.md").read_text()
    block = re.search(r"```bash\n(.*?)```", text, re.S)
    assert block and text.index(block.group(0)) < text.index("\n## "), "the README must start with its commands"
    return [line.split("#")[0].strip() for line in block.group(1).splitlines() if line.split("#")[0].strip()]


def make_dry_run(target: str, **variables) -> str:
    args = ["make", "-n", "-C", str(REPO), target] + [f"{k}={v}" for k, v in variables.items()]
    return subprocess.run(args, capture_output=True, text=True, check=True, timeout=60).stdout


def test_readme_starts_with_the_demo_and_test_commands():
    assert readme_commands() == ["make demo", "make test"]
    demo, test = make_dry_run("demo"), make_dry_run("test")
    for plan in (demo, test):
        assert "scripts/install.sh" in plan                      # the set-up runs first ...
    assert ".venv/bin/python tools/train.py configs/demo/segnext_t_scenes.py" in demo   # ... then the environment's python
    assert ".venv/bin/python -m pytest -q tests" in test
    assert "/opt/env/bin/python -m pytest" in make_dry_run("test", VENV="/opt/env")
    assert (REPO / "configs/demo/segnext_t_scenes.py").is_file()


def test_ci_runs_the_readme_test_command():
    lines = [ln.strip() for ln in (REPO / ".ci" / "run").read_text().splitlines()
             if ln.strip() and not ln.strip().startswith("#")]
    assert readme_commands()[1] in lines


@pytest.fixture()
def fake_bin(tmp_path):
    """A PATH folder with fake id / dpkg-query / apt-get, steered by environment variables."""
    b = tmp_path / "bin"
    b.mkdir()
    scripts = {
        "id": '[ "$1" = "-u" ] && { echo "$FAKE_UID"; exit 0; }\nexec /usr/bin/id "$@"\n',
        "dpkg-query": 'pkg="${@: -1}"\ncase " $FAKE_MISSING " in *" $pkg "*) exit 1 ;; esac\n'
                      'printf "install ok installed"\n',
        "apt-get": 'echo "fake apt-get $*" >> "$FAKE_APT_LOG"\n',
        # a Python without its headers: the probe (a script on stdin, "-") fails, the rest works
        "python-noheaders": f'[ "$1" = "-" ] && exit 1\nexec {sys.executable} "$@"\n',
    }
    for name, body in scripts.items():
        (b / name).write_text("#!/bin/bash\n" + body)
        (b / name).chmod(0o755)
    return b


def run_install(fake_bin, tmp_path, uid: int, missing: str, python: str | None = None):
    env = {"PATH": f"{fake_bin}:{os.environ['PATH']}", "HOME": str(tmp_path), "FAKE_UID": str(uid),
           "FAKE_MISSING": missing, "FAKE_APT_LOG": str(tmp_path / "apt.log"), "VENV": str(tmp_path / "venv"),
           "PYTHON": python or sys.executable}
    return subprocess.run(["bash", str(REPO / "scripts" / "install.sh"), "--check"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)


def test_install_as_a_normal_user_warns_about_recommended_packages(fake_bin, tmp_path):
    run = run_install(fake_bin, tmp_path, uid=1000, missing="libdnnl-dev openmpi-bin")
    assert run.returncode == 0, run.stderr
    assert "warning: missing recommended system packages: libdnnl-dev openmpi-bin (you are not root)" in run.stderr
    assert "apt-get install libdnnl-dev openmpi-bin" in run.stderr
    assert "CPU convolutions will be slower, mpirun (multi-process training) unavailable" in run.stderr
    assert f"would create the environment {tmp_path / 'venv'}" in run.stdout
    assert not (tmp_path / "venv").exists() and not (tmp_path / "apt.log").exists()   # --check changes nothing


def test_install_as_a_normal_user_stops_without_python_headers(fake_bin, tmp_path):
    run = run_install(fake_bin, tmp_path, uid=1000, missing="", python=str(fake_bin / "python-noheaders"))
    assert run.returncode == 1
    assert "error: missing python3-dev, which Jittor needs (you are not root). As root run: apt-get install python3-dev" \
        in run.stderr


def test_install_as_root_installs_what_is_missing(fake_bin, tmp_path):
    run = run_install(fake_bin, tmp_path, uid=0, missing="libdnnl-dev", python=str(fake_bin / "python-noheaders"))
    assert run.returncode == 0, run.stderr
    assert "would run: apt-get install python3-dev libdnnl-dev" in run.stdout
    assert "would create the environment" in run.stdout
