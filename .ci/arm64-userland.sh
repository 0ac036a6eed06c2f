#!/usr/bin/env bash
# CI on the target's userland: a Debian (= Raspberry Pi OS) arm64 root file system run under
# qemu-user on this amd64 host. It builds that root file system once with debootstrap (cached
# outside the clone, keyed by what went into it), copies the project's tracked files into it and,
# inside it, does what a user on a Pi does: ./setup.sh, check-config, the demo, a slice of the
# tests, then the production install (a wheel + constraints in a venv without test tools, and
# `sip-endpoint install`). Each step prints its time.
#
#   .ci/arm64-userland.sh                   # bookworm (Pi OS bookworm, Python 3.11), arm64
#   .ci/arm64-userland.sh --suite trixie    # trixie (Python 3.13)
# (No armhf: PyPI has no armv7 wheels of numpy, so a 32-bit Pi OS builds it from source or
# takes piwheels', which this host cannot reach.)
#
# Environment: SIP_CI_CACHE (default /var/cache/sip-endpoint-ci), MIRROR (default: the host's
# Debian mirror from its apt sources), PIP_CERT (default: the host's CA bundle; pip inside the
# root file system needs it to reach the index here), KEEP_ROOTFS=1 (leave the extracted tree).
# Needs root (debootstrap, chroot, mounts). Talks to the network only through apt and pip.
set -euo pipefail
{ # One block, parsed whole before it runs: editing this file during a run cannot derail it.
cd "$(dirname "${BASH_SOURCE[0]}")/.."
SRC=$(pwd)

SUITE=bookworm
ARCH=arm64
INSIDE=0
while [ $# -gt 0 ]; do
  case "$1" in
    --inside) INSIDE=1; shift ;;  # (internal) the steps inside the root file system
    --suite) SUITE=$2; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "arm64-userland: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
case "$SUITE" in bookworm|trixie) ;; *) echo "arm64-userland: --suite bookworm|trixie" >&2; exit 2 ;; esac
QEMU=aarch64
[ "$(id -u)" = 0 ] || { echo "arm64-userland: needs root (debootstrap, chroot)" >&2; exit 1; }

T0=$(date +%s)
step_start=$T0
TIMES=()
step() {  # step NAME: closes the previous step's timer and prints a banner
  local now; now=$(date +%s)
  if [ -n "${STEP:-}" ]; then TIMES+=("$(printf '%-34s %4d s' "$STEP" $((now - step_start)))"); fi
  STEP=$1; step_start=$now
  [ "$STEP" = done ] || echo "=== [$SUITE/$ARCH] $STEP"
}
report() {
  step done
  echo "=== [$SUITE/$ARCH] step times:"
  printf '  %s\n' "${TIMES[@]}"
  printf '  %-34s %4d s\n' total $(( $(date +%s) - T0 ))
}

# The tests run on the target: the sans-IO core (SIP, user agent), media, hardware on mock pins
# and the serial board, the CLI and config, the service files. The audio, runtime, service
# process and interop suites stay on amd64 (.ci/run), where the whole suite runs.
SLICE=(tests/sip tests/ua tests/media tests/hardware tests/test_cli.py tests/test_config.py
       tests/test_config_hardware.py tests/test_constraints.py tests/test_systemd_unit.py
       tests/runtime/test_sdnotify.py tests/service/test_install.py
       tests/service/test_packaged_files.py)
# Pure arithmetic (half an hour of packets), 2 minutes under qemu: amd64 runs it.
DESELECT=(--deselect "tests/media/test_jitterbuffer.py::test_clock_drift_is_absorbed_over_half_an_hour")

