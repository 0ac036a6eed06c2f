"""Real-time scheduling for the media thread only.

On a loaded two-core Pi, an ordinary thread wakes up to 4 ms late at the 99th percentile; a
SCHED_FIFO thread ~0.06 ms. Only the media thread asks for it: the SIP loop, logging and the
rest stay ordinary so a bug there cannot starve the machine. The systemd unit grants the right
with ``LimitRTPRIO=``; without it we say so once, with the fix, and carry on.
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass

log = logging.getLogger("endpoint.runtime.realtime")

#: The GIL switch interval while the media thread runs (CPython's default is 5 ms).
MEDIA_SWITCH_INTERVAL_S = 0.0001
"""A woken media thread must take the GIL from the SIP loop before it can send its packet,
and a busy thread gives the GIL up only when the switch interval has passed: with the default
5 ms, an OPTIONS flood keeping the SIP loop busy delayed packets by up to 5 ms plus the time
the loop's current bytecode takes (bench_flood.py). 0.5 ms cut that to a tenth, but the
media thread still waited the whole interval under a flood (probe lateness p99 ≈ 0.5-0.65 ms
in bench_sip_loop_hold.py: releasing the GIL between datagrams, time.sleep(0), did not hand it
over, the releasing thread takes it back first); 0.1 ms brings the p99 to ≈ 0.2-0.45 ms. The
cost is more GIL hand-overs, and only while two threads both want it: the media thread asks
a few times per 20 ms packet, so the SIP loop loses a handful of switches per packet."""


@dataclass(frozen=True, slots=True)
class Priority:
    """Whether the media thread got a real-time priority, and why not, for the log."""

    realtime: bool
    detail: str


def make_current_thread_realtime(priority: int = 20) -> Priority:
    """Raise the calling thread to SCHED_FIFO (Linux applies pid 0 to the calling thread)."""
    if not hasattr(os, "sched_setscheduler"):
        return Priority(False, "this platform has no sched_setscheduler")
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
    except PermissionError:
        detail = (
            "real-time priority not permitted: media timing may suffer under load "
            "(grant it with LimitRTPRIO=20 in the systemd unit, or CAP_SYS_NICE)"
        )
        log.warning("media thread: %s", detail)
        return Priority(False, detail)
    except OSError as exc:
        log.warning("media thread: cannot use SCHED_FIFO: %s", exc)
        return Priority(False, str(exc))
    log.info("media thread: SCHED_FIFO priority %d", priority)
    return Priority(True, f"SCHED_FIFO priority {priority}")


def favour_media_thread(interval: float = MEDIA_SWITCH_INTERVAL_S) -> float:
    """Shorten the GIL switch interval (process-wide); returns the previous one to restore."""
    previous = sys.getswitchinterval()
    if interval < previous:
        sys.setswitchinterval(interval)
        log.debug("GIL switch interval %.2f ms (was %.2f ms)", interval * 1e3, previous * 1e3)
    return previous
