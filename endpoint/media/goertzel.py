"""The numeric half of in-band DTMF detection (endpoint.media.inband_dtmf): Goertzel powers.

Kept apart because it needs numpy: the detector imports this module only when the audio is
loud enough to hold a key, so a call without keys never loads numpy (issue 19).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from endpoint.media.dtmf_tones import (
    HIGH_GROUP,
    HOP,
    KEYPAD,
    LOW_GROUP,
    WINDOW,
    DetectorLimits,
    dbm0_to_amplitude,
)
from endpoint.media.frame import SAMPLE_RATE, Frame

#: The high group's second harmonics; the low group's (1394-1882 Hz) sit too close to the high
#: group itself for a 20 ms window to tell them apart.
_FREQUENCIES = LOW_GROUP + HIGH_GROUP + tuple(2 * f for f in HIGH_GROUP)
#: Each key frequency is also measured detuned by the Q.24 tolerance either way, and the best of
#: the three counts: a 20 ms window loses up to 4 dB on a tone 1.5 % off otherwise.
_DETUNE = 0.015
_PROBES = (
    _FREQUENCIES
    + tuple(f * (1 - _DETUNE) for f in LOW_GROUP + HIGH_GROUP)
    + tuple(f * (1 + _DETUNE) for f in LOW_GROUP + HIGH_GROUP)
)
_PHASES = np.outer(np.array(_PROBES), np.arange(WINDOW)) * (2.0 * math.pi / SAMPLE_RATE)
#: One row per frequency: evaluating all 28 probes at once is one matrix product per window.
_BASIS = np.vstack((np.cos(_PHASES), np.sin(_PHASES)))


def goertzel_powers(window: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Energy of ``window`` at each of the 12 frequencies, scaled like ``sum(x**2)``.

    This is the value the Goertzel recursion computes (the squared magnitude of the DFT at a
    frequency that need not fall on a bin), evaluated as a dot product with precomputed
    sines and cosines. For a sine filling the window at exactly that frequency the result equals
    the window's energy, so the share test compares like with like.
    """
    parts = _BASIS @ window
    n = len(_PROBES)
    power = (parts[:n] ** 2 + parts[n:] ** 2) * (2.0 / WINDOW)
    keys = np.maximum(np.maximum(power[:8], power[12:20]), power[20:28])
    return np.asarray(np.concatenate((keys, power[8:12])), dtype=np.float64)


def classify_windows(samples: Frame, windows: int, limits: DetectorLimits) -> list[str | None]:
    """The key each of the first ``windows`` windows (hopping by ``HOP``) of ``samples`` holds."""
    values = np.frombuffer(samples, dtype=np.int16).astype(np.float64)
    return [classify(values[k * HOP : k * HOP + WINDOW], limits) for k in range(windows)]


def classify(window: npt.NDArray[np.float64], limits: DetectorLimits) -> str | None:
    """The key this window holds, or None."""
    total = float(np.dot(window, window))
    min_power = dbm0_to_amplitude(limits.min_level_dbm0) ** 2 * len(window) / 2
    if total < 2 * min_power:
        return None
    powers = goertzel_powers(window)
    low, high, harmonics = powers[:4], powers[4:8], powers[8:]
    row, col = int(np.argmax(low)), int(np.argmax(high))
    p_low, p_high = float(low[row]), float(high[col])
    if p_low < min_power or p_high < min_power:
        return None
    twist_db = 10 * math.log10(p_high / p_low)
    if twist_db > limits.max_high_louder_db or -twist_db > limits.max_low_louder_db:
        return None
    margin = 10 ** (limits.peak_margin_db / 10)
    if any(p * margin > p_low for i, p in enumerate(low) if i != row):
        return None
    if any(p * margin > p_high for i, p in enumerate(high) if i != col):
        return None
    pair = p_low + p_high
    if pair < limits.min_tone_share * total:
        return None
    if float(harmonics[col]) * 10 ** (limits.harmonic_margin_db / 10) > pair:
        return None
    return KEYPAD[row][col]