if [ $INSIDE = 1 ]; then
  # Inside the root file system, in the project's copy, as root on a fresh Pi.
  trap report EXIT
  echo "=== [$SUITE/$ARCH] $(uname -m), $(. /etc/os-release && echo "$PRETTY_NAME"), $(python3 --version)"
  step "./setup.sh"
  ./setup.sh
  step "check-config examples/config.toml"
  install -d -m 0750 /etc/sip-endpoint
  [ -f /etc/sip-endpoint/password ] || (umask 027; echo "not-a-real-password" >/etc/sip-endpoint/password)
  .venv/bin/sip-endpoint check-config examples/config.toml
  step "demo"
  .venv/bin/sip-endpoint demo | tee /tmp/demo.out
  grep -q "door report: .* MOS" /tmp/demo.out && grep -q "flat report: .* MOS" /tmp/demo.out
  step "pytest (${#SLICE[@]} paths)"
  .venv/bin/python -bb -m pytest -p no:cacheprovider -q --durations=10 "${DESELECT[@]}" "${SLICE[@]}"
  step "device install (install-device.sh)"
  SKIP_APT=1 ./install-device.sh
  step "device: check the installation"
  dev=/opt/sip-endpoint/venv
  for tool in pytest mypy ruff pyVoIP hypothesis; do
    if "$dev/bin/python" -c "import $tool" 2>/dev/null; then
      echo "arm64-userland: $tool is in the device's venv" >&2; exit 1
    fi
  done
  "$dev/bin/python" -m pip list --format=freeze
  grep -q "^ExecStart=$dev/bin/sip-endpoint run --config /etc/sip-endpoint/config.toml$" \
    /etc/systemd/system/sip-endpoint.service
  systemd-analyze verify /etc/systemd/system/sip-endpoint.service
  [ -L /etc/systemd/system/multi-user.target.wants/sip-endpoint.service ]  # enabled
  id sip-endpoint
  chgrp sip-endpoint /etc/sip-endpoint/password
  "$dev/bin/sip-endpoint" check-config /etc/sip-endpoint/config.toml
  exit 0
fi

CACHE=${SIP_CI_CACHE:-/var/cache/sip-endpoint-ci}/userland
mkdir -p "$CACHE"

