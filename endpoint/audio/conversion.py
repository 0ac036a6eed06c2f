"""What runs inside PortAudio's callback: device buffers <-> 8 kHz mono frames, and mixing.

The callback gets (capture) or must fill (playback) a buffer of `frame_count` interleaved int16
samples at the device's rate and channel count. These converters keep the streaming resampler and
a small sample queue between callbacks, so a callback period that does not match 20 ms exactly
(44.1 kHz, or a device that picks its own period) still yields whole 20 ms frames. They are pure
and synchronous: tests feed them buffers the way PortAudio would.

Frames are bytes (endpoint/media/frame.py); PortAudio's int16 buffers are native-endian too.
Mono/stereo conversion is ``audioop`` on bytes; a device at the call's own rate (8 or 16 kHz,
what the alsa backend asks for first) needs nothing else, so it loads no numpy (issue 19).
Only a device at another rate brings in soxr's streaming filter (and numpy, its array type), and
only a device of more than two channels numpy for the averaging.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from endpoint.media.frame import SAMPLE_RATE, Frame, silence
from endpoint.media.pcm_ops import WIDTH, audioop

if TYPE_CHECKING:
    from endpoint.audio.resample import StreamResampler


class PcmQueue:
    """A FIFO of int16 samples (bytes) that turns chunks of any length into fixed ones; what
    does not fit is dropped from the *oldest* end (fresh audio matters more)."""

    __slots__ = ("_buffer", "_capacity")

    def __init__(self, capacity: int) -> None:
        self._capacity = WIDTH * capacity
        self._buffer = bytearray()

    def __len__(self) -> int:
        return len(self._buffer) // WIDTH

    def put(self, pcm: bytes) -> None:
        self._buffer += pcm
        excess = len(self._buffer) - self._capacity
        if excess > 0:
            del self._buffer[:excess]

    def take(self, count: int) -> Frame | None:
        """Remove and return exactly ``count`` samples, or None when fewer are queued."""
        size = WIDTH * count
        if size > len(self._buffer):
            return None
        out = bytes(self._buffer[:size])
        del self._buffer[:size]
        return out

    def clear(self) -> None:
        self._buffer.clear()


def to_mono(interleaved: bytes, channels: int) -> bytes:
    """Average interleaved channels into one."""
    if channels == 1:
        return interleaved
    if channels == 2:
        return audioop.tomono(interleaved, WIDTH, 0.5, 0.5)
    import numpy as np  # here: only a device of more than two channels needs it

    frames = np.frombuffer(interleaved, dtype=np.int16).reshape(-1, channels)
    mono: bytes = np.rint(frames.mean(axis=1)).astype(np.int16).tobytes()
    return mono


def to_channels(mono: bytes, channels: int) -> bytes:
    """Copy one channel into every channel of an interleaved buffer."""
    if channels == 1:
        return mono
    if channels == 2:
        return audioop.tostereo(mono, WIDTH, 1, 1)
    import numpy as np  # here: only a device of more than two channels needs it

    return np.repeat(np.frombuffer(mono, dtype=np.int16), channels).tobytes()


class _Rate:
    """Bytes at one rate to bytes at another through soxr's streaming filter; nothing (and no
    import) when the rates match."""

    __slots__ = ("_resampler",)

    def __init__(self, in_rate: int, out_rate: int) -> None:
        self._resampler: StreamResampler | None = None
        if in_rate != out_rate:
            from endpoint.audio.resample import StreamResampler

            self._resampler = StreamResampler(in_rate, out_rate)

    def __call__(self, pcm: bytes) -> bytes:
        if self._resampler is None:
            return pcm
        from endpoint.audio.resample import float_to_int16, frame_to_float

        return float_to_int16(self._resampler.process(frame_to_float(pcm))).tobytes()

    def flush(self) -> bytes:
        """What the filter still holds of the chunks given so far (about 30 ms at 48 kHz), and
        forget it: the end of a stream."""
        if self._resampler is None:
            return b""
        from endpoint.audio.resample import float_to_int16

        return float_to_int16(self._resampler.flush()).tobytes()

    def reset(self) -> None:
        if self._resampler is not None:
            self._resampler.reset()


class CaptureConverter:
    """Device capture buffers -> mono frames of `frame_samples` at `app_rate` (the call's)."""

    __slots__ = ("_channels", "_frame_samples", "_queue", "_rate")

    def __init__(
        self, device_rate: int, channels: int, frame_samples: int, app_rate: int = SAMPLE_RATE
    ) -> None:
        self._channels = channels
        self._frame_samples = frame_samples
        self._rate = _Rate(device_rate, app_rate)
        self._queue = PcmQueue(frame_samples * 16)

    def convert(self, data: bytes) -> list[Frame]:
        """Return the whole frames completed by this buffer (often one, sometimes none)."""
        usable = len(data) - len(data) % (WIDTH * self._channels)
        self._queue.put(self._rate(to_mono(data[:usable], self._channels)))
        frames: list[Frame] = []
        while (chunk := self._queue.take(self._frame_samples)) is not None:
            frames.append(chunk)
        return frames

    def reset(self) -> None:
        self._rate.reset()
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
        "_rate",
    )

    def __init__(
        self, device_rate: int, channels: int, frame_samples: int, app_rate: int = SAMPLE_RATE
    ) -> None:
        self._channels = channels
        self._device_rate = device_rate
        self._app_rate = app_rate
        self._frame_samples = frame_samples
        self._rate = _Rate(app_rate, device_rate)
        per_frame = -(-device_rate * frame_samples // app_rate)
        self._queue = PcmQueue(per_frame * 16)
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
            self._queue.put(self._rate(next_frame()))
        return self._take(frame_count)

    def drain(self, frame_count: int) -> list[bytes]:
        """The buffers of `frame_count` device frames that play out everything this converter
        still holds, the last one padded with silence; it holds nothing afterwards.

        Why a stream's end needs more than one buffer: `render` pulls a frame whenever less
        than a buffer is queued, so the queue holds up to a buffer of frames already taken from
        the rings, and a resampler's filter holds another 30 ms of them (at 48 and 44.1 kHz).
        A graceful stop that wrote a single buffer after the rings ran dry cut up to 20 ms off
        the end of what was played. Nothing more is pulled: a ring's next frame belongs to
        whoever plays it next (a device reopened for both directions)."""
        self._queue.put(self._rate.flush())
        buffers = []
        while len(self._queue):
            buffers.append(self._take(frame_count))
        return buffers

    def _take(self, frame_count: int) -> bytes:
        chunk = self._queue.take(min(frame_count, len(self._queue))) or b""
        samples = chunk + bytes(WIDTH * frame_count - len(chunk))
        return to_channels(samples, self._channels)

    def reset(self) -> None:
        self._rate.reset()
        self._queue.clear()


def mix(frames: Sequence[Frame], frame_samples: int) -> Frame:
    """Sum frames (call audio and an alert tone) with saturation; silence when there are none."""
    if not frames:
        return silence(frame_samples)
    total = frames[0]
    for frame in frames[1:]:
        total = audioop.add(total, frame, WIDTH)
    return total
