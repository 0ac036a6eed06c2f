"""The `tone` backend and the tone generator behind ringback and alert sounds.

Each sine keeps its phase from one frame to the next (a phase restarting at every frame would
click 50 times a second). Frequencies must lie below the 4 kHz Nyquist limit of 8 kHz audio.
A cadence such as (1.0, 4.0) switches the tone on for 1 s and off for 4 s (ITU-T E.180 ringing
tone); the phase runs on through the silences.
"""

import math
from array import array
from collections.abc import Sequence

from endpoint.audio.port import AudioStatus, DeviceState, checked_frame
from endpoint.media.frame import FRAME_SAMPLES, SAMPLE_RATE, Frame

#: Longest tone (with its cadence) a port computes once and then reads as a table: 5 s of
#: ringing cadence is 80 kB at 8 kHz.
MAX_TABLE_SECONDS = 10


class ToneGenerator:
    """Sum of sines at `rate` (8 kHz, or 16 kHz for a G.722 call), `amplitude` of full scale
    in total, with an optional cadence.

    Computed with ``math`` sample by sample (no numpy, issue 19): the ports compute a whole
    cycle once and read frames out of it, so this runs at start or once per alert, not on
    the media thread every 20 ms."""

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
        self._frequencies = tuple(float(f) for f in frequencies)
        self._amplitude = amplitude / len(frequencies)
        self._phases = [0.0] * len(frequencies)
        self._cadence = [round(t * rate) for t in cadence]
        self._cycle = sum(self._cadence)
        self._position = 0

    @property
    def cadence(self) -> list[int]:
        """The cadence's (on, off, ...) durations in samples (empty without one)."""
        return list(self._cadence)

    def next_frame(self, samples: int = FRAME_SAMPLES) -> Frame:
        scale = self._amplitude * 32768.0
        steps = [2 * math.pi * f / self._rate for f in self._frequencies]
        wave = [0.0] * samples
        for k, (phase, step) in enumerate(zip(self._phases, steps, strict=True)):
            for n in range(samples):
                wave[n] += math.sin(phase + step * n)
            self._phases[k] = (phase + step * samples) % (2 * math.pi)
        on = self._cadence_mask(samples)
        self._position = (self._position + samples) % max(self._cycle, 1)
        return array(
            "h", (_to_int16(w * scale) if o else 0 for w, o in zip(wave, on, strict=True))
        ).tobytes()

    def _cadence_mask(self, samples: int) -> list[bool]:
        """Whether each of the next ``samples`` lies in an "on" part of the cadence."""
        if not self._cycle:
            return [True] * samples
        mask: list[bool] = []
        where = self._position
        while len(mask) < samples:
            start = 0
            for i, length in enumerate(self._cadence):
                if where < start + length:
                    run = min(start + length - where, samples - len(mask))
                    mask += [i % 2 == 0] * run
                    where = (where + run) % self._cycle
                    break
                start += length
        return mask


def _to_int16(value: float) -> int:
    """Round to the nearest sample, saturating instead of wrapping around."""
    return max(-32768, min(32767, round(value)))


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
        self._cadence = self._generator.cadence
        self._frame_samples = frame_samples
        self._running = False
        # A whole-Hz tone repeats exactly every second, and with its cadence every lcm(second,
        # cycle): generate that once and read frames out of it (a table read, like a capture
        # ring), instead of computing sines on the media thread every 20 ms.
        self._table: Frame | None = None
        self._offset = 0
        self._period = math.lcm(rate, sum(self._cadence) or rate)
        if float(frequency).is_integer() and self._period <= MAX_TABLE_SECONDS * rate:
            once = self._cycle_table(frequency, amplitude)
            self._table = once + once[: 2 * frame_samples]

    def _cycle_table(self, frequency: float, amplitude: float) -> Frame:
        """One period of the tone with its cadence: one period of the sine computed (a whole-Hz
        ``f`` repeats every ``rate / gcd(f, rate)`` samples: 320 for 425 Hz at 8 kHz), the rest
        copied from it, the "off" parts zeros."""
        repeat = self._rate // math.gcd(int(frequency), self._rate)
        sine = ToneGenerator((frequency,), amplitude, rate=self._rate).next_frame(repeat)
        tiled = sine * (self._period // repeat)
        if not self._cadence:
            return tiled
        pieces, at = [], 0
        while at < self._period:
            for i, length in enumerate(self._cadence):
                on = i % 2 == 0
                pieces.append(tiled[2 * at : 2 * (at + length)] if on else bytes(2 * length))
                at += length
        return b"".join(pieces)

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
        self._offset = (start + self._frame_samples) % self._period
        return self._table[2 * start : 2 * (start + self._frame_samples)]

    def frame_ready(self) -> bool:
        return self._running

    def write_frame(self, frame: Frame) -> None:
        checked_frame(frame, self._frame_samples)

    def status(self) -> AudioStatus:
        state = DeviceState.RUNNING if self._running else DeviceState.STOPPED
        return AudioStatus(backend="tone", device=f"tone {self._frequency:g} Hz", state=state)


def beeps(frequency: float, amplitude: float, cadence: Sequence[float], seconds: float) -> Frame:
    """``seconds`` of a tone with its cadence at 8 kHz (an alert mixed into a call), read from
    a port's table: a sine of a few samples computed, the rest copied."""
    port = TonePort(frequency, amplitude, cadence=cadence)
    port.start()
    frames = [port.read_frame() for _ in range(round(seconds * 50))]
    return b"".join(f for f in frames if f is not None)


#: The ring-back tone our early media plays (ETSI ES 201 970 / ITU-T E.180: 425 Hz, 1 s on,
#: 4 s off), at a modest level.
RINGBACK_HZ = 425.0
RINGBACK_CADENCE = (1.0, 4.0)


def ringback_port(rate: int = SAMPLE_RATE) -> TonePort:
    """The audio source of a call still ringing: the ring-back tone, never a microphone."""
    port = TonePort(RINGBACK_HZ, 0.3, rate // 50, rate, RINGBACK_CADENCE)
    port.start()
    return port
