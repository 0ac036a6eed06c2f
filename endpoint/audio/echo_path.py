"""Measuring the speaker-to-microphone path with a chirp (`sip-endpoint doctor --audio`).

A linear chirp played through the speaker is found in what the microphone recorded by
cross-correlation (computed with FFTs, so a few seconds of audio cost milliseconds). The peak's
position is the echo path's delay (device buffers + air), its height against the chirp's energy
the path's gain, and its height against the correlation's background says whether the chirp
was found at all: a dead speaker or microphone leaves no peak. The delay can seed the echo
canceller (`[audio]` alignment) and tells an installer the box is wired right. Pure: samples in,
figures out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: A peak this many times the correlation's median background counts as found.
FOUND_RATIO = 8.0
#: Below this RMS (int16 units) a recording is silence: the microphone is dead or muted.
SILENT_RMS = 3.0


def chirp(rate: int, seconds: float = 1.0, low: float = 300.0, high: float = 3400.0) -> np.ndarray:
    """A linear sweep ``low``..``high`` Hz at half scale, with 10 ms fades (int16)."""
    n = int(rate * seconds)
    t = np.arange(n) / rate
    phase = 2 * np.pi * (low * t + (high - low) * t**2 / (2 * seconds))
    x = 0.5 * np.sin(phase)
    fade = min(n // 2, rate // 100)
    ramp = np.linspace(0.0, 1.0, fade)
    x[:fade] *= ramp
    x[n - fade :] *= ramp[::-1]
    return np.asarray(np.round(x * 32767), dtype=np.int16)


@dataclass(frozen=True, slots=True)
class EchoPath:
    """What the chirp measurement found."""

    found: bool
    #: Seconds from the first chirp sample handed to the speaker to it in the microphone.
    delay_s: float
    #: The path's gain in dB (0 = the microphone hears the chirp at the level it was played).
    level_db: float
    #: The peak against the correlation's background (>= FOUND_RATIO: found).
    clarity: float
    #: The recording's RMS (int16 units): near 0 means a dead or muted microphone.
    mic_rms: float


def measure(played: np.ndarray, recorded: np.ndarray, rate: int) -> EchoPath:
    """Find ``played`` (the chirp, as handed to the speaker at sample 0) in ``recorded``."""
    p = played.astype(np.float64)
    r = recorded.astype(np.float64)
    mic_rms = float(np.sqrt(np.mean(r**2))) if r.size else 0.0
    if r.size < p.size or mic_rms < SILENT_RMS:
        return EchoPath(False, 0.0, float("-inf"), 0.0, mic_rms)
    size = 1 << int(np.ceil(np.log2(r.size + p.size)))
    corr = np.fft.irfft(np.fft.rfft(r, size) * np.conj(np.fft.rfft(p, size)), size)
    corr = np.abs(corr[: r.size - p.size + 1])
    peak = int(np.argmax(corr))
    background = float(np.median(corr)) or 1e-12
    clarity = float(corr[peak] / background)
    gain = float(corr[peak] / np.dot(p, p))
    level = 20 * np.log10(gain) if gain > 0 else float("-inf")
    return EchoPath(clarity >= FOUND_RATIO, peak / rate, level, clarity, mic_rms)
