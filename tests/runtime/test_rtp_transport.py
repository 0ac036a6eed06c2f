"""A call's RTP socket connected to the latched peer (issue 19): strangers are dropped by the
kernel, the peer's packets and our sends pass, and a moved peer can latch again."""

from __future__ import annotations

import random
import socket

import pytest

from endpoint.runtime.rtp_transport import RtpSockets, allocate


def _bound(host: str) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((host, 0))
    sock.settimeout(2.0)
    return sock


def _read_all(sockets: RtpSockets) -> list[bytes]:
    got = []
    while (datagram := sockets.read(sockets.rtp)) is not None:
        got.append(datagram[0])
    return got


def _ipv6_loopback() -> bool:
    try:
        _bound("::1").close()
    except OSError:
        return False
    return True


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        pytest.param(
            "::1", marks=pytest.mark.skipif(not _ipv6_loopback(), reason="no IPv6 loopback")
        ),
    ],
)
def test_connected_to_the_latched_peer_then_open_again_when_it_moves(host: str) -> None:
    sockets = allocate(host, (30000, 60000), random.Random(7), rtcp_mux=True)
    peer, stranger, moved = _bound(host), _bound(host), _bound(host)
    ours = sockets.rtp.getsockname()[:2]
    try:
        stranger.sendto(b"before", ours)
        peer.sendto(b"peer-1", ours)
        assert sorted(_read_all(sockets)) == [b"before", b"peer-1"]  # open to every source

        sockets.follow(peer.getsockname()[:2])
        assert sockets.rtp.getpeername()[:2] == peer.getsockname()[:2]
        stranger.sendto(b"spoof", ours)
        peer.sendto(b"peer-2", ours)
        assert sockets.send(sockets.rtp, b"to-peer", peer.getsockname()[:2])
        assert peer.recv(100) == b"to-peer"
        # Another destination still works from the connected socket (DTLS to the address
        # the SDP names while media comes from elsewhere).
        assert sockets.send(sockets.rtp, b"to-other", moved.getsockname()[:2])
        assert moved.recv(100) == b"to-other"
        assert _read_all(sockets) == [b"peer-2"]  # the stranger's datagram never arrives

        sockets.follow(None)  # the latch is gone: a re-INVITE moved the peer
        assert sockets.peer is None
        with pytest.raises(OSError):
            sockets.rtp.getpeername()
        moved.sendto(b"moved", ours)
        assert _read_all(sockets) == [b"moved"]
    finally:
        for sock in (peer, stranger, moved):
            sock.close()
        sockets.close()
