"""Audio at one rate meeting audio at another, a 20 ms frame at a time.

A re-INVITE may change the codec's rate mid-call (G.722 to PCMU) while the call's device and
hands-free processing stay open at the first one: the media loop puts a ``RateBridge`` each
way between them instead of reopening the device in the middle of a conversation.
"""

from __future__ import annotations

import numpy as np

from endpoint.audio.resample import SampleQueue, StreamResampler, float_to_int16, int16_to_float
from endpoint.media.frame import Frame


class RateBridge:
    """20 ms frames at ``in_rate`` in, 20 ms frames at ``out_rate`` out (soxr, streaming).

    The resampler's start-up delay leaves the first output short: silence fills it, so every
    call gives exactly one frame and the pacing never sees a gap."""

    __slots__ = ("_out_samples", "_queue", "_resampler")

    def __init__(self, in_rate: int, out_rate: int) -> None:
        self._resampler = StreamResampler(in_rate, out_rate)
        self._out_samples = out_rate // 50
        self._queue = SampleQueue(self._out_samples * 8)

    @property
    def out_samples(self) -> int:
        return self._out_samples

    def convert(self, frame: Frame) -> Frame:
        self._queue.put(self._resampler.process(int16_to_float(frame)))
        chunk = self._queue.take(self._out_samples)
        if chunk is None:
            return np.zeros(self._out_samples, dtype=np.int16)
        return float_to_int16(chunk)

    def reset(self) -> None:
        self._resampler.reset()
        self._queue.clear()
