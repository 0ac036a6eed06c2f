"""The SIP core against a real Kamailio: our messages, transactions and digest auth on the wire.

No user agent yet: the test drives the sans-IO transaction layer with a plain socket, as the
runtime will, so a failure here points at the core.
"""

import random
import socket

import pytest

from endpoint.sip import Headers, Request, Response, StreamParser, parse, parse_uri
from endpoint.sip.digest import DigestClient, DigestError
from endpoint.sip.transaction import (
    ResponseReceived,
    TransactionLayer,
    TransactionTerminated,
    new_branch,
)
from tests.interop.peers import Kamailio

pytestmark = pytest.mark.interop


class Wire:
    """A UDP or TCP socket on 127.0.0.1 that carries what the transaction layer says."""

    def __init__(self, transport: str, server: tuple[str, int]) -> None:
        self.transport = transport
        kind = socket.SOCK_DGRAM if transport == "udp" else socket.SOCK_STREAM
        self.sock = socket.socket(socket.AF_INET, kind)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(5)
        if transport == "tcp":
            self.sock.connect(server)
        self.stream = StreamParser()
        self.port = self.sock.getsockname()[1]

    def close(self) -> None:
        self.sock.close()

    def flush(self, layer: TransactionLayer) -> None:
        for out in layer.datagrams_to_send():
            if self.transport == "udp":
                self.sock.sendto(out.data, out.destination)
            else:
                self.sock.sendall(out.data)

    def receive(self) -> Response:
        while True:
            if self.transport == "udp":
                message = parse(self.sock.recv(65535))
            else:
                messages = self.stream.feed(self.sock.recv(65535))
                if not messages:
                    continue
                (message,) = messages
            assert isinstance(message, Response)
            return message


def register(
    user: str,
    cseq: int,
    port: int,
    *,
    transport: str,
    rng: random.Random,
    server: int,
    auth: tuple[tuple[str, str], ...] = (),
) -> Request:
    fields = [
        ("Via", f"SIP/2.0/{transport.upper()} 127.0.0.1:{port};rport;branch={new_branch(rng)}"),
        ("Max-Forwards", "70"),
        ("From", f"<sip:{user}@127.0.0.1>;tag=door{cseq}"),
        ("To", f"<sip:{user}@127.0.0.1>"),
        ("Call-ID", f"reg-{user}-{port}@127.0.0.1"),
        ("CSeq", f"{cseq} REGISTER"),
        ("Contact", f"<sip:{user}@127.0.0.1:{port};transport={transport}>"),
        ("Expires", "60"),
        ("User-Agent", "sip-endpoint-interop"),
        *auth,
    ]
    return Request("REGISTER", parse_uri(f"sip:127.0.0.1:{server}"), Headers(fields))


def exchange(
    layer: TransactionLayer, wire: Wire, request: Request, server: tuple[str, int]
) -> Response:
    key = layer.send_request(request, server, wire.transport, 0.0)
    wire.flush(layer)
    reply = wire.receive()
    layer.receive(reply, server, wire.transport, 0.1)
    events = layer.events()
    assert ResponseReceived(key, reply) in events
    return reply


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_register_with_digest_auth(
    kamailio: Kamailio, transport: str, request: pytest.FixtureRequest
) -> None:
    rng = random.Random(4)
    server = ("127.0.0.1", kamailio.port)
    wire = Wire(transport, server)
    request.addfinalizer(wire.close)
    layer = TransactionLayer()
    first = exchange(
        layer,
        wire,
        register("door", 1, wire.port, transport=transport, rng=rng, server=kamailio.port),
        server,
    )
    assert first.status == 401
    assert first.top_via.rport == wire.port  # Kamailio answered our rport (RFC 3581)
    digest = DigestClient("door", "secret", rng)
    uri = f"sip:127.0.0.1:{kamailio.port}"
    creds = digest.answer(first.headers.rows("WWW-Authenticate"), 401, "REGISTER", uri)
    second = exchange(
        layer,
        wire,
        register(
            "door",
            2,
            wire.port,
            transport=transport,
            rng=rng,
            server=kamailio.port,
            auth=tuple(creds),
        ),
        server,
    )
    assert (second.status, second.reason) == (200, "OK")
    (contact,) = second.contact
    assert contact.expires is not None and 0 < contact.expires <= 60
    assert kamailio.registrations("door") == [
        f"sip:door@127.0.0.1:{wire.port};transport={transport}"
    ]
    # the client transaction ends with Timer K (T4 on UDP, at once on TCP)
    layer.handle_timer(10.0)
    assert any(isinstance(e, TransactionTerminated) for e in layer.events())


def test_wrong_password_is_detected_not_looped(
    kamailio: Kamailio, request: pytest.FixtureRequest
) -> None:
    rng = random.Random(5)
    server = ("127.0.0.1", kamailio.port)
    wire = Wire("udp", server)
    request.addfinalizer(wire.close)
    layer = TransactionLayer()
    uri = f"sip:127.0.0.1:{kamailio.port}"
    first = exchange(
        layer,
        wire,
        register("flat", 1, wire.port, transport="udp", rng=rng, server=kamailio.port),
        server,
    )
    digest = DigestClient("flat", "not-the-password", rng)
    creds = digest.answer(first.headers.rows("WWW-Authenticate"), 401, "REGISTER", uri)
    second = exchange(
        layer,
        wire,
        register(
            "flat", 2, wire.port, transport="udp", rng=rng, server=kamailio.port, auth=tuple(creds)
        ),
        server,
    )
    assert second.status == 401
    with pytest.raises(DigestError, match="rejected"):
        digest.answer(
            second.headers.rows("WWW-Authenticate"),
            401,
            "REGISTER",
            uri,
            sent=[value for _, value in creds],  # what the refused REGISTER carried
        )
    assert kamailio.registrations("flat") == []
