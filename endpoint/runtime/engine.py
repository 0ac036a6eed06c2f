"""The asyncio runtime around the user agent: sockets, one timer, the control socket, signals.

It makes no protocol decision (DESIGN principle 2): messages from the transport go into the UA,
the UA's datagrams go out, its notices are logged and published on the control socket, and one
``loop.call_at`` timer is re-armed to the UA's next deadline after every step (the aioquic
pattern). SIGTERM/SIGINT un-register and exit 0; ``sd_notify`` reports readiness and status.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import logging
import random
import signal
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from endpoint import dataclass_cache
from endpoint.config import Config, security_warnings
from endpoint.integration.services import COMMANDS as INTEGRATION_COMMANDS
from endpoint.integration.services import Integration
from endpoint.logs import escape
from endpoint.runtime.addresses import is_wildcard, source_address_towards
from endpoint.runtime.control import ControlServer, EventHub
from endpoint.runtime.hardware_bridge import HardwareBridge, open_board
from endpoint.runtime.nat import NatTraversal
from endpoint.runtime.resolver import Resolver, configured_hosts, configured_lookups
from endpoint.runtime.sdnotify import Notifier
from endpoint.runtime.sip_transport import SipTransport
from endpoint.runtime.supervisor import ServiceSupervisor
from endpoint.sip import ParseError
from endpoint.sip.message import Message
from endpoint.sip.uri import SipURI, parse_uri, uri_host
from endpoint.ua.actions import CallAction, NeedMedia, PlayAlert, StartMedia, UpdateMedia
from endpoint.ua.agent import UserAgent
from endpoint.ua.events import CallReport, DtmfReceived, Notice, RegistrationFailed
from endpoint.ua.intercom import Intercom
from endpoint.ua.io import HardwareEvent
from endpoint.ua.registration import LocalAddress

if TYPE_CHECKING:
    import ssl

    # The call path: imported where a call first needs it (``_call_action``), not at start.
    from endpoint.audio import AudioPort
    from endpoint.audio.processing import VoiceProcessor
    from endpoint.media.dtls import DtlsIdentity, DtlsSrtp
    from endpoint.media.quality import StreamStats
    from endpoint.runtime.media_loop import MediaLoop
    from endpoint.runtime.rtp_transport import RtpSockets
    from endpoint.sip.offer_answer import DtlsParams, NegotiatedMedia
    from endpoint.sip.sdes import SrtpKeys as SdesKeys

#: Longest request method the runtime reads before parsing (``_sheds``).
MAX_METHOD = 16

log = logging.getLogger("endpoint")

STOP_TIMEOUT = 5.0
#: Longest wait for the integration to close (its own parts are bounded: this is the belt).
INTEGRATION_CLOSE = 8.0


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


_CALL_ID_ERROR = "call_id is a call's id as ctl status shows it (at most 256 characters)"


def _call_id(request: dict[str, Any]) -> str | Literal[False] | None:
    """A command's optional ``call_id`` (None: the focus call); False when it is not a
    short string (the UA then checks it names a call of ours)."""
    value = request.get("call_id")
    if value is None:
        return None
    if not isinstance(value, str) or not 0 < len(value) <= 256:
        return False
    return value


def _worth_failover(reason: str) -> bool:
    """RFC 3263 §4.3: a timeout, a transport error or a 503 moves on to the next target; an
    answer such as 403 is the registrar's verdict and would be the same at any of them."""
    return reason.startswith(("no response", "transport error")) or reason.startswith("503")


