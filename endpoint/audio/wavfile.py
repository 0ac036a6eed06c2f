"""The `file` backend: a WAV file as the microphone, a WAV file as the speaker.

Input: any PCM WAV (8/16/24/32-bit, any rate, any channel count) is read once, mixed down to mono
and resampled to 8 kHz with soxr's high-quality filter when the port is opened, so reading a frame
is a slice and never touches the disk. At the end it loops seamlessly or stops (read_frame then
returns None and the status says `capture_ended`). Sample widths and mono or stereo go through
``audioop``; numpy (with soxr) loads only for a file at another rate than the call's or with more
than two channels (issue 19: a WAV at the call's rate costs no numpy).

Output: frames go through a bounded ring to a writer thread that owns the file, because a write
to an SD card can stall for far longer than a 20 ms tick. The file is 8 kHz mono 16-bit, or
resampled to `output_rate`. `stop()` lets the writer finish the file in the background;
`wait_closed()` waits for it.
"""

from __future__ import annotations

import logging
import threading
import wave
from pathlib import Path
from typing import TYPE_CHECKING

from endpoint.audio.conversion import to_mono
from endpoint.audio.port import AudioError, AudioStatus, DeviceState, checked_frame
from endpoint.audio.ring import FrameRing
from endpoint.media.frame import FRAME_SAMPLES, SAMPLE_RATE, Frame
from endpoint.media.pcm_ops import WIDTH, audioop

if TYPE_CHECKING:
    from endpoint.audio.resample import StreamResampler

log = logging.getLogger("endpoint.audio.file")


def pcm_to_mono16(data: bytes, width: int, channels: int) -> bytes:
    """Little-endian PCM of 1-4 bytes per sample (WAV 8-bit is unsigned) to mono int16."""
    if width not in (1, 2, 3, 4):
        raise AudioError(f"{width * 8}-bit samples are not supported")
    data = data[: len(data) - len(data) % (width * channels)]
    if width == 1:
        data = audioop.bias(data, 1, -128)
    pcm = audioop.lin2lin(data, width, WIDTH) if width != WIDTH else data
    return to_mono(pcm, channels)


def load_wav(path: Path, max_seconds: float = 600.0, target_rate: int = SAMPLE_RATE) -> Frame:
    """Read a PCM WAV file as mono int16 at `target_rate` (the call's audio rate), keeping at
    most `max_seconds` of it."""
    try:
        with wave.open(str(path), "rb") as wav:
            rate = wav.getframerate()
            channels = wav.getnchannels()
            width = wav.getsampwidth()
            available = wav.getnframes()
            wanted = min(available, int(rate * max_seconds))
            data = wav.readframes(wanted)
    except (OSError, EOFError, wave.Error) as exc:
        raise AudioError(f"cannot read WAV file {path}: {exc}") from exc
    if available > wanted:
        log.warning("WAV file %s is longer than %g s; the rest is ignored", path, max_seconds)
    pcm = pcm_to_mono16(data, width, channels)
    if not pcm:
        raise AudioError(f"WAV file {path} holds no audio")
    if rate != target_rate:
        # Here: only a file at another rate needs soxr's high-quality filter (and numpy).
        import numpy as np
        import soxr

        from endpoint.audio.resample import float_to_int16

        samples = np.frombuffer(pcm, dtype=np.int16).astype(np.float64) / 32768.0
        pcm = float_to_int16(soxr.resample(samples, rate, target_rate, quality="HQ")).tobytes()
    return pcm


