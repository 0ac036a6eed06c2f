"""UDP sockets for one call's RTP and RTCP, allocated from the configured port range.

RTP takes an even port and RTCP the next one (RFC 3550 §11), or RTP alone with rtcp-mux. The
sockets are non-blocking: the media thread polls them each tick and never waits on the network.
"""

from __future__ import annotations

import contextlib
import os
import random
import socket
from collections.abc import Callable
from dataclasses import dataclass, field

from endpoint.runtime.addresses import mapped_for, unmapped

Address = tuple[str, int]
MAX_DRAIN = 32  # datagrams per socket per tick: a flood cannot stall the media clock


class NoFreePortError(OSError):
    """Every port pair of the range is in use."""


@dataclass
class RtpSockets:
    """The bound RTP socket and, unless RTCP is multiplexed, its RTCP neighbour."""

    rtp: socket.socket
    rtcp: socket.socket | None
    #: Dual-stack (IPv6) sockets: IPv4 peers appear as ``::ffff:a.b.c.d`` on them. Kept here
    #: because ``socket.family`` is a Python property that builds an enum on every read.
    _v6: bool = field(init=False, repr=False)
    #: The latched peer the RTP socket is connected to, or None (open to every source, as
    #: before the latch). Connected, the kernel drops other sources' datagrams before they
    #: cost us a read, and a send takes the socket's cached route instead of a lookup.
    peer: Address | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self._v6 = self.rtp.family == socket.AF_INET6

    def follow(self, peer: Address | None) -> None:
        """Connect the RTP socket to the peer the stream latched to; open it to every source
        again when the latch is gone (a re-INVITE moved the peer), so the new one can latch.
        A connect the network refuses leaves the socket open; the next tick tries again."""
        if peer == self.peer:
            return
        try:
            if peer is None:
                _disconnect(self.rtp)
            else:
                self.rtp.connect(self._wire(peer))
        except OSError:
            return
        self.peer = peer

    def peer_send(self) -> Callable[[bytes], int]:
        """How the media loop's fused tick sends RTP to the connected peer, bound once per
        call: the socket's own ``send`` (what ``send`` below does for that destination). The
        one hook for benchmarks that time the send instant: a subclass returns a wrapper."""
        return self.rtp.send

    def _wire(self, address: Address) -> Address:
        if self._v6:
            return mapped_for(socket.AF_INET6, address[0]), address[1]
        return address

    @property
    def rtp_port(self) -> int:
        return int(self.rtp.getsockname()[1])

    @property
    def rtcp_port(self) -> int:
        return int(self.rtcp.getsockname()[1]) if self.rtcp is not None else self.rtp_port

    def close(self) -> None:
        self.rtp.close()
        if self.rtcp is not None:
            self.rtcp.close()

    def read(self, sock: socket.socket) -> tuple[bytes, Address] | None:
        """One datagram and its source, or None: nothing there, or an error the kernel
        queued for the socket (an ICMP port unreachable), which this read consumes."""
        try:
            data, addr = sock.recvfrom(2048)
        except OSError:  # BlockingIOError and InterruptedError among them
            return None
        return data, (unmapped(addr[0]), addr[1]) if self._v6 else addr

    def send(self, sock: socket.socket, data: bytes, destination: Address) -> bool:
        try:
            if destination == self.peer and sock is self.rtp:
                sock.send(data)
            else:  # RTCP, or DTLS to the signalled address while the peer is elsewhere (NAT)
                sock.sendto(data, self._wire(destination))
        except (BlockingIOError, InterruptedError, OSError):
            return False
        return True


def _disconnect(sock: socket.socket) -> None:
    """``connect()`` to an ``AF_UNSPEC`` address dissolves a UDP association (POSIX; udp(7)).
    Python's ``connect`` takes only addresses of the socket's own family, hence libc; and not
    the any-address either, which Linux takes as "connected to this host". Only a re-INVITE
    that moves the peer gets here, so ctypes is imported then, not at start."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    unspec = (ctypes.c_ubyte * 16)()  # sa_family 0 = AF_UNSPEC, the rest zero
    if libc.connect(sock.fileno(), unspec, len(unspec)) != 0:
        error = ctypes.get_errno()
        raise OSError(error, os.strerror(error))


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    with contextlib.suppress(OSError):  # DSCP EF (46): voice, for networks that honour it
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, 46 << 2)
    return sock


def allocate(
    host: str, port_range: tuple[int, int], rng: random.Random, *, rtcp_mux: bool = False
) -> RtpSockets:
    """Bind an RTP (even) port and its RTCP neighbour from ``port_range``, starting at random."""
    low = port_range[0] + port_range[0] % 2
    pairs = list(range(low, port_range[1], 2))
    start = rng.randrange(len(pairs)) if pairs else 0
    for i in range(len(pairs)):
        port = pairs[(start + i) % len(pairs)]
        try:
            rtp = _bind(host, port)
        except OSError:
            continue
        if rtcp_mux:
            return RtpSockets(rtp, None)
        try:
            rtcp_sock = _bind(host, port + 1)
        except OSError:
            rtp.close()
            continue
        return RtpSockets(rtp, rtcp_sock)
    raise NoFreePortError(f"no free RTP port pair in {port_range[0]}-{port_range[1]} on {host}")
