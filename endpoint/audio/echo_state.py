"""The echo path's delay as ``sip-endpoint doctor --audio`` measured it, kept for the service.

The delay depends on the box (sound card buffers, the speaker's distance to the microphone),
not on the configuration, so the installer should not have to copy a number from the doctor's
report into the file. The doctor writes it into the service's state directory, next to the
door's lockouts (``StateDirectory=sip-endpoint``: ``$STATE_DIRECTORY`` in the service, the
same ``/var/lib/sip-endpoint`` when the doctor runs from a shell), and every call's echo
canceller takes it when ``[audio] echo_delay_ms`` is not set: a configured value always wins.
A missing or broken file means "not measured" (delay 0), never an error at call start.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

FILE_NAME = "echo-delay.json"
#: The unit's ``StateDirectory=sip-endpoint``, for a doctor run outside the service.
DEFAULT_STATE_DIRECTORY = Path("/var/lib/sip-endpoint")
#: The range ``[audio] echo_delay_ms`` accepts; a stored value outside it is ignored.
MAX_DELAY_MS = 1000


@dataclass(frozen=True, slots=True)
class MeasuredDelay:
    """What the doctor stored: the canceller's delay and when it was measured (UTC)."""

    delay_ms: int
    measured_at: datetime.datetime

    def describe(self) -> str:
        when = self.measured_at.strftime("%Y-%m-%d %H:%M UTC")
        return f"echo delay {self.delay_ms} ms, measured by doctor --audio at {when}"


def state_file(environ: Mapping[str, str] | None = None, *, default: bool = False) -> Path | None:
    """The file in ``$STATE_DIRECTORY`` (its first entry); without it the unit's default
    directory when ``default`` (the doctor), else None (a process outside the service)."""
    env = os.environ if environ is None else environ
    directory = env.get("STATE_DIRECTORY", "").split(":")[0]
    if directory:
        return Path(directory) / FILE_NAME
    return DEFAULT_STATE_DIRECTORY / FILE_NAME if default else None


def save(path: Path, delay_ms: int, now: datetime.datetime) -> None:
    """Keep ``delay_ms`` (atomically: temporary file, then rename). Raises OSError."""
    data = json.dumps({"delay_ms": delay_ms, "measured_at": now.isoformat()})
    tmp = path.with_suffix(".tmp")
    try:
        tmp.write_text(data)
        tmp.replace(path)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


def load(path: Path | None) -> MeasuredDelay | None:
    """The stored measurement, or None when there is none we can trust."""
    if path is None:
        return None
    try:
        saved = json.loads(path.read_text())
        delay, when = saved["delay_ms"], saved["measured_at"]
        measured_at = datetime.datetime.fromisoformat(when)
    except (OSError, ValueError, TypeError, KeyError):
        return None
    if not isinstance(delay, int) or isinstance(delay, bool) or not 0 <= delay <= MAX_DELAY_MS:
        return None
    return MeasuredDelay(delay, measured_at)
