"""sd_notify against a real Unix datagram socket owned by the test, as systemd would hold it."""

import os
import socket
from pathlib import Path

from endpoint.runtime.sdnotify import Notifier, WatchdogGate


def test_notify_sends_key_value_lines(tmp_path: Path) -> None:
    path = tmp_path / "notify"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(str(path))
        notifier = Notifier({"NOTIFY_SOCKET": str(path)})
        assert notifier.enabled
        assert notifier.notify(READY=1, STATUS="registered as door@example.com")
        assert server.recv(4096) == b"READY=1\nSTATUS=registered as door@example.com"
        notifier.close()


def test_abstract_namespace_socket() -> None:
    name = f"sip-endpoint-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind("\0" + name)
        notifier = Notifier({"NOTIFY_SOCKET": "@" + name})
        assert notifier.notify(WATCHDOG=1)
        assert server.recv(4096) == b"WATCHDOG=1"
        notifier.close()


def test_without_systemd_it_is_a_no_op() -> None:
    notifier = Notifier({})
    assert not notifier.enabled
    assert notifier.notify(READY=1) is False


def test_watchdog_interval_only_for_our_pid() -> None:
    assert Notifier({"WATCHDOG_USEC": "10000000"}).watchdog_usec == 10_000_000
    ours = Notifier({"WATCHDOG_USEC": "10000000", "WATCHDOG_PID": str(os.getpid())})
    assert ours.watchdog_usec == 10_000_000
    # Any pid but ours (in a container the test process may well be pid 1).
    not_ours = str(os.getpid() + 1)
    other = Notifier({"WATCHDOG_USEC": "10000000", "WATCHDOG_PID": not_ours})
    assert other.watchdog_usec is None


def test_gate_reports_the_loop_that_stopped_beating() -> None:
    now = [100.0]
    beats: dict[str, float | None] = {"sip": 99.5, "media": 99.9}
    gate = WatchdogGate(max_silence=2.0, clock=lambda: now[0])
    gate.watch("sip", lambda: beats["sip"])
    gate.watch("media", lambda: beats["media"])
    assert gate.stalled() == []
    now[0] = 103.0
    beats["sip"] = 102.9
    assert gate.stalled() == ["media"]
    beats["media"] = None
    assert gate.stalled() == ["media"]


def test_a_loop_that_answered_the_last_probe_runs_however_old_its_beat() -> None:
    """An idle loop beats only when asked (issue 19): silence alone is not a stall while it
    answers; an unanswered probe is."""
    now = [100.0]
    beat = [100.0]
    asked: list[float] = []

    def probe() -> None:
        asked.append(now[0])

    gate = WatchdogGate(max_silence=5.0, clock=lambda: now[0])
    gate.watch("SIP", lambda: beat[0], probe)
    gate.probe()
    beat[0] = 100.01  # the loop ran the probe's callback
    now[0] = 160.0  # a minute without traffic
    assert gate.stalled() == []
    gate.probe()
    now[0] = 165.0  # asked at 160 and not answered by the next look: stalled
    assert gate.stalled() == ["SIP"]
    beat[0] = 165.0
    assert gate.stalled() == []
    assert asked == [100.0, 160.0]
