"""Voice processing with the real native engines (libspeexdsp, WebRTC's module via livekit).

An echo made here (the far end's noise-like signal, delayed and attenuated, as a room would)
must come out of the canceller much weaker; the near end alone must come through.
"""

import numpy as np
import pytest

from endpoint.audio.port import AudioError
from endpoint.audio.processing import ProcessingSettings, VoiceProcessor
from tests.pcm import samples

FRAME = 160
ENGINES = ["speex", "webrtc"]


def speechlike(n: int, rng: np.random.Generator) -> np.ndarray:
    """Noise shaped and gated in syllables, about -20 dBFS: enough spectrum to adapt on."""
    x = np.convolve(rng.standard_normal(n), np.hanning(9), mode="same")
    envelope = (np.sin(2 * np.pi * 3 * np.arange(n) / 8000) > -0.3).astype(float)
    return x / np.std(x) * 0.1 * envelope


def run(proc: VoiceProcessor, mic: np.ndarray, far: np.ndarray) -> np.ndarray:
    out = np.zeros(len(mic), dtype=np.int16)
    for i in range(0, len(mic) - FRAME + 1, FRAME):
        proc.played(far[i : i + FRAME].tobytes())
        out[i : i + FRAME] = samples(proc.captured(mic[i : i + FRAME].tobytes()))
    return out


def i16(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x * 32768), -32768, 32767).astype(np.int16)


def power(x: np.ndarray) -> float:
    return float(np.mean(x.astype(np.float64) ** 2))


@pytest.mark.parametrize("engine", ENGINES)
def test_the_echo_of_the_far_end_is_reduced(engine: str) -> None:
    rng = np.random.default_rng(3)
    n = 8000 * 8
    far = speechlike(n, rng)
    echo = np.zeros(n)
    echo[240:] = 0.5 * far[:-240]  # 30 ms away, 6 dB down
    echo[300:] += 0.2 * far[:-300]
    mic = i16(echo + 1e-4 * rng.standard_normal(n))
    settings = ProcessingSettings(echo_cancellation=True, engine=engine)
    out = run(VoiceProcessor(settings), mic, i16(far))
    last = slice(n - 3 * 8000, n)
    reduction = 10 * np.log10(power(mic[last]) / max(power(out[last]), 1e-9))
    assert reduction > 20


@pytest.mark.parametrize("engine", ENGINES)
def test_the_near_end_alone_comes_through(engine: str) -> None:
    rng = np.random.default_rng(4)
    n = 8000 * 4
    near = i16(speechlike(n, rng))
    settings = ProcessingSettings(echo_cancellation=True, engine=engine)
    out = run(VoiceProcessor(settings), near, np.zeros(n, dtype=np.int16))
    last = slice(n // 2, n - 400)
    ref = near[last].astype(np.float64)

    def gain_at(lag: int) -> float:
        shifted = out[last.start + lag : last.stop + lag].astype(np.float64)
        return float(np.dot(shifted, ref) / np.dot(ref, ref))

    # The engines delay the signal a little (speex's preprocessor one frame, WebRTC's
    # band-split filters a few ms): the near end is compared where it lines up best.
    gain = max(gain_at(lag) for lag in range(400))
    # Not silenced (a canceller that diverged, or a suppressor stuck on, would be): less than
    # 10 dB down. benchmarks/bench_echo.py measures the attenuation on speech.
    assert 10 ** (-10 / 20) < gain < 1.3


def test_gains_are_applied_in_db_and_clip() -> None:
    proc = VoiceProcessor(ProcessingSettings(speaker_volume_db=-6.0, mic_gain_db=20.0))
    frame = np.full(FRAME, 10000, dtype=np.int16).tobytes()
    # audioop.mul rounds down: within one step of the exact gain.
    assert abs(samples(proc.played(frame))[0] - 10000 * 10 ** (-6 / 20)) < 1
    assert set(samples(proc.captured(frame))) == {32767}
    proc.set_speaker_volume(0.0)
    assert proc.played(frame) == frame


def test_an_unknown_engine_is_a_clear_error() -> None:
    with pytest.raises(AudioError, match="webrtc"):
        VoiceProcessor(ProcessingSettings(noise_suppression=True, engine="aec9000"))
