"""STUN on our own sockets: the public address of the SIP socket and of each call's RTP socket.

The sans-IO ``endpoint.media.stun`` decides; this module only sends its requests from the
socket whose mapping we want (a NAT maps each socket separately) and waits, never longer than
the time it is given. Whoever asks falls back to the local address on ``None``: a door that
cannot reach its STUN server still answers, with the address it has.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from endpoint.config.nat import NatSettings
from endpoint.media.stun import BindingTransaction, MappedAddress, looks_like_stun
from endpoint.runtime.addresses import mapped_for, unmapped
from endpoint.runtime.sip_transport import SipTransport

if TYPE_CHECKING:
    # A call's sockets: the media path is loaded at the first call (issue 19).
    from endpoint.runtime.rtp_transport import RtpSockets

log = logging.getLogger("endpoint.nat")

Address = tuple[str, int]


class StunProbe:
    """One Binding transaction over a socket someone else reads: ``feed`` gets the datagrams
    that look like STUN; ``run`` sends and retransmits until an answer or ``timeout``."""

    def __init__(self, send: Callable[[bytes], None], rng: random.Random) -> None:
        self._send = send
        self._transaction = BindingTransaction(rng.randbytes(12), time.monotonic())
        self._settled = asyncio.Event()

    def feed(self, data: bytes) -> None:
        if self._transaction.receive(data):
            self._settled.set()

    async def run(self, timeout: float) -> MappedAddress | None:
        t = self._transaction
        give_up = t.started + timeout
        self._send(t.request)
        while (deadline := t.get_timer()) is not None:
            wait = min(deadline, give_up) - time.monotonic()
            if wait > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._settled.wait(), wait)
            if t.result is not None or time.monotonic() >= give_up:
                break
            again = t.handle_timer(time.monotonic())
            if again is not None:
                self._send(again)
        return t.result


async def socket_mapping(
    sock: socket.socket, server: Address, timeout: float, rng: random.Random
) -> MappedAddress | None:
    """The public address of ``sock`` (a non-blocking UDP socket nobody else reads yet, such
    as a call's RTP socket before its media starts). Other datagrams that come meanwhile
    (early RTP) are dropped: media has not started, so nothing is lost that would be played."""
    loop = asyncio.get_running_loop()
    destination = (mapped_for(sock.family, server[0]), server[1])

    def send(data: bytes) -> None:
        with contextlib.suppress(OSError):
            sock.sendto(data, destination)

    probe = StunProbe(send, rng)

    async def read() -> None:
        while True:
            data, source = await loop.sock_recvfrom(sock, 2048)
            if (unmapped(source[0]), source[1]) == server and looks_like_stun(data):
                probe.feed(data)

    reader = loop.create_task(read())
    try:
        return await probe.run(timeout)
    except OSError as exc:
        log.info("STUN from port %s failed: %s", sock.getsockname()[1], exc)
        return None
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, OSError):
            await reader


class StunSink:
    """What the SIP transport calls with the STUN-looking datagrams its UDP socket receives
    (``SipTransport.stun_sink``); everything else stays SIP."""

    def __init__(self) -> None:
        self.probes: dict[Address, StunProbe] = {}

    def __call__(self, data: bytes, source: Address) -> None:
        probe = self.probes.get(source)
        if probe is not None:
            probe.feed(data)


async def sip_mapping(
    send: Callable[[bytes, Address], None],
    sink: StunSink,
    server: Address,
    timeout: float,
    rng: random.Random,
) -> MappedAddress | None:
    """The public address of the SIP UDP socket, asked through the transport's ``send``."""
    probe = StunProbe(lambda data: send(data, server), rng)
    sink.probes[server] = probe
    try:
        return await probe.run(timeout)
    finally:
        sink.probes.pop(server, None)


#: At start-up the SIP socket's mapping may take this long (calls wait ``stun_timeout``).
START_SECONDS = 2.0


class NatTraversal:
    """``[nat]`` at run time: the STUN server's address, the SIP socket's public address, and
    each call's public RTP port. Without a server every answer is the local one."""

    def __init__(self, settings: NatSettings, rng: random.Random) -> None:
        self.settings = settings
        self.rng = rng
        self.server: Address | None = None
        self.sink = StunSink()

    async def start(self, resolve: Callable[[str], Awaitable[str | None]]) -> None:
        """Resolve the server's name (an unresolvable one is logged, and STUN is off)."""
        configured = self.settings.stun_server
        if configured is None:
            return
        address = await resolve(configured.host)
        if address is None:
            log.warning("STUN server %s not found: advertising local addresses", configured)
            return
        self.server = (address, configured.port)

    async def sip_address(self, transport: SipTransport, local: Address, udp: bool) -> Address:
        """The address for Via and Contact (and the SDP's host), or ``local`` when there is no
        server or no answer in START_SECONDS. Over UDP: the SIP socket's own mapping. Over TCP
        or TLS a connection's mapping is another, so only the public host is asked for (from a
        UDP socket on the same address) and our listening port is kept."""
        if self.server is None or not _same_family(self.server[0], local[0]):
            return local
        if udp:
            transport.stun_sink = self.sink
            found = await sip_mapping(
                transport.send_stun, self.sink, self.server, START_SECONDS, self.rng
            )
        else:
            found = await self._host_mapping(local[0])
        if found is None:
            log.warning("STUN server %s:%d did not answer: advertising %s", *self.server, local[0])
            return local
        log.info("stun: SIP socket %s:%d is %s:%d outside", *local, found.host, found.port)
        return found.host, found.port if udp else local[1]

    async def _host_mapping(self, host: str) -> MappedAddress | None:
        if self.server is None:
            return None
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            sock.bind((host, 0))
            sock.setblocking(False)
            return await socket_mapping(sock, self.server, START_SECONDS, self.rng)

    async def media_ports(self, sockets: RtpSockets) -> tuple[int, tuple[str, int] | None]:
        """The RTP port for m= and, without rtcp-mux, the RTCP socket's public address for
        a=rtcp (RFC 3605: the NAT need not map RTCP to the RTP port + 1), asked at once."""
        if sockets.rtcp is None or self.server is None:
            return await self.rtp_port(sockets), None
        port, rtcp = await asyncio.gather(
            self.rtp_port(sockets),
            socket_mapping(sockets.rtcp, self.server, self.settings.stun_timeout, self.rng),
        )
        if rtcp is None:
            return port, None
        log.info("stun: RTCP port %d is %s:%d outside", sockets.rtcp_port, rtcp.host, rtcp.port)
        return port, (rtcp.host, rtcp.port)

    async def rtp_port(self, sockets: RtpSockets) -> int:
        """The port the SDP offers: the RTP socket's public one, or its own after
        ``stun_timeout`` (a door must never stall a call on its STUN server)."""
        local = sockets.rtp_port
        if self.server is None:
            return local
        found = await socket_mapping(sockets.rtp, self.server, self.settings.stun_timeout, self.rng)
        if found is None:
            log.info("stun: no answer for RTP port %d in time: offering it as it is", local)
            return local
        log.info("stun: RTP port %d is %s:%d outside", local, found.host, found.port)
        return found.port


def _same_family(a: str, b: str) -> bool:
    return (":" in a) == (":" in b)
