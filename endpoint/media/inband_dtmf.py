"""In-band DTMF detection: key presses heard as tone pairs in the decoded audio (ITU-T Q.23/Q.24).

A PBX or analogue gateway that did not negotiate RFC 4733 telephone-events sends the keys of a
handset as audio. This pure detector is fed the same 20 ms frames the jitter buffer gets and
reports each key press once, as the ``DtmfDigit`` the RFC 4733 receiver reports, so the door code
downstream cannot tell where a digit came from.

Analysis: the Goertzel measure evaluates the eight DTMF frequencies (and the second harmonic
of the high group, which speech has and a tone pair has not) over 160-sample windows that hop by 80
samples (two windows per frame). A window holds a key when all of these hold (the limits are
``DetectorLimits``):

- one low-group and one high-group frequency each reach the minimum level (Q.24: the receiver
  accepts -25 dBm0 per frequency; below ``min_level_dbm0`` is silence or line noise);
- twist (the level difference of the two) is within Q.24's limits, which differ by direction;
- each is clearly the strongest of its group (another key's frequency is ``peak_margin_db``
  lower), so one tone or a chord of speech formants is no key;
- the pair carries almost all of the window's energy (``min_tone_share``) and the second
  harmonic of its high tone almost none: speech, music and noise spread their energy, a DTMF
  pair does not. A window the tone covers only partly fails the share test too, which is what
  bounds timing; so does a tone more than 3.5 % off its frequency (Q.24's reject limit), while
  one within 1.5 % passes because each frequency is also measured detuned by 1.5 % either way.

Timing (Q.24): a key is reported after two consecutive windows agree, so a tone of 40 ms or more
is always accepted at any alignment (it fully covers two consecutive windows) and one shorter
than about 22 ms never is. The key ends after ``windows_to_end`` windows without it: a 40 ms
pause between two keys separates them, a 10 ms drop-out inside one key does not split it.

The analysis (``endpoint.media.goertzel``) needs numpy; it is imported only when some audio is
loud enough to hold a key: a window quieter than twice the minimum tone power holds none, and
``audioop.rms`` of the frame bounds every window's energy, so a quiet call or a door that never
hears a key never loads numpy (issue 19).
"""

from __future__ import annotations

from dataclasses import dataclass

from endpoint.media.dtmf import DtmfDigit
from endpoint.media.frame import Frame
from endpoint.media.pcm_ops import WIDTH, rms

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


@dataclass
class InbandDtmfDetector:
    """Feed ``feed(frame)`` every received 20 ms frame in order; it returns the keys that began."""

    limits: DetectorLimits = DetectorLimits()
    #: Samples not yet analysed (less than a hop), as frame bytes.
    _tail: Frame = b""
    _candidate: str | None = None
    _current: str | None = None
    _misses: int = 0
    #: Keys reported since the start (a counter for the call statistics).
    detected: int = 0

    def feed(self, frame: Frame) -> list[DtmfDigit]:
        samples = self._tail + frame
        count = len(samples) // WIDTH
        windows = max(0, (count - WINDOW) // HOP + 1)
        self._tail = samples[WIDTH * HOP * windows :]
        if not windows:
            return []
        if self._quiet(samples, count):
            keys: list[str | None] = [None] * windows
        else:
            from endpoint.media.goertzel import classify_windows  # numpy: loud audio only

            keys = classify_windows(samples, windows, self.limits)
        return [d for d in map(self._window, keys) if d is not None]

    def _quiet(self, samples: Frame, count: int) -> bool:
        """No window of ``samples`` can hold a key: their whole energy (bounded above from
        audioop's rounded-down RMS) is below what one window needs."""
        min_window_power = dbm0_to_amplitude(self.limits.min_level_dbm0) ** 2 * WINDOW
        return (rms(samples) + 1) ** 2 * count < min_window_power

    def _window(self, key: str | None) -> DtmfDigit | None:
        if self._current is not None:
            if key == self._current:
                self._misses = 0
                return None
            self._misses += 1
            if self._misses < self.limits.windows_to_end:
                return None
            self._current = None
        if key is not None and key == self._candidate:
            self._current, self._candidate, self._misses = key, None, 0
            self.detected += 1
            # The duration is unknown when the key starts; Q.24 reports keys at their start.
            return DtmfDigit(key, 0)
        self._candidate = key
        return None
