"""Pure bookkeeping for device recovery: once-per-burst xrun reporting.

It takes `now` as an argument (seconds, monotonic) so it is tested with a fake clock; the
device supervisor thread passes the real clock.
"""

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class XrunReport:
    """A log line's worth of xrun news: a burst started, or a burst ended with its total."""

    started: bool
    count: int
    duration: float


class XrunBursts:
    """Turns a growing xrun counter into one report when a burst starts and one when it ends.

    An overloaded Pi can xrun fifty times a second; logging each would itself cause more xruns.
    A burst ends when no new xrun was seen for `quiet` seconds.
    """

    __slots__ = ("_burst_count", "_burst_start", "_last_change", "_quiet", "_seen")

    def __init__(self, quiet: float = 2.0) -> None:
        self._quiet = quiet
        self._seen = 0
        self._burst_start: float | None = None
        self._burst_count = 0
        self._last_change = 0.0

    def update(self, total: int, now: float) -> XrunReport | None:
        """Feed the device's xrun total; returns a report at a burst's start and at its end."""
        new = total - self._seen
        self._seen = total
        if new > 0:
            self._last_change = now
            if self._burst_start is None:
                self._burst_start = now
                self._burst_count = new
                return XrunReport(started=True, count=new, duration=0.0)
            self._burst_count += new
            return None
        if self._burst_start is not None and now - self._last_change >= self._quiet:
            report = XrunReport(
                started=False,
                count=self._burst_count,
                duration=self._last_change - self._burst_start,
            )
            self._burst_start = None
            self._burst_count = 0
            return report
        return None
