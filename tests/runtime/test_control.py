"""The control socket: JSON lines over a real Unix socket, and the ``ctl`` command line."""

import asyncio
import json
import stat
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from endpoint.cli import main
from endpoint.runtime.control import ControlServer, EventHub


async def echo_handler(request: dict[str, Any]) -> dict[str, Any]:
    if request["cmd"] == "status":
        return {"ok": True, "registration": "registered", "calls": 0}
    if request["cmd"] == "boom":
        raise RuntimeError("bug")
    return {"ok": False, "error": f"unknown command {request['cmd']!r}"}


async def talk(path: Path, *lines: bytes) -> list[dict[str, Any]]:
    reader, writer = await asyncio.open_unix_connection(str(path))
    out = []
    for line in lines:
        writer.write(line)
        out.append(json.loads(await asyncio.wait_for(reader.readline(), 5)))
    writer.close()
    await writer.wait_closed()
    return out


async def test_commands_and_errors(tmp_path: Path) -> None:
    path = tmp_path / "ctl.sock"
    server = ControlServer(path, echo_handler, EventHub())
    await server.start()
    assert stat.S_IMODE(path.stat().st_mode) == 0o660
    answers = await talk(
        path,
        b'{"cmd":"status"}\n',
        b"not json\n",
        b'["cmd"]\n',
        b'{"cmd":"boom"}\n',
        b'{"cmd":"fly"}\n',
    )
    assert answers[0] == {"ok": True, "registration": "registered", "calls": 0}
    assert answers[1] == {"ok": False, "error": "not a JSON line"}
    assert answers[2]["ok"] is False and "cmd" in answers[2]["error"]
    assert answers[3] == {"ok": False, "error": "internal error (see the log)"}
    assert answers[4] == {"ok": False, "error": "unknown command 'fly'"}
    await server.close()
    assert not path.exists()


async def test_events_stream_and_bounded_queue(tmp_path: Path) -> None:
    path = tmp_path / "ctl.sock"
    hub = EventHub()
    server = ControlServer(path, echo_handler, hub)
    await server.start()
    reader, writer = await asyncio.open_unix_connection(str(path))
    writer.write(b'{"cmd":"events"}\n')
    assert json.loads(await reader.readline()) == {"ok": True, "streaming": "events"}
    hub.publish({"event": "registered", "aor": "door@example.com"})
    hub.publish({"event": "dtmf", "digit": "5"})
    first = json.loads(await asyncio.wait_for(reader.readline(), 5))
    second = json.loads(await asyncio.wait_for(reader.readline(), 5))
    assert [first["event"], second["event"]] == ["registered", "dtmf"]
    writer.close()
    await writer.wait_closed()
    async with asyncio.timeout(5):  # the server notices the reader left and unsubscribes it
        while hub.subscribers:
            await asyncio.sleep(0.01)
    queue = hub.subscribe()  # a reader that never reads loses the oldest events
    for i in range(300):
        hub.publish({"n": i})
    assert queue.qsize() == 256 and queue.get_nowait() == {"n": 44} and hub.dropped == 44
    await server.close()


def test_ctl_without_endpoint_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ctl", "--socket", str(tmp_path / "none.sock"), "status"]) == 1
    assert "is the endpoint running?" in capsys.readouterr().err


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "ctl.sock"
    loop = asyncio.new_event_loop()
    server = ControlServer(path, echo_handler, EventHub())
    loop.run_until_complete(server.start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield path
    asyncio.run_coroutine_threadsafe(server.close(), loop).result(5)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()


def test_ctl_status(served: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ctl", "--socket", str(served), "status"]) == 0
    assert capsys.readouterr().out == "registration: registered\ncalls: 0\n"
    assert main(["ctl", "--socket", str(served), "status", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["registration"] == "registered"
    assert main(["ctl", "--socket", str(served), "hangup"]) == 1
    assert "unknown command 'hangup'" in capsys.readouterr().err
