#!/usr/bin/env bash
# Sets up a development/test machine (Debian 12 / Raspberry Pi OS bookworm or trixie):
#   1. the Debian packages the endpoint and its tests need (when run as root or with sudo),
#   2. a virtual environment with the endpoint and its test tools.
#   ./setup.sh --print-apt-packages  prints the Debian packages of step 1 and exits (CI images).
# Environment: PYTHON (interpreter, >= 3.11; default: the first python3.13/3.11/python3 found),
#              VENV (default .venv), SKIP_APT=1 (do not touch Debian packages),
#              SETUP_WITHOUT="pkg ..." (Debian packages to leave out, see below).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

# portaudio19-dev: PyAudio has no Linux wheels and builds against it.
# libasound2-plugins + pulseaudio: the ALSA 'pulse' device that paces like a real sound card in tests.
# kamailio, sip-tester (SIPp), baresip-core, sipsak, tshark: the real peers of the interop tests.
# systemd, procps: systemd-analyze verify of the unit file (procps has the ExecReload= /bin/kill).
# sipvicious: svmap/svwar/svcrack, the scanners tests/security attacks the door with.
# mosquitto: the MQTT broker the building-integration tests start (tests/integration/broker.py).
# chromium, chromium-driver: the headless browser the web page's tests drive through Selenium.
# libspeexdsp1: the speex audio engine (cffi, ABI mode).
# espeak-ng: synthesised speech for bench_echo.py and the in-band DTMF talk-off tests.
# dnsmasq-base: the loopback DNS server (NAPTR/SRV) of the RFC 3263 failover tests.
# coturn: turnserver --stun-only, the STUN server of the [nat] tests (tests/interop/stun_server.py).
# nftables: the masquerading router namespace of the real-NAT test (tests/interop/natlab.py).
APT_PACKAGES=(build-essential portaudio19-dev libasound2-plugins alsa-utils pulseaudio
              kamailio kamailio-tls-modules sip-tester baresip-core sipsak tshark systemd procps
              sipvicious libspeexdsp1 espeak-ng mosquitto chromium chromium-driver dnsmasq-base
              coturn nftables)
# SETUP_WITHOUT="pkg ...": packages to leave out. The arm64 CI leaves out the browser
# (debootstrap cannot configure its desktop dependencies under qemu; the page's browser test
# runs on amd64); the tests that need a package left out skip and say why.
if [ -n "${SETUP_WITHOUT:-}" ]; then
  kept=()
  for p in "${APT_PACKAGES[@]}"; do
    case " $SETUP_WITHOUT " in *" $p "*) ;; *) kept+=("$p") ;; esac
  done
  APT_PACKAGES=("${kept[@]}")
fi
if [ "${1:-}" = --print-apt-packages ]; then echo "${APT_PACKAGES[*]}"; exit 0; fi

if [ "${SKIP_APT:-0}" != 1 ] && command -v apt-get >/dev/null 2>&1; then
  missing=()
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    echo "setup: installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -q
    $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
  fi
fi

new_enough() { "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; }
if [ -z "${PYTHON:-}" ]; then
  # A candidate must really run: a pyenv shim exists even when its version is not selected.
  for c in python3.13 python3.12 python3.11 python3; do
    p=$(command -v "$c" 2>/dev/null) || continue
    if new_enough "$p"; then PYTHON=$p; break; fi
  done
fi
if [ -z "${PYTHON:-}" ] || ! new_enough "$PYTHON"; then
  echo "setup: no Python 3.11 or newer found (tried ${PYTHON:-python3.13, python3.12, python3.11, python3});" \
       "install python3 (>= 3.11) or set PYTHON=/path/to/python3.11" >&2
  exit 1
fi
VENV=${VENV:-.venv}
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q -e '.[dev,bench]'
echo "setup: ready: $("$VENV/bin/python" --version) in $VENV"
# The PJSIP interop peer runs under its own Python 3.11 venv (.peers/pjsua-venv).
tests/interop/setup_pjsua_venv.sh
