"""Two media engines talking through a simulated network on a fake clock, plus RTCP and MOS."""

import heapq
import random

import numpy as np
import pytest

from endpoint.media import rtcp
from endpoint.media.dtmf import DtmfDigit
from endpoint.media.stream import (
    MediaStream,
    MediaTimeout,
    RemoteBye,
    SourceLatched,
    StreamConfig,
)
from tests.pcm import samples

DOOR = ("10.0.0.1", 4000)
FLAT = ("10.0.0.2", 5000)


def tone(k: int, hz: float) -> bytes:
    t = (np.arange(160) + 160 * k) / 8000
    return (np.sin(2 * np.pi * hz * t) * 10000).astype(np.int16).tobytes()


def call(
    seconds: float,
    *,
    loss: float = 0.0,
    jitter: float = 0.0,
    digits: str = "",
    seed: int = 1,
    payload_type: int = 0,
) -> tuple[MediaStream, MediaStream, list[bytes], list[object]]:
    rng = random.Random(seed)
    door = MediaStream(
        StreamConfig(FLAT, (FLAT[0], FLAT[1] + 1), payload_type=payload_type, jitter_min_ms=40),
        rng,
        0.0,
    )
    flat = MediaStream(
        StreamConfig(DOOR, (DOOR[0], DOOR[1] + 1), payload_type=payload_type, jitter_min_ms=40),
        rng,
        0.0,
    )
    door.send_dtmf(digits)
    wire: list[tuple[float, int, bytes, tuple[str, int], tuple[str, int]]] = []
    heard: list[bytes] = []
    events: list[object] = []
    n = 0
    for k in range(int(seconds / 0.02)):
        now = k * 0.02
        while wire and wire[0][0] <= now:
            _, _, data, src, dst = heapq.heappop(wire)
            target = flat if dst[0] == FLAT[0] else door
            (target.receive_rtcp if dst[1] % 2 else target.receive_rtp)(data, src, now)

        def send(
            packets: list[tuple[bytes, tuple[str, int]]], src: tuple[str, int], now: float = now
        ) -> None:
            nonlocal n
            for data, dst in packets:
                if rng.random() < loss:
                    continue
                n += 1
                heapq.heappush(wire, (now + 0.01 + rng.uniform(0, jitter), n, data, src, dst))

        send(door.send_frame(tone(k, 1000), now), DOOR)
        send(flat.send_frame(tone(k, 440), now), FLAT)
        for stream, addr in ((door, (DOOR[0], DOOR[1] + 1)), (flat, (FLAT[0], FLAT[1] + 1))):
            t = stream.get_timer()
            if t is not None and t <= now:
                send(stream.handle_timer(now), addr)
        heard.append(flat.playout(now))
        door.playout(now)
        events += flat.events()
    return door, flat, heard, events


def correlation_with_tone(heard: list[bytes], hz: float) -> float:
    audio = samples(b"".join(heard[60:])).astype(float)
    t = np.arange(len(audio)) / 8000
    i, q = np.sin(2 * np.pi * hz * t), np.cos(2 * np.pi * hz * t)
    amplitude = 2 * np.hypot(np.dot(audio, i), np.dot(audio, q)) / len(audio)
    return amplitude / (np.sqrt(2 * np.mean(audio**2)) or 1.0)


def test_tone_arrives_clean_and_dtmf_once() -> None:
    _, flat, heard, events = call(3.0, digits="159#")
    assert correlation_with_tone(heard, 1000) > 0.95
    assert correlation_with_tone(heard, 440) < 0.1
    assert [e for e in events if isinstance(e, DtmfDigit)] == [DtmfDigit(d, 100) for d in "159#"]
    assert [e for e in events if isinstance(e, SourceLatched)] == [SourceLatched(DOOR)]
    stats = flat.stats()
    assert stats.lost == 0 and stats.concealed == 0 and stats.dtmf_received == 4
    # 10 ms on the wire each way, delivered at the next 20 ms tick: 40 ms round trip
    assert stats.rtt_ms is not None and 35 <= stats.rtt_ms <= 45
    assert stats.mos > 4.3  # a clean narrowband call on G.107's narrowband model


def test_pcma_and_a_lossy_jittery_network() -> None:
    _, flat, heard, _ = call(6.0, loss=0.05, jitter=0.03, seed=7, payload_type=8)
    stats = flat.stats()
    assert stats.codec == "PCMA"
    assert 0.02 < stats.fraction_lost < 0.09 and stats.concealed > 0
    assert correlation_with_tone(heard, 1000) > 0.8  # concealment keeps the tone
    assert stats.jitter_ms > 1 and 3.0 < stats.mos < 4.3
    assert stats.remote_fraction_lost is not None  # the door's receiver reports came back


