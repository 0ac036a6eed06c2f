"""The HTTP API and its page, on the engine's asyncio loop (standard library only).

Why no framework: the API is a handful of routes, one request per connection, JSON in and out,
plus one server-sent-event stream; an HTTP/1.1 subset this small is easier to cap and audit
(DESIGN "the network is hostile") than a dependency is to pin on two Pythons and aarch64.

Every ``/api/`` route needs ``Authorization: Bearer <token>`` (``[http] token_file``), compared
in constant time. A source that sends 5 wrong tokens within a minute gets 429 for a minute
without its token even being looked at, so the token cannot be guessed at wire speed. The page
(``/``) is static and holds no data: it asks for the token and calls the API like any client.
Everything the peer can grow is capped: head size, header count, body size, read time,
connections. With ``[tls] cert_file``/``key_file`` the server speaks HTTPS only.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time

# hmac's own compare_digest (hmac.py re-exports this one when OpenSSL is absent): importing
# hmac loads _hashlib and with it libcrypto, megabytes for one comparison (issue 19).
from _operator import _compare_digest as compare_digest
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

if TYPE_CHECKING:
    import ssl  # only the type: a door without [tls] files serves plain HTTP without OpenSSL

from endpoint.config import HostPort
from endpoint.integration.events import EventSource
from endpoint.logs import escape

log = logging.getLogger("endpoint.http")

MAX_HEAD = 8192
MAX_HEADERS = 50
MAX_BODY = 16384
READ_TIMEOUT = 10.0
MAX_CONNECTIONS = 32
#: Wrong tokens a source may send per ``FAIL_WINDOW`` seconds before it gets 429.
MAX_FAILURES = 5
FAIL_WINDOW = 60.0
#: Sources whose failures are remembered (the oldest is forgotten first).
MAX_TRACKED = 1024
#: Seconds between SSE keep-alive comments (proxies close idle streams).
SSE_KEEPALIVE = 15.0

Command = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
#: ``POST /api/<action>`` -> the control command it runs (the same table as ``ctl``).
ACTIONS = {"call": "call", "hangup": "hangup", "answer": "answer", "open-door": "open-door"}


class HttpError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class Request:
    """One parsed HTTP request, checked before any handler sees it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    source: str


@dataclass(frozen=True, slots=True)
class Routes:
    """What the server serves, given by the integration (no engine internals here)."""

    command: Command
    history: Callable[[Mapping[str, Any]], Awaitable[dict[str, Any]]]
    config: Callable[[], dict[str, Any]]
    page: bytes


class FailureLimiter:
    """Wrong tokens per source address, in a sliding window (bounded memory)."""

    def __init__(self) -> None:
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def blocked(self, source: str, now: float) -> bool:
        times = self._failures.get(source)
        if times is None:
            return False
        while times and times[0] <= now - FAIL_WINDOW:
            times.popleft()
        return len(times) >= MAX_FAILURES

    def failed(self, source: str, now: float) -> None:
        times = self._failures.pop(source, None) or deque(maxlen=MAX_FAILURES)
        times.append(now)
        self._failures[source] = times
        while len(self._failures) > MAX_TRACKED:
            self._failures.popitem(last=False)


