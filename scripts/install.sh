#!/usr/bin/env bash
# Installs what is missing for jvision on a Debian machine, then the package itself (editable).
#   system (root only): libdnnl-dev (oneDNN: fast CPU convolutions), openmpi-bin libopenmpi-dev (MPI)
#   python: pip install -e ".[test]"
# A non-root user without the system packages still gets a working (slower, single-process) install.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
SYS_PKGS="libdnnl-dev openmpi-bin libopenmpi-dev"

missing=""
if command -v dpkg-query >/dev/null 2>&1; then
  for p in $SYS_PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
  done
fi
if [ -n "$missing" ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "[install] apt-get install$missing"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
  else
    echo "[install] warning: missing system packages ($missing ); run as root: apt-get install$missing. Continuing: CPU convolutions will be slow and mpirun unavailable." >&2
  fi
fi

stamp=.install-stamp
if [ ! -f "$stamp" ] || [ setup.py -nt "$stamp" ] || ! "$PYTHON" -c "import jvision, pytest" >/dev/null 2>&1; then
  echo "[install] pip install -e .[test]"
  "$PYTHON" -m pip install -q -e ".[test]"
  touch "$stamp"
fi
# First import compiles Jittor's core once (a few minutes on 2 cores); later imports reuse the cache.
"$PYTHON" -m jvision.runtime
