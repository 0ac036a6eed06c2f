"""The `null` backend: silence in, everything out discarded.

For a headless test run, and as the alert port of backends that have nowhere to play an alert.
"""

from endpoint.audio.port import AudioStatus, DeviceState, checked_frame
from endpoint.media.frame import FRAME_SAMPLES, Frame, silence


class NullPort:
    """Always has a silent frame to give; accepts and forgets every frame."""

    def __init__(self, frame_samples: int = FRAME_SAMPLES) -> None:
        self._frame_samples = frame_samples
        self._running = False

    def start(self) -> None:
        self._running = True

    def stop(self) -> None:
        self._running = False

    def read_frame(self) -> Frame | None:
        if not self._running:
            return None
        return silence(self._frame_samples)

    def frame_ready(self) -> bool:
        return self._running

    def write_frame(self, frame: Frame) -> None:
        checked_frame(frame, self._frame_samples)

    def status(self) -> AudioStatus:
        state = DeviceState.RUNNING if self._running else DeviceState.STOPPED
        return AudioStatus(backend="null", device="null", state=state)
