"""Opus through libopus: a wideband tone survives the round trip at its level, the decoder
conceals a lost packet, the stream runs 16 kHz audio on RFC 7587's 48 kHz RTP clock under a
dynamic payload type, and what the network sends is dropped and counted, never raised."""

import itertools
import random

import numpy as np

from endpoint.media.codecs import OPUS, by_name
from endpoint.media.opus import OpusDecoder, OpusEncoder, fmtp_params, peer_settings
from endpoint.media.rtp import RtpPacket
from endpoint.media.stream import MediaStream, StreamConfig
from tests.pcm import samples

DOOR = ("10.0.0.1", 4000)
FLAT = ("10.0.0.2", 5000)
#: Not the 111 we offer: the number is whatever the SDP said.
PT = 107


def tone16(k: int, hz: float, samples: int = 320) -> bytes:
    t = (np.arange(samples) + samples * k) / 16000
    return (np.sin(2 * np.pi * hz * t) * 10000).astype(np.int16).tobytes()


def pcm(audio: bytes | np.ndarray) -> np.ndarray:
    """A frame (int16 bytes) as samples; samples as they are."""
    return samples(audio) if isinstance(audio, bytes) else audio


def joined(frames: list[bytes]) -> np.ndarray:
    return samples(b"".join(frames))


def share(audio: bytes | np.ndarray, hz: float, rate: int = 16000) -> float:
    """The part of ``audio``'s RMS that is a sine at ``hz``."""
    x = pcm(audio).astype(float)
    t = np.arange(len(x)) / rate
    amplitude = 2 * np.hypot(x @ np.sin(2 * np.pi * hz * t), x @ np.cos(2 * np.pi * hz * t))
    return float(amplitude / len(x) / (np.sqrt(2 * np.mean(x**2)) or 1.0))


def rms(audio: bytes | np.ndarray) -> float:
    return float(np.sqrt(np.mean(pcm(audio).astype(float) ** 2)))


def test_a_6_khz_tone_keeps_its_frequency_and_level() -> None:
    encode, decode = OpusEncoder(), OpusDecoder()
    out = joined([decode(encode(tone16(k, 6000))) for k in range(50)])
    assert len(out) == 50 * 320
    assert share(out[3200:], 6000) > 0.9
    level = rms(out[3200:]) / rms(tone16(0, 6000))
    assert 0.7 < level < 1.3
    assert len(encode(tone16(50, 6000))) < 160  # far below G.722's 160 octets per 20 ms


def test_a_lost_packet_is_concealed_by_the_decoder_not_silenced() -> None:
    encode, decode = OpusEncoder(), OpusDecoder()
    for k in range(20):
        decode(encode(tone16(k, 1000)))
    encode(tone16(20, 1000))  # lost on the way
    concealed = decode.conceal()
    assert len(pcm(concealed)) == 320
    assert rms(concealed) > 0.3 * rms(tone16(0, 1000))
    assert share(concealed, 1000) > 0.8
    assert decode.good(concealed) is concealed
    after = joined([decode(encode(tone16(k, 1000))) for k in range(21, 30)])
    assert share(after[320:], 1000) > 0.9


def test_the_peers_fmtp_caps_the_band_and_switches_fec() -> None:
    assert peer_settings(None) == (1103, False)  # RFC 7587 §6.1: useinbandfec defaults to 0
    assert peer_settings("maxplaybackrate=16000;useinbandfec=1") == (1103, True)
    assert peer_settings("maxplaybackrate=8000; stereo=0") == (1101, False)
    assert peer_settings("maxplaybackrate=12000") == (1102, False)
    assert peer_settings("maxplaybackrate=99999999999") == (1103, False)
    assert fmtp_params("x=1;" * 40) == {}
    assert fmtp_params("A=1;b") == {"a": "1", "b": ""}


def test_a_narrowband_peer_gets_no_6_khz() -> None:
    """maxplaybackrate=8000: the encoder keeps to narrowband, so the 6 kHz tone is gone."""
    encode, decode = OpusEncoder(), OpusDecoder()
    encode.follow("maxplaybackrate=8000")
    out = joined([decode(encode(tone16(k, 6000))) for k in range(50)])
    assert rms(out[3200:]) < 0.1 * rms(tone16(0, 6000))


def test_state_is_per_call_and_closing_twice_is_harmless() -> None:
    first, second = OPUS.make(), OPUS.make()
    assert first[0] is not second[0] and first[1] is not second[1]
    encoder = OpusEncoder()
    encoder.close()
    encoder.close()


def opus_pair(ptime: int = 20) -> tuple[MediaStream, MediaStream]:
    rng = random.Random(5)
    config = StreamConfig(FLAT, FLAT, payload_type=PT, codec="OPUS", ptime_ms=ptime)
    door = MediaStream(config, rng, 0.0)
    flat = MediaStream(StreamConfig(DOOR, DOOR, payload_type=PT, codec="opus"), rng, 0.0)
    return door, flat


def test_registry_rates_and_no_static_number() -> None:
    assert (OPUS.audio_rate, OPUS.clock_rate) == (16000, 48000)
    assert (OPUS.frame_samples(), OPUS.clock_ticks()) == (320, 960)
    assert by_name("opus") is OPUS


