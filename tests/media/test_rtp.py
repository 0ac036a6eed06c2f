"""RTP (RFC 3550): packets, numbering, source validation (§A.1), latching, loss and jitter."""

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from endpoint.media.rtp import RtpError, RtpExtension, RtpPacket, RtpReceiver, RtpSender

# A PCMU packet as baresip sends it (marker on the first packet of the talk spurt), and one
# with two CSRCs, a one-word header extension and 4 octets of padding.
BARESIP = bytes.fromhex("8080d5c93b1e2f40441e8f2d") + b"\xff" * 160
FULL = (
    bytes.fromhex("b2083039000000640000abcd0000000100000002bede000110ab0000")
    + b"xy"
    + b"\0\0\0\x04"
)


def test_parse_real_packet() -> None:
    p = RtpPacket.parse(BARESIP)
    assert (p.payload_type, p.marker, p.sequence, p.timestamp) == (0, True, 0xD5C9, 0x3B1E2F40)
    assert p.ssrc == 0x441E8F2D and len(p.payload) == 160
    assert bytes(p) == BARESIP


def test_csrc_extension_and_padding_round_trip() -> None:
    p = RtpPacket.parse(FULL)
    assert p.csrc == (1, 2) and p.extension == RtpExtension(0xBEDE, bytes.fromhex("10ab0000"))
    assert p.payload == b"xy" and p.padding == 4 and p.payload_type == 8
    assert bytes(p) == FULL


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x80\x00",
        bytes.fromhex("4000000000000000000000000"[:24]) + b"x",
        bytes.fromhex("8f00000000000000000000000000"),  # 15 CSRCs announced, none present
        bytes.fromhex("9000000000000000000000000000"),  # extension announced, missing
        bytes.fromhex("a0000000000000000000000000ff"),
    ],  # padding longer than the packet
)
def test_malformed_packets_raise_rtp_error(data: bytes) -> None:
    with pytest.raises(RtpError):
        RtpPacket.parse(data)


@given(st.binary(max_size=64))
def test_parse_raises_only_rtp_error(data: bytes) -> None:
    try:
        packet = RtpPacket.parse(data)
    except RtpError:
        return
    assert RtpPacket.parse(bytes(packet)) == packet


def test_sender_random_start_and_wrap_around() -> None:
    sender = RtpSender(random.Random(9))
    a, b = RtpSender(random.Random(1)), RtpSender(random.Random(2))
    assert (a.ssrc, a.sequence, a.timestamp) != (b.ssrc, b.sequence, b.timestamp)
    sender.sequence, sender.timestamp = 0xFFFF, 0xFFFFFF00
    first = sender.packet(0, b"\xff" * 160, 160, marker=True)
    second = sender.packet(0, b"\xff" * 160, 160)
    assert (first.sequence, second.sequence) == (0xFFFF, 0)
    assert second.timestamp == (0xFFFFFF00 + 160) & 0xFFFFFFFF
    assert first.marker and not second.marker
    assert sender.packets == 2 and sender.octets == 320


def stream(seqs: list[int], ssrc: int = 7, start_ts: int = 1000) -> list[bytes]:
    return [
        bytes(RtpPacket(0, s % 65536, start_ts + 160 * i, ssrc, b"\xff" * 160))
        for i, s in enumerate(seqs)
    ]


PEER = ("192.0.2.9", 40000)


def test_probation_then_latch_and_foreign_sources_dropped() -> None:
    rx = RtpReceiver()
    got = [rx.receive(p, PEER, i * 0.02) for i, p in enumerate(stream([100, 101, 102]))]
    assert [g is not None for g in got] == [False, True, True]  # MIN_SEQUENTIAL = 2
    assert rx.latched_address == PEER and rx.latch_events == [PEER]
    intruder = stream([500, 501, 502], ssrc=99)
    assert all(rx.receive(p, ("203.0.113.66", 9999), 1.0) is None for p in intruder)
    same_host_other_ssrc = stream([103], ssrc=99)[0]
    assert rx.receive(same_host_other_ssrc, PEER, 1.0) is None
    assert rx.foreign == 4
    assert rx.receive(stream([103])[0], PEER, 1.02) is not None
    rx.set_remote(("198.51.100.1", 5000))  # re-INVITE: latch again
    assert rx.latched_address is None


def test_new_ssrc_from_the_latched_peer_takes_over_after_probation() -> None:
    """Early media then the answer: a PBX's announcement and the callee's phone are two
    sources behind one address. The new one passes probation and replaces the old one."""
    rx = RtpReceiver()
    for i, p in enumerate(stream([100, 101, 102])):
        rx.receive(p, PEER, i * 0.02)
    callee = stream([7000, 7001, 7002], ssrc=42, start_ts=900_000)
    got = [rx.receive(p, PEER, 1.0 + i * 0.02) for i, p in enumerate(callee)]
    assert [g is not None for g in got] == [False, True, True]
    assert rx.ssrc_changes == 1 and rx.source is not None and rx.source.ssrc == 42
    assert rx.receive(stream([103])[0], PEER, 1.1) is None  # the old source is gone now


