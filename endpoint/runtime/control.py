"""The local control socket: JSON lines over a Unix domain socket.

Home-automation scripts and the ``sip-endpoint ctl`` command talk to the running endpoint here.
One request per line (``{"cmd": "call", "uri": "sip:flat@pbx"}``), one JSON answer per line
(``{"ok": true, ...}`` or ``{"ok": false, "error": "..."}``). ``{"cmd": "events"}`` turns the
connection into a stream of event lines (registration, calls, DTMF) until the client leaves.

The socket is created with mode 0660 so that only the service user and its group (e.g. a
``sip-endpoint`` group an installer adds scripts to) may place calls or open the door. Slow event
readers never stall the endpoint: each has a bounded queue and loses its oldest events first.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

log = logging.getLogger("endpoint.runtime.control")

Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]

MAX_LINE = 4096
MAX_CLIENTS = 16
EVENT_QUEUE = 256


class EventHub:
    """Fans events out to every ``events`` subscriber through bounded queues."""

    def __init__(self) -> None:
        self._queues: set[asyncio.Queue[dict[str, Any]]] = set()
        self.dropped = 0

    def publish(self, event: dict[str, Any]) -> None:
        for queue in self._queues:
            if queue.full():
                queue.get_nowait()
                self.dropped += 1
            queue.put_nowait(event)

    @property
    def subscribers(self) -> int:
        return len(self._queues)

    def subscribe(self) -> asyncio.Queue[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(EVENT_QUEUE)
        self._queues.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[dict[str, Any]]) -> None:
        self._queues.discard(queue)


class ControlServer:
    def __init__(self, path: Path, handler: Handler, events: EventHub) -> None:
        self.path = path
        self.handler = handler
        self.events = events
        self._server: asyncio.Server | None = None
        self._clients = 0
        self._tasks: set[asyncio.Task[Any]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        """Create the socket; raises OSError with the path for the caller to report."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            if self.path.is_socket():
                self.path.unlink()  # a stale socket left by a crash
        old_umask = os.umask(0o117)  # 0660 from the moment it exists
        try:
            self._server = await asyncio.start_unix_server(
                self._client, path=str(self.path), limit=MAX_LINE
            )
        finally:
            os.umask(old_umask)
        os.chmod(self.path, 0o660)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.close()  # ends each client's read: its task finishes on its own
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=2)
        await asyncio.sleep(0)  # let the cancelled clients' transports finish closing
        if self._server is not None:
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
        with contextlib.suppress(OSError):  # gone already, or never made (a failed start)
            self.path.unlink()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._clients >= MAX_CLIENTS:
            await _send(writer, {"ok": False, "error": "too many control clients"})
            writer.close()
            return
        self._clients += 1
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        self._writers.add(writer)
        try:
            while True:
                try:
                    line = await reader.readline()
                except (ValueError, asyncio.LimitOverrunError):
                    await _send(writer, {"ok": False, "error": f"line longer than {MAX_LINE}"})
                    break
                if not line:
                    break
                request = _decode(line)
                if "error" in request:
                    await _send(writer, {"ok": False, "error": request["error"]})
                    continue
                if request.get("cmd") == "events":
                    await _send(writer, {"ok": True, "streaming": "events"})
                    await self._stream_events(reader, writer)
                    break
                try:
                    answer = await self.handler(request)
                except Exception:
                    log.exception("control command %r failed", request.get("cmd"))
                    answer = {"ok": False, "error": "internal error (see the log)"}
                await _send(writer, answer)
        except (ConnectionError, OSError):
            pass
        finally:
            self._clients -= 1
            if task is not None:
                self._tasks.discard(task)
            self._writers.discard(writer)
            writer.close()

    async def _stream_events(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        queue = self.events.subscribe()
        gone = asyncio.ensure_future(reader.read())  # EOF = the client left
        try:
            while not gone.done():
                getter = asyncio.ensure_future(queue.get())
                await asyncio.wait({getter, gone}, return_when=asyncio.FIRST_COMPLETED)
                if not getter.done():
                    getter.cancel()
                    break
                await _send(writer, getter.result())
        finally:
            gone.cancel()
            self.events.unsubscribe(queue)


def _decode(line: bytes) -> dict[str, Any]:
    try:
        request = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return {"error": "not a JSON line"}
    if not isinstance(request, dict) or not isinstance(request.get("cmd"), str):
        return {"error": 'expected an object like {"cmd": "status"}'}
    return request


async def _send(writer: asyncio.StreamWriter, payload: dict[str, Any]) -> None:
    writer.write(json.dumps(payload, separators=(",", ":")).encode() + b"\n")
    await writer.drain()
