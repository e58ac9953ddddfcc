#!/usr/bin/env bash
# Sets up jvision in a project virtual environment (default .venv/ beside this repository), reused
# by later runs. `make demo` and `make test` call it first.
#
#   bash scripts/install.sh            set up (idempotent: quick when nothing changed)
#   bash scripts/install.sh --check    only say what is missing and what a set-up would do
#
# Environment: PYTHON  the interpreter that creates the environment (default python3)
#              VENV    the environment folder (default .venv; any existing venv works too)
#
# 1. System packages (Debian names). Needed: g++ (Jittor compiles its operators), python3-dev
#    (Python.h and python3.X-config, which Jittor's compiler uses), python3-venv. Recommended:
#    libdnnl-dev (oneDNN: fast CPU convolutions), openmpi-bin libopenmpi-dev (mpirun training).
#    As root with apt-get, whatever is missing is installed. Otherwise a missing recommended
#    package is a one-line warning (the install still works: slower, single-process) and a missing
#    needed one stops the set-up with the command to run as root.
# 2. The environment: created with "$PYTHON -m venv" when absent (Debian's own Python refuses
#    pip installs outside one, PEP 668), then `pip install -e ".[test]"` into it, repeated only
#    when setup.py changed or the packages do not import.
# 3. The first `import jvision` compiles Jittor's core (a few minutes on 2 cores; cached in
#    ~/.cache/jittor afterwards) and prints what the runtime chose.
set -euo pipefail
cd "$(dirname "$0")/.."

CHECK=0
case "${1:-}" in
  --check) CHECK=1 ;;
  "") ;;
  -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
  *) echo "install.sh: unknown argument '$1' (use --check or nothing)" >&2; exit 2 ;;
esac

PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
RECOMMENDED_PKGS="libdnnl-dev openmpi-bin libopenmpi-dev"
say() { echo "[install] $*"; }
warn() { echo "[install] warning: $*" >&2; }

if ! command -v "$PYTHON" >/dev/null 2>&1; then
  echo "[install] error: no Python interpreter '$PYTHON' (set PYTHON=/path/to/python3; Debian: apt-get install python3)" >&2
  exit 1
fi

# -- 1. system packages ------------------------------------------------------------------------
pkg_installed() {  # Debian package status; without dpkg, treat as unknown (= installed)
  command -v dpkg-query >/dev/null 2>&1 || return 0
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

# Needed: probed by what Jittor uses, so a Python from elsewhere (pyenv, conda) with its own
# headers passes; the Debian package that provides it is what gets installed.
needed=""
command -v g++ >/dev/null 2>&1 || needed="$needed g++"
if ! "$PYTHON" - <<'EOF' >/dev/null 2>&1
import os, sys, sysconfig
minor = sys.version_info.minor
inc = sysconfig.get_config_var("INCLUDEPY") or ""
configs = [os.path.dirname(sys.executable) + f"/python3.{minor}-config", sys.executable + "-config",
           f"/usr/bin/python3.{minor}-config", f"/usr/local/bin/python3.{minor}-config"]
sys.exit(0 if os.path.isfile(os.path.join(inc, "Python.h")) and any(map(os.path.isfile, configs)) else 1)
EOF
then
  needed="$needed python3-dev"
fi
if [ ! -x "$VENV/bin/python" ] && ! "$PYTHON" -c "import ensurepip, venv" >/dev/null 2>&1; then
  needed="$needed python3-venv"
fi
recommended=""
for p in $RECOMMENDED_PKGS; do
  pkg_installed "$p" || recommended="$recommended $p"
done

missing="$needed$recommended"
can_apt=0
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then can_apt=1; fi
if [ -n "$missing" ]; then
  if [ "$can_apt" = 1 ]; then
    if [ "$CHECK" = 1 ]; then
      say "would run: apt-get install$missing"
    else
      say "apt-get install$missing"
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
    fi
  else
    who="you are not root"
    [ "$(id -u)" = "0" ] && who="apt-get is not available"
    if [ -n "$needed" ]; then
      echo "[install] error: missing$needed, which Jittor needs ($who). As root run: apt-get install$needed$recommended" >&2
      exit 1
    fi
    effects=""
    case "$recommended" in *libdnnl-dev*) effects="CPU convolutions will be slower" ;; esac
    case "$recommended" in *openmpi*) effects="${effects:+$effects, }mpirun (multi-process training) unavailable" ;; esac
    warn "missing recommended system packages:$recommended ($who). As root run: apt-get install$recommended." \
         "Continuing: $effects."
  fi
fi

# -- 2. the project environment ----------------------------------------------------------------
stamp="$VENV/.jvision-install-stamp"
if [ ! -x "$VENV/bin/python" ]; then
  if [ "$CHECK" = 1 ]; then
    say "would create the environment $VENV ($PYTHON -m venv) and pip install -e .[test] into it"
    exit 0
  fi
  say "creating the environment $VENV ($("$PYTHON" --version 2>&1))"
  "$PYTHON" -m venv "$VENV"
fi
# Installed = the distributions are there (nothing imported: importing jittor compiles its core).
installed='import importlib.metadata as m, importlib.util as u, sys
m.version("jvision"); m.version("jittor")
sys.exit(any(u.find_spec(n) is None for n in ("jittor_utils", "numpy", "cv2", "PIL", "tqdm", "pytest")))'
if [ ! -f "$stamp" ] || [ setup.py -nt "$stamp" ] || ! "$VENV/bin/python" -c "$installed" >/dev/null 2>&1; then
  if [ "$CHECK" = 1 ]; then
    say "would pip install -e .[test] into $VENV"
    exit 0
  fi
  say "pip install -e .[test] into $VENV"
  "$VENV/bin/python" -m pip install -q -e ".[test]"
  touch "$stamp"
elif [ "$CHECK" = 1 ]; then
  say "$VENV is up to date"
  exit 0
fi

# -- 3. compile Jittor's core once, report what the runtime uses -------------------------------
"$VENV/bin/python" -m jvision.runtime
say "ready: $VENV/bin/python (make demo, make test, or $VENV/bin/python tools/train.py CONFIG)"
