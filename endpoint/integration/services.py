"""The building services around one engine: history, HTTP API and webhooks, MQTT.

Each service reads the engine's event hub like a ``ctl events`` client (a bounded queue of the
same dicts) and acts through the engine's command handler, the control socket's path; so what
MQTT, HTTP and ``ctl`` can do, and what they see, is one thing. A service that cannot start
(a busy port, an unwritable state directory) is logged and left off: the door keeps working.

Each service's module is imported when the configuration turns it on (issue 19): SQLite only
with a ``StateDirectory``, the HTTP server with ``[http] listen``, the webhook client with
webhooks, paho with ``[mqtt] broker``. A door without them does not carry their code.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from endpoint.config import Config, HostPort
from endpoint.import_gate import import_refusing
from endpoint.integration.events import EventSource

if TYPE_CHECKING:
    from endpoint.integration.history import HistoryWriter
    from endpoint.integration.http_api import HttpApi
    from endpoint.integration.webhooks import Webhooks
    from endpoint.media.quality import StreamStats  # loaded by the first call (issue 19)

log = logging.getLogger("endpoint.integration")

Command = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
Quality = Callable[[str], "StreamStats | None"]
#: What the page and the API show of a live call's quality (the rest is in the report).
QUALITY_KEYS = ("mos", "fraction_lost", "jitter_ms", "rtt_ms", "received_packets", "sent_packets")
MASK = "********"
#: Control commands answered here rather than by the engine's table.
COMMANDS = frozenset({"history"})


def state_directory(environ: Mapping[str, str] | None = None) -> Path | None:
    """systemd's ``StateDirectory`` (the first ``$STATE_DIRECTORY`` entry), or None."""
    env = os.environ if environ is None else environ
    directory = env.get("STATE_DIRECTORY", "").split(":")[0]
    return Path(directory) if directory else None


