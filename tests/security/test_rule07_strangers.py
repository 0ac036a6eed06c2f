"""Issue 13 rule 7: strangers get nothing and cost nothing.

In account mode (registered at a real Kamailio on 127.0.0.1) a stranger on 127.0.0.2 gets no
byte back, whatever it sends (well-formed, malformed, a flood), leaves no transaction, cannot
keep a TCP connection, and costs at most a few log lines. In peer-to-peer mode, where anyone
may connect, TCP connections are limited per source and must bring whole messages in time.
"""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.interop.peers import Kamailio, free_port
from tests.security.attacker import (
    Door,
    TcpAttacker,
    UdpAttacker,
    account_config,
    p2p_tls_config,
    request,
    running_door,
    status_of,
)

pytestmark = pytest.mark.interop
STRANGER = "127.0.0.2"


@pytest.fixture
def account_door(tmp_path: Path, kamailio: Kamailio) -> Iterator[Door]:
    port = free_port(both=True)
    config = tmp_path / "door.toml"
    account_config(config, port, kamailio.port)
    with running_door(tmp_path, port, config) as door:
        door.notify.wait_for(lambda d: d.get("STATUS", "").startswith("registered"), timeout=20)
        yield door


def stranger_traffic(port: int, source: tuple[str, int]) -> list[bytes]:
    return [
        request("OPTIONS", port, source=source),
        request("INVITE", port, source=source, headers=("Content-Type: application/sdp",)),
        request("OPTIONS", port, source=source, drop=("Call-ID",)),
        request("OPTIONS", port, source=source, content_length="\u00b2"),
        request("BYE", port, source=source, from_='"a<b" <sip:x@127.0.0.2>;tag=1'),
        b"NOT SIP AT ALL\r\n\r\n",
        request("OPTIONS", port, source=source).replace(b"CSeq: 1 ", b"CSeq: x "),
        b"OPTIONS sip:door@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.2;rport\r\n\r\n",
    ]


def test_a_stranger_gets_no_byte_and_leaves_no_state(account_door: Door) -> None:
    stranger = UdpAttacker(STRANGER, account_door.port)
    try:
        for data in stranger_traffic(account_door.port, stranger.address):
            stranger.send(data)
        for n in range(600):  # more than the 512 transaction slots: no 503 either
            stranger.send(request("OPTIONS", account_door.port, source=stranger.address, cseq=n))
        assert stranger.drain(1.5) == []
        tcp = TcpAttacker(STRANGER, account_door.port)
        try:
            assert tcp.closed_by_peer(2.0)
        finally:
            tcp.close()
    finally:
        stranger.close()
    status = account_door.status()
    assert status["transactions"] <= 2  # the registration's own, nothing of the stranger's
    untrusted = status["untrusted_dropped"]
    assert isinstance(untrusted, int) and untrusted >= 1  # (the kernel may drop some)
    about_stranger = [x for x in account_door.log.splitlines() if STRANGER in x]
    assert len(about_stranger) <= 4, about_stranger  # rate-limited, not one per datagram
    assert "Traceback" not in account_door.log
    # The registrar's side still works: OPTIONS from 127.0.0.1 is answered.
    friend = UdpAttacker("127.0.0.1", account_door.port)
    try:
        answer = friend.final(request("OPTIONS", account_door.port, source=friend.address))
        assert answer is not None and status_of(answer) == 200
    finally:
        friend.close()


def test_tcp_connections_are_limited_per_source_and_must_bring_messages(
    p2p_door: Door,
) -> None:
    conns = [TcpAttacker(STRANGER, p2p_door.port) for _ in range(8)]
    try:
        ninth = TcpAttacker(STRANGER, p2p_door.port)
        assert ninth.closed_by_peer(2.0)  # one source, eight connections at most
        ninth.close()
        other = TcpAttacker("127.0.0.3", p2p_door.port)  # another source is still served
        other.send(request("OPTIONS", p2p_door.port, source=other.address, transport="TCP"))
        answer = other.read_message()
        assert answer is not None and status_of(answer) == 200
        other.close()
        # A CRLF every second, and a message one byte a second: neither keeps its connection.
        crlf, slow = conns[0], conns[1]
        message = request("OPTIONS", p2p_door.port, source=slow.address, transport="TCP")
        start = time.monotonic()
        closed: dict[str, float] = {}
        for k in range(30):
            for name, conn, data in (
                ("crlf", crlf, b"\r\n\r\n"),
                ("slow", slow, message[k : k + 1]),
            ):
                if name in closed:
                    continue
                try:
                    conn.send(data)
                except OSError:
                    closed[name] = time.monotonic() - start
            if len(closed) == 2:
                break
            time.sleep(1.0)
        assert set(closed) == {"crlf", "slow"}, closed
    finally:
        for conn in conns:
            conn.close()
    assert "Traceback" not in p2p_door.log


def test_tls_connections_are_limited_before_the_handshake(tmp_path: Path) -> None:
    """The TLS listener of a peer-to-peer door: a stranger that opens connections and never
    says hello holds at most 8, each for the 5 s the handshake may take. asyncio's TLS server
    handshook first, for up to 60 s, and the per-source limit never saw those connections:
    one source held 300 of them (300 file descriptors of the door). A TLS client on another
    address is served throughout."""
    port = free_port(both=True)
    config = tmp_path / "door.toml"
    ca_file = p2p_tls_config(config, port)
    with running_door(tmp_path, port, config) as door:
        silent = [TcpAttacker(STRANGER, port) for _ in range(20)]
        try:
            assert all(c.closed_by_peer(2.0) for c in silent[8:])  # over the limit: at once
            friend = socket.create_connection(("127.0.0.1", port), 5, ("127.0.0.3", 0))
            source = friend.getsockname()
            context = ssl.create_default_context(cafile=str(ca_file))
            with context.wrap_socket(friend, server_hostname="127.0.0.1") as tls:
                tls.sendall(request("OPTIONS", port, source=source, transport="TLS"))
                tls.settimeout(5)
                assert tls.recv(65536).startswith(b"SIP/2.0 200 ")
            assert all(c.closed_by_peer(10.0) for c in silent[:8])  # no hello in 5 s: closed
            # asyncio closes the socket at the timeout; the door's line follows a moment later.
            door.wait_until(lambda: "TLS handshake with 127.0.0.2 failed" in door.log)
            log = door.log
        finally:
            for conn in silent:
                conn.close()
    assert "refusing TLS connection from 127.0.0.2: 8 connections open from it" in log
    assert "Traceback" not in log
