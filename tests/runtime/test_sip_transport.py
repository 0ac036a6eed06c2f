"""SIP over real UDP and TCP sockets on 127.0.0.1 (RFC 3261 §18)."""

import asyncio
import socket
import threading
from pathlib import Path

import pytest

from endpoint.runtime.sip_transport import UDP_BATCH, SipTransport
from endpoint.sip import Request, Response, make_response, parse
from endpoint.sip.message import Message

TORTURE = Path(__file__).resolve().parents[1] / "sip" / "rfc4475" / "messages"
OPTIONS = (
    b"OPTIONS sip:door@127.0.0.1 SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKabc;rport\r\n"
    b"From: <sip:flat@127.0.0.1>;tag=1\r\nTo: <sip:door@127.0.0.1>\r\n"
    b"Call-ID: c1@127.0.0.1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
)


class Collector:
    def __init__(self) -> None:
        self.items: list[tuple[Message, tuple[str, int], str]] = []
        self.event = asyncio.Event()

    def __call__(self, message: Message, source: tuple[str, int], kind: str) -> None:
        self.items.append((message, source, kind))
        self.event.set()

    async def wait(self, count: int) -> None:
        async with asyncio.timeout(5):
            while len(self.items) < count:
                self.event.clear()
                await self.event.wait()


def udp_client() -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.setblocking(False)
    return s


async def recv(sock: socket.socket) -> bytes:
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(5):
        return await loop.sock_recv(sock, 65535)


@pytest.fixture
async def transport() -> SipTransport:
    t = SipTransport("127.0.0.1", 0, Collector())
    await t.start()
    yield t  # type: ignore[misc]
    await t.close()


async def test_udp_request_reaches_the_receiver_with_its_source(transport: SipTransport) -> None:
    collector = transport.receiver
    assert isinstance(collector, Collector)
    client = udp_client()
    client.sendto(OPTIONS, transport.local_address)
    await collector.wait(1)
    message, source, kind = collector.items[0]
    assert isinstance(message, Request) and message.method == "OPTIONS"
    assert source == client.getsockname() and kind == "udp"
    transport.send(bytes(make_response(message, 200, to_tag="x")), source)
    answer = parse(await recv(client))
    assert isinstance(answer, Response) and answer.status == 200
    client.close()


async def test_malformed_requests_get_400_and_service_continues(transport: SipTransport) -> None:
    collector = transport.receiver
    assert isinstance(collector, Collector)
    client = udp_client()
    for name in ("badinv01", "quotbal", "baddn", "lwsstart", "ltgtruri", "clerr"):
        client.sendto((TORTURE / f"{name}.dat").read_bytes(), transport.local_address)
        reply = await recv(client)  # echoes the request's (possibly broken) Via and Call-ID
        assert reply.startswith(b"SIP/2.0 400 Bad Request\r\n"), name
        assert f"\r\nCall-ID: {name}".encode() in reply, name
    client.sendto((TORTURE / "bigcode.dat").read_bytes(), transport.local_address)  # dropped
    client.sendto(OPTIONS, transport.local_address)
    await collector.wait(1)
    assert transport.stats.malformed == 7
    assert transport.stats.answered_400 == 6 and transport.stats.dropped == 1
    client.close()


async def test_udp_keepalive_ping_gets_pong(transport: SipTransport) -> None:
    client = udp_client()
    client.sendto(b"\r\n\r\n", transport.local_address)
    assert await recv(client) == b"\r\n"
    client.close()


