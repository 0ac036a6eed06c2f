"""At most one log line per interval for each kind of network noise (issue 13 rule 7).

A scanner sends one datagram after another; one log line each wrote 100,000 lines in 20 s and
pushed everything useful out of the journal. Each kind of line (malformed SIP, a refused TCP
connection...) is written at most once per ``interval``; the next one says how many were held
back in between, so the count is never lost.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class LogLimiter:
    def __init__(self, interval: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self._clock = clock
        self._last: dict[str, float] = {}
        self._held: dict[str, int] = {}

    def allow(self, kind: str) -> int | None:
        """None: do not log this one. Otherwise log it, with this many held back before it."""
        now = self._clock()
        last = self._last.get(kind)
        if last is not None and now - last < self.interval:
            self._held[kind] = self._held.get(kind, 0) + 1
            return None
        self._last[kind] = now
        return self._held.pop(kind, 0)
