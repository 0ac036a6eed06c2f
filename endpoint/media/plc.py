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
"""

from __future__ import annotations

from collections import deque
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from endpoint.media.frame import FRAME_SAMPLES, Frame

HISTORY = 390  # G.711 App. I keeps 48.75 ms at 8 kHz
MIN_PITCH, MAX_PITCH = 20, 120  # 400 Hz .. 66 Hz
MAX_CONCEALED = 60 * 8  # samples: after 60 ms, silence
BLEND = 40  # 5 ms cross-fade when real audio resumes

FloatArray = npt.NDArray[np.float64]


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
        self._max_concealed, self._blend, self._step = MAX_CONCEALED * k, BLEND * k, 8 * k
        #: The last frames heard or synthesised; joined into ``history`` only when a loss needs
        #: it, so a good frame costs a copy, not a conversion and a concatenation (issue 19).
        self._recent: deque[npt.NDArray[Any]] = deque(
            maxlen=-(-self._history_len // frame_samples) + 1
        )
        self.erased = 0  # samples concealed in the current loss burst
        self._pitch = self._max_pitch
        self._phase = 0
        self._period: FloatArray = np.zeros(self._max_pitch, dtype=np.float64)

    @property
    def history(self) -> FloatArray:
        """The last ``HISTORY`` (8 kHz) samples' worth (zeros before the first frame), as floats."""
        joined = np.concatenate([np.zeros(self._history_len), *self._recent])
        return joined[-self._history_len :].astype(np.float64)

    def good(self, frame: Frame) -> Frame:
        """Pass a received frame through, blending it in after a loss."""
        if not self.erased:
            # Nothing to blend: the frame is already in range and the caller owns it.
            self._recent.append(frame.copy())
            return frame
        samples = frame.astype(np.float64)
        n = min(self._blend, len(samples))
        tail = self._synthesize(n) * self._gain(self.erased)
        ramp = np.linspace(0.0, 1.0, n, endpoint=False)
        samples[:n] = samples[:n] * ramp + tail * (1 - ramp)
        self.erased = 0
        self._remember(samples)
        return np.clip(samples, -32768, 32767).astype(np.int16)

    def conceal(self) -> Frame:
        """A synthetic frame for a lost one."""
        n = self.frame_samples
        if self.erased == 0:
            self._start()
        if self.erased >= self._max_concealed:
            out = np.zeros(n, dtype=np.float64)
        else:
            step = self._step
            gains = np.array([self._gain(self.erased + i) for i in range(0, n, step)])
            out = self._synthesize(n) * np.repeat(gains, step)[:n]
        self.erased += n
        self._remember(out)
        return np.clip(out, -32768, 32767).astype(np.int16)

    def _gain(self, erased: int) -> float:
        """1.0 for the first 10 ms, then -20 % per 10 ms, 0 from 60 ms."""
        erased //= self.scale
        if erased < 80:
            return 1.0
        return max(
            0.0, 1.0 - 0.2 * ((erased - 80) // 80 + 1) * (1 if erased < MAX_CONCEALED else 5)
        )

    def _start(self) -> None:
        h = self.history
        if not np.any(h):
            self._pitch = self._max_pitch
        else:
            # Pitch: the lag maximising the normalised correlation of the last 20 ms.
            w = self._window
            window = h[-w:]
            best, best_lag = -np.inf, self._max_pitch
            for lag in range(self._min_pitch, self._max_pitch + 1, self.scale):
                past = h[-w - lag : -lag]
                energy = float(np.dot(past, past)) or 1.0
                score = float(np.dot(window, past)) / np.sqrt(energy)
                if score > best:
                    best, best_lag = score, lag
            self._pitch = best_lag
        period = h[-self._pitch :].copy()
        # A quarter-period cross-fade at the seam between the end and the start of the period.
        q = max(1, self._pitch // 4)
        ramp = np.linspace(0.0, 1.0, q, endpoint=False)
        period[:q] = h[-self._pitch - q : -self._pitch] * (1 - ramp) + period[:q] * ramp
        self._period = period
        self._phase = 0

    def _synthesize(self, n: int) -> FloatArray:
        idx = (self._phase + np.arange(n)) % self._pitch
        self._phase = (self._phase + n) % self._pitch
        return self._period[idx]

    def _remember(self, samples: FloatArray) -> None:
        self._recent.append(samples)
