#!/usr/bin/env bash
# The README's quick start on a bare Debian 12, for real: builds a Debian 12 (bookworm) chroot with
# only python3, pip, venv, g++, make and git, lets it reach the package registries this machine
# uses, clones this repository's committed HEAD inside it and runs, in order:
#
#   1. user  (normal user, bare system)   make install   -> must stop, naming the missing python3-dev
#   2. root                               make demo      -> set-up (system packages + .venv), demo run
#   3. root                               make test      -> the whole test suite
#   4. user  (libdnnl-dev removed again)  make install   -> must warn about it and succeed
#   5. user                               .venv/bin/python -m pytest -q $USER_TESTS
#
# Usage (as root on a Debian/Ubuntu host with debootstrap; slow: two cold Jittor compiles):
#   bash scripts/check_fresh_debian.sh [--dir DIR] [--steps 1,2,3,4,5] [--base TARBALL] [--keep]
#
#   --dir DIR        where the chroot is built (default /var/tmp/jvision-fresh-debian; wiped first)
#   --steps LIST     run only these steps (the chroot is still built from scratch)
#   --base TARBALL   start from a tarball of an earlier debootstrap instead of running it
#   --keep           leave the chroot in place afterwards (default: removed)
# Environment: MIRROR (Debian mirror for debootstrap), USER_TESTS (step 5's test files),
#              STEP_TIMEOUT_DEMO / _TEST / _USER (seconds; defaults 3h, 4h, 1.5h).
#
# Everything a step prints goes to DIR.logs/<step>.log; a summary with exit codes and wall times is
# printed at the end and written to DIR.logs/summary.txt. Exit status 0 only if every step behaved.
set -uo pipefail

REPO=$(git -C "$(dirname "$0")/.." rev-parse --show-toplevel)
DIR=/var/tmp/jvision-fresh-debian
STEPS=1,2,3,4,5
BASE=""
KEEP=0
while [ $# -gt 0 ]; do
  case "$1" in
    --dir) DIR=$2; shift 2 ;;
    --steps) STEPS=$2; shift 2 ;;
    --base) BASE=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    -h|--help) sed -n '2,26p' "$0"; exit 0 ;;
    *) echo "check_fresh_debian: unknown argument $1" >&2; exit 2 ;;
  esac
done
MIRROR=${MIRROR:-http://deb.debian.org/debian}
USER_TESTS=${USER_TESTS:-tests/test_runtime.py tests/test_scenes.py tests/test_seg_datasets.py tests/test_repo_setup.py}
STEP_TIMEOUT_DEMO=${STEP_TIMEOUT_DEMO:-10800}
STEP_TIMEOUT_TEST=${STEP_TIMEOUT_TEST:-14400}
STEP_TIMEOUT_USER=${STEP_TIMEOUT_USER:-5400}
LOGS="$DIR.logs"
CH="$DIR/root"
USERNAME=jvuser

[ "$(id -u)" = 0 ] || { echo "check_fresh_debian: run as root (debootstrap, chroot, mounts)" >&2; exit 2; }
case "$DIR" in /|/usr|/home|/root|/var|/tmp|/work|"") echo "refusing --dir $DIR" >&2; exit 2 ;; esac
wants() { case ",$STEPS," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }
log() { echo "[fresh-debian $(date +%H:%M:%S)] $*"; }

