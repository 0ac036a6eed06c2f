#!/usr/bin/env bash
# The PJSIP interop peer's own venv (.peers/pjsua-venv): PyPI's pjsua2-python wheels exist for
# CPython 3.11 on x86_64 Linux only, while the tests may run under 3.13, so the peer
# (tests/interop/pjsua_peer.py) runs as a separate process with this venv's Python.
# Environment: PJSUA_PYTHON (a Python 3.11; default: python3.11 on PATH, else pyenv's 3.11.x).
# Where no such Python or wheel exists (a Raspberry Pi) it says so and exits 0: the tests that
# need the peer skip there, and fail in CI (CI=true).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
PJSUA_VERSION=2.15.1.post1
VENV=.peers/pjsua-venv
if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c 'import pjsua2' 2>/dev/null; then
  echo "setup: PJSIP peer ready in $VENV"; exit 0
fi
py=${PJSUA_PYTHON:-}
if [ -z "$py" ]; then
  py=$(command -v python3.11 2>/dev/null || true)
  if ! { [ -n "$py" ] && "$py" -c 'import sys; assert sys.version_info[:2] == (3, 11)' 2>/dev/null; }; then
    py=""
    if command -v pyenv >/dev/null 2>&1; then
      v=$(pyenv versions --bare | grep -E '^3\.11(\.[0-9]+)?$' | sort -V | tail -1 || true)
      [ -n "$v" ] && py="$(pyenv root)/versions/$v/bin/python3.11"
    fi
  fi
fi
if [ -z "$py" ] || [ "$(uname -m)" != x86_64 ]; then
  echo "setup: no PJSIP interop peer (needs Python 3.11 on x86_64 for pjsua2-python; set PJSUA_PYTHON)" >&2
  exit 0
fi
rm -rf "$VENV"
"$py" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q "pjsua2-python==$PJSUA_VERSION"
"$VENV/bin/python" -c 'import pjsua2' && echo "setup: PJSIP peer ready in $VENV"
