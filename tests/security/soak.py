"""Consecutive calls from SIPp against the real ``sip-endpoint run``, and what the process holds.

Shared by tests/security/test_calls_soak.py (a slice: fds back to the baseline exactly) and
benchmarks/bench_calls_soak.py (500 calls: RSS and fds printed every 100). SIPp places the
calls one at a time (``-l 1``): INVITE with a PCMU offer, ACK, its tone as RTP for ``talk_ms``,
BYE. The door is in peer-to-peer mode with auto-answer and the null audio device, so every
call is answered at once and the only work is SIP, RTP and the media thread's life cycle.
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tests.interop.peers import LOOPBACK, PEERS, free_port, free_port_range, require
from tests.security.attacker import Door


@dataclass(frozen=True, slots=True)
class Holdings:
    """What the process holds, from /proc."""

    rss_kb: int
    fds: int

    def __str__(self) -> str:
        return f"RSS {self.rss_kb / 1024:.1f} MB, {self.fds} open fds"


def holdings(pid: int) -> Holdings:
    rss = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1])
    return Holdings(rss, len(os.listdir(f"/proc/{pid}/fd")))


@dataclass(frozen=True, slots=True)
class SippRun:
    code: int
    successful: int
    failed: int
    output: str


#: Calls per SIPp run, each run from its own loopback address: every call leaves its BYE's
#: server transaction held 32 s (Timer J), and one source may hold 64 (issue 13 rule 9), so
#: more than ~30 quick calls from one address are refused 503 by design.
BATCH = 20


def sipp_calls(
    workdir: Path, door_port: int, calls: int, talk_ms: int = 200, source: str = LOOPBACK
) -> SippRun:
    """``calls`` calls, one after the other, from SIPp's uac_pcmu.xml on ``source``."""
    workdir.mkdir(parents=True, exist_ok=True)
    for tone in PEERS.glob("*.pcmu"):
        target = workdir / tone.name
        if not target.exists():
            target.symlink_to(tone)
    stats = workdir / "stats.csv"
    stats.unlink(missing_ok=True)
    cmd = [
        require("sipp"),
        f"{LOOPBACK}:{door_port}",
        "-sf",
        str(PEERS / "uac_pcmu.xml"),
        "-s",
        "door",
        "-key",
        "from_user",
        "soak",
        "-i",
        source,
        "-p",
        str(free_port(both=True)),
        "-mi",
        source,
        "-mp",
        str(free_port_range(4)[0]),
        "-d",
        str(talk_ms),
        "-m",
        str(calls),
        "-l",
        "1",
        "-r",
        "20",
        "-nostdin",
        "-trace_err",
        "-error_file",
        str(workdir / "errors.log"),
        "-trace_stat",
        "-stf",
        str(stats),
        "-fd",
        "3600",
    ]
    timeout = 60 + calls * (talk_ms / 1000 + 2)
    done = subprocess.run(
        cmd, cwd=workdir, capture_output=True, text=True, timeout=timeout, check=False
    )
    successful = failed = -1
    if stats.exists():
        rows = stats.read_text().splitlines()
        if len(rows) >= 2:
            names = rows[0].split(";")
            values = rows[-1].split(";")
            table = dict(zip(names, values, strict=False))
            successful = int(table.get("SuccessfulCall(C)", "-1") or -1)
            failed = int(table.get("FailedCall(C)", "-1") or -1)
    return SippRun(done.returncode, successful, failed, done.stdout[-2000:] + done.stderr[-2000:])


def soak(workdir: Path, door_port: int, calls: int, first: int, talk_ms: int = 200) -> SippRun:
    """``calls`` calls in runs of ``BATCH``, the n-th run from 127.0.0.(``first`` + n)."""
    code = ok = failed = 0
    output = ""
    for n, start in enumerate(range(0, calls, BATCH)):
        source = f"127.0.0.{first + n}"
        run = sipp_calls(
            workdir / f"{source}", door_port, min(BATCH, calls - start), talk_ms, source
        )
        code = code or run.code
        ok += max(run.successful, 0)
        failed += max(run.failed, 0)
        if run.code != 0:
            output += run.output
    return SippRun(code, ok, failed, output)


def wait_calls_gone(door: Door, timeout: float = 10.0) -> None:
    """Until ``ctl status`` lists no call that has not ended (bounded)."""

    def idle() -> bool:
        calls = door.status().get("calls")
        assert isinstance(calls, list)
        return all(c.get("state") == "ended" for c in calls)

    door.wait_until(idle, timeout)


def steady(pid: int, timeout: float = 5.0) -> Holdings:
    """The holdings once the fd count reads the same twice 0.5 s apart (bounded by ``timeout``).

    The service opens a few things of its own a moment after start (the watchdog's notify
    socket on its first ping), so a baseline is taken once nothing changes any more.
    """
    deadline = time.monotonic() + timeout
    last = holdings(pid)
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = holdings(pid)
        if now.fds == last.fds:
            return now
        last = now
    return last


def settle_fds(pid: int, baseline: int, timeout: float = 5.0) -> Holdings:
    """The process's holdings once its fds are back to ``baseline`` or ``timeout`` passed.

    A call's RTP socket is closed by the media thread after the BYE is answered, so the count
    is read until it settles rather than once.
    """
    deadline = time.monotonic() + timeout
    now = holdings(pid)
    while now.fds != baseline and time.monotonic() < deadline:
        time.sleep(0.05)
        now = holdings(pid)
    return now
