#!/usr/bin/env bash
# The GPU check of the kernel lab, one command on a bare machine with nvcc, a GPU and PyTorch but no
# Jittor and no network (benchmarks/gpu/prepare.sh must have filled benchmarks/gpu/dist/ first):
#   bash benchmarks/gpu/run.sh [--out DIR] [--budget SECONDS] [--quick]
#   bash benchmarks/gpu/run.sh --dry-run      # here, without a GPU: builds everything, runs the CPU half
#       (PYTHON: an interpreter with PyTorch if there is one, JT_PYTHON: the one with Jittor)
# Stages, each a process with a time limit inside the total budget (default 450 s, to end within
# 8 minutes on one H200; a stage the budget no longer allows is reported as skipped):
#   install     Jittor and its missing dependencies from dist/ into a temporary folder (no downloads)
#   dump        (Jittor on CPU) verification cases with fresh random inputs and float64 results,
#               and the timing problems, as stand-alone CUDA sources
#   standalone  (PyTorch's Python, no Jittor) every CUDA variant built with nvcc, run on the GPU on
#               poisoned outputs (NaN fails) against the references, then timed with CUDA events
#               against PyTorch eager / cuDNN
#   jittor      (Jittor on CUDA) the variants through jt.code, and the blocks forward+backward: our
#               kernel backend against Jittor's built-in (cuDNN when Jittor loads it)
#   train       VAN-B0 and SegNeXt-T, a few iterations through tools/train.py, train.amp off and on
#   report      one JSON and one markdown table in --out (default benchmarks/results/gpu/)
# Exit status 0 when every stage ran and passed.
set -uo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
DIST="$HERE/dist"
OUT_DIR="$REPO/benchmarks/results/gpu"
BUDGET=""
DRY=0
QUICK=""
PY="${PYTHON:-python3}"          # the interpreter with PyTorch (on the GPU machine: the only one)
while [ $# -gt 0 ]; do
    case "$1" in
        --dry-run) DRY=1; shift ;;
        --out) OUT_DIR="$2"; shift 2 ;;
        --budget) BUDGET="$2"; shift 2 ;;
        --quick) QUICK="--quick"; shift ;;
        --python) PY="$2"; shift 2 ;;
        -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
        *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
# The CPU half of a dry run on a 2-core machine takes far longer than the GPU run.
[ -z "$BUDGET" ] && { [ $DRY = 1 ] && BUDGET=5400 || BUDGET=450; }
WORK="$(mktemp -d /tmp/jvision_gpu.XXXXXX)"
STATUS="$WORK/status.txt"
START=$(date +%s)
FAILED=0
: > "$STATUS"
echo "jvision GPU check: work folder $WORK, budget ${BUDGET}s$([ $DRY = 1 ] && echo ', DRY RUN (no GPU)')"

# No Jittor download of any kind; Jittor never imports PyTorch into its own process.
export use_cutlass=0 use_cutt=0 use_nccl=0 FIX_TORCH_ERROR=0 PYTHONUNBUFFERED=1
export JVISION_AUTOTUNE=1 JVISION_AUTOTUNE_CACHE="$WORK/autotune.json"

# stage NAME LIMIT CMD...: runs CMD with a time limit (the whole process group is killed on expiry),
# logs to $WORK/NAME.log, records the outcome in $STATUS.
stage() {
    local name="$1" limit="$2"
    shift 2
    local left=$(( BUDGET - ($(date +%s) - START) ))
    if [ "$left" -lt 20 ]; then
        echo "$name skipped: time budget spent" | tee -a "$STATUS"
        FAILED=1
        return 1
    fi
    [ "$limit" -gt "$left" ] && limit="$left"
    local t0=$(date +%s)
    echo "== $name (at most ${limit}s)"
    timeout -k 10 "$limit" "$@" > "$WORK/$name.log" 2>&1
    local rc=$? dt=$(( $(date +%s) - t0 ))
    local what="ok"
    if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then what="timed out after ${dt}s"; elif [ $rc -ne 0 ]; then what="failed (exit $rc)"; fi
    echo "$name $what (${dt}s)" | tee -a "$STATUS"
    if [ $rc -ne 0 ]; then tail -n 15 "$WORK/$name.log" | sed 's/^/    /'; FAILED=1; fi
    return $rc
}