def test_close_sends_bye_and_the_peer_hears_it() -> None:
    door, flat, _, _ = call(1.0)
    ((data, dst),) = door.close(1.0)
    assert dst == (FLAT[0], FLAT[1] + 1)
    kinds = [type(p).__name__ for p in rtcp.parse_compound(data)]
    assert kinds == ["SenderReport", "SourceDescription", "Goodbye"]
    flat.receive_rtcp(data, (DOOR[0], DOOR[1] + 1), 1.0)
    assert any(isinstance(e, RemoteBye) for e in flat.events())
    assert door.send_frame(tone(0, 1000), 1.1) == [] and door.close(1.2) == []


def test_hold_stops_sending() -> None:
    door, _, _, _ = call(0.2)
    door.set_direction("recvonly")
    assert door.send_frame(tone(0, 1000), 0.3) == []


def test_rtcp_packets_round_trip() -> None:
    block = rtcp.ReportBlock(0x1234, 12, -3, 70000, 55, 0xABCD0000, 65536)
    packets = [
        rtcp.SenderReport(7, rtcp.ntp_timestamp(1.7e9), 160, 10, 1600, (block,)),
        rtcp.SourceDescription(7, "door@10.0.0.1"),
        rtcp.Goodbye((7,)),
    ]
    assert rtcp.parse_compound(rtcp.encode_compound(packets)) == packets
    with pytest.raises(rtcp.RtcpError):
        rtcp.parse_compound(rtcp.encode(rtcp.Goodbye((7,))))  # must start with SR/RR


def test_rtcp_interval_is_randomised_around_5s() -> None:
    rng = random.Random(1)
    values = [rtcp.interval(rng) for _ in range(1000)]
    assert 5 * 0.5 / (np.e - 1.5) <= min(values) and max(values) <= 5 * 1.5 / (np.e - 1.5)
    assert 3.8 < float(np.mean(values)) < 4.4
    assert rtcp.interval(rng, initial=True) <= 2.5 * 1.5 / (np.e - 1.5)


def test_the_report_rates_each_codec_on_its_band_model() -> None:
    """The report's MOS is the codec's (tests/media/test_quality.py has the E-model's)."""
    rng = random.Random(6)
    g722 = MediaStream(StreamConfig(FLAT, (FLAT[0], FLAT[1] + 1), payload_type=9), rng, 0.0)
    pcmu = MediaStream(StreamConfig(FLAT, (FLAT[0], FLAT[1] + 1)), rng, 0.0)
    wideband, narrowband = g722.stats(), pcmu.stats()
    assert (wideband.codec, narrowband.codec) == ("G722", "PCMU")
    # G.107.1 counts G.722's own coding impairment (at most 4.34 clean); G.107 none for G.711
    assert 4.3 <= wideband.mos <= 4.34 and narrowband.mos > 4.35


def test_silence_from_the_peer_is_reported_once_after_the_timeout() -> None:
    """No RTP and no RTCP for ``rtp_timeout_s`` while we expect audio: MediaTimeout, once."""
    door = MediaStream(
        StreamConfig(FLAT, (FLAT[0], FLAT[1] + 1), rtp_timeout_s=5), random.Random(1), 0.0
    )
    flat = MediaStream(StreamConfig(DOOR, (DOOR[0], DOOR[1] + 1)), random.Random(2), 0.0)
    events: list[object] = []
    for k in range(400):  # 8 s: the flat talks for 2 s, then vanishes
        now = k * 0.02
        if now < 2.0:
            for data, _ in flat.send_frame(tone(k, 1000), now):
                door.receive_rtp(data, FLAT, now)
        door.playout(now)
        events += door.events()
    timeouts = [e for e in events if isinstance(e, MediaTimeout)]
    assert timeouts == [MediaTimeout(5)]
    assert all(not isinstance(e, MediaTimeout) for e in events[: events.index(timeouts[0])])


