"""In-band DTMF detection against generated tone pairs: keys, levels, twist, timing, noise."""

from __future__ import annotations

import random

import numpy as np
import pytest

from endpoint.media.dtmf import DtmfDigit
from endpoint.media.g711 import CODECS
from endpoint.media.inband_dtmf import InbandDtmfDetector
from endpoint.media.rtp import RtpSender
from endpoint.media.stream import MediaStream, StreamConfig
from tests.media import speech
from tests.media.dtmf_signals import Samples, frames, gap, tone

ALL_KEYS = "0123456789*#ABCD"
PEER = ("127.0.0.1", 40000)


def detect(signal: Samples, noise_dbm0: float | None = None, codec: int | None = 0) -> str:
    """The keys the detector reports, the frames passed through G.711 first (as on a call)."""
    detector = InbandDtmfDetector()
    keys = ""
    for frame in frames(signal, noise_dbm0):
        heard = frame
        if codec is not None:
            encode, decode = CODECS[codec]
            heard = decode(encode(frame))
        keys += "".join(d.digit for d in detector.feed(heard))
    return keys


def sequence(keys: str, on_ms: float = 60, off_ms: float = 60, **kw: float) -> Samples:
    parts = [gap(30)]
    for key in keys:
        parts += [tone(key, on_ms, **kw), gap(off_ms)]
    return np.concatenate(parts)


@pytest.mark.parametrize("codec", [0, 8, None])
def test_all_sixteen_keys_once_each(codec: int | None) -> None:
    assert detect(sequence(ALL_KEYS), codec=codec) == ALL_KEYS


def test_a_long_press_is_one_key() -> None:
    assert detect(sequence("5", on_ms=2000)) == "5"


def test_repeated_key_separated_by_a_40ms_pause_counts_twice() -> None:
    assert detect(sequence("77", on_ms=50, off_ms=40)) == "77"


def test_a_10ms_dropout_does_not_split_a_key() -> None:
    signal = np.concatenate((gap(20), tone("9", 100), gap(10), tone("9", 100), gap(100)))
    assert detect(signal) == "9"


@pytest.mark.parametrize("shift", range(0, 160, 20))
def test_40ms_tones_accepted_at_every_alignment(shift: int) -> None:
    signal = np.concatenate((gap(shift / 8), sequence("1397", on_ms=40, off_ms=40)))
    assert detect(signal) == "1397"


@pytest.mark.parametrize("shift", range(0, 160, 20))
def test_20ms_tones_rejected_at_every_alignment(shift: int) -> None:
    signal = np.concatenate((gap(shift / 8), sequence("1397", on_ms=20, off_ms=60)))
    assert detect(signal) == ""


@pytest.mark.parametrize("level", [-3.0, -10.0, -25.0])
def test_levels_q24_accepts(level: float) -> None:
    assert detect(sequence("258#", level_dbm0=level)) == "258#"


def test_too_quiet_is_silence() -> None:
    assert detect(sequence("258#", level_dbm0=-40.0)) == ""


@pytest.mark.parametrize("twist", [-8.0, -4.0, 0.0, 2.0, 4.0])
def test_twist_within_limits_accepted(twist: float) -> None:
    assert detect(sequence("0D", twist_db=twist)) == "0D"


@pytest.mark.parametrize("twist", [-12.0, 7.0])
def test_twist_beyond_limits_rejected(twist: float) -> None:
    assert detect(sequence("0D", twist_db=twist)) == ""


@pytest.mark.parametrize("offset", [-0.015, 0.015])
def test_frequency_deviation_within_q24_accepted(offset: float) -> None:
    assert detect(sequence(ALL_KEYS, offset=offset)) == ALL_KEYS


@pytest.mark.parametrize("offset", [-0.035, 0.035, -0.06, 0.06])
def test_frequencies_off_by_35_permille_rejected(offset: float) -> None:
    assert detect(sequence(ALL_KEYS, offset=offset)) == ""


def test_single_tone_is_no_key() -> None:
    t = np.arange(8000) / 8000
    assert detect(8000 * np.sin(2 * np.pi * 697 * t)) == ""
    assert detect(8000 * np.sin(2 * np.pi * 1336 * t)) == ""


def test_keys_heard_through_noise() -> None:
    assert detect(sequence(ALL_KEYS, level_dbm0=-10), noise_dbm0=-30) == ALL_KEYS


def test_noise_alone_gives_no_key() -> None:
    assert detect(gap(20_000), noise_dbm0=-10) == ""


def _stream_keys(config: StreamConfig, audio: Samples) -> list[DtmfDigit]:
    """What a media stream reports when its peer sends ``audio`` as PCMU RTP packets."""
    peer = RtpSender(random.Random(2))
    stream = MediaStream(config, random.Random(1), 0.0)
    events: list[object] = []
    for k, frame in enumerate(frames(audio)):
        now = k * 0.02
        packet = peer.packet(0, CODECS[0][0](frame), 160)
        stream.receive_rtp(bytes(packet), PEER, now)
        stream.playout(now)
        events += stream.events()
    return [e for e in events if isinstance(e, DtmfDigit)]


def test_a_stream_without_telephone_event_hears_keys_in_the_audio() -> None:
    config = StreamConfig(PEER, (PEER[0], PEER[1] + 1), telephone_event_pt=None, inband_dtmf=True)
    keys = _stream_keys(config, sequence("4711#"))
    assert "".join(d.digit for d in keys) == "4711#"


def test_a_stream_not_asked_to_listen_hears_no_tones() -> None:
    config = StreamConfig(PEER, (PEER[0], PEER[1] + 1), telephone_event_pt=None)
    assert _stream_keys(config, sequence("4711#")) == []


@pytest.mark.espeak_ng
def test_a_minute_of_speech_gives_no_key() -> None:
    """Talk-off: the benchmark runs ten minutes (benchmarks/bench_inband_dtmf.py)."""
    assert detect(speech.speech(60, seed=7)) == ""


@pytest.mark.espeak_ng
def test_keys_between_sentences_are_heard_exactly() -> None:
    talk = speech.speech(12, seed=3)
    third = len(talk) // 3
    signal = np.concatenate(
        (talk[:third], sequence("4711"), talk[third : 2 * third], sequence("#0"), talk[2 * third :])
    )
    assert detect(signal) == "4711#0"
