"""The `file` backend: a WAV file as the microphone, a WAV file as the speaker.

Input: any PCM WAV (8/16/24/32-bit, any rate, any channel count) is read once, mixed down to mono
and resampled to 8 kHz with soxr's high-quality filter when the port is opened, so reading a frame
is a slice and never touches the disk. At the end it loops seamlessly or stops (read_frame then
returns None and the status says `capture_ended`).

Output: frames go through a bounded ring to a writer thread that owns the file, because a write
to an SD card can stall for far longer than a 20 ms tick. The file is 8 kHz mono 16-bit, or
resampled to `output_rate`. `stop()` lets the writer finish the file in the background;
`wait_closed()` waits for it.
"""

import logging
import threading
import wave
from pathlib import Path

import numpy as np
import numpy.typing as npt

from endpoint.audio.port import AudioError, AudioStatus, DeviceState, checked_copy
from endpoint.audio.resample import StreamResampler, float_to_int16, int16_to_float
from endpoint.audio.ring import FrameRing
from endpoint.media.frame import FRAME_SAMPLES, SAMPLE_RATE, Frame

log = logging.getLogger("endpoint.audio.file")


def pcm_to_float(data: bytes, width: int) -> npt.NDArray[np.float64]:
    """Little-endian PCM of 1-4 bytes per sample to floats in [-1, 1) (WAV 8-bit is unsigned)."""
    if width == 1:
        return (np.frombuffer(data, dtype=np.uint8).astype(np.float64) - 128.0) / 128.0
    if width == 2:
        return np.frombuffer(data, dtype="<i2").astype(np.float64) / 32768.0
    if width == 3:
        raw = np.frombuffer(data, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        value = raw[:, 0] | (raw[:, 1] << 8) | (raw[:, 2] << 16)
        value = np.where(value >= 1 << 23, value - (1 << 24), value)
        return value.astype(np.float64) / float(1 << 23)
    if width == 4:
        return np.frombuffer(data, dtype="<i4").astype(np.float64) / float(1 << 31)
    raise AudioError(f"{width * 8}-bit samples are not supported")


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
    samples = pcm_to_float(data, width)
    samples = samples[: samples.size - samples.size % channels].reshape(-1, channels).mean(axis=1)
    if samples.size == 0:
        raise AudioError(f"WAV file {path} holds no audio")
    if rate != target_rate:
        import soxr  # here: only a file at another rate needs the library

        samples = soxr.resample(samples, rate, target_rate, quality="HQ")
    return float_to_int16(samples)


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
        resampler = StreamResampler(self._source_rate, self._rate)
        try:
            while True:
                with self._wake:
                    self._wake.wait_for(lambda: self._closing or self._ring.fill > 0)
                    closing = self._closing
                while (frame := self._ring.pop()) is not None:
                    wav.writeframes(self._encode(resampler.process(int16_to_float(frame))))
                if closing:
                    wav.writeframes(self._encode(resampler.flush()))
                    return
        except OSError as exc:
            self.error = f"writing {self._path}: {exc}"
            log.error("audio file output stopped: %s", self.error)
        finally:
            wav.close()

    @staticmethod
    def _encode(samples: npt.NDArray[np.float32]) -> bytes:
        return float_to_int16(samples).astype("<i2").tobytes()


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
        n = self._frame_samples
        if self._loop:
            frame = np.take(source, np.arange(self._position, self._position + n), mode="wrap")
            self._position = (self._position + n) % source.size
            return frame
        if self._position >= source.size:
            return None
        frame = np.zeros(n, dtype=np.int16)
        chunk = source[self._position : self._position + n]
        frame[: chunk.size] = chunk
        self._position += n
        return frame

    def write_frame(self, frame: Frame) -> None:
        owned = checked_copy(frame, self._frame_samples)
        if self._running and self._sink is not None:
            self._sink.write(owned)

    def status(self) -> AudioStatus:
        names = [f"in: {self._input_name}"] if self._input_name else []
        names += [f"out: {self._output_name}"] if self._output_name else []
        ring = self._sink.ring if self._sink is not None else None
        ended = self._input is not None and not self._loop and self._position >= self._input.size
        return AudioStatus(
            backend="file",
            device=", ".join(names),
            state=DeviceState.RUNNING if self._running else DeviceState.STOPPED,
            playback_fill=ring.fill if ring else 0,
            playback_dropped=ring.dropped if ring else 0,
            capture_ended=ended,
            last_error=self._sink.error if self._sink else None,
        )
