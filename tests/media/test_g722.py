"""G.722: the codec's round trip keeps the band above 4 kHz, its state is per call, and a
stream carries 16 kHz audio on RFC 3551's 8 kHz RTP clock (the timestamp quirk)."""

import itertools
import random

import numpy as np

from endpoint.media.codecs import G722, PCMU, by_name, codec_for
from endpoint.media.g722 import G722Decoder, G722Encoder
from endpoint.media.rtp import RtpPacket
from endpoint.media.stream import MediaStream, StreamConfig, decimate
from tests.pcm import samples as pcm

DOOR = ("10.0.0.1", 4000)
FLAT = ("10.0.0.2", 5000)


def tone16(k: int, hz: float, samples: int = 320) -> bytes:
    t = (np.arange(samples) + samples * k) / 16000
    return (np.sin(2 * np.pi * hz * t) * 10000).astype(np.int16).tobytes()


def share(audio: bytes, hz: float, rate: int = 16000) -> float:
    """The part of ``audio``'s RMS that is a sine at ``hz``."""
    x = pcm(audio).astype(float)
    t = np.arange(len(x)) / rate
    amplitude = 2 * np.hypot(x @ np.sin(2 * np.pi * hz * t), x @ np.cos(2 * np.pi * hz * t))
    return float(amplitude / len(x) / (np.sqrt(2 * np.mean(x**2)) or 1.0))


def test_round_trip_keeps_a_6_khz_tone() -> None:
    encode, decode = G722Encoder(), G722Decoder()
    out = b"".join(decode(encode(tone16(k, 6000))) for k in range(50))
    payload = encode(tone16(50, 6000))
    assert len(payload) == 160  # 64 kbit/s: one octet per two 16 kHz samples
    assert len(pcm(out)) == 50 * 320
    assert share(out[2 * 1600 :], 6000) > 0.95


def test_codec_state_is_per_call() -> None:
    """ADPCM adapts: a fresh encoder gives the same bytes for the same audio, one that has
    already coded other audio does not; so each call must get its own."""
    used = G722Encoder()
    for k in range(10):
        used(tone16(k, 300))
    frame = tone16(0, 1000)
    assert G722Encoder()(frame) == G722Encoder()(frame)
    assert used(frame) != G722Encoder()(frame)
    first, second = G722.make(), G722.make()
    assert first[0] is not second[0] and first[1] is not second[1]


def test_registry_rates() -> None:
    assert (G722.payload_type, G722.audio_rate, G722.clock_rate) == (9, 16000, 8000)
    assert (G722.frame_samples(), G722.clock_ticks()) == (320, 160)
    assert (PCMU.frame_samples(), PCMU.clock_ticks()) == (160, 160)
    assert codec_for(9) is G722 and by_name("g722") is G722


def g722_pair(ptime: int = 20) -> tuple[MediaStream, MediaStream]:
    rng = random.Random(5)
    door = MediaStream(StreamConfig(FLAT, FLAT, payload_type=9, ptime_ms=ptime), rng, 0.0)
    flat = MediaStream(StreamConfig(DOOR, DOOR, payload_type=9, ptime_ms=ptime), rng, 0.0)
    return door, flat


def test_timestamps_advance_160_per_20_ms_of_16_khz_audio() -> None:
    door, _ = g722_pair()
    packets = [RtpPacket.parse(door.send_frame(tone16(k, 1000), k * 0.02)[0][0]) for k in range(3)]
    assert [p.payload_type for p in packets] == [9, 9, 9]
    assert [len(p.payload) for p in packets] == [160, 160, 160]
    steps = [(b.timestamp - a.timestamp) % 2**32 for a, b in itertools.pairwise(packets)]
    assert steps == [160, 160]


def test_40_ms_packets_carry_two_frames_and_advance_320() -> None:
    door, _ = g722_pair(40)
    sent = [door.send_frame(tone16(k, 1000), k * 0.02) for k in range(4)]
    packets = [RtpPacket.parse(s[0][0]) for s in sent if s]
    assert [len(p.payload) for p in packets] == [320, 320]
    assert (packets[1].timestamp - packets[0].timestamp) % 2**32 == 320


def test_a_6_khz_tone_crosses_a_g722_stream_pair_in_16_khz_frames() -> None:
    door, flat = g722_pair()
    heard = []
    for k in range(100):
        now = k * 0.02
        for data, _ in door.send_frame(tone16(k, 6000), now):
            flat.receive_rtp(data, DOOR, now)
        heard.append(flat.playout(now))
    assert all(len(pcm(frame)) == 320 for frame in heard)
    audio = b"".join(heard[20:])
    assert share(audio, 6000) > 0.95
    assert flat.stats().codec == "G722" and flat.stats().concealed == 0


def test_decimate_keeps_a_dtmf_tone_at_8_khz() -> None:
    low = decimate(tone16(0, 697, 1600))
    assert len(pcm(low)) == 800
    assert share(low, 697, 8000) > 0.95


def tone8(k: int, hz: float) -> bytes:
    t = (np.arange(160) + 160 * k) / 8000
    return (np.sin(2 * np.pi * hz * t) * 10000).astype(np.int16).tobytes()


def test_a_reinvite_to_pcmu_gives_fresh_codec_state_and_8_khz_frames() -> None:
    door, flat = g722_pair()
    for k in range(10):
        for data, _ in door.send_frame(tone16(k, 1000), k * 0.02):
            flat.receive_rtp(data, DOOR, k * 0.02)
        flat.playout(k * 0.02)
    old_decode = flat.decode
    door.set_codec("PCMU", 0)
    flat.set_codec("PCMU", 0)
    assert flat.decode is not old_decode and flat.stats().codec == "PCMU"
    heard, sent = [], []
    for k in range(10, 60):
        now = k * 0.02
        for data, _ in door.send_frame(tone8(k, 1000), now):
            sent.append(RtpPacket.parse(data))
            flat.receive_rtp(data, DOOR, now)
        heard.append(flat.playout(now))
    assert {p.payload_type for p in sent} == {0} and {len(p.payload) for p in sent} == {160}
    assert all(len(pcm(frame)) == 160 for frame in heard)
    assert share(b"".join(heard[10:]), 1000, 8000) > 0.95


def test_the_same_codec_again_keeps_its_state() -> None:
    door, _ = g722_pair()
    encode = door.encode
    door.set_codec("G722", 9)
    assert door.encode is encode


def test_any_payload_from_the_network_decodes_without_error() -> None:
    """A peer controls the payload: odd, empty, oversized or random bytes give audio (two
    samples an octet; what is left over a whole frame is dropped), never an exception."""
    _, flat = g722_pair()
    rng = random.Random(9)
    for k, size in enumerate((0, 1, 159, 161, 1400)):
        payload = bytes(rng.getrandbits(8) for _ in range(size))
        packet = RtpPacket(9, 1000 + k, 160 * k, 0x1234, payload=payload)
        flat.receive_rtp(bytes(packet), DOOR, k * 0.02)
        assert len(pcm(flat.playout(k * 0.02))) == 320
    assert flat.stats().received_packets >= 4  # past source validation: they were decoded
