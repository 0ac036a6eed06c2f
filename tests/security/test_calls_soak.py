"""Issue 13, "500 consecutive calls": a slice of 30 SIPp calls against the real process leaves
no file descriptor behind (RSS is printed, not asserted: benchmarks/bench_calls_soak.py runs
the 500 and prints the growth)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.interop.peers import sip_options_ping
from tests.security.attacker import Door
from tests.security.soak import settle_fds, sipp_calls, soak, steady, wait_calls_gone

pytestmark = pytest.mark.interop

CALLS = 30


def test_consecutive_calls_leave_no_file_descriptor(tmp_path: Path, p2p_door: Door) -> None:
    pid = p2p_door.service.proc.pid
    idle = steady(pid)
    # One call first: what the first call sets up for good (anything opened lazily) is not
    # a leak; the baseline is what the process holds, steady, after it.
    warm = sipp_calls(tmp_path / "warm", p2p_door.port, 1)
    assert (warm.code, warm.successful) == (0, 1), warm.output
    wait_calls_gone(p2p_door)
    before = steady(pid)
    run = soak(tmp_path / "soak", p2p_door.port, CALLS, first=20)
    assert (run.code, run.successful, run.failed) == (0, CALLS, 0), run.output
    wait_calls_gone(p2p_door)
    after = settle_fds(pid, before.fds)
    print(f"idle: {idle}; after 1 call: {before}; after {CALLS} more: {after}")
    assert after.fds == before.fds
    assert sip_options_ping(p2p_door.port, timeout=2).startswith("SIP/2.0 200")
    assert "Traceback" not in p2p_door.log
