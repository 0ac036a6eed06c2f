"""Packet loss concealment in the style of ITU-T G.711 Appendix I.

A lost 20 ms frame replaced by silence clicks; replaced by a repeat of the last pitch period of
the voice it sounds like a held syllable, which the ear forgives. On the first lost frame we find
the pitch period (autocorrelation over 2.5-15 ms, i.e. 66-400 Hz) in the recent history and
repeat it, cross-fading a quarter period at the seam; every further 10 ms of loss attenuates by
20 %, and after 60 ms the output fades to silence (long synthetic tones sound worse than a
gap). When real audio returns, its start is blended with the continuation of the synthetic
signal so the transition is smooth.

The constants are in 8 kHz samples; a wideband (16 kHz, G.722) frame scales them all by the
ratio of its frame length to 160, so the same milliseconds and pitch range hold.

Frames are bytes (frame.py): the pitch search is ``audioop.findfit`` (the offset of least
squared error with the best gain, i.e. the highest normalised correlation) and the repeat and
attenuation are byte slices and ``audioop.mul``, all in C. Only the seam and blend ramps, at
most 5 ms of samples and only around a loss, run sample by sample in Python.
"""

from __future__ import annotations

from array import array
from collections import deque
from typing import Protocol, runtime_checkable

from endpoint.media.frame import FRAME_SAMPLES, Frame, silence
from endpoint.media.pcm_ops import WIDTH, audioop

HISTORY = 390  # G.711 App. I keeps 48.75 ms at 8 kHz
MIN_PITCH, MAX_PITCH = 20, 120  # 400 Hz .. 66 Hz
MAX_CONCEALED = 60 * 8  # samples: after 60 ms, silence
BLEND = 40  # 5 ms cross-fade when real audio resumes
#: Samples (8 kHz) over which the attenuation holds one value: it steps every 10 ms.
GAIN_STEP = 80


@runtime_checkable
class LossConcealer(Protocol):
    """What the jitter buffer asks at playout: pass a received frame on, or make one up for a
    lost one. ``Concealer`` below for codecs without their own; a decoder that conceals better
    (Opus, RFC 6716 §4.4) is its own concealer."""

    def good(self, frame: Frame) -> Frame: ...

    def conceal(self) -> Frame: ...


class Concealer:
    def __init__(self, frame_samples: int = FRAME_SAMPLES) -> None:
        self.frame_samples = frame_samples
        #: Samples per 8 kHz sample: 1 for G.711, 2 for G.722's 16 kHz.
        self.scale = k = max(1, frame_samples // FRAME_SAMPLES)
        self._history_len, self._window = HISTORY * k, FRAME_SAMPLES * k
        self._min_pitch, self._max_pitch = MIN_PITCH * k, MAX_PITCH * k
        self._max_concealed, self._blend = MAX_CONCEALED * k, BLEND * k
        #: The last frames heard or synthesised; joined into ``history`` only when a loss needs
        #: it, so a good frame costs an append (issue 19).
        self._recent: deque[Frame] = deque(maxlen=-(-self._history_len // frame_samples) + 1)
        self.erased = 0  # samples concealed in the current loss burst
        self._pitch = self._max_pitch
        self._phase = 0
        self._period: Frame = silence(self._max_pitch)

    @property
    def history(self) -> Frame:
        """The last ``HISTORY`` (8 kHz) samples' worth (zeros before the first frame)."""
        joined = silence(self._history_len) + b"".join(self._recent)
        return joined[-WIDTH * self._history_len :]

    def good(self, frame: Frame) -> Frame:
        """Pass a received frame through, blending it in after a loss."""
        if not self.erased:
            self._recent.append(frame)
            return frame
        n = min(self._blend, len(frame) // WIDTH)
        tail = array("h", audioop.mul(self._synthesize(n), WIDTH, self._gain(self.erased)))
        head = array("h", frame[: WIDTH * n])
        for i in range(n):
            ramp = i / n
            head[i] = _clip(head[i] * ramp + tail[i] * (1 - ramp))
        self.erased = 0
        out = head.tobytes() + frame[WIDTH * n :]
        self._recent.append(out)
        return out

    def conceal(self) -> Frame:
        """A synthetic frame for a lost one."""
        n = self.frame_samples
        if self.erased == 0:
            self._start()
        if self.erased >= self._max_concealed:
            out = silence(n)
        else:
            wave = self._synthesize(n)
            # The gain holds for 10 ms at a time: one audioop.mul per 10 ms piece.
            step = GAIN_STEP * self.scale
            pieces = []
            start = 0
            while start < n:
                end = min(n, start + step - (self.erased + start) % step)
                piece = wave[WIDTH * start : WIDTH * end]
                pieces.append(audioop.mul(piece, WIDTH, self._gain(self.erased + start)))
                start = end
            out = b"".join(pieces)
        self.erased += n
        self._recent.append(out)
        return out

    def _gain(self, erased: int) -> float:
        """1.0 for the first 10 ms, then -20 % per 10 ms, 0 from 60 ms."""
        erased //= self.scale
        if erased < GAIN_STEP:
            return 1.0
        return max(
            0.0,
            1.0
            - 0.2 * ((erased - GAIN_STEP) // GAIN_STEP + 1) * (1 if erased < MAX_CONCEALED else 5),
        )

    def _start(self) -> None:
        h = self.history
        w, lo, hi = self._window, self._min_pitch, self._max_pitch
        if not audioop.max(h, WIDTH):
            self._pitch = hi
        else:
            # Pitch: the lag whose past best matches the last 20 ms (findfit: least squared
            # error at the best gain), over lags lo..hi; the fragment's offset 0 is lag hi.
            fragment = h[-WIDTH * (w + hi) : -WIDTH * lo]
            offset, _ = audioop.findfit(fragment, h[-WIDTH * w :])
            self._pitch = hi - offset
        p = self._pitch
        period = array("h", h[-WIDTH * p :])
        # A quarter-period cross-fade at the seam between the end and the start of the period.
        q = max(1, p // 4)
        before = array("h", h[-WIDTH * (p + q) : -WIDTH * p])
        for i in range(q):
            ramp = i / q
            period[i] = _clip(before[i] * (1 - ramp) + period[i] * ramp)
        self._period = period.tobytes()
        self._phase = 0

    def _synthesize(self, n: int) -> Frame:
        """The next ``n`` samples of the repeated pitch period."""
        p, phase = self._pitch, self._phase
        repeated = self._period * ((phase + n) // p + 1)
        self._phase = (phase + n) % p
        return repeated[WIDTH * phase : WIDTH * (phase + n)]


def _clip(value: float) -> int:
    return max(-32768, min(32767, int(value)))
