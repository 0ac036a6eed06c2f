"""The `tone` backend and the tone generator behind ringback and alert sounds.

Each sine keeps its phase from one frame to the next (a phase restarting at every frame would
click 50 times a second). Frequencies must lie below the 4 kHz Nyquist limit of 8 kHz audio.
A cadence such as (1.0, 4.0) switches the tone on for 1 s and off for 4 s (ITU-T E.180 ringing
tone); the phase runs on through the silences.
"""

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from endpoint.audio.port import AudioStatus, DeviceState, checked_copy
from endpoint.audio.resample import float_to_int16
from endpoint.media.frame import FRAME_SAMPLES, SAMPLE_RATE, Frame


class ToneGenerator:
    """Sum of sines at `rate` (8 kHz, or 16 kHz for a G.722 call), `amplitude` of full scale
    in total, with an optional cadence."""

    __slots__ = (
        "_amplitude",
        "_cadence",
        "_cycle",
        "_frequencies",
        "_phases",
        "_position",
        "_rate",
    )

    def __init__(
        self,
        frequencies: Sequence[float],
        amplitude: float = 0.5,
        cadence: Sequence[float] = (),
        rate: int = SAMPLE_RATE,
    ) -> None:
        if not frequencies or not all(0 < f < rate / 2 for f in frequencies):
            raise ValueError(f"tone frequencies must lie in (0, {rate // 2}) Hz")
        self._rate = rate
        if not 0 <= amplitude <= 1:
            raise ValueError("tone amplitude is a fraction of full scale in [0, 1]")
        if len(cadence) % 2 or any(t <= 0 for t in cadence):
            raise ValueError("a cadence is pairs of positive (on, off) durations in seconds")
        self._frequencies = np.asarray(frequencies, dtype=np.float64)
        self._amplitude = amplitude / len(frequencies)
        self._phases = np.zeros(len(frequencies), dtype=np.float64)
        self._cadence = [round(t * rate) for t in cadence]
        self._cycle = sum(self._cadence)
        self._position = 0

    def next_frame(self, samples: int = FRAME_SAMPLES) -> Frame:
        steps = 2 * math.pi * self._frequencies / self._rate
        n = np.arange(samples, dtype=np.float64)
        angles = self._phases[:, None] + steps[:, None] * n[None, :]
        wave = self._amplitude * np.sin(angles).sum(axis=0)
        self._phases = (self._phases + steps * samples) % (2 * math.pi)
        if self._cycle:
            wave *= self._cadence_mask(samples)
        self._position = (self._position + samples) % max(self._cycle, 1)
        return float_to_int16(wave)

    def _cadence_mask(self, samples: int) -> npt.NDArray[np.float64]:
        where = (self._position + np.arange(samples)) % self._cycle
        mask = np.zeros(samples, dtype=np.float64)
        start = 0
        for i, length in enumerate(self._cadence):
            if i % 2 == 0:
                mask[(where >= start) & (where < start + length)] = 1.0
            start += length
        return mask


class TonePort:
    """A sine source for the microphone side (with an optional on/off cadence: the ring-back
    tone of our early media); what it is asked to play is discarded."""

    def __init__(
        self,
        frequency: float = 440.0,
        amplitude: float = 0.5,
        frame_samples: int = FRAME_SAMPLES,
        rate: int = SAMPLE_RATE,
        cadence: Sequence[float] = (),
    ) -> None:
        self._frequency = frequency
        self._rate = rate
        self._generator = ToneGenerator((frequency,), amplitude, cadence, rate=rate)
        self._frame_samples = frame_samples
        self._running = False
        # A whole-Hz tone repeats exactly every second: generate that second once and read
        # frames out of it (a table read, like a capture ring), instead of computing sines
        # on the media thread every 20 ms.
        self._table: Frame | None = None
        self._offset = 0
        if float(frequency).is_integer() and not cadence:
            self._table = np.concatenate([self._generator.next_frame(rate)] * 2)

    def start(self) -> None:
        self._running = True

    def stop(self) -> None:
        self._running = False

    def read_frame(self) -> Frame | None:
        if not self._running:
            return None
        if self._table is None:
            return self._generator.next_frame(self._frame_samples)
        start = self._offset
        self._offset = (start + self._frame_samples) % self._rate
        return self._table[start : start + self._frame_samples].copy()

    def write_frame(self, frame: Frame) -> None:
        checked_copy(frame, self._frame_samples)

    def status(self) -> AudioStatus:
        state = DeviceState.RUNNING if self._running else DeviceState.STOPPED
        return AudioStatus(backend="tone", device=f"tone {self._frequency:g} Hz", state=state)


#: The ring-back tone our early media plays (ETSI ES 201 970 / ITU-T E.180: 425 Hz, 1 s on,
#: 4 s off), at a modest level.
RINGBACK_HZ = 425.0
RINGBACK_CADENCE = (1.0, 4.0)


def ringback_port(rate: int = SAMPLE_RATE) -> TonePort:
    """The audio source of a call still ringing: the ring-back tone, never a microphone."""
    port = TonePort(RINGBACK_HZ, 0.3, rate // 50, rate, RINGBACK_CADENCE)
    port.start()
    return port
