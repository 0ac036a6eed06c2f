#!/usr/bin/env bash
# CI: the service under a real systemd as pid 1 (issue 12). Boots a Debian bookworm container
# with systemd-nspawn (sharing the host's network, so SIP/RTP stay on 127.0.0.1), installs this
# checkout in it, and runs tests/system/check_systemd.py from the host against it: install --now,
# READY before Started, STATUS=, a SIPp call with audio, reload, the watchdog, SIGTERM's BYE,
# uninstall, the systemd-analyze security score. Once with the unified cgroup hierarchy (as
# Raspberry Pi OS has) and once with the legacy one, where the host permits each.
#
# The endpoint is installed as on a device: install-device.sh puts this checkout's wheel and the
# dependencies pinned in constraints.txt into /opt/sip-endpoint/venv (the checker runs it).
#
# Needs root (debootstrap, systemd-nspawn, nsenter). The container's root file system is cached
# under $CACHE (default /var/cache/sip-endpoint-ci), keyed by a hash of what goes into it, so a
# second run skips debootstrap; each run boots a throw-away copy. The pinned dependencies are
# built into wheels on the host (PyAudio needs a compiler the container does not have), cached
# by constraints.txt, and installed in the container with pip --no-index: no registry is
# needed from inside. The checkout is visible in the container read-only at /mnt/src.
# Environment: CACHE, MIRROR (default: the host's Debian mirror from /etc/apt/sources.list*),
#              VARIANTS (default "unified legacy"), KEEP=1 (keep the booted container's copy).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
CHECKOUT=$(pwd)
CACHE=${CACHE:-/var/cache/sip-endpoint-ci}
SUITE=bookworm
# systemd-sysv: /sbin/init. dbus: systemctl's bus. libportaudio2: PyAudio's library.
# procps: ps/kill for the checks. python3-venv: the service's virtual environment.
PACKAGES=systemd,systemd-sysv,dbus,procps,python3,python3-venv,libportaudio2,ca-certificates
VARIANTS=${VARIANTS:-unified legacy}

t0=$(date +%s)
step() { echo "systemd-ci: [$(( $(date +%s) - t0 )) s] $*"; }
die() { echo "systemd-ci: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "needs root (debootstrap, systemd-nspawn, nsenter)"
missing=()
command -v debootstrap >/dev/null || missing+=(debootstrap)
command -v systemd-nspawn >/dev/null || missing+=(systemd-container)
if [ ${#missing[@]} -gt 0 ]; then
  step "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" \
    >/dev/null || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null; }
fi

host_mirror() {  # the host's Debian archive (not -security), as apt uses it
  local uri
  uri=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources \
          2>/dev/null | sed -nE 's#^(URIs:[[:space:]]*|deb[[:space:]]+(\[[^]]*\][[:space:]]+)?)([^[:space:]]+).*#\3#p' \
        | grep -E '/debian/?$' | head -1 || true)
  echo "${uri:-http://deb.debian.org/debian}"
}
MIRROR=${MIRROR:-$(host_mirror)}

find_python311() {  # wheels for the container's python3 (3.11 on bookworm)
  if command -v pyenv >/dev/null 2>&1; then
    local v; v=$(pyenv versions --bare | grep -E '^3\.11(\.[0-9]+)?$' | sort -V | tail -1 || true)
    if [ -n "$v" ]; then echo "$(pyenv root)/versions/$v/bin/python3.11"; return; fi
  fi
  command -v python3.11
}

for stale in "$CACHE"/run-*; do   # copies left by a run that was killed (run-PID-variant)
  [ -d "$stale" ] || continue
  pid=${stale##*/run-}; pid=${pid%%-*}
  if ! kill -0 "$pid" 2>/dev/null; then rm -rf "$stale"; fi
done

# --- 1. the root file system, cached by the hash of its inputs ---------------------------------
key=$( { echo "$SUITE $PACKAGES $MIRROR"; sed -n '/^# --- 1\./,/^# --- 2\./p' "$0"; } \
       | sha256sum | cut -c1-16)
ROOTFS=$CACHE/rootfs-$key
mkdir -p "$CACHE"
if [ ! -x "$ROOTFS/lib/systemd/systemd" ]; then
  step "debootstrap $SUITE from $MIRROR (no cached root file system $ROOTFS)"
  rm -rf "$ROOTFS.tmp"
  debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$ROOTFS.tmp" "$MIRROR" \
    > "$CACHE/debootstrap.log" 2>&1 || { tail -20 "$CACHE/debootstrap.log" >&2; die "debootstrap failed"; }
  # No login prompt on the console; systemd makes a machine id at first boot.
  ln -sf /dev/null "$ROOTFS.tmp/etc/systemd/system/console-getty.service"
  ln -sf /dev/null "$ROOTFS.tmp/etc/systemd/system/getty@.service"
  : > "$ROOTFS.tmp/etc/machine-id"
  rm -rf "$ROOTFS.tmp"/var/cache/apt/archives/*.deb "$ROOTFS.tmp"/var/lib/apt/lists/*
  for old in "$CACHE"/rootfs-*; do   # older inputs' file systems: not needed again
    if [ "$old" != "$ROOTFS.tmp" ]; then rm -rf "$old"; fi
  done
  mv "$ROOTFS.tmp" "$ROOTFS"
  step "root file system ready ($(du -sh "$ROOTFS" | cut -f1))"
else
  step "cached root file system $ROOTFS"
fi
# --- 2. the pinned dependencies as wheels (cached), and this checkout's wheel -------------------
PY311=$(find_python311) || die "no Python 3.11 on the host to build the container's wheels"
wkey=$( { cat pyproject.toml constraints.txt; "$PY311" -VV; } | sha256sum | cut -c1-16)
WHEELS=$CACHE/wheels-$wkey
if [ ! -f "$WHEELS/.complete" ]; then
  step "building wheels with $PY311"
  rm -rf "$CACHE"/wheels-*
  "$PY311" -m pip wheel -q --wheel-dir "$WHEELS" --constraint constraints.txt . \
    > "$CACHE/wheels.log" 2>&1 || { tail -20 "$CACHE/wheels.log" >&2; die "pip wheel failed"; }
  rm -f "$WHEELS"/sip_endpoint-*.whl   # built fresh below, every run
  touch "$WHEELS/.complete"
else
  step "cached wheels $WHEELS"
fi
PROJECT_WHEEL=$CACHE/run-$$-wheel
rm -rf "$PROJECT_WHEEL"
"$PY311" -m pip wheel -q --no-deps --wheel-dir "$PROJECT_WHEEL" . > "$CACHE/wheels.log" 2>&1 \
  || { tail -20 "$CACHE/wheels.log" >&2; die "pip wheel of the checkout failed"; }
wheel_name=$(basename "$PROJECT_WHEEL"/sip_endpoint-*.whl)
step "built $wheel_name"

# --- 3. boot, check, power off: per cgroup hierarchy -------------------------------------------
NSPAWN_PID=""
WORK=""
cleanup() {
  if [ -n "$NSPAWN_PID" ] && kill -0 "$NSPAWN_PID" 2>/dev/null; then
    kill -TERM "$NSPAWN_PID" 2>/dev/null || true   # nspawn asks the container's systemd to halt
    for _ in $(seq 1 100); do kill -0 "$NSPAWN_PID" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$NSPAWN_PID" 2>/dev/null || true
    wait "$NSPAWN_PID" 2>/dev/null || true
  fi
  NSPAWN_PID=""
  if [ -n "$WORK" ] && [ "${KEEP:-0}" != 1 ]; then rm -rf "$WORK"; fi
  WORK=""
}
trap 'cleanup; rm -rf "$PROJECT_WHEEL"' EXIT

leader_of() {  # the container's pid 1, seen from the host: nspawn's descendant whose NSpid ends in 1
  local queue=("$1") pid child
  while [ ${#queue[@]} -gt 0 ]; do
    pid=${queue[0]}; queue=("${queue[@]:1}")
    if [ "$pid" != "$1" ] && grep -qE '^NSpid:.*[[:space:]]1$' "/proc/$pid/status" 2>/dev/null; then
      echo "$pid"; return 0
    fi
    for child in $(cat /proc/"$pid"/task/*/children 2>/dev/null); do queue+=("$child"); done
  done
  return 1
}

