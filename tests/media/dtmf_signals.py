"""DTMF test signals: tone pairs at chosen levels, offsets and durations, with gaps and noise."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from endpoint.media.dtmf_tones import HIGH_GROUP, KEYPAD, LOW_GROUP, dbm0_to_amplitude
from endpoint.media.frame import FRAME_SAMPLES, SAMPLE_RATE

Samples = npt.NDArray[np.float64]


def pair(key: str) -> tuple[float, float]:
    for row, keys in enumerate(KEYPAD):
        if key in keys:
            return LOW_GROUP[row], HIGH_GROUP[keys.index(key)]
    raise ValueError(key)


def tone(
    key: str,
    ms: float,
    *,
    level_dbm0: float = -10.0,
    twist_db: float = 0.0,
    offset: float = 0.0,
    phase: float = 0.3,
) -> Samples:
    """``key`` for ``ms``; ``twist_db`` > 0 makes the high tone louder, ``offset`` detunes both
    frequencies by that fraction (0.015 = +1.5 %)."""
    low, high = pair(key)
    t = np.arange(round(ms * SAMPLE_RATE / 1000)) / SAMPLE_RATE
    a_low = dbm0_to_amplitude(level_dbm0 - twist_db / 2)
    a_high = dbm0_to_amplitude(level_dbm0 + twist_db / 2)
    return a_low * np.sin(2 * np.pi * low * (1 + offset) * t + phase) + a_high * np.sin(
        2 * np.pi * high * (1 + offset) * t
    )


def gap(ms: float) -> Samples:
    return np.zeros(round(ms * SAMPLE_RATE / 1000))


def frames(signal: Samples, noise_dbm0: float | None = None, seed: int = 1) -> list[bytes]:
    """Cut into 20 ms frames (int16 bytes, padded with silence), with white noise if asked."""
    pad = (-len(signal)) % FRAME_SAMPLES + FRAME_SAMPLES * 6
    signal = np.concatenate((signal, np.zeros(pad)))
    if noise_dbm0 is not None:
        rng = np.random.default_rng(seed)
        rms = dbm0_to_amplitude(noise_dbm0) / np.sqrt(2)
        signal = signal + rng.normal(0, rms, len(signal))
    pcm = np.clip(np.round(signal), -32768, 32767).astype(np.int16)
    return [pcm[i : i + FRAME_SAMPLES].tobytes() for i in range(0, len(pcm), FRAME_SAMPLES)]
