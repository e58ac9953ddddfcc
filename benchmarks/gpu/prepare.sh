#!/usr/bin/env bash
# Run once on a machine that reaches the package registry (e.g. the development machine), before
# benchmarks/gpu/run.sh is run on a GPU machine without network. Downloads into benchmarks/gpu/dist/
# (git-ignored, about 20 MiB; carry it to the GPU machine with the working tree):
#   - Jittor's source package (jittor 1.3.11.0; it compiles itself on first import),
#   - the wheels of its pure-Python dependencies that GPU images lack (astunparse, six),
#   - NumPy < 2 for the GPU machine's Python (Jittor 1.3.11 needs it; the images carry NumPy 2),
# and writes dist/MANIFEST with sizes and sha256 sums. Nothing is installed here.
#   bash benchmarks/gpu/prepare.sh [--python-version 3.12]     (the GPU machine's Python)
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
DIST="$HERE/dist"
PYV="3.12"
PIP="${PIP:-python3 -m pip}"
while [ $# -gt 0 ]; do
    case "$1" in
        --python-version) PYV="$2"; shift 2 ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        *) echo "prepare.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
mkdir -p "$DIST"
$PIP download --no-deps --no-binary=:all: "jittor==1.3.11.0" -d "$DIST"
$PIP download --no-deps --only-binary=:all: "astunparse==1.6.3" "six==1.17.0" -d "$DIST"
$PIP download --no-deps --only-binary=:all: --python-version "$PYV" --implementation cp \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 "numpy==1.26.4" -d "$DIST"
( cd "$DIST" && for f in *.tar.gz *.whl; do
      printf '%s %s %s\n' "$(sha256sum "$f" | cut -d' ' -f1)" "$(stat -c %s "$f")" "$f"
  done > MANIFEST )
total=$(du -sm "$DIST" | cut -f1)
echo "prepared $DIST (${total} MiB) for Python $PYV:"
cat "$DIST/MANIFEST"
if [ "$total" -gt 60 ]; then echo "prepare.sh: $DIST is larger than 60 MiB" >&2; exit 1; fi
