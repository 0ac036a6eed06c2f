"""The one interface the media thread sees: an `AudioPort` and the `AudioStatus` it reports.

Every backend (ALSA through PyAudio, WAV file, tone, null) hides behind this Protocol so the
media runtime never knows which one it drives (DESIGN.md principle 3). The media thread runs on
absolute 20 ms deadlines, so `read_frame()` and `write_frame()` never wait: a sound card keeps
its own clock and is decoupled from the media clock by bounded ring buffers, whose fill levels
`status()` exposes so the runtime can compensate the drift between the two clocks.
"""

import enum
from dataclasses import dataclass
from typing import Protocol

from endpoint.media.frame import Frame


class AudioError(Exception):
    """Local misuse or configuration of an audio backend (unknown backend, bad WAV file, ...).

    A device that disappears during a call is *not* an error raised to the caller: the ALSA
    backend reports it through `AudioStatus.state` and recovers on its own.
    """


class DeviceState(enum.Enum):
    """Where a port's device stands; the worst of capture and playback for a duplex port."""

    STOPPED = "stopped"
    """Not started, or stopped."""
    STARTING = "starting"
    """Started, the device has not opened yet (it is retried with backoff)."""
    RUNNING = "running"
    """Frames flow."""
    LOST = "lost"
    """The device failed during use (unplugged, stream error); reopening is retried."""


@dataclass(frozen=True, slots=True)
class AudioStatus:
    """A snapshot of a port's health, for the runtime (drift compensation) and `doctor`.

    Fill levels count whole 8 kHz frames waiting in the ring buffers between the device and the
    media thread. Dropped frames were discarded because a ring was full (the oldest frame goes);
    underruns count the times a ring ran dry while frames were expected (the reader got nothing,
    or the sound card played silence).
    """

    backend: str
    device: str
    state: DeviceState
    capture_fill: int = 0
    playback_fill: int = 0
    capture_dropped: int = 0
    playback_dropped: int = 0
    capture_underruns: int = 0
    playback_underruns: int = 0
    xruns: int = 0
    reopens: int = 0
    capture_rate: int | None = None
    playback_rate: int | None = None
    capture_ended: bool = False
    last_error: str | None = None


class AudioPort(Protocol):
    """One direction-agnostic audio endpoint driven by the media thread.

    `start()` and `stop()` may be called from any thread and return quickly (device opening
    happens in the background for the ALSA backend). `read_frame()` and `write_frame()` are
    called from the media thread once per tick and never block.
    """

    def start(self) -> None:
        """Begin capturing and accept frames for playback."""

    def stop(self) -> None:
        """Stop; queued frames are discarded (the file backend flushes what it recorded)."""

    def read_frame(self) -> Frame | None:
        """Return the next captured 8 kHz mono frame, or None when none is ready right now."""

    def frame_ready(self) -> bool:
        """True when `read_frame()` would return a frame now; asking changes nothing. The
        media thread makes the next tick's packet at the end of a tick when it is, so that
        the packet leaves right after the next wake-up."""

    def write_frame(self, frame: Frame) -> None:
        """Queue one 8 kHz mono frame for playback; when the queue is full the oldest goes."""

    def status(self) -> AudioStatus:
        """Return counters and fill levels (cheap; safe to call every tick)."""


def checked_frame(frame: Frame, frame_samples: int) -> Frame:
    """Check a frame handed to `write_frame` is what the contract says, and return it.

    Frames are immutable bytes, so the media thread may reuse nothing of it and no copy is
    needed; a wrong type or length is a programming error on our side, so it raises instead of
    being played as noise.
    """
    if type(frame) is not bytes or len(frame) != 2 * frame_samples:
        size = len(frame) if isinstance(frame, bytes | bytearray) else "?"
        raise ValueError(
            f"an audio frame is {2 * frame_samples} bytes ({frame_samples} int16 samples), "
            f"not a {type(frame).__name__} of {size}"
        )
    return frame
