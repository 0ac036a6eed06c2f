"""SIP over TLS between two real transports on 127.0.0.1: the listener (peer-to-peer mode) and
a client that checks the certificate against the configured name, both TLS 1.2+."""

import asyncio
import logging
from pathlib import Path

import pytest

from endpoint.config import TlsSettings
from endpoint.runtime.sip_transport import SipTransport
from endpoint.sip import Request, make_response
from endpoint.tls import client_context, server_context
from tests.certs import Authority
from tests.runtime.test_sip_transport import OPTIONS, Collector

REQUEST = OPTIONS.replace(b"SIP/2.0/UDP", b"SIP/2.0/TLS")


async def pair(
    tmp: Path, *, name: str, names: tuple[str, ...] = ("door.test",)
) -> tuple[SipTransport, Collector, SipTransport, Collector, list[tuple[str, int]]]:
    ca = Authority(tmp / "pki")
    door = ca.issue("door", names)
    server_settings = TlsSettings(cert_file=door.cert, key_file=door.key)
    server_ctx = server_context(server_settings)
    assert server_ctx is not None
    heard = Collector()
    listening = SipTransport("127.0.0.1", 0, heard, tls_server=server_ctx)
    await listening.start()
    failures: list[tuple[str, int]] = []
    client = SipTransport(
        "127.0.0.1",
        0,
        Collector(),
        tcp=False,
        on_error=lambda dest, kind: failures.append(dest),
        tls_client=client_context(TlsSettings(ca_file=ca.files.cert)),
        server_names={"127.0.0.1": name},
    )
    await client.start()
    assert isinstance(client.receiver, Collector)
    return listening, heard, client, client.receiver, failures


async def test_request_and_response_over_one_tls_connection(tmp_path: Path) -> None:
    listening, heard, client, answers, failures = await pair(tmp_path, name="door.test")
    try:
        client.send(REQUEST, ("127.0.0.1", listening.port), "tls")
        await heard.wait(1)
        request, source, kind = heard.items[0]
        assert kind == "tls" and isinstance(request, Request)
        listening.send(bytes(make_response(request, 200, "OK")), source, "tls")
        await answers.wait(1)
        response, _, kind = answers.items[0]
        assert kind == "tls" and bytes(response).startswith(b"SIP/2.0 200 OK")
        assert failures == [] and client.stats.tcp_connections == 1
    finally:
        await client.close()
        await listening.close()


async def test_a_name_mismatch_is_refused_and_reported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    listening, heard, client, _, failures = await pair(tmp_path, name="pbx.example.test")
    try:
        with caplog.at_level(logging.WARNING, "endpoint.runtime.transport"):
            client.send(REQUEST, ("127.0.0.1", listening.port), "tls")
            async with asyncio.timeout(5):
                while not failures:
                    await asyncio.sleep(0.01)
        assert failures == [("127.0.0.1", listening.port)]
        assert heard.items == []
        lines = [r.getMessage() for r in caplog.records]
        # The client's line, and the listener's about the handshake the client broke off.
        (line,) = [x for x in lines if x.startswith("TLS to ")]
        assert line.startswith(f"TLS to pbx.example.test (127.0.0.1:{listening.port}) failed:")
        others = [x for x in lines if x != line]
        assert len(others) <= 1 and all(
            x.startswith("TLS handshake with 127.0.0.1 failed: ") for x in others
        ), lines
        assert "not for the name we called" in line
    finally:
        await client.close()
        await listening.close()


async def test_a_connection_in_its_handshake_ends_with_the_transport_quietly(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A peer that connected and has not said hello yet: stopping closes it at once (no wait
    for the 5 s handshake limit) and logs no failed handshake: the door stopped, not the peer."""
    listening, _, client, _, _ = await pair(tmp_path, name="door.test")
    await client.close()
    reader, writer = await asyncio.open_connection("127.0.0.1", listening.port)
    async with asyncio.timeout(5):
        while not listening._handshaking:  # the door has it, and waits for its hello
            await asyncio.sleep(0.01)
    with caplog.at_level(logging.WARNING, "endpoint.runtime.transport"):
        async with asyncio.timeout(3):  # within TLS_HANDSHAKE_SECONDS
            await listening.close()
        assert await reader.read() == b""  # closed by the door
    writer.close()
    assert [r.getMessage() for r in caplog.records] == []
    assert listening.stats.handshakes_failed <= 1
