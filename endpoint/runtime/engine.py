"""The asyncio runtime around the user agent: sockets, one timer, the control socket, signals.

It makes no protocol decision (DESIGN principle 2): messages from the transport go into the UA,
the UA's datagrams go out, its notices are logged and published on the control socket, and one
``loop.call_at`` timer is re-armed to the UA's next deadline after every step (the aioquic
pattern). SIGTERM/SIGINT un-register and exit 0; ``sd_notify`` reports readiness and status.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import signal
import ssl
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from endpoint.audio import AudioError, AudioPort, open_audio
from endpoint.audio.tone import ToneGenerator
from endpoint.config import Config, security_warnings
from endpoint.logs import escape
from endpoint.media.dtmf import EVENTS as DTMF_KEYS
from endpoint.media.dtmf import DtmfDigit
from endpoint.media.frame import FRAME_SAMPLES
from endpoint.media.quality import StreamStats
from endpoint.media.srtp import SrtpProtection
from endpoint.media.stream import MediaStream, MediaTimeout, StreamConfig
from endpoint.runtime.addresses import is_wildcard, source_address_towards
from endpoint.runtime.control import ControlServer, EventHub
from endpoint.runtime.hardware_bridge import HardwareBridge, open_board
from endpoint.runtime.media_loop import CallFailed, CallMedia, MediaLoop
from endpoint.runtime.resolver import Resolver, configured_hosts, configured_lookups
from endpoint.runtime.rtp_transport import RtpSockets, allocate
from endpoint.runtime.sip_transport import SipTransport
from endpoint.service.sdnotify import Notifier
from endpoint.service.supervisor import ServiceSupervisor
from endpoint.service.watchdog import beat_period
from endpoint.sip import ParseError
from endpoint.sip.message import Message
from endpoint.sip.offer_answer import NegotiatedMedia
from endpoint.sip.sdes import SrtpKeys as SdesKeys
from endpoint.sip.uri import SipURI, parse_uri, uri_host
from endpoint.tls import client_context, describe_failure, server_context
from endpoint.ua.actions import CallAction, NeedMedia, Notice, PlayAlert, StartMedia, UpdateMedia
from endpoint.ua.agent import UserAgent
from endpoint.ua.registration import LocalAddress

log = logging.getLogger("endpoint")

STOP_TIMEOUT = 5.0
#: Notices an installer should see at the default log level even when all is calm.
WARNINGS = frozenset(
    {
        "door-code-wrong",
        "door-locked-out",
        "door-left-open",
        "hardware-fault",
        "registration-flow-lost",
    }
)
#: The call-length warning the peer hears: three 200 ms beeps at 1 kHz.
WARNING_TONE = np.concatenate(
    [ToneGenerator([1000.0], 0.4, (0.2, 0.2)).next_frame(FRAME_SAMPLES) for _ in range(50)]
)


def _outbound_address(host: str, port: int, listen: str) -> str:
    """The local address the kernel would use towards ``host`` (no packet is sent); a
    listener on ``0.0.0.0`` only has IPv4 to offer, one on ``::`` either family."""
    if ":" in host and ":" not in listen:
        return "127.0.0.1"
    found = source_address_towards(host, port)
    if found is not None:
        return found
    return "::1" if ":" in host else "127.0.0.1"


def family_mismatch(listen: str, address: str) -> str | None:
    """Why a server at ``address`` cannot be reached from a socket on ``listen``, or None:
    an IPv4 listener has no IPv6, an IPv6 address other than ``::`` has no IPv4."""
    if ":" in address and ":" not in listen:
        return f'is IPv6 but [sip] listen = "{listen}" is IPv4 only: listen on "[::]:5060"'
    if ":" not in address and ":" in listen and not is_wildcard(listen):
        return (
            f'is IPv4 but [sip] listen = "[{listen}]" is IPv6 only: listen on "[::]:5060" '
            "(both) or an IPv4 address"
        )
    return None


def _srv_ports(hops: dict[str, tuple[str, int | None]]) -> dict[str, int]:
    return {name: port for name, (_, port) in hops.items() if port is not None}


def _worth_failover(reason: str) -> bool:
    """RFC 3263 §4.3: a timeout, a transport error or a 503 moves on to the next target; an
    answer such as 403 is the registrar's verdict and would be the same at any of them."""
    return reason.startswith(("no response", "transport error")) or reason.startswith("503")


