"""Two media streams talking SRTP through real libsrtp (pylibsrtp): audio, DTMF and RTCP pass;
a plain-RTP injector, a wrong key and a replayed packet are dropped before latching or DTMF.

Every test runs twice: through libsrtp called on pylibsrtp's own cffi binding (the media
path's), and through pylibsrtp's public ``Session`` calls (what serves if a pylibsrtp release
renames the private names)."""

import random
from collections.abc import Iterator

import numpy as np
import pylibsrtp
import pytest

from endpoint.media import srtp
from endpoint.media.dtmf import DtmfDigit
from endpoint.media.frame import FRAME_SAMPLES
from endpoint.media.rtp import RtpPacket
from endpoint.media.srtp import SrtpProtection, key_length
from endpoint.media.stream import MediaStream, SourceLatched, StreamConfig

A, B, EVIL = ("127.0.0.1", 4000), ("127.0.0.1", 5000), ("127.0.0.1", 6666)
SUITE = "AES_CM_128_HMAC_SHA1_80"
KEY_A, KEY_B = bytes(range(30)), bytes(range(100, 130))


@pytest.fixture(autouse=True, params=["direct", "public"])
def binding(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    if request.param == "public":
        monkeypatch.setattr(srtp, "ffi", None)
    yield request.param


def test_the_media_path_calls_libsrtp_directly_with_the_pinned_pylibsrtp(binding: str) -> None:
    session = pylibsrtp.Session(
        pylibsrtp.Policy(key=KEY_A, ssrc_type=pylibsrtp.Policy.SSRC_ANY_OUTBOUND)
    )
    direct = srtp._direct(session, "srtp_protect")
    assert (direct is None) == (binding == "public")
    packet = bytes(RtpPacket(0, 1, 160, 0x1234, bytes(160)))
    if direct is not None:  # the same bytes as pylibsrtp's own call (same key, same index)
        twin = pylibsrtp.Session(
            pylibsrtp.Policy(key=KEY_A, ssrc_type=pylibsrtp.Policy.SSRC_ANY_OUTBOUND)
        )
        assert direct(packet) == twin.protect(packet)


def pair(suite: str = SUITE) -> tuple[MediaStream, MediaStream]:
    n = key_length(suite)
    key_a, key_b = KEY_A[:n], KEY_B[:n]
    a = MediaStream(
        StreamConfig(B, (B[0], B[1] + 1)),
        random.Random(1),
        0.0,
        SrtpProtection(suite, key_a, key_b),
    )
    b = MediaStream(
        StreamConfig(A, (A[0], A[1] + 1)),
        random.Random(2),
        0.0,
        SrtpProtection(suite, key_b, key_a),
    )
    return a, b


def tone(n: int) -> np.ndarray:
    t = np.arange(FRAME_SAMPLES) + n * FRAME_SAMPLES
    return (8000 * np.sin(2 * np.pi * 440 * t / 8000)).astype(np.int16)


def test_audio_and_a_digit_pass_and_plain_injection_does_not() -> None:
    a, b = pair()
    captured: list[bytes] = []
    for n in range(10):
        for data, dest in a.send_frame(tone(n), n * 0.02):
            assert dest == B and data[12:] != bytes(len(data) - 12)
            captured.append(data)
            b.receive_rtp(data, A, n * 0.02)
    assert b.receiver.latched_address == A
    assert a.send_dtmf("5") == ""
    for n in range(10, 30):
        for data, _ in a.send_frame(tone(n), n * 0.02):
            b.receive_rtp(data, A, n * 0.02)
    events = b.events()
    assert SourceLatched(A) in events
    assert [e.digit for e in events if isinstance(e, DtmfDigit)] == ["5"]
    stats = b.stats()
    # The first packet is the source's probation (RFC 3550 A.1); the other 29 are counted.
    assert stats.received_packets == 29 and stats.encryption == f"SRTP {SUITE}"
    assert stats.unauthenticated == 0

    # A stranger's plain RFC 4733 "1" (end bit set), and a replay of a real packet.
    fake = RtpPacket(101, 40000, 123456, 0xDEADBEEF, bytes([1, 0x80, 0, 160]), marker=True)
    b.receive_rtp(bytes(fake), EVIL, 0.7)
    b.receive_rtp(captured[3], A, 0.72)
    assert b.events() == []
    assert b.stats().unauthenticated == 2 and b.stats().received_packets == 29
    assert b.receiver.latched_address == A


def test_srtcp_reports_pass_and_the_gcm_suite_works() -> None:
    a, b = pair("AEAD_AES_128_GCM")
    for n in range(5):
        for data, _ in a.send_frame(tone(n), n * 0.02):
            b.receive_rtp(data, A, n * 0.02)
    report = a.handle_timer(a.get_timer() or 10.0)
    assert report
    for data, _ in report:
        b.receive_rtcp(data, A, 10.0)
    assert b.stats().unauthenticated == 0
    # The sender report was read after unprotecting: b's own report echoes it (LSR/DLSR,
    # RFC 3550 §6.4.1), and from that echo a measures the round trip.
    assert (b.get_timer() or 99.0) <= 10.2  # b's report is due: it goes out at 10.2
    back = b.handle_timer(10.2)
    assert back
    for data, _ in back:
        a.receive_rtcp(data, B, 10.25)
    assert a.stats().rtt_ms is not None


def test_a_wrong_key_hears_nothing_and_new_keys_take_over() -> None:
    a, _ = pair()
    wrong = MediaStream(
        StreamConfig(A, (A[0], A[1] + 1)),
        random.Random(3),
        0.0,
        SrtpProtection(SUITE, KEY_B, bytes(30)),
    )
    for n in range(5):
        for data, _ in a.send_frame(tone(n), n * 0.02):
            wrong.receive_rtp(data, A, n * 0.02)
    assert wrong.stats().received_packets == 0 and wrong.stats().unauthenticated == 5
    assert wrong.receiver.latched_address is None
    wrong.set_protection(SrtpProtection(SUITE, KEY_B, KEY_A))  # a re-INVITE's keys
    for n in range(5, 10):
        for data, _ in a.send_frame(tone(n), n * 0.02):
            wrong.receive_rtp(data, A, n * 0.02)
    assert wrong.stats().received_packets == 4  # after the first packet's probation


def test_a_datagram_too_long_for_libsrtp_is_refused_not_raised() -> None:
    """pylibsrtp raised ValueError for more than 1500 bytes, which the media loop reads (up
    to 2048): one long datagram from anyone to an encrypted call's port ended the call."""
    a, b = pair()
    for n in range(5):
        for data, _ in a.send_frame(tone(n), n * 0.02):
            b.receive_rtp(data, A, n * 0.02)
    b.receive_rtp(bytes([0x80, 0]) + bytes(1998), EVIL, 0.1)
    b.receive_rtcp(bytes([0x80, 200]) + bytes(1998), EVIL, 0.1)
    b.receive_rtp(bytes(4096), EVIL, 0.1)
    assert b.stats().unauthenticated == 3 and b.receiver.latched_address == A
    for n in range(5, 10):  # the call carries on
        for data, _ in a.send_frame(tone(n), n * 0.02):
            b.receive_rtp(data, A, n * 0.02)
    assert b.stats().received_packets == 9
