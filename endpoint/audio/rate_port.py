"""Audio at one rate meeting audio at another, a 20 ms frame at a time.

Two places need it. The ALSA ports share one device stream per device
(``endpoint.audio.registry``), mixing the alert port into the call's playback, and every port on
a stream must use the same frame size: so the device streams keep their 8 kHz frames, and a
G.722 call at 16 kHz talks to them through a ``RatePort`` (the band above 4 kHz does not reach
the ALSA device this way; the file, tone and null ports work at 16 kHz directly). And a
re-INVITE may change the codec's rate mid-call while the call's device stays open at the first
one: the media loop puts a ``RateBridge`` each way between them.
"""

from __future__ import annotations

import numpy as np

from endpoint.audio.port import AudioPort, AudioStatus, checked_copy
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


class RatePort:
    """Frames of 20 ms at ``outer_rate`` in and out; ``inner`` works at ``inner_rate``."""

    def __init__(self, inner: AudioPort, inner_rate: int, outer_rate: int) -> None:
        self.inner = inner
        self._up = RateBridge(inner_rate, outer_rate)
        self._down = RateBridge(outer_rate, inner_rate)

    def start(self) -> None:
        self._up.reset()
        self._down.reset()
        self.inner.start()

    def stop(self) -> None:
        self.inner.stop()

    def read_frame(self) -> Frame | None:
        frame = self.inner.read_frame()
        return None if frame is None else self._up.convert(frame)

    def write_frame(self, frame: Frame) -> None:
        owned = checked_copy(frame, self._down_in_samples)
        self.inner.write_frame(self._down.convert(owned))

    @property
    def _down_in_samples(self) -> int:
        return self._up.out_samples

    def status(self) -> AudioStatus:
        return self.inner.status()
