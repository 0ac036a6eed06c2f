"""Which PortAudio streams a device needs, and the callback each one runs.

Why one full-duplex stream where possible: a Python callback from PortAudio's C thread is the
most expensive wake-up this process has (160-210 us of CPU each on the reference VM, against
80-100 us for a Python thread that sleeps: issue 19's measurements), and a call on a device
that both captures and plays paid two of them every 20 ms, one per direction. One stream with
input and output on the same device runs one callback per period that does both.

PortAudio opens a duplex stream with one rate and one channel count, so it is only planned when
both directions name the same device and its preferred format is the same both ways; otherwise
each direction gets its own stream, as before.
"""

from dataclasses import dataclass
from typing import Protocol

import pyaudio

from endpoint.audio.conversion import CaptureConverter, PlaybackConverter, mix
from endpoint.audio.devices import DeviceInfo, Direction
from endpoint.audio.ring import FrameRing
from endpoint.media.frame import Frame

_XRUN_FLAGS = (
    pyaudio.paInputOverflow
    | pyaudio.paInputUnderflow
    | pyaudio.paOutputOverflow
    | pyaudio.paOutputUnderflow
)


@dataclass(frozen=True, slots=True)
class Chosen:
    """A direction's device and the format `choose_format` picked for it."""

    device: DeviceInfo
    rate: int
    channels: int


@dataclass(frozen=True, slots=True)
class StreamPlan:
    """One PortAudio stream to open: the directions it serves, its device and its format."""

    directions: tuple[Direction, ...]
    device: DeviceInfo
    rate: int
    channels: int


def plan_streams(
    capture: Chosen | None, playback: Chosen | None, *, duplex: bool = True
) -> list[StreamPlan]:
    """One duplex stream when both directions are the same device in the same format (and
    `duplex` has not been ruled out for the device); otherwise one stream per wanted direction,
    each keeping the format chosen for it."""
    if (
        duplex
        and capture is not None
        and playback is not None
        and capture.device.index == playback.device.index
        and (capture.rate, capture.channels) == (playback.rate, playback.channels)
    ):
        both = (Direction.CAPTURE, Direction.PLAYBACK)
        return [StreamPlan(both, capture.device, capture.rate, capture.channels)]
    plans = []
    for direction, chosen in ((Direction.CAPTURE, capture), (Direction.PLAYBACK, playback)):
        if chosen is not None:
            plans.append(StreamPlan((direction,), chosen.device, chosen.rate, chosen.channels))
    return plans


class RingOwner(Protocol):
    """Who holds the rings a stream serves: the device (registry.py) swaps these tuples as
    ports attach and detach, so a callback reads them afresh each period."""

    capture_rings: tuple[FrameRing, ...]
    playback_rings: tuple[FrameRing, ...]


class StreamCallback:
    """What one PortAudio stream does each period: `on_buffer` as PortAudio's callback (a duplex
    stream), `process` from a blocking stream's thread (blocking.py); never blocks, and the
    callback never raises. Captured frames go to every ring in the owner's `capture_rings`; the
    played frame is the mix of one frame from each ring in its `playback_rings`."""

    __slots__ = (
        "_capture",
        "_frame_samples",
        "_owner",
        "_playback",
        "callbacks",
        "error",
        "seen",
        "since",
        "xruns",
    )

    def __init__(
        self,
        owner: RingOwner,
        capture: CaptureConverter | None,
        playback: PlaybackConverter | None,
        frame_samples: int,
    ) -> None:
        self._owner = owner
        self._capture = capture
        self._playback = playback
        self._frame_samples = frame_samples
        self.callbacks = 0
        self.xruns = 0
        self.error: str | None = None
        #: The supervisor's stall watch: the callback count it last saw, and since when.
        self.seen = 0
        self.since = 0.0

    def on_buffer(
        self, in_data: bytes | None, frame_count: int, time_info: object, status: int
    ) -> tuple[bytes | None, int]:
        self.callbacks += 1
        if status & _XRUN_FLAGS:
            self.xruns += 1
        try:
            return self.process(in_data, frame_count), pyaudio.paContinue
        except Exception as exc:  # the callback must not die silently: the supervisor reopens
            self.error = f"{type(exc).__name__}: {exc}"
        return None, pyaudio.paAbort

    @property
    def captures(self) -> bool:
        return self._capture is not None

    def process(self, in_data: bytes | None, frame_count: int) -> bytes | None:
        """One period: the captured bytes to every capture ring, and the bytes to play (the mix
        of the playback rings), or None for a capture-only stream. Shared by PortAudio's
        callback (a duplex stream) and the blocking streams' threads (blocking.py)."""
        if self._capture is not None:
            rings = self._owner.capture_rings
            for frame in self._capture.convert(in_data or b""):
                for ring in rings:
                    ring.push(frame)  # immutable bytes: every ring may share it
        if self._playback is not None:
            return self._playback.render(frame_count, self._next_mixed)
        return None

    def drain(self, frame_count: int) -> list[bytes]:
        """The periods that play out what the playback converter still holds when the stream
        stops gracefully (none for a capture-only stream); see `PlaybackConverter.drain`."""
        if self._playback is None:
            return []
        return self._playback.drain(frame_count)

    def _next_mixed(self) -> Frame:
        frames = [f for f in (ring.pop() for ring in self._owner.playback_rings) if f is not None]
        return mix(frames, self._frame_samples)
