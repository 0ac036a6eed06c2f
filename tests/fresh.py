"""A fresh interpreter on this checkout: what a test needs to see what a module loads or maps
when nothing else in the test process has imported anything yet."""

import os
import subprocess
import sys
from pathlib import Path

#: The checkout's root: the fresh interpreter imports ``endpoint`` from here.
ROOT = Path(__file__).resolve().parents[1]


def run_python(script: str, *args: str) -> str:
    """Run ``script`` (``python -c``) with ``args`` in a new process; its stdout. Fails the test
    (CalledProcessError, with the child's stderr) when the script fails."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", script, *args], capture_output=True, text=True, env=env, check=True
    )
    return out.stdout