def test_loss_duplicates_and_sequence_wrap() -> None:
    rx = RtpReceiver()
    seqs = [65533, 65534, 65535, 0, 2, 3, 3, 5]
    for i, p in enumerate(stream(seqs)):
        rx.receive(p, PEER, i * 0.02)
    source = rx.source
    assert source is not None
    assert source.cycles == 65536 and source.extended_max == 65536 + 5
    assert source.expected == 8  # 65534 .. 5 (65533 went to probation)
    assert source.received == 7  # 1 and 4 missing, 3 counted twice
    assert source.lost == 1  # RFC 3550 §6.4.1: duplicates offset losses


def test_jitter_follows_rfc3550_a8() -> None:
    rx = RtpReceiver()
    arrivals = [0.0, 0.020, 0.040, 0.065, 0.080, 0.100]  # one packet 5 ms late
    for t, p in zip(arrivals, stream(list(range(10, 16))), strict=True):
        rx.receive(p, PEER, t)
    # transit differences (in 8 kHz units) after probation: 0, 40, 40, 0 -> J = ...
    j = 0.0
    for d in (0, 40, 40, 0):
        j += (d - j) / 16
    assert rx.source is not None and rx.source.jitter == pytest.approx(j)
    assert rx.jitter_ms == pytest.approx(j / 8)


def test_garbage_is_counted_not_raised() -> None:
    rx = RtpReceiver()
    assert rx.receive(b"\x00" * 20, PEER, 0.0) is None and rx.malformed == 1


def test_an_injected_stream_cannot_win_the_latch_before_the_signalled_host() -> None:
    """An attacker who sprays the port first is ignored for a second; the SDP's host latches."""
    rx = RtpReceiver()
    rx.set_remote(PEER)
    attacker = ("203.0.113.66", 9999)
    for i, p in enumerate(stream([500, 501, 502], ssrc=99)):
        assert rx.receive(p, attacker, i * 0.02) is None
    got = [rx.receive(p, PEER, 0.1 + i * 0.02) for i, p in enumerate(stream([100, 101, 102]))]
    assert [g is not None for g in got] == [False, True, True]
    assert rx.latched_address == PEER


def test_a_peer_behind_nat_is_latched_after_the_grace_period() -> None:
    rx = RtpReceiver()
    rx.set_remote(PEER)
    nat = ("198.51.100.20", 61000)  # the phone's public address, not the one in its SDP
    got = [rx.receive(p, nat, i * 0.5) for i, p in enumerate(stream([10, 11, 12, 13, 14]))]
    assert [g is not None for g in got] == [False, False, False, True, True]
    assert rx.latched_address == nat


def test_sender_datagram_is_the_packet_bytes() -> None:
    """The lean send path numbers and counts exactly like ``packet``."""
    lean, full = RtpSender(random.Random(5)), RtpSender(random.Random(5))
    lean.sequence = full.sequence = 0xFFFE
    for marker, pt, samples in [(True, 0, 160), (False, 0, 160), (False, 101, 0), (False, 8, 320)]:
        payload = bytes(range(pt % 7 + 3))
        data = lean.datagram(pt, payload, samples, marker)
        assert data == bytes(full.packet(pt, payload, samples, marker=marker))
    assert (lean.sequence, lean.timestamp, lean.packets, lean.octets) == (
        full.sequence,
        full.timestamp,
        full.packets,
        full.octets,
    )


OTHER_PORT = ("192.0.2.9", 40002)


def _latched(rx: RtpReceiver, address: tuple[str, int], first: int, at: float) -> None:
    for i, p in enumerate(stream([first, first + 1, first + 2])):
        rx.receive(p, address, at + i * 0.02)
    assert rx.latched_address == address


def test_the_old_port_of_a_moved_peer_never_wins_the_latch_back() -> None:
    """A re-INVITE or UPDATE moves the peer's media to another port of the same host, and its
    old stream goes on (packets in flight, a leg it forgets to stop): the old port is on the
    signalled host, so before the fix it re-latched within two packets and our audio went back
    where the peer no longer listens. It stays dropped, seconds later too; the new port latches
    as soon as it sends, and the old one is then a foreign source like any other."""
    rx = RtpReceiver()
    rx.set_remote(PEER)
    _latched(rx, PEER, 100, 0.0)
    moved = (PEER[0], PEER[1] + 10)
    rx.set_remote(moved)
    old = stream(list(range(103, 303)))  # 4 s more of the old stream, in sequence
    assert all(rx.receive(p, PEER, 0.1 + i * 0.02) is None for i, p in enumerate(old))
    assert rx.latched_address is None and rx.foreign == 200
    _latched(rx, moved, 7000, 4.1)
    assert rx.latch_events == [PEER, moved]
    assert rx.receive(stream([303])[0], PEER, 4.2) is None and rx.foreign == 201


