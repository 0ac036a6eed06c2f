#!/usr/bin/env bash
# The production install of a device (Raspberry Pi OS bookworm or trixie): a virtual environment
# that holds the endpoint's wheel and its runtime dependencies at the versions of
# constraints.txt, and no test tools; then `sip-endpoint install` (the systemd service).
#
#   sudo ./install-device.sh [--wheel FILE] [--prefix DIR] [-- INSTALL-ARGS...]
#
#   --wheel FILE   install this wheel (default: build one from this checkout)
#   --prefix DIR   the virtual environment (default /opt/sip-endpoint/venv, where the unit
#                  template points; not under /home or /root: the unit has ProtectHome=yes)
#   -- ARGS        passed to `sip-endpoint install` (e.g. -- --now, or -- --root DIR to stage)
#
# Environment: PYTHON (default python3), SKIP_APT=1 (do not install the Debian packages:
# python3-venv and, to build PyAudio, build-essential, python3-dev and portaudio19-dev).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PREFIX=/opt/sip-endpoint/venv
WHEEL=""
INSTALL_ARGS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --wheel) WHEEL=$(realpath "$2"); shift 2 ;;
    --prefix) PREFIX=$2; shift 2 ;;
    --) shift; INSTALL_ARGS=("$@"); break ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "install-device: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
PYTHON=${PYTHON:-python3}
CONSTRAINTS=$HERE/constraints.txt
[ -f "$CONSTRAINTS" ] || { echo "install-device: $CONSTRAINTS missing" >&2; exit 1; }

APT_PACKAGES=(python3-venv python3-dev build-essential portaudio19-dev)
if [ "${SKIP_APT:-0}" != 1 ] && command -v apt-get >/dev/null 2>&1; then
  missing=()
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    [ "$(id -u)" = 0 ] || { echo "install-device: run it with sudo (apt: ${missing[*]})" >&2; exit 1; }
    echo "install-device: installing Debian packages: ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
  fi
fi

[ -x "$PREFIX/bin/python" ] || "$PYTHON" -m venv "$PREFIX"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ -z "$WHEEL" ]; then
  echo "install-device: building the wheel from $HERE"
  # pip builds in an isolated environment of its own: setuptools stays out of the venv.
  "$PREFIX/bin/python" -m pip wheel -q --no-deps -w "$work" "$HERE"
  WHEEL=$(ls "$work"/sip_endpoint-*.whl)
fi
[ -f "$WHEEL" ] || { echo "install-device: no wheel at $WHEEL" >&2; exit 1; }

echo "install-device: $WHEEL into $PREFIX"
"$PREFIX/bin/python" -m pip install -q --constraint "$CONSTRAINTS" "$WHEEL"
# Again, alone: a wheel rebuilt from a newer checkout keeps the version number pip compares.
"$PREFIX/bin/python" -m pip install -q --no-deps --force-reinstall "$WHEEL"
"$PREFIX/bin/python" -m pip check
# pip compiled the .pyc files; the code dataclasses generate is compiled now too, as root, since
# the service may not write into the venv (endpoint/dataclass_cache.py).
"$PREFIX/bin/python" -c 'from endpoint import dataclass_cache; dataclass_cache.build()'

# The lock holds: everything installed (pip's own tools aside) is pinned in constraints.txt.
"$PREFIX/bin/python" - "$CONSTRAINTS" <<'PY'
import re
import sys
from importlib.metadata import distributions

def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()

pins = {}
for line in open(sys.argv[1]):
    line = line.split("#", 1)[0].strip()
    if line:
        name, version = line.split(";", 1)[0].split("==")
        pins[norm(name)] = version.strip()
bad = []
for dist in distributions():
    name = norm(dist.metadata["Name"])
    if name in ("pip", "sip-endpoint"):
        continue
    if pins.get(name) != dist.version:
        bad.append(f"{name}=={dist.version} (constraints.txt: {pins.get(name, 'not pinned')})")
if bad:
    sys.exit("install-device: not as locked: " + ", ".join(sorted(bad)))
PY
echo "install-device: $("$PREFIX/bin/sip-endpoint" --version) ready in $PREFIX"
"$PREFIX/bin/sip-endpoint" install --prefix "$PREFIX" "${INSTALL_ARGS[@]}"