def _tls_contexts(cfg: Config) -> tuple[ssl.SSLContext | None, ssl.SSLContext | None]:
    """The TLS client and server contexts for ``[sip] transport = "tls"`` (else none).

    A file that cannot be loaded (a key that does not match its certificate, a CA file that is
    not PEM) stops start-up with an OSError naming the ``[tls]`` key, as a bad bind does."""
    if cfg.sip.transport != "tls":
        return None, None
    # Here, not at the top: a process without TLS has no ssl (issue 19, import_gate.py).
    import ssl

    from endpoint.tls import client_context, describe_failure, server_context

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
        #: The intercom core (UA, buttons, door, LEDs); None until started.
        self.core: Intercom | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_deadline: float | None = None
        self._stop = asyncio.Event()
        self.last_step: float | None = None
        self.media: MediaLoop | None = None
        self._sockets: dict[str, RtpSockets] = {}
        self._ports: dict[str, AudioPort] = {}
        #: Calls whose media plays the ring-back tone of our early media (not answered yet).
        self._early: set[str] = set()
        self._callers: dict[str, str] = {}
        #: The SRTP keys each call's stream runs with (a re-INVITE may bring new ones).
        self._keys: dict[str, SdesKeys | None] = {}
        #: The DTLS association each call runs (RFC 8842: a re-INVITE may ask for a new one).
        self._associations: dict[str, DtlsParams] = {}
        #: `ctl volume`'s speaker volume and microphone gain (dB); None: the config's.
        self._volume: tuple[float | None, float | None] = (None, None)
        self._dtls_identity: DtlsIdentity | None = None
        # random's SystemRandom is secrets' own class (os.urandom), without secrets' import of
        # hmac, hashlib and so libcrypto (issue 19).
        self._rng = random.SystemRandom()
        self.resolver = Resolver()
        self.nat = NatTraversal(config.nat, self._rng)
        self._media_host = "127.0.0.1"
        self._background: set[asyncio.Task[None]] = set()
        self.supervisor = ServiceSupervisor(self)
        self.hardware: HardwareBridge | None = None
        self.internal_errors = 0
        self.integration: Integration | None = None

    async def start(self) -> None:
        """Bind, resolve, start registering. Raises OSError for the caller to report."""
        cfg = self.config
        hops = await self.resolver.hops(cfg)
        resolved = {name: address for name, (address, _) in hops.items()}
        self.transport = await self._start_transport(cfg, resolved)
        local = await self._local_address(cfg, resolved)
        core = self.core = Intercom(cfg, local, random.SystemRandom(), resolved, _srv_ports(hops))
        self.hardware = HardwareBridge(cfg, open_board(cfg), self._hardware_input)
        core.door.restore(self.hardware.saved_lockouts(), time.monotonic())
        self.hardware.start()
        self.integration = await self._start_integration(cfg)
        self.control = ControlServer(cfg.control.socket, self.command, self.events)
        await self.control.start()
        self._log_start(cfg, local.host, resolved)
        core.start(time.monotonic())  # the first LED state, then registering
        self._step()
        self.notifier.notify(READY=1, STATUS=self.supervisor.status.text)
        # Watchdog pings while both loops run; the media thread starts with the first call.
        self.supervisor.start(lambda: self.media)

    async def _start_transport(self, cfg: Config, resolved: dict[str, str]) -> SipTransport:
        """UDP and TCP both listen (RFC 3261 §18: a UA must accept both); the configured
        transport is the one we send on. With TLS the stream listener speaks TLS, and only
        when we have a certificate to present (else calls come over the registration's flow)."""
        tls_client, tls_server = _tls_contexts(cfg)
        listen = cfg.sip.listen
        transport = SipTransport(
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
            sheds=self._sheds,
        )
        transport.configured_names = frozenset(configured_hosts(cfg))
        await transport.start()
        return transport

    async def _local_address(self, cfg: Config, resolved: dict[str, str]) -> LocalAddress:
        """Our address in Via, Contact and SDP; the DTLS certificate when DTLS-SRTP is on.
        On a wildcard listen address, the one the kernel would use towards the last configured
        server (a backup account's, if any): ``_advertised``."""
        target_host = next(reversed(resolved.values()), "127.0.0.1")
        host, sip_port = await self._advertised(target_host)
        if cfg.media.keying == "dtls" and cfg.media.encryption != "off":
            # Imported only here: pyOpenSSL and cryptography serve keying = "dtls" alone.
            from endpoint.media.dtls import DtlsIdentity

            # One certificate per process (endpoint.media.dtls explains why not on disk).
            self._dtls_identity = DtlsIdentity(datetime.datetime.now(datetime.UTC))
        return LocalAddress(
            host,
            sip_port,
            cfg.sip.transport,
            dtls_fingerprint=self._dtls_identity.fingerprint if self._dtls_identity else None,
        )

    def _media_loop(self) -> MediaLoop:
        """The media thread, started at the first call (issue 19): an idle box has none, so
        it neither imports the media engine nor wakes up for it."""
        if self.media is not None:
            return self.media
        from endpoint.runtime.media_loop import MediaLoop

        loop = asyncio.get_running_loop()

        def wake() -> None:
            loop.call_soon_threadsafe(self._media_events)

        media = MediaLoop(self.config.media.ptime, wake=wake)
        media.start()
        self.media = media
        return media

    def _log_start(self, cfg: Config, host: str, resolved: dict[str, str]) -> None:
        assert self.transport is not None
        listen = cfg.sip.listen
        log.info("listening on %s %s:%d", cfg.sip.transport, uri_host(host), self.transport.port)
        for warning in (*security_warnings(cfg), *cfg.media.unavailable):
            log.warning("%s", warning)
        for name, address in resolved.items():
            problem = family_mismatch(listen.host, address)
            if problem:
                log.warning("%s (%s) %s", name, address, problem)

    async def _start_integration(self, cfg: Config) -> Integration:
        """Issue 18: history, HTTP API, webhooks, MQTT, all built from ``cfg``."""
        integration = Integration(
            cfg,
            self.events,
            self.command,
            quality=lambda c: self.media.stats(c) if self.media else None,
        )
        await integration.start()
        return integration

    async def _advertised(self, target_host: str) -> tuple[str, int]:
        """Via/Contact/SDP address: ``[sip] advertise``, else the public address STUN learns
        (``NatTraversal.sip_address``), else the local one: the listen address, or on a
        wildcard the one the kernel would use towards ``target_host`` (the last server).
        RTP binds to the local one (``_media_host``); a NAT's address is only advertised."""
        if self.transport is None:
            raise RuntimeError("the SIP transport is not started")
        listen = self.config.sip.listen.host
        bind_host = listen
        if is_wildcard(bind_host):
            bind_host = _outbound_address(target_host, 5060, listen)
        self._media_host = bind_host
        local = (bind_host, self.transport.port)
        if self.config.sip.advertise:
            return self.config.sip.advertise, self.transport.port
        await self.nat.start(self.resolver.resolve)
        udp = self.config.sip.transport == "udp"
        return await self.nat.sip_address(self.transport, local, udp)

    async def _reload_nat(self) -> None:
        """``[nat]`` changed (SIGHUP): the next calls use the new settings, and STUN runs again
        for the SIP socket, so a new server (or none) gives Via and Contact the address it sees;
        a changed address re-registers with the new Contact (``UserAgent.readdress``)."""
        self.nat = NatTraversal(self.config.nat, self._rng)
        if self.transport is None or self.core is None or self.config.sip.advertise:
            return
        await self.nat.start(self.resolver.resolve)
        ua = self.core.ua
        local = (self._media_host, self.transport.port)
        udp = self.config.sip.transport == "udp"
        host, port = await self.nat.sip_address(self.transport, local, udp)
        if (host, port) != (ua.local.host, ua.local.port):
            log.info("reload: advertising %s:%d from now on", host, port)
            ua.readdress(dataclasses.replace(ua.local, host=host, port=port), time.monotonic())
            self._step()

    async def _stun_then_media_ready(self, call_id: str, sockets: RtpSockets) -> None:
        """The call's SDP port once STUN told its public mapping (or ``stun_timeout`` ran out)."""
        port, rtcp = await self.nat.media_ports(sockets)
        if self.core is not None and self._sockets.get(call_id) is sockets:
            self.core.media_ready(call_id, port, time.monotonic(), rtcp)
            self._step()

    async def apply_config(self, config: Config) -> None:
        """A reloaded configuration (``Supervised``): resolve its servers, retune the UA, and
        start the integration again when one of its sections changed."""
        hops = await self.resolver.hops(config)
        resolved = {name: address for name, (address, _) in hops.items()}
        old, self.config = self.config, config
        from endpoint.config.reload import integration_changed  # loaded by the SIGHUP already

        if old.nat != config.nat:
            await self._reload_nat()
        if self.integration is not None and integration_changed(old, config):
            await self.integration.close()
            self.integration = await self._start_integration(config)
        if self.transport is not None:
            self.transport.server_names = {address: name for name, address in resolved.items()}
            self.transport.configured_names = frozenset(configured_hosts(config))
        if self.core is not None:
            self.core.ua.ports = _srv_ports(hops)
            self.core.reconfigure(config, resolved, time.monotonic())
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
        core = self.core
        if target is None or core is None or (target.address, target.port) == before:
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
        core.registrar_moved(lookup.host, target.address, target.port, time.monotonic())
        self._step()

    def _received(self, message: Message, source: tuple[str, int], kind: str) -> None:
        if self.core is None:
            return
        try:
            self.core.receive(message, source, kind, time.monotonic())
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

    def _sheds(self, data: bytes, host: str) -> bool:
        """Datagrams the UA would drop unanswered after parsing, dropped before: parsing them
        cost the SIP loop (and the GIL the media thread needs) most of its time under a flood.

        - a request from a host ``admits_host`` refuses (rule 7: a stranger in account mode;
          not even one naming our Call-IDs is taken from there), counted and reported as
          the UA does;
        - a request from a source over its rate limit (rule 9) that names none of our calls'
          Call-IDs.

        Responses, and whatever does not start like a request line, take the normal path.
        """
        ua = self.ua
        if ua is None or data.startswith(b"SIP/2.0 "):
            return False
        method, space, _ = data[: MAX_METHOD + 1].partition(b" ")
        if not space or not method.isalpha() or not method.isupper():
            return False
        now = time.monotonic()
        if not ua.admits_host(host):
            if ua.drop_untrusted(method.decode("ascii"), host, now):
                self._step()
            return True
        if not ua.transactions.over_budget(host, now):
            return False
        return not any(call_id.encode() in data for call_id in ua.call_ids())

    def _admits(self, host: str) -> bool:
        """Before the UA exists nobody is answered (it is created right after the bind)."""
        return self.ua is not None and self.ua.admits_host(host)

    @property
    def ua(self) -> UserAgent | None:
        """The core's user agent (None until started)."""
        return self.core.ua if self.core is not None else None

    def _hardware_input(self, event: HardwareEvent) -> None:
        """A board event (on the loop): the core decides, this step carries it out."""
        if self.core is not None:
            self.core.input(event, time.monotonic())
            self._step()

    def _flow_closed(self, destination: tuple[str, int], transport: str) -> None:
        if self.core is not None:
            self.core.flow_closed(destination, transport, time.monotonic())
            self._step()

    def _unreachable(self, destination: tuple[str, int], transport: str) -> None:
        if self.core is not None:
            self.core.transport_failed(destination, transport, time.monotonic())
            self._step()

    def _fire(self) -> None:
        self._timer = None
        if self.core is not None:
            self.core.handle_timer(time.monotonic())
            self._step()

    def _step(self) -> None:
        """Carry out what the core decided: send, run media, drive the board, publish its
        events, re-arm the one timer."""
        core, transport = self.core, self.transport
        if core is None or transport is None:
            return
        for out in core.datagrams_to_send():
            transport.send(out.data, out.destination, out.transport)
        for _ in range(8):  # call actions may lead to more (media ready -> answer -> start)
            actions = core.call_actions()
            if not actions:
                break
            for action in actions:
                self._call_action(action)
            for out in core.datagrams_to_send():
                transport.send(out.data, out.destination, out.transport)
        self._run_devices(core)
        for line in core.button_errors():
            log.warning("%s", line)
        for notice in core.events():
            self._publish(notice)
        self._rearm(core.get_timer())
        self.last_step = time.monotonic()
        if core.ua.stopped:
            self._stop.set()

    def _rearm(self, deadline: float | None) -> None:
        """Arm the one loop timer at the core's next deadline. Most steps leave it where it
        was (a flood's requests all wait on the same earliest timer): then the handle stays,
        instead of one cancel and one call_at per datagram."""
        if self._timer is not None:
            if deadline == self._timer_deadline:
                return
            self._timer.cancel()
            self._timer = None
        self._timer_deadline = deadline
        if deadline is not None:
            loop = asyncio.get_running_loop()
            delay = max(0.0, deadline - time.monotonic())
            self._timer = loop.call_at(loop.time() + delay, self._fire)

    def _run_devices(self, core: Intercom) -> bool:
        """Set the LEDs and pulse the relay as the core asked; False if the relay failed."""
        ok = True
        hardware = self.hardware
        for _ in range(4):  # a failed pulse is one more event, and nothing more
            actions = core.device_actions()
            if not actions:
                break
            for action in actions:
                failure = hardware.execute(action) if hardware is not None else None
                if failure is not None:
                    ok = False
                    core.relay_failed(failure, time.monotonic())
        if hardware is not None:
            hardware.keep_lockouts(core.door.lockouts(time.monotonic()))
        return ok

    def _call_action(self, action: CallAction) -> None:
        """Execute one of the core's call actions (the core decided; this only does it)."""
        core = self.core
        if core is None:
            return
        from endpoint.runtime.call_media import protection_for, warning_tone

        media = self._media_loop()
        now = time.monotonic()
        if isinstance(action, NeedMedia):
            self._allocate(core, action.call_id, now)
        elif isinstance(action, UpdateMedia):
            m = action.media
            if m.srtp != self._keys.get(action.call_id):
                # RFC 4568 §7.1.4: the re-INVITE's keys replace the old ones from now on.
                self._keys[action.call_id] = m.srtp
                media.set_protection(action.call_id, protection_for(m))
            self._renew_association(media, action.call_id, m)
            media.set_remote(
                action.call_id,
                (m.remote_address, m.remote_port),
                (m.remote_address, m.remote_rtcp_port),  # the RTP port itself with rtcp-mux
            )
            media.set_direction(action.call_id, m.direction)
            media.set_codec(action.call_id, m.codec, m.payload_type)
        elif isinstance(action, PlayAlert):
            media.play_alert(action.call_id, warning_tone())
        elif isinstance(action, StartMedia):
            self._start_media(core, media, action, now)
        else:
            self._stop_media(media, action.call_id, action.reason)

    def _allocate(self, core: Intercom, call_id: str, now: float) -> None:
        """RTP/RTCP sockets for a call about to be offered or answered."""
        from endpoint.runtime.rtp_transport import allocate

        try:
            sockets = allocate(self._media_host, self.config.media.rtp_ports, self._rng)
        except OSError as exc:
            log.error("no RTP port for call %s: %s (widen [media] rtp_ports)", call_id, exc)
            core.end_call(call_id, "no RTP port free", now, status=503)
            return
        self._sockets[call_id] = sockets
        if self.nat.server is not None:
            task = asyncio.get_running_loop().create_task(
                self._stun_then_media_ready(call_id, sockets)
            )
            self._background.add(task)
            task.add_done_callback(self._background.discard)
            return
        core.media_ready(call_id, sockets.rtp_port, now)

    def _start_media(
        self, core: Intercom, media: MediaLoop, action: StartMedia, now: float
    ) -> None:
        """The negotiated stream on the call's sockets and the configured audio device (the
        ring-back tone for early media; the device replaces it when the call is answered)."""
        sockets = self._sockets.get(action.call_id)
        if sockets is None:
            return
        if action.call_id in self._early:
            self._answer_early(core, media, action.call_id, now)
            return
        from endpoint.audio import AudioError
        from endpoint.audio.tone import ringback_port
        from endpoint.media.stream import MediaStream
        from endpoint.runtime.call_media import (
            open_configured_audio,
            protection_for,
            stream_config,
            voice_processor,
        )
        from endpoint.runtime.call_steps import CallMedia

        stream = MediaStream(
            stream_config(action.media, self.config, f"door@{core.ua.local.host}"),
            self._rng,
            now,
            protection_for(action.media),
        )
        self._keys[action.call_id] = action.media.srtp
        port: AudioPort
        processor: VoiceProcessor | None
        try:
            rate = stream.codec.audio_rate
            if action.early:
                port, processor = ringback_port(rate), None
                self._early.add(action.call_id)
            else:
                port = open_configured_audio(self.config, rate)
                processor = voice_processor(self.config, *self._volume, rate=rate)
        except (AudioError, OSError, ValueError) as exc:
            # Principle 5: this call ends, the endpoint keeps serving the next one.
            log.error(
                "call %s: cannot open the audio (%s): check [audio] and run sip-endpoint doctor",
                action.call_id,
                exc,
            )
            core.end_call(action.call_id, f"audio failed: {exc}", now)
            return
        self._ports[action.call_id] = port
        dtls, dtls_rtcp = self._handshakes(action.media)
        if action.media.dtls is not None:
            self._associations[action.call_id] = action.media.dtls
        media.add_call(
            CallMedia(
                action.call_id,
                stream,
                sockets,
                port,
                dtls=dtls,
                dtls_rtcp=dtls_rtcp,
                processor=processor,
                port_rate=rate,
            )
        )

    def _answer_early(self, core: Intercom, media: MediaLoop, call_id: str, now: float) -> None:
        """The call that played ring-back is answered: same stream (the 200 repeats the 183's
        SDP), the door's audio device in place of the tone."""
        from endpoint.audio import AudioError
        from endpoint.runtime.call_media import open_configured_audio, voice_processor

        self._early.discard(call_id)
        rate = media.port_rate(call_id)
        try:
            port = open_configured_audio(self.config, rate)
            processor = voice_processor(self.config, *self._volume, rate=rate)
        except (AudioError, OSError, ValueError) as exc:
            log.error("call %s: cannot open the audio (%s): check [audio]", call_id, exc)
            core.end_call(call_id, f"audio failed: {exc}", now)
            return
        tone = self._ports.get(call_id)
        self._ports[call_id] = port
        media.set_port(call_id, port, processor)
        if tone is not None:
            tone.stop()

    def _handshakes(self, m: NegotiatedMedia) -> tuple[DtlsSrtp | None, DtlsSrtp | None]:
        """The DTLS-SRTP handshakes of a call: they run on the media thread, on the RTP
        socket (and the RTCP one without rtcp-mux, RFC 5764 §4.1); SRTP starts after them."""
        d = m.dtls
        if d is None or self._dtls_identity is None:
            return None, None
        identity = self._dtls_identity
        from endpoint.media.dtls import DtlsSrtp  # loaded since the identity was made

        dtls = DtlsSrtp(identity, client=d.client, remote_fingerprint=d.remote_fingerprint)
        if m.rtcp_mux:
            return dtls, None
        return dtls, DtlsSrtp(identity, client=d.client, remote_fingerprint=d.remote_fingerprint)

    def _renew_association(self, media: MediaLoop, call_id: str, m: NegotiatedMedia) -> None:
        """A re-INVITE that asks for a new DTLS association (a new tls-id, or a new
        fingerprint or role from a peer without one): a new handshake, SRTP waits for it."""
        before = self._associations.get(call_id)
        if m.dtls is None or before is None or m.dtls.continues(before):
            return
        self._associations[call_id] = m.dtls
        dtls, dtls_rtcp = self._handshakes(m)
        if dtls is not None:
            log.info("call %s: new DTLS association asked for: handshake again", call_id)
            media.set_dtls(call_id, dtls, dtls_rtcp)

    def _stop_media(self, media: MediaLoop, call_id: str, reason: str) -> None:
        """Take the call off the media thread; release its device and sockets once it has
        left, then report it."""
        future = media.remove_call(call_id)
        old_sockets = self._sockets.pop(call_id, None)
        old_port = self._ports.pop(call_id, None)
        self._early.discard(call_id)
        self._keys.pop(call_id, None)
        self._associations.pop(call_id, None)
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
        stats_dict = stats.as_dict() if stats is not None else {}
        self.events.publish(CallReport(call_id=call_id, reason=reason, stats=stats_dict).as_dict())

    def _media_events(self) -> None:
        if self.media is None:
            return
        from endpoint.media.dtmf import DtmfDigit  # loaded with the media loop
        from endpoint.media.stream import MediaTimeout
        from endpoint.runtime.call_steps import CallFailed

        for call_id, event in self.media.events():
            if isinstance(event, DtmfDigit) and self.core is not None:
                self.core.dtmf(call_id, event.digit, event.duration_ms, time.monotonic())
                self._step()
            elif isinstance(event, MediaTimeout) and self.core is not None:
                reason = f"no audio from the peer for {event.seconds:g} s"
                log.warning("call %s: %s; hanging up", call_id, reason)
                self.core.end_call(call_id, reason, time.monotonic())
                self._step()
            elif isinstance(event, CallFailed):
                log.error("media of call %s failed: %s", call_id, event.reason)
                if self.core is not None:
                    self.core.end_call(call_id, event.reason, time.monotonic())
                    self._step()

    def _shown(self, notice: Notice) -> Notice:
        """The notice as the log and ``ctl events`` may see it: with a door code configured,
        no DTMF digit is shown at all (issue 13 rule 5: the code never reaches any output;
        which digits belong to code entry is the door's secret too)."""
        if isinstance(notice, DtmfReceived) and self.config.door.code:
            return dataclasses.replace(notice, digit="hidden")
        return notice

    def _publish(self, notice: Notice) -> None:
        shown = self._shown(notice)
        detail = " ".join(f"{k}={v}" for k, v in shown.detail.items())
        level = logging.WARNING if notice.warning else logging.INFO
        log.log(level, "%s %s", notice.name, detail)
        self.events.publish(shown.as_dict())
        self.supervisor.notice(shown)  # STATUS= for systemctl status
        if isinstance(notice, RegistrationFailed) and _worth_failover(notice.reason):
            task = asyncio.get_running_loop().create_task(
                self._dns_failover(notice.account, notice.reason)
            )
            self._background.add(task)  # held until done: the loop keeps only weak references
            task.add_done_callback(self._background.discard)

    async def command(self, request: dict[str, Any]) -> dict[str, Any]:
        """A control-socket request (``ctl``): looked up in the command table."""
        command = request["cmd"]
        if command in INTEGRATION_COMMANDS and self.integration is not None:
            return await self.integration.handle(request)
        handler = self._command_table().get(command)
        if handler is None:
            return {"ok": False, "error": f"unknown command {command!r}"}
        if self.core is None:
            return {"ok": False, "error": "not started"}
        return handler(self.core, request)

    def _command_table(self) -> dict[str, Callable[[Intercom, dict[str, Any]], dict[str, Any]]]:
        return {
            "status": self._status_command,
            "answer": self._answer_command,
            "hangup": self._hangup_command,
            "call": self._call_command,
            "transfer": self._transfer_command,
            "register": self._register_command,
            "dtmf": self._dtmf_command,
            "hold": self._hold_command,
            "resume": self._hold_command,
            "message": self._message_command,
            "volume": self._volume_command,
            "open-door": self._open_door_command,
        }

    def _status_command(self, core: Intercom, _: dict[str, Any]) -> dict[str, Any]:
        hardware = (
            {**self.hardware.status(), **core.device_status()}
            if self.hardware is not None
            else None
        )
        return {"ok": True, **core.ua.status(time.monotonic()), "hardware": hardware}

    def _answer_command(self, core: Intercom, _: dict[str, Any]) -> dict[str, Any]:
        done = core.answer(time.monotonic())
        self._step()
        return {"ok": done} if done else {"ok": False, "error": "no ringing call"}

    def _hangup_command(self, core: Intercom, request: dict[str, Any]) -> dict[str, Any]:
        """``hangup``: the call named by ``call_id``, else the focus call (during an attended
        transfer's consultation, the consultation call: the held call is resumed)."""
        call_id = _call_id(request)
        if call_id is False:
            return {"ok": False, "error": _CALL_ID_ERROR}
        try:
            done = core.hangup(time.monotonic(), call_id)
        except ValueError as exc:
            return {"ok": False, "error": str(exc)}
        self._step()
        return {"ok": done} if done else {"ok": False, "error": "no call"}

    def _register_command(self, core: Intercom, request: dict[str, Any]) -> dict[str, Any]:
        if not core.ua.registrations:
            return {"ok": False, "error": "no [account]: peer-to-peer mode registers nowhere"}
        enabled = request.get("enabled")
        core.register(enabled if isinstance(enabled, bool) else None, time.monotonic())
        self._step()
        return {"ok": True}

    def _dtmf_command(self, core: Intercom, request: dict[str, Any]) -> dict[str, Any]:
        """``dtmf``: keys on the call named by ``call_id``, else on the focus call."""
        call_id = _call_id(request)
        if call_id is False:
            return {"ok": False, "error": _CALL_ID_ERROR}
        active = core.ua.focus() if call_id is None else call_id
        digits = request.get("digits")
        if active is None or not isinstance(digits, str) or self.media is None:
            return {"ok": False, "error": "no call (or no digits)"}
        from endpoint.media.dtmf import EVENTS as DTMF_KEYS  # loaded with the media loop

        if not digits or any(c not in DTMF_KEYS for c in digits.upper()):
            return {"ok": False, "error": "DTMF keys are 0-9, *, #, A-D (e.g. ctl dtmf 5#)"}
        method = core.send_dtmf(active, digits.upper(), time.monotonic())
        if method is None:
            return {"ok": False, "error": "no call (or no digits)"}
        if method == "rfc4733":
            self.media.send_dtmf(active, digits)
        self._step()
        return {"ok": True, "method": method}

    def _hold_command(self, core: Intercom, request: dict[str, Any]) -> dict[str, Any]:
        """``hold`` / ``resume``: a re-INVITE (a=sendonly, then sendrecv). The answer only says
        it was sent: the peer's answer (or a 491 and our retry, RFC 3261 §14.1) comes later, so
        the event stream says whether it took (call-held / call-resumed by=us, or
        call-hold-failed with the reason). ``call_id`` names the call, else the focus call."""
        call_id = _call_id(request)
        if call_id is False:
            return {"ok": False, "error": _CALL_ID_ERROR}
        problem = core.set_hold(request["cmd"] == "hold", time.monotonic(), call_id)
        self._step()
        if problem is not None:
            return {"ok": False, "error": problem}
        return {"ok": True, "status": "sent"}

    def _message_command(self, core: Intercom, request: dict[str, Any]) -> dict[str, Any]:
        """``{"to": target, "text": ...}``: a SIP MESSAGE; "ok" means sent, the event stream
        says whether it arrived (text-message-sent / text-message-failed)."""
        target, text = request.get("to"), request.get("text")
        if not isinstance(target, str) or not isinstance(text, str):
            return {"ok": False, "error": 'a message needs "to" and "text"'}
        from endpoint.ua.messages import MessageRefusedError  # at the first MESSAGE

        try:
            in_dialog = core.send_message(target, text, time.monotonic())
        except (ParseError, MessageRefusedError) as exc:
            return {"ok": False, "error": str(exc)}
        self._step()
        return {"ok": True, "in_dialog": in_dialog}

    def _volume_command(self, core: Intercom, request: dict[str, Any]) -> dict[str, Any]:
        """``{"speaker": dB, "mic": dB}`` (either may be left out): the current call and the
        next ones, until a restart; the answer carries the values in force."""
        speaker, mic = self._volume
        for key, low, high in (("speaker", -60, 12), ("mic", -20, 40)):
            value = request.get(key)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float):
                return {"ok": False, "error": f"{key} is a number of dB, not {value!r}"}
            if not low <= value <= high:
                return {"ok": False, "error": f"{key} {value} dB is outside {low} to {high} dB"}
            if key == "speaker":
                speaker = float(value)
            else:
                mic = float(value)
        self._volume = (speaker, mic)
        active = core.ua.focus()
        if active is not None and self.media is not None:
            self.media.set_volume(active, speaker, mic)
        audio = self.config.audio
        return {
            "ok": True,
            "speaker": audio.speaker_volume if speaker is None else speaker,
            "mic": audio.mic_gain if mic is None else mic,
        }

    def _open_door_command(self, core: Intercom, request: dict[str, Any]) -> dict[str, Any]:
        # The door log says which face opened it: the control socket, or the building
        # services acting through it (HTTP API, MQTT); nothing else is taken from a request.
        via = str(request["via"]) if request.get("via") in ("http", "mqtt") else "ctl"
        if self.hardware is None:
            return {"ok": False, "error": "not started"}
        if not self.hardware.has_relay:
            return {"ok": False, "error": "no door relay configured (set [door] relay_pin)"}
        core.open_door(via, time.monotonic())
        switched = self._run_devices(core)
        self._step()
        if not switched:
            return {"ok": False, "error": "the door relay did not switch (see the log)"}
        return {"ok": True, "seconds": self.config.door.pulse_s}

    def _call_command(self, core: Intercom, request: dict[str, Any]) -> dict[str, Any]:
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
                answer = {"ok": True, "call_id": core.call(targets[0], now)}
            else:
                group = core.call_group(targets, mode == "parallel", float(timeout), now)
                answer = {"ok": True, "group_id": group}
        except (ValueError, ParseError) as exc:
            return {"ok": False, "error": str(exc)}
        self._step()
        return answer

    def _transfer_command(self, core: Intercom, request: dict[str, Any]) -> dict[str, Any]:
        """``{"uri": ...}``: blind transfer of the answered call; with ``"attended": "start"``
        the call is held and ``uri`` consulted first, then ``"complete"`` (REFER with Replaces)
        or ``"cancel"``. Outcomes are events (consultation-*, transfer-*); the answer only
        says the step was taken."""
        target = request.get("uri")
        step = request.get("attended")
        if step in ("complete", "cancel"):
            target = None
        elif not isinstance(target, str) or not target:
            return {"ok": False, "error": 'transfer needs "uri", e.g. sip:flat12@pbx.example.com'}
        try:
            if step is None and isinstance(target, str):
                call_id = core.transfer(target, time.monotonic())
            else:
                call_id = core.transfer_attended(str(step), target, time.monotonic())
        except (ValueError, ParseError) as exc:
            return {"ok": False, "error": str(exc)}
        self._step()
        return {"ok": True, "call_id": call_id}

    def request_stop(self) -> None:
        core = self.core
        if core is not None and not core.ua.stopping:
            self.notifier.notify(STOPPING=1)
            log.info("stopping: un-registering")
            core.stop(time.monotonic())
            self._step()
        if core is None or not core.ua.registrations:
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
        dataclass_cache.release()  # the classes of the run path exist: their code is read
        try:
            await self.start()
            # Once READY=1 is out: the code compiled for dataclasses, kept as a .pyc would be.
            loop.call_soon(dataclass_cache.save)
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
        for sockets in self._sockets.values():
            sockets.close()  # a call still ringing has its sockets, and no media yet
        for port in self._ports.values():
            port.stop()
        if self.control is not None:
            await self.control.close()
        if self.integration is not None:
            await _bounded("the building integration", self.integration.close(), INTEGRATION_CLOSE)
        if self.transport is not None:
            await self.transport.close()
        self.supervisor.close()
        self.notifier.close()


async def _bounded(what: str, closing: Coroutine[Any, Any, None], seconds: float) -> None:
    """Await ``closing`` for at most ``seconds``: a stop must end the process whatever a part
    does (systemd would kill it, and a door that hangs on SIGTERM restarts late)."""
    task = asyncio.ensure_future(closing)
    done, _ = await asyncio.wait({task}, timeout=seconds)
    if not done:
        log.warning("stopping: %s did not close within %g s; going on", what, seconds)
        task.cancel()
