"""The DTMF signal as ITU-T Q.23 and Q.24 define it: the two frequency groups, the keypad, the
analysis windows and the acceptance limits.

Its own module because both halves of in-band detection read it: the numpy-free gate and state
machine (``endpoint.media.inband_dtmf``) and the Goertzel analysis that needs numpy
(``endpoint.media.goertzel``), which the gate imports only for loud audio.
"""

from __future__ import annotations

from dataclasses import dataclass

LOW_GROUP = (697.0, 770.0, 852.0, 941.0)
HIGH_GROUP = (1209.0, 1336.0, 1477.0, 1633.0)
#: Rows are the low group, columns the high group (ITU-T Q.23 Figure 1).
KEYPAD = ("123A", "456B", "789C", "*0#D")

WINDOW = 160
HOP = 80
#: Peak amplitude of a 0 dBm0 sine in 16-bit linear PCM: G.711's full-scale sine is +3.17 dBm0
#: (ITU-T G.711 Table 5 and 6) and maps to 32767 after decoding.
DBM0_AMPLITUDE = 32767.0 * 10 ** (-3.17 / 20)


def dbm0_to_amplitude(level_dbm0: float) -> float:
    """Peak amplitude in 16-bit PCM of a sine at ``level_dbm0``."""
    return DBM0_AMPLITUDE * 10 ** (level_dbm0 / 20)


@dataclass(frozen=True, slots=True)
class DetectorLimits:
    """Acceptance limits, within the ranges ITU-T Q.24 lists for the administrations (accept
    -25 dBm0 per frequency, 40 ms keys and pauses; twist up to 4 dB one way, 8 dB the other)."""

    #: Below this per-frequency level a window is silence (Q.24 accepts down to -25 dBm0).
    min_level_dbm0: float = -30.0
    #: The high-group tone louder than the low-group one ("reverse twist"), at most this.
    max_high_louder_db: float = 4.0
    #: The low-group tone louder than the high-group one ("standard twist"), at most this.
    max_low_louder_db: float = 8.0
    #: The chosen frequency beats every other of its group by this much.
    peak_margin_db: float = 8.0
    #: Share of the window's energy the tone pair must carry.
    min_tone_share: float = 0.8
    #: The second harmonics together stay this far below the pair.
    harmonic_margin_db: float = 20.0
    #: Windows (10 ms hops) without the key that end it.
    windows_to_end: int = 4