class WavSink:
    """Writes frames to a WAV file from its own thread, through a bounded ring."""

    def __init__(
        self,
        path: Path,
        rate: int = SAMPLE_RATE,
        frame_samples: int = FRAME_SAMPLES,
        capacity: int = 50,
        source_rate: int = SAMPLE_RATE,
    ) -> None:
        self._path = path
        self._rate = rate
        self._source_rate = source_rate
        self._frame_samples = frame_samples
        self._ring = FrameRing(capacity)
        self._wake = threading.Condition()
        self._closing = False
        self._thread: threading.Thread | None = None
        self.error: str | None = None

    @property
    def ring(self) -> FrameRing:
        return self._ring

    def start(self) -> None:
        self.wait_closed(None)
        self._ring.clear()
        try:
            wav = wave.open(str(self._path), "wb")  # noqa: SIM115 (the writer thread closes it)
            wav.setnchannels(1)
            wav.setsampwidth(2)
            wav.setframerate(self._rate)
        except OSError as exc:
            raise AudioError(f"cannot write WAV file {self._path}: {exc}") from exc
        self._closing = False
        self._thread = threading.Thread(
            target=self._run, args=(wav,), name=f"wav-writer {self._path.name}"
        )
        self._thread.start()

    def write(self, frame: Frame) -> None:
        self._ring.push(frame)
        with self._wake:
            self._wake.notify()

    def stop(self) -> None:
        with self._wake:
            self._closing = True
            self._wake.notify()

    def wait_closed(self, timeout: float | None) -> bool:
        thread = self._thread
        if thread is None:
            return True
        thread.join(timeout)
        if thread.is_alive():
            return False
        self._thread = None
        return True

    def _run(self, wav: wave.Wave_write) -> None:
        resampler = None
        if self._source_rate != self._rate:
            from endpoint.audio.resample import StreamResampler  # numpy and soxr: here only

            resampler = StreamResampler(self._source_rate, self._rate)
        try:
            while True:
                with self._wake:
                    self._wake.wait_for(lambda: self._closing or self._ring.fill > 0)
                    closing = self._closing
                while (frame := self._ring.pop()) is not None:
                    wav.writeframes(frame if resampler is None else _resampled(resampler, frame))
                if closing:
                    if resampler is not None:
                        wav.writeframes(_int16(resampler.flush()))
                    return
        except OSError as exc:
            self.error = f"writing {self._path}: {exc}"
            log.error("audio file output stopped: %s", self.error)
        finally:
            wav.close()


def _resampled(resampler: StreamResampler, frame: Frame) -> bytes:
    from endpoint.audio.resample import frame_to_float

    return _int16(resampler.process(frame_to_float(frame)))


def _int16(samples: object) -> bytes:
    from endpoint.audio.resample import float_to_int16

    return float_to_int16(samples).tobytes()  # type: ignore[arg-type]


class FilePort:
    """WAV file in (optional) and WAV file out (optional), at the call's audio `rate`.

    The output file is written at `output_rate` (default: the call's rate, so a G.722 call
    keeps its 16 kHz band in the file)."""

    def __init__(
        self,
        input_file: Path | None = None,
        output_file: Path | None = None,
        *,
        loop: bool = True,
        output_rate: int | None = None,
        frame_samples: int = FRAME_SAMPLES,
        max_seconds: float = 600.0,
        rate: int = SAMPLE_RATE,
    ) -> None:
        self._frame_samples = frame_samples
        self._loop = loop
        self._input = load_wav(input_file, max_seconds, rate) if input_file is not None else None
        self._input_name = str(input_file) if input_file is not None else None
        self._sink = (
            WavSink(output_file, output_rate or rate, frame_samples, source_rate=rate)
            if output_file is not None
            else None
        )
        self._output_name = str(output_file) if output_file is not None else None
        self._position = 0
        self._running = False

    def start(self) -> None:
        if self._running:
            return
        if self._sink is not None:
            self._sink.start()
        self._position = 0
        self._running = True

    def stop(self) -> None:
        if not self._running:
            return
        self._running = False
        if self._sink is not None:
            self._sink.stop()

    def wait_closed(self, timeout: float | None = None) -> bool:
        """Wait until the output file is complete after `stop()` (not for the media thread)."""
        return self._sink is None or self._sink.wait_closed(timeout)

    def read_frame(self) -> Frame | None:
        source = self._input
        if not self._running or source is None:
            return None
        size, start = WIDTH * self._frame_samples, WIDTH * self._position
        if self._loop:
            length = len(source)
            self._position = (self._position + self._frame_samples) % (length // WIDTH)
            if start + size <= length:
                return source[start : start + size]
            # Across the end: the file joined to itself (as often as a short file needs).
            return (source[start:] + source * (size // length + 1))[:size]
        if start >= len(source):
            return None
        chunk = source[start : start + size]
        self._position += self._frame_samples
        return chunk + bytes(size - len(chunk))

    def frame_ready(self) -> bool:
        source = self._input
        if not self._running or source is None:
            return False
        return self._loop or WIDTH * self._position < len(source)

    def write_frame(self, frame: Frame) -> None:
        owned = checked_frame(frame, self._frame_samples)
        if self._running and self._sink is not None:
            self._sink.write(owned)

    def status(self) -> AudioStatus:
        names = [f"in: {self._input_name}"] if self._input_name else []
        names += [f"out: {self._output_name}"] if self._output_name else []
        ring = self._sink.ring if self._sink is not None else None
        ended = (
            self._input is not None
            and not self._loop
            and WIDTH * self._position >= len(self._input)
        )
        return AudioStatus(
            backend="file",
            device=", ".join(names),
            state=DeviceState.RUNNING if self._running else DeviceState.STOPPED,
            playback_fill=ring.fill if ring else 0,
            playback_dropped=ring.dropped if ring else 0,
            capture_ended=ended,
            last_error=self._sink.error if self._sink else None,
        )