# ---- checks and install
if [ $DRY = 0 ]; then
    command -v nvcc >/dev/null || [ -x /usr/local/cuda/bin/nvcc ] || { echo "run.sh: nvcc not found" >&2; exit 2; }
    "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" ||
        { echo "run.sh: $PY has no PyTorch with a usable GPU" >&2; exit 2; }
fi
ls "$DIST"/jittor-*.tar.gz "$DIST"/numpy-*.whl >/dev/null 2>&1 ||
    { echo "run.sh: $DIST is empty: run benchmarks/gpu/prepare.sh where the package registry is reachable" >&2; exit 2; }
SITE="$WORK/site"
if [ $DRY = 0 ]; then
    stage install 120 "$PY" -m pip install --no-index --no-deps --no-build-isolation --no-compile -q \
        --target "$SITE" "$DIST"/*.whl "$DIST"/jittor-*.tar.gz
    JT=(env PYTHONPATH="$SITE:$REPO" "$PY")
else
    # Here: the install is checked without NumPy (its wheel is for the GPU machine's Python), and the
    # Jittor stages use this machine's environment (a second Jittor would compile itself again).
    stage install 120 "$PY" -m pip install --no-index --no-deps --no-build-isolation --no-compile -q \
        --target "$SITE" $(ls "$DIST"/*.whl | grep -v numpy) "$DIST"/jittor-*.tar.gz
    JT=(env PYTHONPATH="$REPO" "${JT_PYTHON:-$PY}")   # JT_PYTHON: this machine's Jittor environment
fi

# ---- the stages
GC="$HERE/gpu_check.py"
stage dump 200 env JVISION_DEVICE=cpu "${JT[@]}" "$GC" dump --out "$WORK/cases" $QUICK $([ $DRY = 1 ] && echo --small)
if [ -f "$WORK/cases/cases.json" ]; then
    if [ $DRY = 0 ]; then
        stage standalone 200 "$PY" "$GC" standalone --dir "$WORK/cases" --out "$WORK/standalone.json"
    else
        # every unit built with nvcc; then the standalone stage itself on the CPU emulator (small
        # shapes) when this Python has PyTorch, else the cases alone on the emulator
        stage build 2400 "$PY" "$GC" standalone --dir "$WORK/cases" --out "$WORK/build.json" --build-only
        if "$PY" -c "import torch" 2>/dev/null; then
            stage standalone_emu 2400 "$PY" "$GC" standalone --dir "$WORK/cases" --out "$WORK/standalone.json" \
                --emu --warmup 1 --repeats 1
        else
            stage emu 1200 "$PY" "$GC" emu --dir "$WORK/cases" --out "$WORK/emu.json"
        fi
    fi
fi
if [ $DRY = 0 ]; then
    stage jittor 240 env JVISION_DEVICE=cuda "${JT[@]}" "$GC" jittor --out "$WORK/jittor.json" $QUICK ||
        { grep -qi cudnn "$WORK/jittor.log" &&
          stage jittor_without_cudnn 180 env JVISION_DEVICE=cuda conv_opt=1 "${JT[@]}" "$GC" jittor \
              --out "$WORK/jittor.json" --quick; }
    left=$(( BUDGET - ($(date +%s) - START) - 90 ))   # the report and a margin
    stage train 240 "${JT[@]}" "$GC" train --out "$WORK/train.json" --amp off,bfloat16 --iters 12 \
        --budget $(( left < 225 ? (left > 30 ? left : 30) : 225 )) --work-dir "$WORK/train"
else
    stage jittor 1200 env JVISION_DEVICE=cpu "${JT[@]}" "$GC" jittor --out "$WORK/jittor.json" --quick
    stage train 1500 env JVISION_DEVICE=cpu "${JT[@]}" "$GC" train --out "$WORK/train.json" --amp off \
        --iters 2 --batch 2 --small --budget 1400 --work-dir "$WORK/train"
fi

# ---- report (always)
mkdir -p "$OUT_DIR"
cp "$WORK"/*.log "$OUT_DIR"/ 2>/dev/null
BUDGET=$(( BUDGET + 60 )) stage report 60 "$PY" "$GC" report "$WORK"/*.json --status "$STATUS" --out "$OUT_DIR"
echo "total $(( $(date +%s) - START ))s; results in $OUT_DIR (gpu_check.json, gpu_check.md, logs)"
exit $FAILED