class HttpApi:
    def __init__(
        self,
        listen: HostPort,
        token: str,
        routes: Routes,
        events: EventSource,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.listen = listen
        self._token = token.encode()
        self.routes = routes
        self.events = events
        self.tls = tls
        self.limiter = FailureLimiter()
        self.port = listen.port
        self._server: asyncio.Server | None = None
        self._connections = 0
        self._tasks: set[asyncio.Task[Any]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self.refused = 0

    async def start(self) -> None:
        """Bind; raises OSError for the caller to report."""
        self._server = await asyncio.start_server(
            self._client, self.listen.host, self.listen.port, ssl=self.tls, limit=MAX_HEAD
        )
        self.port = self._server.sockets[0].getsockname()[1]
        scheme = "https" if self.tls is not None else "http"
        log.info("HTTP API on %s://%s:%d/", scheme, self.listen.host, self.port)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.close()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=2)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        source = str(peer[0]) if isinstance(peer, tuple) else "local"
        if self._connections >= MAX_CONNECTIONS:
            with contextlib.suppress(Exception):
                await _respond(writer, 503, {"error": "too many connections"})
                writer.close()
            return
        self._connections += 1
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        self._writers.add(writer)
        try:
            try:
                request = await asyncio.wait_for(_read_request(reader, source), READ_TIMEOUT)
                await self._serve(request, reader, writer)
            except HttpError as exc:
                await _respond(writer, exc.status, {"error": str(exc)})
            except TimeoutError:
                await _respond(writer, 408, {"error": "request not complete in time"})
        except (ConnectionError, OSError):  # ssl.SSLError is an OSError
            pass
        except Exception as exc:  # principle 5: one client's bug ends that client only
            log.error("HTTP request failed: %s", escape(f"{type(exc).__name__}: {exc}"[:200]))
            with contextlib.suppress(Exception):
                await _respond(writer, 500, {"error": "internal error (see the log)"})
        finally:
            self._connections -= 1
            if task is not None:
                self._tasks.discard(task)
            self._writers.discard(writer)
            writer.close()

    def _authorised(self, request: Request) -> None:
        now = time.monotonic()
        if self.limiter.blocked(request.source, now):
            self.refused += 1
            raise HttpError(429, "too many wrong tokens; wait a minute")
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and compare_digest(given.strip().encode(), self._token):
            return
        self.limiter.failed(request.source, now)
        self.refused += 1
        log.warning(
            "HTTP %s %s from %s: wrong or missing token",
            request.method,
            escape(request.path[:100]),
            request.source,
        )
        raise HttpError(401, "missing or wrong bearer token (Authorization: Bearer ...)")

    async def _serve(
        self, request: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        path, method = request.path, request.method
        if path in ("/", "/index.html"):
            _allow(method, "GET")
            await _respond(writer, 200, self.routes.page, "text/html; charset=utf-8")
            return
        if not path.startswith("/api/"):
            raise HttpError(404, "no such page")
        self._authorised(request)
        name = path[len("/api/") :]
        if name == "status":
            _allow(method, "GET")
            answer = await self.routes.command({"cmd": "status"})
        elif name == "history":
            _allow(method, "GET")
            answer = await self.routes.history(_history_query(request.query))
        elif name == "config":
            _allow(method, "GET")
            answer = {"ok": True, "config": self.routes.config()}
        elif name == "events":
            _allow(method, "GET")
            await self._stream(reader, writer)
            return
        elif name in ACTIONS:
            _allow(method, "POST")
            answer = await self.routes.command(
                {**_json_body(request.body), "cmd": ACTIONS[name], "via": "http"}
            )
            log.info(
                "HTTP %s from %s: %s",
                name,
                request.source,
                "ok" if answer.get("ok") else escape(str(answer.get("error"))[:100]),
            )
        else:
            raise HttpError(404, f"no such API route /api/{name}")
        status = 200 if answer.get("ok") else 409
        await _respond(writer, status, answer)

    async def _stream(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Server-sent events: one ``event:``/``data:`` block per event until the client
        leaves; a bounded queue per client drops its oldest events if it reads too slowly."""
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\n"
            b"Connection: close\r\nX-Content-Type-Options: nosniff\r\n\r\n: stream\n\n"
        )
        await writer.drain()
        queue = self.events.subscribe()
        gone = asyncio.ensure_future(reader.read(1))  # EOF (or anything): the client left
        try:
            while not gone.done():
                getter = asyncio.ensure_future(queue.get())
                await asyncio.wait(
                    {getter, gone}, timeout=SSE_KEEPALIVE, return_when=asyncio.FIRST_COMPLETED
                )
                if not getter.done():
                    getter.cancel()
                    if gone.done():
                        break
                    writer.write(b": keep-alive\n\n")
                else:
                    event = getter.result()
                    data = json.dumps(event, separators=(",", ":"), default=str)
                    name = str(event.get("event", "message")).replace("\n", " ")
                    writer.write(f"event: {name}\ndata: {data}\n\n".encode())
                await asyncio.wait_for(writer.drain(), READ_TIMEOUT)
        finally:
            gone.cancel()
            self.events.unsubscribe(queue)


def _allow(method: str, allowed: str) -> None:
    if method != allowed:
        raise HttpError(405, f"use {allowed}")


def _history_query(query: dict[str, list[str]]) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": query.get("kind", ["calls"])[0]}
    for key, convert in (("limit", int), ("since", float)):
        if key in query:
            text = query[key][0]
            if not text.replace(".", "", 1).isdigit() or len(text) > 20:
                raise HttpError(400, f"{key} must be a number")
            out[key] = convert(float(text))
    return out


def _json_body(body: bytes) -> dict[str, Any]:
    if not body.strip():
        return {}
    try:
        value = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise HttpError(400, "the body must be a JSON object") from None
    if not isinstance(value, dict):
        raise HttpError(400, "the body must be a JSON object")
    return value


async def _read_request(reader: asyncio.StreamReader, source: str) -> Request:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.LimitOverrunError:
        raise HttpError(431, f"request head longer than {MAX_HEAD} bytes") from None
    except asyncio.IncompleteReadError:
        raise ConnectionError("closed before a request") from None
    lines = head.decode("latin-1").split("\r\n")[:-2]
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise HttpError(400, "not an HTTP/1.x request line")
    method, target, _ = parts
    if len(lines) - 1 > MAX_HEADERS:
        raise HttpError(431, f"more than {MAX_HEADERS} headers")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon or not name or name != name.strip():
            raise HttpError(400, "malformed header line")
        headers[name.lower()] = value.strip()
    if "transfer-encoding" in headers:
        raise HttpError(501, "chunked bodies are not accepted; send Content-Length")
    length_text = headers.get("content-length", "0")
    if not length_text.isdigit() or len(length_text) > 6:
        raise HttpError(400, "bad Content-Length")
    length = int(length_text)
    if length > MAX_BODY:
        raise HttpError(413, f"body larger than {MAX_BODY} bytes")
    try:
        body = await reader.readexactly(length) if length else b""
    except asyncio.IncompleteReadError:
        raise ConnectionError("closed before the whole body") from None
    try:
        url = urlsplit(target)
        query = parse_qs(url.query, max_num_fields=20)
    except ValueError:
        raise HttpError(400, "malformed request target") from None
    return Request(method, url.path, query, headers, body, source)


async def _respond(
    writer: asyncio.StreamWriter,
    status: int,
    payload: dict[str, Any] | bytes,
    content_type: str = "application/json",
) -> None:
    body = (
        payload
        if isinstance(payload, bytes)
        else json.dumps(payload, separators=(",", ":"), default=str).encode()
    )
    reason = HTTPStatus(status).phrase
    extra = 'WWW-Authenticate: Bearer realm="sip-endpoint"\r\n' if status == 401 else ""
    extra += "Retry-After: 60\r\n" if status == 429 else ""
    writer.write(
        (
            f"HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\nCache-Control: no-store\r\n"
            "X-Content-Type-Options: nosniff\r\nX-Frame-Options: DENY\r\n"
            "Content-Security-Policy: default-src 'self'; style-src 'self' 'unsafe-inline'; "
            f"script-src 'self' 'unsafe-inline'\r\n{extra}\r\n"
        ).encode()
        + body
    )
    await writer.drain()