def test_timestamps_advance_960_per_20_ms_and_the_dynamic_type_is_used() -> None:
    door, _ = opus_pair()
    packets = [RtpPacket.parse(door.send_frame(tone16(k, 1000), k * 0.02)[0][0]) for k in range(3)]
    assert [p.payload_type for p in packets] == [PT] * 3
    steps = [(b.timestamp - a.timestamp) % 2**32 for a, b in itertools.pairwise(packets)]
    assert steps == [960, 960]


def test_a_6_khz_tone_crosses_an_opus_stream_pair_with_a_loss() -> None:
    door, flat = opus_pair()
    heard = []
    for k in range(100):
        now = k * 0.02
        for data, _ in door.send_frame(tone16(k, 6000), now):
            if k not in (50, 51):
                flat.receive_rtp(data, DOOR, now)
        heard.append(flat.playout(now))
    assert all(len(pcm(frame)) == 320 for frame in heard)
    assert share(joined(heard[20:]), 6000) > 0.9
    stats = flat.stats()
    # Two in a row: no FEC for the first; the decoder conceals both at playout.
    assert stats.codec == "OPUS" and stats.concealed == 2 and stats.lost == 2


def sender_with_fec(fmtp: str | None) -> MediaStream:
    config = StreamConfig(FLAT, FLAT, payload_type=PT, codec="OPUS", codec_fmtp=fmtp)
    return MediaStream(config, random.Random(5), 0.0)


def test_one_lost_packet_is_rebuilt_from_the_fec_of_the_next() -> None:
    """The tone changes from 1 kHz to 3 kHz in the lost frame: the frame played there has
    the new tone only if it came from the next packet's FEC (concealment would continue the
    old one), and the jitter buffer conceals nothing. A peer that did not ask for FEC
    (``useinbandfec`` absent) gets none, and the same loss is filled with the old tone."""
    for fmtp, rebuilt in (("useinbandfec=1", True), (None, False)):
        door = sender_with_fec(fmtp)
        # 40 ms of buffer (the [media] default): the next packet comes before the gap plays.
        config = StreamConfig(DOOR, DOOR, payload_type=PT, codec="OPUS", jitter_min_ms=40)
        flat = MediaStream(config, random.Random(6), 0.0)
        heard = []
        for k in range(60):
            now = k * 0.02
            for data, _ in door.send_frame(tone16(k, 1000 if k < 30 else 3000), now):
                if k != 30:
                    flat.receive_rtp(data, DOOR, now)
            heard.append(flat.playout(now))
        lost = next(i for i, f in enumerate(heard) if i > 20 and share(f, 1000) < 0.5)
        if rebuilt:
            assert share(heard[lost], 3000) > 0.7, lost
            assert flat.stats().concealed == 0 and flat.stats().lost == 1
        else:
            assert share(heard[lost - 1], 1000) > 0.7 and share(heard[lost - 1], 3000) < 0.3


def test_40_ms_packets_advance_1920_and_play_as_two_frames() -> None:
    door, flat = opus_pair(40)
    sent = [door.send_frame(tone16(k, 1000), k * 0.02) for k in range(40)]
    packets = [RtpPacket.parse(s[0][0]) for s in sent if s]
    assert (packets[1].timestamp - packets[0].timestamp) % 2**32 == 1920
    heard = []
    for k, s in enumerate(sent):
        for data, _ in s:
            flat.receive_rtp(data, DOOR, k * 0.02)
        heard.append(flat.playout(k * 0.02))
    assert share(joined(heard[10:]), 1000) > 0.9


def test_garbage_from_the_network_is_dropped_and_counted() -> None:
    """A peer controls the payload: libopus refuses what is not Opus, and the stream counts
    and drops it rather than raising into the media thread; every other sequence number, so
    each bad packet also goes through the FEC path for a gap of one."""
    door, flat = opus_pair()
    for k in range(3):  # a validated source first (RFC 3550 A.1 probation)
        data = door.send_frame(tone16(k, 1000), 0.02 * k)[0][0]
        flat.receive_rtp(data, DOOR, 0.02 * k)
    last = RtpPacket.parse(data)
    rng = random.Random(7)
    bad = [b"", b"\xff" * 3, bytes(rng.getrandbits(8) for _ in range(1400)), b"\x0b\xff\xff"]
    for n, payload in enumerate(bad, start=1):
        seq, ts = (last.sequence + 2 * n) % 65536, (last.timestamp + 1920 * n) % 2**32
        packet = RtpPacket(PT, seq, ts, last.ssrc, payload)
        flat.receive_rtp(bytes(packet), DOOR, 0.06 + 0.04 * n)
    assert flat.stats().discarded >= 2  # the corrupted ones (random bytes can be valid Opus)
    assert len(pcm(flat.playout(0.3))) == 320


def test_a_reinvite_from_opus_to_pcmu_switches_the_rtp_clock_to_8000() -> None:
    door, _ = opus_pair()
    door.send_frame(tone16(0, 1000), 0.0)
    door.set_codec("PCMU", 0)
    frames = [bytes(320)] * 3
    packets = [
        RtpPacket.parse(door.send_frame(f, 0.02 * (k + 1))[0][0]) for k, f in enumerate(frames)
    ]
    steps = [(b.timestamp - a.timestamp) % 2**32 for a, b in itertools.pairwise(packets)]
    assert steps == [160, 160] and door.sender.clock_rate == 8000