class Integration:
    def __init__(
        self,
        config: Config,
        events: EventSource,
        command: Command,
        state_dir: Path | None = None,
        quality: Quality | None = None,
    ) -> None:
        self.config = config
        self.events = events
        self.command = command
        self.state_dir = state_dir if state_dir is not None else state_directory()
        self.history_path: Path | None = None
        if self.state_dir is not None:
            # Here: sqlite3 is loaded only by a service that keeps history (StateDirectory).
            from endpoint.integration.history import database_path

            self.history_path = database_path(self.state_dir)
        self.writer: HistoryWriter | None = None
        self.quality = quality
        self.http: HttpApi | None = None
        self.webhooks: Webhooks | None = None
        self.mqtt: Any = None
        self._tasks: list[asyncio.Task[None]] = []
        self._closers: list[Callable[[], Awaitable[None]]] = []

    async def start(self) -> None:
        self._start_history()
        await self._start_http()
        if self.config.http.webhooks:
            from endpoint.integration.webhooks import Webhooks  # only with webhooks configured

            self.webhooks = Webhooks(self.config.http.webhooks, self.config.http.webhook_events)
            self.webhooks.start()
            self._follow(self.webhooks.offer)
            self._closers.append(self.webhooks.close)
        if self.config.mqtt.broker is not None:
            self._start_mqtt()

    def _start_mqtt(self) -> None:
        try:
            # paho imports dnspython when it finds it, only for SRV lookups (connect_srv)
            # the bridge does not make: 3.6 MB of RSS (issue 19). (It needs ssl, even for
            # mqtt://: paho 2.2's reads name ssl.SSLWantReadError unconditionally.)
            import_refusing("endpoint.integration.mqtt", frozenset({"dns"}))
            from endpoint.integration.mqtt import MqttBridge
        except ImportError:
            log.error(
                "MQTT: [mqtt] broker is set but paho-mqtt is not installed: "
                "pip install 'sip-endpoint[mqtt]' (MQTT is off)"
            )
            return
        bridge = MqttBridge(self.config.mqtt, self.config.tls, self.command)
        bridge.start()
        self._follow(bridge.offer)
        self._closers.append(bridge.close)
        self.mqtt = bridge

    async def _start_http(self) -> None:
        cfg = self.config.http
        if cfg.listen is None:
            return
        # Here: the HTTP server (http, urllib) serves [http] listen alone.
        from endpoint.integration.http_api import HttpApi, Routes

        tls = None
        try:
            if self.config.tls.certificate is not None:
                from endpoint.tls import server_context  # ssl: only for HTTPS

                tls = server_context(self.config.tls)
        except (OSError, ValueError) as exc:
            log.error("HTTP API: [tls] cert_file/key_file cannot be used (%s); API is off", exc)
            return
        page = (Path(__file__).parent / "web" / "index.html").read_bytes()

        async def command(request: dict[str, Any]) -> dict[str, Any]:
            return await (self.status() if request["cmd"] == "status" else self.command(request))

        routes = Routes(command, self.history, lambda: masked(self.config), page)
        self.http = HttpApi(cfg.listen, cfg.token, routes, self.events, tls)
        try:
            await self.http.start()
        except OSError as exc:
            log.error("HTTP API: cannot listen on %s: %s (API is off)", cfg.listen, exc)
            self.http = None
            return
        self._closers.append(self.http.close)

    async def status(self) -> dict[str, Any]:
        """``ctl status`` with each call's live quality from the media thread."""
        answer = await self.command({"cmd": "status"})
        for call in answer.get("calls", []) if isinstance(answer.get("calls"), list) else []:
            stats = self.quality(str(call.get("call_id"))) if self.quality else None
            if stats is not None:
                values = stats.as_dict()
                call["quality"] = {k: values[k] for k in QUALITY_KEYS}
        return answer

    def _start_history(self) -> None:
        if self.history_path is None:
            log.info("history: off (no StateDirectory; set $STATE_DIRECTORY)")
            return
        import sqlite3  # loaded with the history module in __init__

        from endpoint.integration import history

        cfg = self.config.history
        try:
            store = history.HistoryStore(
                self.history_path, cfg.retention_days, cfg.max_mb * 1024 * 1024
            )
        except (OSError, sqlite3.Error) as exc:
            log.error("history: cannot open %s: %s (history is off)", self.history_path, exc)
            self.history_path = None
            return
        self.writer = history.HistoryWriter(store)
        self.writer.start()
        self._follow(self.writer.record)

    def _follow(self, consume: Callable[[dict[str, Any]], None]) -> None:
        """Feed every event of the hub to ``consume`` (on the loop; it must not block)."""
        queue = self.events.subscribe()

        async def pump() -> None:
            try:
                while True:
                    consume(await queue.get())
            finally:
                self.events.unsubscribe(queue)

        self._tasks.append(asyncio.create_task(pump()))

    async def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        """A control command of ours (``COMMANDS``)."""
        if request.get("cmd") == "history":
            return await self.history(request)
        return {"ok": False, "error": f"unknown command {request.get('cmd')!r}"}

    async def history(self, request: Mapping[str, Any]) -> dict[str, Any]:
        if self.history_path is None:
            return {"ok": False, "error": "history is off: the service has no StateDirectory"}
        kind = request.get("kind", "calls")
        limit = request.get("limit", 50)
        since = request.get("since")
        if kind not in ("calls", "door") or not isinstance(limit, int) or limit < 1:
            return {"ok": False, "error": 'kind is "calls" or "door", limit a positive number'}
        if since is not None and not isinstance(since, int | float):
            return {"ok": False, "error": "since is a Unix time in seconds"}
        import sqlite3  # loaded with the history module in __init__

        from endpoint.integration import history

        try:
            rows = await asyncio.to_thread(
                history.query, self.history_path, kind, limit, None if since is None else since
            )
        except sqlite3.Error as exc:
            return {"ok": False, "error": f"history cannot be read: {exc}"}
        return {"ok": True, "kind": kind, "rows": rows}

    async def close(self) -> None:
        # The pumps hand their last events on first (a call's report comes in at the end),
        # then MQTT says offline, the webhooks and the API stop, and the history is flushed.
        for _ in range(3):
            await asyncio.sleep(0)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for closer in reversed(self._closers):
            try:
                await closer()
            except Exception as exc:
                log.warning("integration: closing failed: %s", exc)
        if self.writer is not None:
            await asyncio.to_thread(self.writer.stop)


def masked(config: object) -> Any:
    """The configuration as JSON-ready data with every secret (a field kept out of ``repr``:
    passwords, tokens, the door code) replaced by a mask."""
    if isinstance(config, HostPort):
        return str(config)
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        out: dict[str, Any] = {}
        for f in dataclasses.fields(config):
            value = getattr(config, f.name)
            out[f.name] = (MASK if value else "") if not f.repr else masked(value)
        return out
    if isinstance(config, tuple | list):
        return [masked(v) for v in config]
    if isinstance(config, str | int | float | bool) or config is None:
        return config
    return str(config)
