"""The asyncio runtime around the user agent: sockets, one timer, the control socket, signals.

It makes no protocol decision (DESIGN principle 2): messages from the transport go into the UA,
the UA's datagrams go out, its notices are logged and published on the control socket, and one
``loop.call_at`` timer is re-armed to the UA's next deadline after every step (the aioquic
pattern). SIGTERM/SIGINT un-register and exit 0; ``sd_notify`` reports readiness and status.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import signal
import socket
import time
from typing import Any

from endpoint.config import Config
from endpoint.runtime.control import ControlServer, EventHub
from endpoint.runtime.sdnotify import Notifier
from endpoint.runtime.sip_transport import SipTransport
from endpoint.sip.message import Message
from endpoint.sip.uri import SipURI, parse_uri
from endpoint.ua.actions import Notice
from endpoint.ua.agent import UserAgent
from endpoint.ua.registration import LocalAddress

log = logging.getLogger("endpoint")

STOP_TIMEOUT = 5.0


def _outbound_address(host: str, port: int) -> str:
    """The local address the kernel would use towards ``host`` (no packet is sent)."""
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect((host, port))
        return str(s.getsockname()[0])
    return "127.0.0.1"


class Engine:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.events = EventHub()
        self.notifier = Notifier()
        self.transport: SipTransport | None = None
        self.control: ControlServer | None = None
        self.ua: UserAgent | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._stop = asyncio.Event()
        self.last_step: float | None = None

    async def start(self) -> None:
        """Bind, resolve, start registering. Raises OSError for the caller to report."""
        cfg = self.config
        listen = cfg.sip.listen
        # UDP and TCP both listen (RFC 3261 §18: a UA must accept both); the configured
        # transport is the one we send on.
        self.transport = SipTransport(listen.host, listen.port, self._received, tcp=True)
        await self.transport.start()
        resolved: dict[str, str] = {}
        target_host = "127.0.0.1"
        for account in (cfg.account, cfg.backup_account):
            if account is None:
                continue
            for uri_text in (account.registrar, account.outbound_proxy):
                if uri_text is None:
                    continue
                uri = parse_uri(uri_text)
                if isinstance(uri, SipURI):
                    resolved[uri.bare_host] = await self._resolve(uri.bare_host)
                    target_host = resolved[uri.bare_host]
        host = cfg.sip.advertise or listen.host
        if host in ("0.0.0.0", "::"):
            host = _outbound_address(target_host, 5060)
        local = LocalAddress(host, self.transport.port, cfg.sip.transport)
        self.ua = UserAgent(cfg, local, secrets.SystemRandom(), resolved)
        self.control = ControlServer(cfg.control.socket, self._command, self.events)
        await self.control.start()
        log.info("listening on %s %s:%d", cfg.sip.transport, host, self.transport.port)
        self.ua.start(time.monotonic())
        self._step()
        self.notifier.notify(READY=1, STATUS="started")

    async def _resolve(self, host: str) -> str:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_DGRAM)
        except OSError as exc:
            log.warning("cannot resolve %s (%s); will keep trying by name", host, exc)
            return host
        return str(infos[0][4][0])

    def _received(self, message: Message, source: tuple[str, int], kind: str) -> None:
        if self.ua is not None:
            self.ua.receive(message, source, kind, time.monotonic())
            self._step()

    def _fire(self) -> None:
        self._timer = None
        if self.ua is not None:
            self.ua.handle_timer(time.monotonic())
            self._step()

    def _step(self) -> None:
        """Send what the UA produced, publish its notices, re-arm the one timer."""
        ua, transport = self.ua, self.transport
        if ua is None or transport is None:
            return
        for out in ua.datagrams_to_send():
            transport.send(out.data, out.destination, out.transport)
        for notice in ua.notices():
            self._publish(notice)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        deadline = ua.get_timer()
        if deadline is not None:
            loop = asyncio.get_running_loop()
            delay = max(0.0, deadline - time.monotonic())
            self._timer = loop.call_at(loop.time() + delay, self._fire)
        self.last_step = time.monotonic()
        if ua.stopped:
            self._stop.set()

    def _publish(self, notice: Notice) -> None:
        detail = " ".join(f"{k}={v}" for k, v in notice.detail.items())
        level = logging.WARNING if notice.event.endswith("failed") else logging.INFO
        log.log(level, "%s %s", notice.event, detail)
        self.events.publish(notice.as_dict())
        if notice.event in ("registered", "registration-failed", "unregistered"):
            self.notifier.notify(STATUS=f"{notice.event} {notice.detail.get('aor', '')}".strip())

    async def _command(self, request: dict[str, Any]) -> dict[str, Any]:
        command = request["cmd"]
        if command == "status" and self.ua is not None:
            return {"ok": True, **self.ua.status()}
        if command in ("call", "hangup", "answer", "dtmf", "open-door"):
            return {"ok": False, "error": f"{command}: calls are not enabled in this build"}
        return {"ok": False, "error": f"unknown command {command!r}"}

    def request_stop(self) -> None:
        if self.ua is not None and not self.ua.stopping:
            self.notifier.notify(STOPPING=1)
            log.info("stopping: un-registering")
            self.ua.stop(time.monotonic())
            self._step()
        if self.ua is None or not self.ua.registrations:
            self._stop.set()
        else:
            # The un-register may never be answered (registrar gone): bounded wait.
            asyncio.get_running_loop().call_later(STOP_TIMEOUT, self._stop.set)

    async def run(self) -> int:
        await self.start()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_stop)
        await self._stop.wait()
        await self.close()
        return 0

    async def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self.control is not None:
            await self.control.close()
        if self.transport is not None:
            await self.transport.close()
        self.notifier.close()
