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

from dataclasses import dataclass, field

from endpoint.media.dtmf import DtmfDigit
from endpoint.media.dtmf_tones import HOP, WINDOW, DetectorLimits, dbm0_to_amplitude
from endpoint.media.frame import Frame
from endpoint.media.pcm_ops import WIDTH, rms


@dataclass
class InbandDtmfDetector:
    """Feed ``feed(frame)`` every received 20 ms frame in order; it returns the keys that began."""

    limits: DetectorLimits = field(default_factory=DetectorLimits)
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
