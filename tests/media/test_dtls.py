"""DTLS-SRTP keying between two of our own sessions, bytes in and bytes out (no socket): the
keys both sides export protect and unprotect each other's packets, a wrong fingerprint fails
the handshake with a reason, and the retransmission timer resends a lost flight."""

import datetime
import time

import pytest

from endpoint.media.dtls import DtlsIdentity, DtlsSrtp, valid_fingerprint
from endpoint.media.dtls_gate import is_dtls
from endpoint.media.rtp import RtpPacket

NOW = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)


@pytest.fixture(scope="module")
def identities() -> tuple[DtlsIdentity, DtlsIdentity]:
    return DtlsIdentity(NOW), DtlsIdentity(NOW)


def pair(
    identities: tuple[DtlsIdentity, DtlsIdentity], *, wrong: bool = False
) -> tuple[DtlsSrtp, DtlsSrtp]:
    a, b = identities
    client = DtlsSrtp(a, client=True, remote_fingerprint=b.fingerprint)
    expected = b.fingerprint if wrong else a.fingerprint
    server = DtlsSrtp(b, client=False, remote_fingerprint=expected)
    return client, server


def run(client: DtlsSrtp, server: DtlsSrtp, now: float = 0.0) -> int:
    client.start(now)
    server.start(now)
    flights = 0
    for _ in range(20):
        moved = False
        for src, dst in ((client, server), (server, client)):
            for datagram in src.datagrams_to_send():
                assert is_dtls(datagram)
                dst.receive(datagram, now)
                moved = True
        flights += moved
        if not moved:
            break
    return flights


def test_both_sides_export_matching_srtp_keys(
    identities: tuple[DtlsIdentity, DtlsIdentity],
) -> None:
    client, server = pair(identities)
    run(client, server)
    assert client.done and server.done, (client.failure, server.failure)
    a, b = client.protection(), server.protection()
    assert a is not None and b is not None
    assert a.suite == "AEAD_AES_128_GCM"  # our first profile (RFC 7714), both sides ours
    assert a.description == "dtls-srtp AEAD_AES_128_GCM"
    packet = bytes(RtpPacket(0, 1, 160, 0x1234, b"\xff" * 160))
    sealed = a.protect_rtp(packet)
    assert sealed != packet and b.unprotect_rtp(sealed) == packet
    assert a.unprotect_rtp(b.protect_rtp(packet)) == packet
    assert b.unprotect_rtp(packet) is None  # plain RTP is refused


@pytest.mark.parametrize(
    ("profile", "suite"),
    [
        (b"SRTP_AES128_CM_SHA1_80", "AES_CM_128_HMAC_SHA1_80"),
        (b"SRTP_AES128_CM_SHA1_32", "AES_CM_128_HMAC_SHA1_32"),
    ],
)
def test_a_peer_offering_only_another_profile_gets_it(
    identities: tuple[DtlsIdentity, DtlsIdentity], profile: bytes, suite: str
) -> None:
    """RFC 5764 §4.1.2: the server picks from the client's list (AEAD's 12-byte salt, RFC 7714
    §12, is proven by the default handshake above), so a wrong split would not decrypt."""
    a, b = identities
    client = DtlsSrtp(a, client=True, remote_fingerprint=b.fingerprint, profiles=(profile,))
    server = DtlsSrtp(b, client=False, remote_fingerprint=a.fingerprint)
    run(client, server)
    ours, theirs = client.protection(), server.protection()
    assert ours is not None and theirs is not None
    assert ours.suite == theirs.suite == suite
    packet = bytes(RtpPacket(0, 7, 1120, 0x4321, b"\xd5" * 160))
    assert theirs.unprotect_rtp(ours.protect_rtp(packet)) == packet
    assert ours.unprotect_rtp(theirs.protect_rtp(packet)) == packet


def test_a_certificate_that_is_not_the_sdp_fingerprint_fails_the_handshake(
    identities: tuple[DtlsIdentity, DtlsIdentity],
) -> None:
    client, server = pair(identities, wrong=True)
    run(client, server)
    assert server.failure is not None and "a=fingerprint" in server.failure
    assert server.protection() is None


def test_a_lost_flight_is_resent_when_the_timer_fires(
    identities: tuple[DtlsIdentity, DtlsIdentity],
) -> None:
    client, server = pair(identities)
    client.start(100.0)
    assert client.datagrams_to_send()  # the ClientHello, lost on the way
    deadline = client.get_timer()
    assert deadline is not None and deadline > 100.0
    client.handle_timer(deadline - 0.5)
    assert client.datagrams_to_send() == []
    resent: list[bytes] = []
    for _ in range(10):  # OpenSSL's own clock decides the exact instant: wait for it, bounded
        client.handle_timer(deadline)
        resent = client.datagrams_to_send()
        if resent:
            break
        time.sleep(0.2)
        deadline += 0.2
    assert resent, "the ClientHello was never resent"
    for datagram in resent:
        server.receive(datagram, deadline)
    run(client, server, deadline)
    assert client.done and server.done


def test_fingerprints_are_checked_for_form() -> None:
    good = DtlsIdentity(NOW).fingerprint
    assert valid_fingerprint(good)
    assert not valid_fingerprint("sha-1 " + good.split()[1])
    assert not valid_fingerprint("sha-256 AB:CD")