async def test_tcp_framing_and_response_on_the_same_connection(transport: SipTransport) -> None:
    collector = transport.receiver
    assert isinstance(collector, Collector)
    reader, writer = await asyncio.open_connection(*transport.local_address)
    second = OPTIONS.replace(b"CSeq: 1", b"CSeq: 2").replace(b"UDP", b"TCP")
    data = b"\r\n\r\n" + OPTIONS.replace(b"UDP", b"TCP") + second
    for i in range(0, len(data), 7):  # dribble it in small pieces
        writer.write(data[i : i + 7])
        await writer.drain()
    await collector.wait(2)
    assert [m.cseq.seq for m, _, _ in collector.items] == [1, 2]
    message, source, kind = collector.items[1]
    assert kind == "tcp"
    assert isinstance(message, Request)
    async with asyncio.timeout(5):
        assert await reader.readexactly(2) == b"\r\n"  # pong for the CRLFCRLF ping
    transport.send(bytes(make_response(message, 200, to_tag="y")), source, "tcp")
    async with asyncio.timeout(5):
        head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"SIP/2.0 200 OK\r\n")
    writer.write(b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h\r\n\r\n")  # no Content-Length
    async with asyncio.timeout(5):
        rest = await reader.read()  # answered 400, then closed
    assert rest.startswith(b"SIP/2.0 400 Bad Request")
    writer.close()


async def test_tcp_send_opens_a_connection() -> None:
    got: asyncio.Queue[bytes] = asyncio.Queue()

    async def server(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await got.put(await reader.readuntil(b"\r\n\r\n"))
        writer.close()

    srv = await asyncio.start_server(server, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    t = SipTransport("127.0.0.1", 0, Collector())
    await t.start()
    t.send(OPTIONS.replace(b"UDP", b"TCP"), ("127.0.0.1", port), "tcp")
    async with asyncio.timeout(5):
        assert (await got.get()).startswith(b"OPTIONS sip:door@127.0.0.1")
    await t.close()
    srv.close()


async def test_a_name_from_the_network_is_never_sent_to() -> None:
    """Issue 13 rule 3: only configured names may be looked up; anything else is dropped."""
    t = SipTransport("127.0.0.1", 0, Collector())
    await t.start()
    try:
        t.send(OPTIONS, ("attacker.example", 5060), "udp")
        assert t.stats.sent == 0 and t.stats.dropped == 1
        t.configured_names = frozenset({"localhost"})
        t.send(OPTIONS, ("localhost", 9), "udp")
        assert t.stats.sent == 1
    finally:
        await t.close()


async def test_dual_stack_listener_shows_ipv4_peers_unmapped_and_answers_them() -> None:
    """On [::] an IPv4 peer arrives as ::ffff:127.0.0.1; above the socket it is 127.0.0.1
    (what accept_from and the trust checks compare), and sending to 127.0.0.1 reaches it,
    over UDP and over TCP."""
    collector = Collector()
    t = SipTransport("::", 0, collector)
    await t.start()
    try:
        client = udp_client()
        with client:
            client.sendto(OPTIONS, ("127.0.0.1", t.port))
            await collector.wait(1)
            message, source, kind = collector.items[0]
            assert source == ("127.0.0.1", client.getsockname()[1]) and kind == "udp"
            assert isinstance(message, Request)
            t.send(bytes(make_response(message, 200)), source)
            assert (await recv(client)).startswith(b"SIP/2.0 200 OK")
        _reader, writer = await asyncio.open_connection("127.0.0.1", t.port)
        writer.write(OPTIONS)
        await collector.wait(2)
        assert collector.items[1][1][0] == "127.0.0.1" and collector.items[1][2] == "tcp"
        writer.close()
        six = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        with six:
            six.bind(("::1", 0))
            six.sendto(OPTIONS, ("::1", t.port))
            await collector.wait(3)
            assert collector.items[2][1] == ("::1", six.getsockname()[1])
    finally:
        await t.close()


@pytest.mark.parametrize(
    "junk",
    [
        b"\x00\x01\x02 garbage",
        b"GET / HTTP/1.1",  # a method token, but no CRLF anywhere
        b"  INVITE sip:a@b SIP/2.0\r\n\r\n",  # not starting with a token
        b"\xffINVITE sip:a@b SIP/2.0\r\n\r\n",
    ],
)
async def test_junk_is_dropped_unparsed_and_uncounted_as_sip(
    transport: SipTransport, junk: bytes
) -> None:
    """What does not even look like SIP costs one counter, never the parser or the 400 path."""
    collector = transport.receiver
    assert isinstance(collector, Collector)
    client = udp_client()
    client.sendto(junk, transport.local_address)
    client.sendto(OPTIONS, transport.local_address)
    await collector.wait(1)
    assert transport.stats.junk == 1
    assert transport.stats.malformed == 0 and transport.stats.answered_400 == 0
    client.close()


async def test_a_burst_larger_than_one_batch_is_read_whole(transport: SipTransport) -> None:
    """Reads are batched per wake-up (UDP_BATCH); what is left waits for the next one."""
    collector = transport.receiver
    assert isinstance(collector, Collector)
    client = udp_client()
    count = UDP_BATCH + 5  # within the receive buffer: none lost by the kernel
    for n in range(count):
        client.sendto(OPTIONS.replace(b"CSeq: 1 ", f"CSeq: {n} ".encode()), transport.local_address)
    await collector.wait(count)
    assert sorted(m.cseq.seq for m, _, _ in collector.items) == list(range(count))
    client.close()


async def test_a_send_that_fails_is_counted_not_raised(transport: SipTransport) -> None:
    transport.send(b"x" * 70000, ("127.0.0.1", 9))  # longer than any datagram: EMSGSIZE
    assert transport.stats.dropped == 1 and "long" in transport.stats.last_error


async def test_an_ip_literal_is_bound_without_the_loops_thread_pool() -> None:
    # Issue 19: asyncio's getaddrinfo runs in a thread pool, one more thread for the life of
    # the process; an IP literal needs no lookup. A name still binds, through that resolver.
    literal = SipTransport("127.0.0.1", 0, Collector())
    await literal.start()
    pool = [t.name for t in threading.enumerate() if t.name.startswith("asyncio_")]
    await literal.close()
    assert not pool, pool
    named = SipTransport("localhost", 0, Collector())
    await named.start()
    try:
        assert named.port > 0
        assert [t for t in threading.enumerate() if t.name.startswith("asyncio_")]
    finally:
        await named.close()
