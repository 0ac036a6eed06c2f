"""What runs inside PortAudio's callback: device buffers <-> 8 kHz mono frames, and mixing.

The callback gets (capture) or must fill (playback) a buffer of `frame_count` interleaved int16
samples at the device's rate and channel count. These converters keep the streaming resampler and
a small sample queue between callbacks, so a callback period that does not match 20 ms exactly
(44.1 kHz, or a device that picks its own period) still yields whole 20 ms frames. They are pure
and synchronous: tests feed them buffers the way PortAudio would.
"""

from collections.abc import Callable, Sequence

import numpy as np

from endpoint.audio.resample import (
    SampleQueue,
    StreamResampler,
    downmix,
    float_to_int16,
    int16_to_float,
    upmix,
)
from endpoint.media.frame import SAMPLE_RATE, Frame


class CaptureConverter:
    """Device capture buffers -> mono frames of `frame_samples` at `app_rate` (the call's)."""

    __slots__ = ("_channels", "_frame_samples", "_queue", "_resampler")

    def __init__(
        self, device_rate: int, channels: int, frame_samples: int, app_rate: int = SAMPLE_RATE
    ) -> None:
        self._channels = channels
        self._frame_samples = frame_samples
        self._resampler = StreamResampler(device_rate, app_rate)
        self._queue = SampleQueue(frame_samples * 16)

    def convert(self, data: bytes) -> list[Frame]:
        """Return the whole frames completed by this buffer (often one, sometimes none)."""
        interleaved = np.frombuffer(data, dtype="<i2")
        usable = interleaved.size - interleaved.size % self._channels
        mono = downmix(interleaved[:usable], self._channels)
        self._queue.put(self._resampler.process(mono))
        frames: list[Frame] = []
        while (chunk := self._queue.take(self._frame_samples)) is not None:
            frames.append(float_to_int16(chunk))
        return frames

    def reset(self) -> None:
        self._resampler.reset()
        self._queue.clear()


class PlaybackConverter:
    """Mono frames at `app_rate` -> device playback buffers of exactly the requested length."""

    __slots__ = (
        "_app_rate",
        "_channels",
        "_device_rate",
        "_frame_samples",
        "_limit",
        "_queue",
        "_resampler",
    )

    def __init__(
        self, device_rate: int, channels: int, frame_samples: int, app_rate: int = SAMPLE_RATE
    ) -> None:
        self._channels = channels
        self._device_rate = device_rate
        self._app_rate = app_rate
        self._frame_samples = frame_samples
        self._resampler = StreamResampler(app_rate, device_rate)
        per_frame = -(-device_rate * frame_samples // app_rate)
        self._queue = SampleQueue(per_frame * 16)
        self._limit = per_frame * 15

    def render(self, frame_count: int, next_frame: Callable[[], Frame]) -> bytes:
        """Fill `frame_count` device frames, pulling 8 kHz frames from `next_frame` as needed.

        Pulls are bounded (by the request and by the queue's room) so a device asking for an
        absurd buffer cannot spin us or overflow the queue; what cannot be filled is silence.
        """
        pulls = 2 + (frame_count * self._app_rate) // (self._device_rate * self._frame_samples)
        wanted = min(frame_count, self._limit)
        while len(self._queue) < wanted and pulls > 0:
            pulls -= 1
            self._queue.put(self._resampler.process(int16_to_float(next_frame())))
        chunk = self._queue.take(min(frame_count, len(self._queue)))
        samples = np.zeros(frame_count, dtype=np.int16)
        if chunk is not None:
            samples[: chunk.size] = float_to_int16(chunk)
        return upmix(samples, self._channels).astype("<i2").tobytes()

    def reset(self) -> None:
        self._resampler.reset()
        self._queue.clear()


def mix(frames: Sequence[Frame], frame_samples: int) -> Frame:
    """Sum frames (call audio and an alert tone) with saturation; silence when there are none."""
    if not frames:
        return np.zeros(frame_samples, dtype=np.int16)
    if len(frames) == 1:
        return frames[0]
    total = np.zeros(frame_samples, dtype=np.int32)
    for frame in frames:
        total += frame
    return np.clip(total, -32768, 32767).astype(np.int16)