def test_a_stranger_cannot_capture_a_call_that_just_moved() -> None:
    """The move restarts the anti-hijack rule: for a second only the signalled host latches."""
    rx = RtpReceiver()
    rx.set_remote(PEER)
    _latched(rx, PEER, 100, 0.0)
    moved = ("198.51.100.1", 5000)
    rx.set_remote(moved)
    for i, p in enumerate(stream([500, 501, 502], ssrc=99)):
        assert rx.receive(p, STRANGER, 1.0 + i * 0.02) is None
    _latched(rx, moved, 9000, 1.1)


def test_a_peer_behind_nat_that_moved_is_latched_after_the_grace_period() -> None:
    """Only the addresses the peer left are barred: its new public address (another host than
    the SDP names) latches after the grace second, as on the first latch."""
    rx = RtpReceiver()
    rx.set_remote(PEER)
    _latched(rx, PEER, 100, 0.0)
    rx.set_remote(("10.0.0.7", 4002))  # a private address we never hear from
    nat = ("198.51.100.20", 61002)
    got = [rx.receive(p, nat, 1.0 + i * 0.5) for i, p in enumerate(stream([10, 11, 12, 13]))]
    assert [g is not None for g in got] == [False, False, False, True]
    assert rx.latched_address == nat


def test_a_peer_may_move_back_where_it_was() -> None:
    """A -> B -> A: the address it signals again is the target, the one it left is barred."""
    rx = RtpReceiver()
    rx.set_remote(PEER)
    _latched(rx, PEER, 100, 0.0)
    moved = (PEER[0], PEER[1] + 10)
    rx.set_remote(moved)
    _latched(rx, moved, 7000, 1.0)
    rx.set_remote(PEER)
    assert all(rx.receive(p, moved, 2.0) is None for p in stream([7003, 7004, 7005]))
    _latched(rx, PEER, 103, 2.1)


STRANGER = ("203.0.113.66", 9999)

# One datagram of a test run: a plain packet, one with CSRCs, an extension or padding (the
# full parse path), or arbitrary bytes; its sequence number a step from the previous one's
# (mostly the next, so sources pass probation and latch; sometimes repeated, reordered or far
# off); from the peer, the peer's host on another port, or a stranger; some time later.
_arrival = st.tuples(
    st.sampled_from(["plain"] * 6 + ["csrc", "ext", "pad", "garbage"]),
    st.sampled_from([0, 0, 8, 101, 0x80]),  # payload type; 0x80: the marker with PCMU
    st.sampled_from([1, 1, 1, 1, 0, 2, -1, 5000]),  # sequence step
    st.sampled_from([7, 7, 7, 9]),  # SSRC
    st.sampled_from([PEER, PEER, PEER, OTHER_PORT, STRANGER]),
    st.sampled_from([0.0, 0.02, 0.02, 0.7]),  # seconds since the previous datagram
    st.binary(max_size=20),
)


def _packet(kind: str, pt: int, seq: int, ssrc: int, garbage: bytes) -> bytes:
    if kind == "garbage":
        return garbage
    packet = RtpPacket(
        pt & 0x7F,
        seq,
        seq * 160 & 0xFFFFFFFF,
        ssrc,
        b"\xd5" * 16,
        marker=bool(pt & 0x80),
        csrc=(1, 2) if kind == "csrc" else (),
        extension=RtpExtension(0xBEDE, b"\1\2\3\4") if kind == "ext" else None,
        padding=4 if kind == "pad" else 0,
    )
    return bytes(packet)


@given(st.lists(_arrival, max_size=60))
def test_fast_and_full_receive_agree_on_every_input(arrivals: list) -> None:
    """``receive_fast`` is ``receive`` without the packet object: the same verdicts, and the
    same counters, latch, probation and source state after any sequence of datagrams."""
    full, fast = RtpReceiver(expected_address=PEER), RtpReceiver(expected_address=PEER)
    now, seq = 0.0, 65530
    for kind, pt, step, ssrc, address, dt, garbage in arrivals:
        now += dt
        seq = (seq + step) % 65536
        data = _packet(kind, pt, seq, ssrc, garbage)
        packet = full.receive(data, address, now)
        expected = (
            None
            if packet is None
            else (packet.payload_type, packet.sequence, packet.timestamp, packet.payload)
        )
        assert fast.receive_fast(data, address, now) == expected
    assert fast == full
