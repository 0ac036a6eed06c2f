"""A port at one audio rate in front of a port at another: the ALSA device in a G.722 call.

The ALSA ports share one device stream per device (``endpoint.audio.registry``), mixing the
alert port into the call's playback, and every port on a stream must use the same frame size.
So the device streams keep their 8 kHz frames, and a call at 16 kHz talks to them through this
converter (soxr, streaming): the call's pacing, codec and processing stay at the call's rate.
The band above 4 kHz does not reach the ALSA device this way; the file, tone and null ports
work at 16 kHz directly.
"""

from __future__ import annotations

import numpy as np

from endpoint.audio.port import AudioPort, AudioStatus, checked_copy
from endpoint.audio.resample import SampleQueue, StreamResampler, float_to_int16, int16_to_float
from endpoint.media.frame import Frame


class RatePort:
    """Frames of 20 ms at ``outer_rate`` in and out; ``inner`` works at ``inner_rate``."""

    def __init__(self, inner: AudioPort, inner_rate: int, outer_rate: int) -> None:
        self.inner = inner
        self._outer_samples = outer_rate // 50
        self._up = StreamResampler(inner_rate, outer_rate)
        self._down = StreamResampler(outer_rate, inner_rate)
        self._inner_samples = inner_rate // 50
        self._captured = SampleQueue(self._outer_samples * 8)
        self._played = SampleQueue(self._inner_samples * 8)

    def start(self) -> None:
        for resampler in (self._up, self._down):
            resampler.reset()
        self._captured.clear()
        self._played.clear()
        self.inner.start()

    def stop(self) -> None:
        self.inner.stop()

    def read_frame(self) -> Frame | None:
        frame = self.inner.read_frame()
        if frame is not None:
            self._captured.put(self._up.process(int16_to_float(frame)))
        chunk = self._captured.take(self._outer_samples)
        # The resampler's start-up delay leaves the first frame short: silence, not a gap.
        if chunk is None:
            return None if frame is None else np.zeros(self._outer_samples, dtype=np.int16)
        return float_to_int16(chunk)

    def write_frame(self, frame: Frame) -> None:
        owned = checked_copy(frame, self._outer_samples)
        self._played.put(self._down.process(int16_to_float(owned)))
        chunk = self._played.take(self._inner_samples)
        if chunk is not None:
            self.inner.write_frame(float_to_int16(chunk))
        else:
            self.inner.write_frame(np.zeros(self._inner_samples, dtype=np.int16))

    def status(self) -> AudioStatus:
        return self.inner.status()