status=0
for variant in $VARIANTS; do
  case $variant in
    unified) unified=1 ;;
    legacy) unified=0 ;;
    *) die "VARIANTS: unified or legacy, not $variant" ;;
  esac
  WORK=$CACHE/run-$$-$variant
  step "$variant: copying the root file system"
  cp -a "$ROOTFS" "$WORK"
  log=$CACHE/nspawn-$variant.log
  step "$variant: booting systemd (SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=$unified)"
  SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=$unified systemd-nspawn -q -b -D "$WORK" --register=no \
    --keep-unit --console=pipe --bind-ro="$WHEELS:/mnt/wheels" \
    --bind-ro="$PROJECT_WHEEL:/mnt/wheel" --bind-ro="$CHECKOUT:/mnt/src" < /dev/null > "$log" 2>&1 &
  NSPAWN_PID=$!
  leader=""
  for _ in $(seq 1 150); do
    kill -0 "$NSPAWN_PID" 2>/dev/null || break
    leader=$(leader_of "$NSPAWN_PID") && break
    sleep 0.2
  done
  if [ -z "$leader" ]; then
    echo "systemd-ci: FAIL $variant: the container did not boot (the host may not permit this" \
         "cgroup hierarchy); nspawn said:" >&2
    tail -15 "$log" >&2
    status=1; cleanup; continue
  fi
  inside() { nsenter -t "$leader" -m -u -i -n -p -- env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"; }
  # Until its bus is up systemctl cannot connect, and says nothing on stdout: ask again.
  state=""
  for _ in $(seq 1 100); do
    state=$(timeout 90 nsenter -t "$leader" -m -u -i -n -p -- \
              systemctl is-system-running --wait 2>/dev/null || true)
    [ -n "$state" ] && break
    sleep 0.2
  done
  step "$variant: systemd is up: $state ($(inside stat -fc %T /sys/fs/cgroup))"
  if [ "$state" != running ]; then inside systemctl --failed --no-pager || true; fi
  step "$variant: checks"
  if ! .venv/bin/python -bb tests/system/check_systemd.py --leader "$leader" --root "$WORK" \
      --variant "$variant" --wheel "/mnt/wheel/$wheel_name"; then
    status=1
  fi
  cleanup
  step "$variant: done"
done
step "total"
exit $status