# -- mounts (undone on every exit; the chroot is deleted only when nothing is mounted in it) ------
mounted=()
do_mount() {  # do_mount ARGS... TARGET
  mount "$@" && mounted+=("${@: -1}")
}
unmount_all() {
  local i
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
    umount -R "${mounted[$i]}" 2>/dev/null || umount -R -l "${mounted[$i]}" 2>/dev/null || true
  done
  mounted=()
}
remove_chroot() {
  [ -d "$DIR" ] || return 0
  if findmnt -rn -o TARGET | grep -q "^$DIR/"; then
    echo "check_fresh_debian: something is still mounted under $DIR; not deleting it" >&2
    return 1
  fi
  rm -rf --one-file-system "$DIR"
}
cleanup() {
  unmount_all
  [ "$KEEP" = 1 ] || remove_chroot
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# -- 0. the bare system ----------------------------------------------------------------------------
unmount_all
findmnt -rn -o TARGET | grep "^$DIR/" | sort -r | while read -r m; do umount -l "$m"; done
remove_chroot || exit 1
mkdir -p "$CH" "$LOGS"
rm -f "$LOGS"/*.log "$LOGS"/summary.txt
SUMMARY="$LOGS/summary.txt"
t0=$(date +%s)
if [ -n "$BASE" ]; then
  log "unpacking $BASE"
  tar xzf "$BASE" -C "$CH"
else
  log "debootstrap bookworm ($MIRROR) -> $CH"
  if ! debootstrap --variant=minbase --include=python3,python3-pip,python3-venv,g++,make,git,ca-certificates \
       bookworm "$CH" "$MIRROR" >"$LOGS/debootstrap.log" 2>&1; then
    echo "debootstrap failed: see $LOGS/debootstrap.log" >&2
    exit 1
  fi
fi
log "bare system ready after $(( $(date +%s) - t0 )) s"

# -- registry access: what apt and pip use on this machine ----------------------------------------
cp /etc/resolv.conf "$CH/etc/resolv.conf"
if ls /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list >/dev/null 2>&1 || [ -s /etc/apt/sources.list ]; then
  rm -f "$CH/etc/apt/sources.list"
  [ -s /etc/apt/sources.list ] && cp /etc/apt/sources.list "$CH/etc/apt/sources.list"
  for f in /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] && cp "$f" "$CH/etc/apt/sources.list.d/"
  done
fi
for f in /etc/apt/apt.conf.d/*; do
  grep -q "Acquire" "$f" 2>/dev/null && cp "$f" "$CH/etc/apt/apt.conf.d/"
done
if ls /usr/local/share/ca-certificates/*.crt >/dev/null 2>&1; then  # e.g. an egress proxy's CA
  mkdir -p "$CH/usr/local/share/ca-certificates"
  cp /usr/local/share/ca-certificates/*.crt "$CH/usr/local/share/ca-certificates/"
  chroot "$CH" update-ca-certificates >/dev/null 2>&1 || cp /etc/ssl/certs/ca-certificates.crt "$CH/etc/ssl/certs/"
fi
[ -f /etc/pip.conf ] && cp /etc/pip.conf "$CH/etc/pip.conf"
[ -d /etc/xdg/pip ] && mkdir -p "$CH/etc/xdg" && cp -r /etc/xdg/pip "$CH/etc/xdg/"
chroot "$CH" useradd -m -s /bin/bash "$USERNAME"
for home in /root "/home/$USERNAME"; do
  if [ -f "$HOME/.config/pip/pip.conf" ]; then
    mkdir -p "$CH$home/.config/pip" && cp "$HOME/.config/pip/pip.conf" "$CH$home/.config/pip/"
  fi
done
chroot "$CH" chown -R "$USERNAME:$USERNAME" "/home/$USERNAME"
ENV_PASS=()
while IFS='=' read -r k v; do
  case "$k" in PIP_*|http_proxy|https_proxy|HTTP_PROXY|HTTPS_PROXY|no_proxy|NO_PROXY) ENV_PASS+=("$k=$v") ;; esac
done < <(env)

do_mount -t proc proc "$CH/proc"
do_mount -t sysfs sys "$CH/sys"
do_mount --rbind /dev "$CH/dev"  # with /dev/pts and /dev/shm (OpenMPI's shared memory)
for d in /opt/wheels /opt/pypi /opt/pypi-more; do  # local package indexes the pip config names
  if [ -d "$d" ]; then
    mkdir -p "$CH$d"
    do_mount --bind "$d" "$CH$d" && mount -o remount,bind,ro "$CH$d"
  fi
done

# The repository as committed (a clean clone, inside the chroot, by each user).
git clone -q --bare --no-local "$REPO" "$CH/srv/jvision.git"
REV=$(git -C "$REPO" rev-parse --short HEAD)
chmod -R a+rX "$CH/srv/jvision.git"
chroot "$CH" git config --system --add safe.directory /srv/jvision.git  # owned by root, cloned by the user too

run_in() {  # run_in USER TIMEOUT LOGNAME COMMAND  -> exit status of COMMAND
  local who=$1 limit=$2 name=$3 cmd=$4 home=/root spec=()
  if [ "$who" != root ]; then
    home=/home/$who
    spec=(--userspec="$(chroot "$CH" id -u "$who"):$(chroot "$CH" id -g "$who")")
  fi
  local start=$(date +%s) rc
  log "step $name ($who): $cmd"
  timeout --kill-after=60 "$limit" chroot "${spec[@]}" "$CH" /usr/bin/env -i HOME="$home" USER="$who" \
    LANG=C.UTF-8 PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin TERM=dumb "${ENV_PASS[@]}" \
    /bin/bash -c "cd \"\$HOME\" && $cmd" >"$LOGS/$name.log" 2>&1
  rc=$?
  local secs=$(( $(date +%s) - start ))
  printf '%-28s rc=%-4s %6d s  (%dh%02dm%02ds)  %s\n' "$name ($who)" "$rc" "$secs" $((secs / 3600)) \
    $((secs % 3600 / 60)) $((secs % 60)) "$cmd" | tee -a "$SUMMARY"
  return $rc
}

ok=1
expect() {  # expect DESCRIPTION CONDITION...
  local what=$1; shift
  if "$@"; then echo "  ok: $what" | tee -a "$SUMMARY"; else echo "  FAILED: $what" | tee -a "$SUMMARY"; ok=0; fi
}
echo "jvision $REV on Debian $(cat "$CH/etc/debian_version"), $(nproc) cores; logs in $LOGS" | tee -a "$SUMMARY"
CLONE="git clone -q /srv/jvision.git jvision && cd jvision"

if wants 1; then
  run_in "$USERNAME" 1800 1-user-bare-install "$CLONE && make install"
  rc=$?
  expect "a normal user on the bare system is stopped (exit != 0)" test "$rc" -ne 0 -a "$rc" -ne 124
  expect "... with one line naming python3-dev and the apt-get command" \
    grep -q "error: missing.*python3-dev.*apt-get install" "$LOGS/1-user-bare-install.log"
  chroot "$CH" rm -rf "/home/$USERNAME/jvision"
fi
if wants 2; then
  run_in root "$STEP_TIMEOUT_DEMO" 2-root-make-demo "$CLONE && make demo"
  rc=$?
  expect "make demo as root exits 0" test "$rc" -eq 0
  expect "... installed the system packages" grep -q "apt-get install.*python3-dev.*libdnnl-dev" "$LOGS/2-root-make-demo.log"
  grep -E "mIoU|aAcc" "$LOGS/2-root-make-demo.log" | tail -3 | sed 's/^/    /' | tee -a "$SUMMARY"
fi
if wants 3; then
  run_in root "$STEP_TIMEOUT_TEST" 3-root-make-test "cd jvision 2>/dev/null || { $CLONE; } && make test"
  rc=$?
  expect "make test as root exits 0" test "$rc" -eq 0
  tail -3 "$LOGS/3-root-make-test.log" | sed 's/^/    /' | tee -a "$SUMMARY"
fi
if wants 4; then
  chroot "$CH" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
    apt-get remove -y -qq libdnnl-dev >"$LOGS/4-remove-libdnnl-dev.log" 2>&1
  run_in "$USERNAME" "$STEP_TIMEOUT_USER" 4-user-make-install "$CLONE && make install"
  rc=$?
  expect "make install as a normal user exits 0" test "$rc" -eq 0
  expect "... warning about the missing libdnnl-dev" grep -q "warning: missing recommended.*libdnnl-dev" \
    "$LOGS/4-user-make-install.log"
  expect "... with its own .venv" test -x "$CH/home/$USERNAME/jvision/.venv/bin/python"
fi
if wants 5; then
  run_in "$USERNAME" "$STEP_TIMEOUT_USER" 5-user-tests "cd jvision && .venv/bin/python -m pytest -q $USER_TESTS"
  rc=$?
  expect "the test subset as a normal user passes" test "$rc" -eq 0
  tail -2 "$LOGS/5-user-tests.log" | sed 's/^/    /' | tee -a "$SUMMARY"
fi
total=$(( $(date +%s) - t0 ))
echo "total $total s ($((total / 3600))h$((total % 3600 / 60))m); verdict: $([ $ok = 1 ] && echo PASS || echo FAIL)" \
  | tee -a "$SUMMARY"
[ $ok = 1 ]