def stream_config(m: NegotiatedMedia, config: Config, cname: str) -> StreamConfig:
    """The media engine's settings for a negotiated call under ``[media]``."""
    return StreamConfig(
        (m.remote_address, m.remote_port),
        (m.remote_address, m.remote_rtcp_port),
        payload_type=m.payload_type,
        telephone_event_pt=m.telephone_event_pt,
        inband_dtmf=config.media.inband_dtmf == "always"
        or (config.media.inband_dtmf == "auto" and m.telephone_event_pt is None),
        ptime_ms=m.ptime,
        rtcp_mux=m.rtcp_mux,
        cname=cname,
        jitter_min_ms=config.media.jitter_min_ms,
        jitter_max_ms=config.media.jitter_max_ms,
        direction=m.direction,
        wallclock_offset=time.time() - time.monotonic(),
        rtp_timeout_s=config.media.rtp_timeout,
    )


def protection_for(m: NegotiatedMedia) -> SrtpProtection | None:
    """SRTP for the call when its offer/answer agreed on keys, else None (plain RTP)."""
    if m.srtp is None:
        return None
    return SrtpProtection(m.srtp.suite, m.srtp.local, m.srtp.remote)


def open_configured_audio(config: Config) -> AudioPort:
    """The ``[audio]`` device, opened and started for one call."""
    a = config.audio
    port = open_audio(
        a.backend,
        capture_device=a.capture_device,
        playback_device=a.playback_device,
        alert_device=a.alert_device,
        input_file=a.input_file,
        output_file=a.output_file,
        tone_hz=a.tone_hz,
    )
    port.start()
    return port


def _tls_contexts(cfg: Config) -> tuple[ssl.SSLContext | None, ssl.SSLContext | None]:
    """The TLS client and server contexts for ``[sip] transport = "tls"`` (else none).

    A file that cannot be loaded (a key that does not match its certificate, a CA file that is
    not PEM) stops start-up with an OSError naming the ``[tls]`` key, as a bad bind does."""
    if cfg.sip.transport != "tls":
        return None, None
    try:
        return client_context(cfg.tls), server_context(cfg.tls)
    except (ssl.SSLError, OSError, ValueError) as exc:
        raise OSError(
            f"[tls] ca_file/cert_file/key_file cannot be used: {describe_failure(exc)}"
        ) from None


