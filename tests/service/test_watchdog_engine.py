"""The watchdog against the real Engine in this process: a wedged media thread stops the pings.

An idle box has no media thread (issue 19: it starts with the first call), and pings all the
same; a call (here ``ctl call`` to a port where nobody answers) starts it.

SIGSTOP cannot freeze one thread of a process, so the test wedges the media thread from the
inside, the way a stuck ALSA read would: a command queued onto the MediaLoop blocks on an event
the test holds. The SIP side keeps answering and notifying meanwhile; only WATCHDOG=1 stops.
"""

import asyncio
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from endpoint.config import load_config
from endpoint.runtime.engine import Engine
from tests.interop.peers import free_port, sip_options_ping
from tests.service.harness import NotifySocket


@pytest.fixture
def notify(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[NotifySocket]:
    sock = NotifySocket(tmp_path / "notify")
    monkeypatch.setenv("NOTIFY_SOCKET", str(sock.path))
    monkeypatch.setenv("WATCHDOG_USEC", "1000000")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    yield sock
    sock.close()


async def wait_until(check: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition never became true"
        await asyncio.sleep(0.02)


async def test_a_wedged_media_thread_stops_the_pings(
    tmp_path: Path, notify: NotifySocket, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    port = free_port(both=True)
    path = tmp_path / "door.toml"
    path.write_text(
        f'[sip]\nlisten = "127.0.0.1:{port}"\n[audio]\nbackend = "null"\n'
        f'[control]\nsocket = "{tmp_path / "ctl.sock"}"\n'
    )
    engine = Engine(load_config(path), config_path=path)
    await engine.start()
    release = threading.Event()
    try:
        assert engine.media is None and engine.supervisor.pinger is not None
        idle = await asyncio.to_thread(notify.collect, 1.3)
        assert sum("WATCHDOG" in d for d in idle) >= 2  # no media thread yet: alive

        placed = await engine.command({"cmd": "call", "uri": f"sip:flat@127.0.0.1:{free_port()}"})
        assert placed["ok"] and engine.media is not None, placed
        healthy = await asyncio.to_thread(notify.collect, 1.3)
        assert sum("WATCHDOG" in d for d in healthy) >= 2

        engine.media.submit(lambda: release.wait(20))  # the media thread is stuck
        await wait_until(lambda: "the media loop has not run for" in caplog.text)
        (line,) = [r for r in caplog.records if "has not run for" in r.getMessage()]
        assert line.levelno == logging.ERROR and "SIP loop" not in line.getMessage()
        await asyncio.to_thread(notify.collect, 0.1)  # what was sent before the error line
        mark = len(notify.received)
        answer = await asyncio.to_thread(sip_options_ping, port, timeout=5)
        assert answer.startswith("SIP/2.0 200 OK")  # the SIP loop still serves
        engine.supervisor.reload()  # systemctl reload: RELOADING=1, READY=1, STATUS=
        wedged = await asyncio.to_thread(notify.collect, 1.5)
        assert any(d.get("RELOADING") == "1" for d in wedged)
        assert any(d.get("READY") == "1" and "STATUS" in d for d in wedged)
        assert not any("WATCHDOG" in d for d in notify.received[mark:])

        release.set()
        await wait_until(lambda: "runs again; pings resume" in caplog.text)
        resumed = await asyncio.to_thread(notify.collect, 1.2)
        assert sum("WATCHDOG" in d for d in resumed) >= 1
    finally:
        release.set()
        await engine.close()