# -- host tools ---------------------------------------------------------------------------------
step "host tools (debootstrap, qemu)"
need=()
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v "qemu-$QEMU-static" >/dev/null || need+=(qemu-user-static)
command -v update-binfmts >/dev/null || need+=(binfmt-support)
command -v zstd >/dev/null || need+=(zstd)
if [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${need[@]}"
fi
[ -e /proc/sys/fs/binfmt_misc/register ] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
if ! grep -qx enabled "/proc/sys/fs/binfmt_misc/qemu-$QEMU" 2>/dev/null; then
  update-binfmts --enable "qemu-$QEMU"
fi
# The F flag makes the kernel open the emulator at registration: a chroot needs no copy of it.
grep -q '^flags:.*F' "/proc/sys/fs/binfmt_misc/qemu-$QEMU" || {
  echo "arm64-userland: qemu-$QEMU is registered without the F flag; reinstall qemu-user-static" >&2
  exit 1
}

# -- the mirror and the CA bundle of this host ---------------------------------------------------
host_mirror() {  # the first Debian (not security) URI of the host's apt sources
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk '/^URIs:/ {for (i = 2; i <= NF; i++) print $i}' "$f"
  done
  cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
    awk '$1 == "deb" {for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) {print $i; break}}' || true
}
MIRROR=${MIRROR:-$(host_mirror | grep -v -e security -e '^cdrom' | grep '/debian/\?$' | head -1 || true)}
[ -n "$MIRROR" ] || { echo "arm64-userland: no Debian mirror in the host's apt sources; set MIRROR=" >&2; exit 1; }
CA=${PIP_CERT:-/etc/ssl/certs/ca-certificates.crt}
[ -f "$CA" ] || { echo "arm64-userland: no CA bundle at $CA; set PIP_CERT=" >&2; exit 1; }

# -- the root file system, cached ---------------------------------------------------------------
# What a Pi needs to run ./setup.sh: its Python with venv and headers (PyAudio builds from
# source), and the Debian packages setup.sh itself would install (it finds them and skips apt).
# Not the browser of the web page's test (chromium): debootstrap fails configuring its desktop
# dependencies (dconf) under qemu, and that test runs on amd64 only anyway.
export SETUP_WITHOUT="chromium chromium-driver"
read -r -a SETUP_APT <<<"$(./setup.sh --print-apt-packages)"
PACKAGES=(python3 python3-venv python3-dev ca-certificates "${SETUP_APT[@]}")
RECIPE="v1 $SUITE $ARCH $MIRROR ${PACKAGES[*]}"
KEY=$(printf '%s' "$RECIPE" | sha256sum | cut -c1-16)
TARBALL="$CACHE/rootfs-$SUITE-$ARCH-$KEY.tar.zst"
ROOTFS=$(mktemp -d "/var/tmp/sip-endpoint-$SUITE-$ARCH.XXXXXX")
cleanup() {
  # Mounts live in a private mount namespace (unshare), gone with it; refuse anyway if any remain.
  if grep -q " $ROOTFS/" /proc/self/mounts; then
    echo "arm64-userland: mounts left under $ROOTFS, not removing it" >&2; return
  fi
  [ "${KEEP_ROOTFS:-0}" = 1 ] && { echo "arm64-userland: kept $ROOTFS"; return; }
  rm -rf --one-file-system "$ROOTFS"
}
trap 'report; cleanup' EXIT
trap 'exit 143' INT TERM

if [ -f "$TARBALL" ]; then
  step "rootfs: extract the cache"
  echo "$TARBALL"
  tar -C "$ROOTFS" --zstd -xpf "$TARBALL"
else
  step "rootfs: debootstrap $SUITE $ARCH from $MIRROR"
  include=$(IFS=,; echo "${PACKAGES[*]}")
  debootstrap --arch="$ARCH" --variant=minbase --include="$include" "$SUITE" "$ROOTFS" "$MIRROR" \
    >"$CACHE/debootstrap-$SUITE-$ARCH.log" 2>&1 || {
      tail -30 "$CACHE/debootstrap-$SUITE-$ARCH.log" "$ROOTFS/debootstrap/debootstrap.log" 2>/dev/null
      echo "arm64-userland: debootstrap failed (log: $CACHE/debootstrap-$SUITE-$ARCH.log)" >&2
      exit 1
    }
  rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/*_Packages
  step "rootfs: pack the cache"
  rm -f "$CACHE/rootfs-$SUITE-$ARCH-"*.tar.zst   # older recipes
  tar -C "$ROOTFS" --zstd -cpf "$TARBALL.tmp" . && mv "$TARBALL.tmp" "$TARBALL"
fi

# -- into the root file system -------------------------------------------------------------------
step "copy the checkout's tracked files"
PROJECT=/opt/sip-endpoint/src
mkdir -p "$ROOTFS$PROJECT" "$ROOTFS/usr/local/share/sip-endpoint-ci"
git -C "$SRC" ls-files -z | tar -C "$SRC" --null -T - -cf - | tar -C "$ROOTFS$PROJECT" -xf -
cp "$CA" "$ROOTFS/usr/local/share/sip-endpoint-ci/host-ca.crt"
cp -L /etc/resolv.conf "$ROOTFS/etc/resolv.conf"

step "inside"
# A private mount namespace: every mount below disappears with it, even if this script is killed.
# The environment is a fresh login's plus the host's CA bundle for pip (PIP_CERT); CI is not
# passed on, so hypothesis runs its local profile (the CI profile's 400 examples run on amd64).
unshare --mount --propagation private -- bash -euo pipefail -c '
  R=$1; shift
  mount -t proc proc "$R/proc"
  mount -t sysfs sys "$R/sys"
  mount --rbind /dev "$R/dev"
  mount -t tmpfs -o mode=1777 tmpfs "$R/tmp"
  mount -t tmpfs -o mode=755 tmpfs "$R/run"
  exec chroot "$R" "$@"
' - "$ROOTFS" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PIP_CERT=/usr/local/share/sip-endpoint-ci/host-ca.crt PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_DEFAULT_TIMEOUT=180 ${PIP_INDEX_URL:+PIP_INDEX_URL=$PIP_INDEX_URL} \
    SETUP_WITHOUT="$SETUP_WITHOUT" \
    bash -c "cd $PROJECT && exec .ci/arm64-userland.sh --inside --suite $SUITE"
exit
}
