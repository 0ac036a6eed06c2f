"""The door's lockouts on disk, so that a restart does not buy new tries (issue 13 rule 8).

systemd gives the unit a state directory (``StateDirectory=sip-endpoint``, passed to us as
``$STATE_DIRECTORY``). The file holds the wall-clock end of each lockout, written atomically
(temporary file, then rename) whenever a lockout starts or ends; a missing or broken file is an
empty one, since it must never keep the door from starting.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from collections.abc import Mapping
from pathlib import Path

log = logging.getLogger("endpoint.door")

FILE_NAME = "door-lockout.json"


def state_file(environ: Mapping[str, str] | None = None) -> Path | None:
    """Where lockouts are kept: the first ``$STATE_DIRECTORY`` entry, or None (not kept)."""
    env = os.environ if environ is None else environ
    directory = env.get("STATE_DIRECTORY", "").split(":")[0]
    return Path(directory) / FILE_NAME if directory else None


def load(path: Path, wall_now: float | None = None) -> dict[str, float]:
    """Seconds each saved lockout still runs (expired ones left out)."""
    now = time.time() if wall_now is None else wall_now
    try:
        saved = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(saved, dict):
        return {}
    return {
        str(key): float(until) - now
        for key, until in saved.items()
        if isinstance(until, int | float) and until > now
    }


def save(path: Path, lockouts: Mapping[str, float], wall_now: float | None = None) -> None:
    """Keep ``lockouts`` (seconds still to run) as wall-clock ends; a failure is logged."""
    now = time.time() if wall_now is None else wall_now
    data = json.dumps({key: now + seconds for key, seconds in lockouts.items()})
    tmp = path.with_suffix(".tmp")
    try:
        tmp.write_text(data)
        tmp.replace(path)
    except OSError as exc:
        log.warning("cannot keep the door lockout in %s: %s (a restart would end it)", path, exc)
        with contextlib.suppress(OSError):
            tmp.unlink()