def test_a_held_call_does_not_time_out() -> None:
    door = MediaStream(
        StreamConfig(FLAT, (FLAT[0], FLAT[1] + 1), rtp_timeout_s=5), random.Random(1), 0.0
    )
    door.set_direction("inactive")
    for k in range(500):
        door.playout(k * 0.02)
    assert [e for e in door.events() if isinstance(e, MediaTimeout)] == []
    door.set_direction("sendrecv")  # taken off hold: a full timeout again
    for k in range(500, 700):
        door.playout(k * 0.02)
    assert [e for e in door.events() if isinstance(e, MediaTimeout)] == []
    door.playout(15.0)  # 5 s after the first playout off hold (10.0 s)
    assert door.events() == [MediaTimeout(5)]


def _talk(sender: MediaStream, receiver: MediaStream, src: tuple[str, int], frames: range) -> None:
    """``sender`` sends one frame every 20 ms to ``receiver``, delivered 10 ms later."""
    for k in frames:
        for data, _ in sender.send_frame(tone(k, 1000), k * 0.02):
            receiver.receive_rtp(data, src, k * 0.02 + 0.01)
        receiver.playout(k * 0.02 + 0.01)


def test_hold_and_resume_keep_the_counts_and_the_latch() -> None:
    """Each re-INVITE repeats the remote address: hold, resume and a session refresh must not
    restart source validation (packets dropped, frames concealed) or forget the counts."""
    rng = random.Random(3)
    door = MediaStream(StreamConfig(FLAT, (FLAT[0], FLAT[1] + 1)), rng, 0.0)
    flat = MediaStream(StreamConfig(DOOR, (DOOR[0], DOOR[1] + 1)), rng, 0.0)
    _talk(flat, door, FLAT, range(0, 150))
    door.set_remote(FLAT, (FLAT[0], FLAT[1] + 1))  # re-INVITE: hold (we stay recvonly)
    door.set_direction("recvonly")
    _talk(flat, door, FLAT, range(150, 250))
    door.set_remote(FLAT, (FLAT[0], FLAT[1] + 1))  # re-INVITE: resume
    door.set_direction("sendrecv")
    _talk(flat, door, FLAT, range(250, 400))
    door.set_remote(FLAT, (FLAT[0], FLAT[1] + 1))  # session refresh: same SDP
    door.set_direction("sendrecv")
    _talk(flat, door, FLAT, range(400, 450))
    stats = door.stats()
    # only the call's very first packet is held back by source validation (RFC 3550 §A.1)
    assert door.receiver.probation_dropped == 1
    assert stats.received_packets == 449 and stats.lost == 0 and stats.concealed == 0
    assert [e for e in door.events() if isinstance(e, SourceLatched)] == [SourceLatched(FLAT)]


def test_our_audio_follows_a_move_while_the_old_port_still_sends() -> None:
    """The peer moves its media with an UPDATE to another port of its host but its old stream
    goes on: our RTP goes to the new port from the move on, not back to the old one (the
    SIPp proof is tests/interop/test_early_update_sipp.py)."""
    rng = random.Random(5)
    door = MediaStream(StreamConfig(FLAT, (FLAT[0], FLAT[1] + 1)), rng, 0.0)
    flat = MediaStream(StreamConfig(DOOR, (DOOR[0], DOOR[1] + 1)), rng, 0.0)
    _talk(flat, door, FLAT, range(0, 50))
    moved = (FLAT[0], FLAT[1] + 100)
    door.set_remote(moved, (moved[0], moved[1] + 1))
    _talk(flat, door, FLAT, range(50, 150))  # the old port, 2 s on
    destinations = {d for k in range(150, 160) for _, d in door.send_frame(tone(k, 1000), k * 0.02)}
    assert door.receiver.latched_address is None and destinations == {moved}


def test_a_moved_peer_is_validated_anew_and_the_report_counts_both() -> None:
    rng = random.Random(4)
    moved = ("10.0.0.3", 6000)
    door = MediaStream(StreamConfig(FLAT, (FLAT[0], FLAT[1] + 1)), rng, 0.0)
    flat = MediaStream(StreamConfig(DOOR, (DOOR[0], DOOR[1] + 1)), rng, 0.0)
    _talk(flat, door, FLAT, range(0, 100))
    door.set_remote(moved, (moved[0], moved[1] + 1))
    _talk(flat, door, moved, range(100, 200))
    stats = door.stats()
    # the new address is probed again (RFC 3550 §A.1: MIN_SEQUENTIAL packets before counting)
    assert door.receiver.latched_address == moved
    assert stats.received_packets == 200 - door.receiver.probation_dropped
    assert 0 < door.receiver.probation_dropped <= 2
    assert [e for e in door.events() if isinstance(e, SourceLatched)] == [
        SourceLatched(FLAT),
        SourceLatched(moved),
    ]
