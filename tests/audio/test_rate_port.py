"""``RatePort``: a 16 kHz call in front of an 8 kHz port (the ALSA device streams)."""

from pathlib import Path

import numpy as np

from endpoint.audio.rate_port import RatePort
from endpoint.audio.tone import TonePort
from endpoint.audio.wavfile import FilePort


def test_a_16_khz_call_reads_and_writes_through_an_8_khz_port() -> None:
    inner = TonePort(1000.0, 0.5)
    port = RatePort(inner, 8000, 16000)
    port.start()
    frames = [port.read_frame() for _ in range(25)]
    assert all(f is not None and len(f) == 320 for f in frames)
    audio = np.concatenate([f for f in frames if f is not None])[1600:].astype(float)
    t = np.arange(len(audio)) / 16000
    amplitude = 2 * np.hypot(
        audio @ np.sin(2 * np.pi * 1000 * t), audio @ np.cos(2 * np.pi * 1000 * t)
    )
    assert amplitude / len(audio) > 0.4 * 32767  # the 8 kHz tone, intact at 16 kHz
    port.write_frame(np.zeros(320, dtype=np.int16))
    port.stop()


def test_writes_reach_the_inner_port_at_its_frame_size(tmp_path: Path) -> None:
    inner = FilePort(None, tmp_path / "out.wav")
    port = RatePort(inner, 8000, 16000)
    port.start()
    for _ in range(10):
        port.write_frame(np.full(320, 1000, dtype=np.int16))
    port.stop()
    assert inner.wait_closed(5)
    assert (tmp_path / "out.wav").stat().st_size > 44 + 2 * 160 * 8