class Engine:
    def __init__(self, config: Config, config_path: Path | None = None) -> None:
        self.config = config
        #: The file SIGHUP re-reads (None: started from a Config, reload has nothing to read).
        self.config_path = config_path
        self.events = EventHub()
        self.notifier = Notifier()
        self.transport: SipTransport | None = None
        self.control: ControlServer | None = None
        self.ua: UserAgent | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._stop = asyncio.Event()
        self.last_step: float | None = None
        self.media: MediaLoop | None = None
        self._sockets: dict[str, RtpSockets] = {}
        self._ports: dict[str, AudioPort] = {}
        self._callers: dict[str, str] = {}
        #: The SRTP keys each call's stream runs with (a re-INVITE may bring new ones).
        self._keys: dict[str, SdesKeys | None] = {}
        self._rng = secrets.SystemRandom()
        self.resolver = Resolver()
        self._background: set[asyncio.Task[None]] = set()
        self.supervisor = ServiceSupervisor(self)
        self.hardware: HardwareBridge | None = None
        self.internal_errors = 0

    async def start(self) -> None:
        """Bind, resolve, start registering. Raises OSError for the caller to report."""
        cfg = self.config
        listen = cfg.sip.listen
        # UDP and TCP both listen (RFC 3261 §18: a UA must accept both); the configured
        # transport is the one we send on. With TLS the stream listener speaks TLS, and only
        # when we have a certificate to present (else calls come over the registration's flow).
        tls_client, tls_server = _tls_contexts(cfg)
        hops = await self.resolver.hops(cfg)
        resolved = {name: address for name, (address, _) in hops.items()}
        self.transport = SipTransport(
            listen.host,
            listen.port,
            self._received,
            tcp=cfg.sip.transport != "tls",
            on_error=self._unreachable,
            tls_client=tls_client,
            tls_server=tls_server,
            server_names={address: name for name, address in resolved.items()},
            admits=self._admits,
            on_closed=self._flow_closed,
        )
        self.transport.configured_names = frozenset(configured_hosts(cfg))
        await self.transport.start()
        # The address the kernel would use towards the last configured server (a backup
        # account's, if any), when we listen on a wildcard.
        target_host = next(reversed(resolved.values()), "127.0.0.1")
        host = cfg.sip.advertise or listen.host
        if is_wildcard(host):
            host = _outbound_address(target_host, 5060, listen.host)
        local = LocalAddress(host, self.transport.port, cfg.sip.transport)
        self.ua = UserAgent(cfg, local, secrets.SystemRandom(), resolved, _srv_ports(hops))
        self.hardware = HardwareBridge(cfg, open_board(cfg), self.ua, self._publish, self._step)
        self.hardware.start()  # before the UA: its first notices set the LEDs
        self.control = ControlServer(cfg.control.socket, self.command, self.events)
        await self.control.start()
        loop = asyncio.get_running_loop()

        def wake() -> None:
            loop.call_soon_threadsafe(self._media_events)

        self.media = MediaLoop(
            cfg.media.ptime, wake=wake, idle_beat=beat_period(self.notifier.watchdog_usec)
        )
        self.media.start()
        log.info("listening on %s %s:%d", cfg.sip.transport, uri_host(host), self.transport.port)
        for warning in security_warnings(cfg):
            log.warning("%s", warning)
        for name, address in resolved.items():
            problem = family_mismatch(listen.host, address)
            if problem:
                log.warning("%s (%s) %s", name, address, problem)
        self.ua.start(time.monotonic())
        self._step()
        self.notifier.notify(READY=1, STATUS=self.supervisor.status.text)
        media = self.media
        self.supervisor.start(lambda: media.last_tick)  # watchdog pings while both loops run

    async def apply_config(self, config: Config) -> None:
        """A reloaded configuration (``Supervised``): resolve its servers, retune the UA."""
        hops = await self.resolver.hops(config)
        resolved = {name: address for name, (address, _) in hops.items()}
        self.config = config
        if self.transport is not None:
            self.transport.server_names = {address: name for name, address in resolved.items()}
            self.transport.configured_names = frozenset(configured_hosts(config))
        if self.ua is not None:
            self.ua.ports = _srv_ports(hops)
            self.ua.reconfigure(config, resolved, time.monotonic())
            self._step()

    async def _dns_failover(self, account_name: str, reason: str) -> None:
        """RFC 3263 §4.3: a registrar that timed out, refused the connection or answered 503
        is left for the next target its name's SRV records give (re-resolved once all failed);
        the registration then registers there at once instead of waiting out its backoff."""
        cfg = self.config
        account = cfg.backup_account if account_name == "backup_account" else cfg.account
        if account is None or self.ua is None:
            return
        hop = parse_uri(account.outbound_proxy or account.registrar)
        if not isinstance(hop, SipURI) or hop.port is not None:
            return  # an IP literal or a fixed port: nothing for DNS to move
        lookup = next((x for x in configured_lookups(cfg) if x.host == hop.bare_host), None)
        if lookup is None:
            return
        before = self.ua.resolved.get(lookup.host), self.ua.ports.get(lookup.host)
        self.resolver.failed(lookup.host)
        target = await self.resolver.target(lookup)
        if target is None or self.ua is None or (target.address, target.port) == before:
            return
        log.info(
            "registrar %s failed (%s): trying %s:%s",
            lookup.host,
            reason,
            uri_host(target.address),
            target.port or "",
        )
        if self.transport is not None:
            self.transport.server_names[target.address] = lookup.host
        self.ua.registrar_moved(lookup.host, target.address, target.port, time.monotonic())
        self._step()

    def _received(self, message: Message, source: tuple[str, int], kind: str) -> None:
        if self.ua is None:
            return
        try:
            self.ua.receive(message, source, kind, time.monotonic())
        except Exception as exc:
            # The UA answers every failure itself; reaching this is a bug in the transaction
            # layer. The next message must still be served.
            self.internal_errors += 1
            log.error(
                "internal error on a message from %s: %s (%d so far)",
                source[0],
                escape(f"{type(exc).__name__}: {exc}"[:200]),
                self.internal_errors,
            )
        self._step()

    def _admits(self, host: str) -> bool:
        """Before the UA exists nobody is answered (it is created right after the bind)."""
        return self.ua is not None and self.ua.admits_host(host)

    def _flow_closed(self, destination: tuple[str, int], transport: str) -> None:
        if self.ua is not None:
            self.ua.flow_closed(destination, transport, time.monotonic())
            self._step()

    def _unreachable(self, destination: tuple[str, int], transport: str) -> None:
        if self.ua is not None:
            self.ua.transport_failed(destination, transport, time.monotonic())
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
        for _ in range(8):  # call actions may lead to more (media ready -> answer -> start)
            actions = ua.call_actions()
            if not actions:
                break
            for action in actions:
                self._call_action(action)
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

    def _call_action(self, action: CallAction) -> None:
        """Execute one of the UA's call actions (the UA decided; this only does it)."""
        ua, media = self.ua, self.media
        if ua is None or media is None:
            return
        now = time.monotonic()
        if isinstance(action, NeedMedia):
            self._allocate(ua, action.call_id, now)
        elif isinstance(action, UpdateMedia):
            m = action.media
            if m.srtp != self._keys.get(action.call_id):
                # RFC 4568 §7.1.4: the re-INVITE's keys replace the old ones from now on.
                self._keys[action.call_id] = m.srtp
                media.set_protection(action.call_id, protection_for(m))
            media.set_remote(
                action.call_id,
                (m.remote_address, m.remote_port),
                (m.remote_address, m.remote_rtcp_port),  # the RTP port itself with rtcp-mux
            )
            media.set_direction(action.call_id, m.direction)
        elif isinstance(action, PlayAlert):
            media.play_alert(action.call_id, WARNING_TONE)
        elif isinstance(action, StartMedia):
            self._start_media(ua, media, action, now)
        else:
            self._stop_media(media, action.call_id, action.reason)

    def _allocate(self, ua: UserAgent, call_id: str, now: float) -> None:
        """RTP/RTCP sockets for a call about to be offered or answered."""
        try:
            sockets = allocate(ua.local.host, self.config.media.rtp_ports, self._rng)
        except OSError as exc:
            log.error("no RTP port for call %s: %s (widen [media] rtp_ports)", call_id, exc)
            ua.end_call(call_id, "no RTP port free", now, status=503)
            return
        self._sockets[call_id] = sockets
        ua.media_ready(call_id, sockets.rtp_port, now)

    def _start_media(self, ua: UserAgent, media: MediaLoop, action: StartMedia, now: float) -> None:
        """The negotiated stream on the call's sockets and the configured audio device."""
        sockets = self._sockets.get(action.call_id)
        if sockets is None:
            return
        stream = MediaStream(
            stream_config(action.media, self.config, f"door@{ua.local.host}"),
            self._rng,
            now,
            protection_for(action.media),
        )
        self._keys[action.call_id] = action.media.srtp
        try:
            port = open_configured_audio(self.config)
        except (AudioError, OSError, ValueError) as exc:
            # Principle 5: this call ends, the endpoint keeps serving the next one.
            log.error(
                "call %s: cannot open the audio (%s): check [audio] and run sip-endpoint doctor",
                action.call_id,
                exc,
            )
            ua.end_call(action.call_id, f"audio failed: {exc}", now)
            return
        self._ports[action.call_id] = port
        media.add_call(CallMedia(action.call_id, stream, sockets, port))

    def _stop_media(self, media: MediaLoop, call_id: str, reason: str) -> None:
        """Take the call off the media thread; release its device and sockets once it has
        left, then report it."""
        future = media.remove_call(call_id)
        old_sockets = self._sockets.pop(call_id, None)
        old_port = self._ports.pop(call_id, None)
        self._keys.pop(call_id, None)
        loop = asyncio.get_running_loop()

        def report(done: object) -> None:
            stats = future.result()
            if old_port is not None:
                old_port.stop()
            if old_sockets is not None and stats is None:
                old_sockets.close()
            self._report(call_id, reason, stats)

        future.add_done_callback(lambda f: loop.call_soon_threadsafe(report, f))

    def _report(self, call_id: str, reason: str, stats: StreamStats | None) -> None:
        """The end-of-call report: one log line an installer can read, and an event."""
        summary = stats.summary() if stats is not None else "no media"
        log.info("call-report call_id=%s reason=%s %s", call_id, reason, summary)
        self.events.publish(
            {
                "event": "call-report",
                "call_id": call_id,
                "reason": reason,
                **(stats.as_dict() if stats is not None else {}),
            }
        )

    def _media_events(self) -> None:
        if self.media is None:
            return
        for call_id, event in self.media.events():
            if isinstance(event, DtmfDigit):
                shown = self._shown(
                    Notice(
                        "dtmf",
                        {
                            "call_id": call_id,
                            "digit": event.digit,
                            "duration_ms": event.duration_ms,
                        },
                    )
                )
                log.info("dtmf %s", " ".join(f"{k}={v}" for k, v in shown.detail.items()))
                self.events.publish(shown.as_dict())
                if self.ua is not None:
                    self.ua.dtmf(call_id, event.digit, time.monotonic())
                    self._step()
                if self.hardware is not None:
                    self.hardware.dtmf(call_id, event.digit)
            elif isinstance(event, MediaTimeout) and self.ua is not None:
                reason = f"no audio from the peer for {event.seconds:g} s"
                log.warning("call %s: %s; hanging up", call_id, reason)
                self.ua.end_call(call_id, reason, time.monotonic())
                self._step()
            elif isinstance(event, CallFailed):
                log.error("media of call %s failed: %s", call_id, event.reason)

    def _shown(self, notice: Notice) -> Notice:
        """The notice as the log and ``ctl events`` may see it: with a door code configured,
        no DTMF digit is shown at all (issue 13 rule 5: the code never reaches any output;
        which digits belong to code entry is the door's secret too)."""
        if notice.event == "dtmf" and self.config.door.code:
            return Notice(notice.event, {**notice.detail, "digit": "hidden"})
        return notice

    def _publish(self, notice: Notice) -> None:
        shown = self._shown(notice)
        detail = " ".join(f"{k}={v}" for k, v in shown.detail.items())
        warn = notice.event.endswith(("failed", "dropped")) or notice.event in WARNINGS
        level = logging.WARNING if warn else logging.INFO
        log.log(level, "%s %s", notice.event, detail)
        self.events.publish(shown.as_dict())
        self.supervisor.notice(shown)  # STATUS= for systemctl status
        reason = str(notice.detail.get("reason", ""))
        if notice.event == "registration-failed" and _worth_failover(reason):
            account = str(notice.detail.get("account", "account"))
            task = asyncio.get_running_loop().create_task(self._dns_failover(account, reason))
            self._background.add(task)  # held until done: the loop keeps only weak references
            task.add_done_callback(self._background.discard)
        if self.hardware is not None:
            self.hardware.notice(notice)  # LEDs, door code: the real digit

    async def command(self, request: dict[str, Any]) -> dict[str, Any]:
        """A control-socket request (``ctl``): looked up in the command table."""
        command = request["cmd"]
        handler = self._command_table().get(command)
        if handler is None:
            return {"ok": False, "error": f"unknown command {command!r}"}
        if self.ua is None:
            return {"ok": False, "error": "not started"}
        return handler(self.ua, request)

    def _command_table(self) -> dict[str, Callable[[UserAgent, dict[str, Any]], dict[str, Any]]]:
        return {
            "status": self._status_command,
            "answer": self._answer_command,
            "hangup": self._hangup_command,
            "call": self._call_command,
            "register": self._register_command,
            "dtmf": self._dtmf_command,
            "open-door": self._open_door_command,
        }

    def _status_command(self, ua: UserAgent, _: dict[str, Any]) -> dict[str, Any]:
        hardware = self.hardware.status() if self.hardware is not None else None
        return {"ok": True, **ua.status(time.monotonic()), "hardware": hardware}

    def _answer_command(self, ua: UserAgent, _: dict[str, Any]) -> dict[str, Any]:
        done = ua.answer(time.monotonic())
        self._step()
        return {"ok": done} if done else {"ok": False, "error": "no ringing call"}

    def _hangup_command(self, ua: UserAgent, _: dict[str, Any]) -> dict[str, Any]:
        done = ua.hangup(time.monotonic())
        self._step()
        return {"ok": done} if done else {"ok": False, "error": "no call"}

    def _register_command(self, ua: UserAgent, request: dict[str, Any]) -> dict[str, Any]:
        if not ua.registrations:
            return {"ok": False, "error": "no [account]: peer-to-peer mode registers nowhere"}
        enabled = request.get("enabled")
        if isinstance(enabled, bool):
            ua.set_registered(enabled, time.monotonic())
        else:
            ua.reregister(time.monotonic())
        self._step()
        return {"ok": True}

    def _dtmf_command(self, ua: UserAgent, request: dict[str, Any]) -> dict[str, Any]:
        active = ua.active_call_id()
        digits = request.get("digits")
        if active is None or not isinstance(digits, str) or self.media is None:
            return {"ok": False, "error": "no call (or no digits)"}
        if not digits or any(c not in DTMF_KEYS for c in digits.upper()):
            return {"ok": False, "error": "DTMF keys are 0-9, *, #, A-D (e.g. ctl dtmf 5#)"}
        method = ua.send_dtmf(active, digits.upper(), time.monotonic())
        if method is None:
            return {"ok": False, "error": "no call (or no digits)"}
        if method == "rfc4733":
            self.media.send_dtmf(active, digits)
        self._step()
        return {"ok": True, "method": method}

    def _open_door_command(self, _: UserAgent, __: dict[str, Any]) -> dict[str, Any]:
        if self.hardware is None:
            return {"ok": False, "error": "not started"}
        answer = self.hardware.open_door("ctl")
        self._step()
        return answer

    def _call_command(self, ua: UserAgent, request: dict[str, Any]) -> dict[str, Any]:
        """``{"uri": ...}`` for one target; ``{"uris": [...], "mode": "parallel" |
        "sequential", "timeout": seconds}`` for a call group."""
        targets = request.get("uris", [request.get("uri")])
        if not isinstance(targets, list) or not all(isinstance(t, str) and t for t in targets):
            return {"ok": False, "error": 'call needs "uri", e.g. sip:flat@pbx.example.com'}
        mode = request.get("mode", "parallel")
        timeout = request.get("timeout", self.config.calls.ring_timeout)
        if mode not in ("parallel", "sequential") or not isinstance(timeout, int | float):
            return {"ok": False, "error": 'mode is "parallel" or "sequential", timeout seconds'}
        now = time.monotonic()
        try:
            if len(targets) == 1:
                answer = {"ok": True, "call_id": ua.call(targets[0], now)}
            else:
                group = ua.call_group(targets, mode == "parallel", float(timeout), now)
                answer = {"ok": True, "group_id": group}
        except (ValueError, ParseError) as exc:
            return {"ok": False, "error": str(exc)}
        self._step()
        return answer

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
        loop = asyncio.get_running_loop()
        # Handlers first: systemd may signal as soon as READY=1 has left (the default action
        # of SIGHUP would end the process).
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_stop)
        loop.add_signal_handler(signal.SIGHUP, self.supervisor.reload)
        try:
            await self.start()
            await self._stop.wait()
        finally:
            await self.close()  # also on a failed start: the door relay is released
        return 0

    async def close(self) -> None:
        if self.hardware is not None:
            self.hardware.close()  # first: the relay is released whatever fails below
        if self._timer is not None:
            self._timer.cancel()
        if self.media is not None:
            self.media.stop()
        for port in self._ports.values():
            port.stop()
        if self.control is not None:
            await self.control.close()
        if self.transport is not None:
            await self.transport.close()
        self.supervisor.close()
        self.notifier.close()
