"""Webhooks: each event (or those ``[http] webhook_events`` names) POSTed as JSON to each URL.

One worker per URL, so a receiver that is down or slow delays only its own deliveries. Each
worker has a bounded queue (the oldest event goes first when it is full, counted in
``dropped``); a failed delivery (no connection, a timeout, a status that is not 2xx) is retried
with capped exponential backoff and jitter, then given up and logged. Events leave in the order
they happened. Nothing here blocks the loop: connections are asyncio streams with timeouts.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from endpoint.backoff import Backoff

if TYPE_CHECKING:
    import ssl

log = logging.getLogger("endpoint.webhooks")

QUEUE_SIZE = 256
ATTEMPTS = 5
TIMEOUT = 5.0
BACKOFF = Backoff(base=1.0, cap=30.0, jitter=True)
#: How long ``close`` waits for a worker (a POST in flight ends within TIMEOUT anyway).
CLOSE_WAIT = 2.0


@dataclass(frozen=True, slots=True)
class Target:
    """A webhook URL, parsed and checked once so that posting an event cannot fail on it."""

    url: str
    host: str
    port: int
    path: str
    tls: bool

    @classmethod
    def parse(cls, url: str) -> Target:
        parts = urlsplit(url)
        tls = parts.scheme == "https"
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url}")
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        return cls(url, parts.hostname, parts.port or (443 if tls else 80), path, tls)

    @property
    def shown(self) -> str:
        """The URL for the log without its query (it may carry a receiver's secret)."""
        return self.url.split("?", 1)[0]


def _client_context() -> ssl.SSLContext:
    """The system's trust store for an https target; ssl only then (issue 19: an http-only
    configuration keeps OpenSSL out of the process, ``config.needs_tls``)."""
    import ssl

    return ssl.create_default_context()


class Webhook:
    def __init__(self, target: Target, rng: random.Random, backoff: Backoff = BACKOFF) -> None:
        self.target = target
        self.rng = rng
        self.backoff = backoff
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE_SIZE)
        self.delivered = 0
        self.dropped = 0
        self.failed = 0
        self._task: asyncio.Task[None] | None = None
        #: Set by ``close``: the worker ends at its next step even if the cancel was lost.
        self._closing = False
        #: Made once: loading the trust store reads files, which the loop must not do per event.
        self._tls = _client_context() if target.tls else None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    def offer(self, event: dict[str, Any]) -> None:
        if self.queue.full():
            self.queue.get_nowait()
            self.dropped += 1
        self.queue.put_nowait(event)

    async def close(self) -> None:
        """Stop the worker, waiting at most CLOSE_WAIT. Python 3.11's ``wait_for`` returns a
        POST's result instead of raising when the cancel meets a POST that has just finished
        (bpo-42130): the cancel is lost, so the worker also checks ``_closing``, and the wait
        is bounded whatever happens (a service that does not stop on SIGTERM hangs the door)."""
        task, self._task = self._task, None
        if task is None:
            return
        self._closing = True
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=CLOSE_WAIT)
        if not done:
            log.warning("webhook %s: the worker did not stop in time", self.target.shown)

    async def _run(self) -> None:
        while not self._closing:
            event = await self.queue.get()
            body = json.dumps(event, separators=(",", ":"), default=str).encode()
            for attempt in range(ATTEMPTS):
                try:
                    status = await asyncio.wait_for(self._post(body), TIMEOUT)
                except (OSError, TimeoutError, ValueError) as exc:  # ssl.SSLError is an OSError
                    problem = f"{type(exc).__name__}: {exc}"
                else:
                    if 200 <= status < 300:
                        self.delivered += 1
                        break
                    problem = f"answered {status}"
                if self._closing:
                    return
                if attempt + 1 == ATTEMPTS:
                    self.failed += 1
                    log.warning(
                        "webhook %s: %s not delivered after %d attempts (%s)",
                        self.target.shown,
                        event.get("event"),
                        ATTEMPTS,
                        problem[:200],
                    )
                else:
                    await asyncio.sleep(self.backoff.delay(attempt, self.rng))

    async def _post(self, body: bytes) -> int:
        t = self.target
        reader, writer = await asyncio.open_connection(
            t.host, t.port, ssl=self._tls, server_hostname=t.host if t.tls else None
        )
        try:
            host = t.host if t.port in (80, 443) else f"{t.host}:{t.port}"
            writer.write(
                f"POST {t.path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n"
                "User-Agent: sip-endpoint\r\n\r\n".encode()
                + body
            )
            await writer.drain()
            status_line = await reader.readline()
            parts = status_line.split(b" ", 2)
            if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
                raise ValueError("not an HTTP answer")
            return int(parts[1])
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


class Webhooks:
    """All configured webhooks, fed from the event stream through ``offer``."""

    def __init__(self, urls: tuple[str, ...], events: tuple[str, ...]) -> None:
        rng = random.SystemRandom()
        self.hooks = [Webhook(Target.parse(url), rng) for url in urls]
        self.events = frozenset(events)

    def start(self) -> None:
        for hook in self.hooks:
            hook.start()

    def offer(self, event: dict[str, Any]) -> None:
        if self.events and event.get("event") not in self.events:
            return
        if event.get("event") == "dtmf" and event.get("digit") == "hidden":
            return  # door-code entry (issue 13 rule 5): not even the key presses leave
        for hook in self.hooks:
            hook.offer(event)

    async def close(self) -> None:
        for hook in self.hooks:
            await hook.close()
