"""A Python thread per PortAudio stream in blocking mode: it reads the capture or writes the
playback, one period at a time, running the stream's `StreamCallback` logic.

Why not PortAudio's callback: each callback is PortAudio's C thread entering Python
(`PyGILState_Ensure`, PyAudio's argument tuple and `time_info` dict), 65-163 us of CPU a period on
the reference VM; a thread of our own that waits inside a blocking `read`/`write` (PyAudio 0.2.14
releases the GIL there) returns into Python once per period for 38-64 us (issue 19, session 9's
measurements on ALSA's pulse device: the audio side of a device call 4.8 -> 2.7 % of a core).
This is the shape of baresip's alsa module: one thread per direction in a blocking read/write.

What stays as it was: `callbacks` counts periods (the supervisor's stall watch), playback
underruns are counted from PortAudio's status (see `_capture` for capture overruns), and a read
or write that fails records the error and ends the thread; the supervisor then sees the pump
dead, marks the device LOST and reopens it. A read that hangs inside an ALSA plugin (a sound
server killed) hangs this thread only: `stop()` waits a bounded time, then leaves the stream to
be closed by this thread when the read returns, and the host does not re-initialise PortAudio
under it.
"""

import contextlib
import threading
from collections.abc import Callable

import pyaudio

from endpoint.audio.stream_plan import StreamCallback


class StreamPump:
    """The thread that moves one blocking stream's periods; owned by the supervisor."""

    def __init__(
        self, stream: pyaudio.Stream, cb: StreamCallback, frames: int, lock: threading.RLock
    ) -> None:
        self._stream = stream
        self._cb = cb
        self._frames = frames
        self._host_lock = lock  # PortAudio's: held for the close this thread may have to do
        self._lock = threading.Lock()
        self._stopping = False
        self._drain = False
        self._ended = False
        self._close_on_exit = False
        capture = cb.captures
        self._thread = threading.Thread(
            target=self._run,
            args=(self._capture if capture else self._playback,),
            name="audio-capture" if capture else "audio-playback",
            daemon=True,
        )

    def start(self) -> None:
        self._thread.start()

    @property
    def alive(self) -> bool:
        """False once the loop has ended (after `stop()` or a failed read/write)."""
        with self._lock:
            return not self._ended

    def stop(self, timeout: float, *, drain: bool = False) -> bool:
        """Ask the loop to end and wait up to `timeout`. True: it ended, the caller closes the
        stream. False: it is still inside a read/write; it closes the stream itself when that
        returns (closing under a blocked read would free what the read still uses). `drain`
        (a graceful stop): a playback loop first writes the periods that play out what the
        rate converter still holds of the frames it took (`PlaybackConverter.drain`), so that
        the end of the audio is played, as PortAudio's callback did while the stream was
        being stopped."""
        with self._lock:
            self._drain = drain
            self._stopping = True
        self._thread.join(timeout)
        with self._lock:
            if self._ended:
                return True
            self._close_on_exit = True
            return False

    def _run(self, loop: Callable[[], None]) -> None:
        try:
            loop()
        except Exception as exc:  # a lost device: recorded for the supervisor, which reopens
            self._cb.error = f"{type(exc).__name__}: {exc}"
        finally:
            with self._lock:
                self._ended = True
                close = self._close_on_exit
            if close:
                with self._host_lock, contextlib.suppress(OSError):
                    self._stream.close()

    def _capture(self) -> None:
        """Capture overruns are not counted here: PyAudio either reports the overflow and drops
        the period it read, or keeps the period and hides the overflow; the audio matters more."""
        cb, read, frames = self._cb, self._stream.read, self._frames
        while not self._stopping:
            data = read(frames, exception_on_overflow=False)
            if self._stopping:  # a read that hung past stop(): the rings have a new stream
                break
            cb.callbacks += 1
            cb.process(data, frames)

    def _playback(self) -> None:
        while not self._stopping:
            self._write_period(self._cb.process(None, self._frames))
        if self._drain:
            for data in self._cb.drain(self._frames):
                self._write_period(data)

    def _write_period(self, data: bytes | None) -> None:
        cb, frames = self._cb, self._frames
        cb.callbacks += 1
        try:
            self._stream.write(data, frames, exception_on_underflow=True)
        except OSError as exc:
            if exc.errno != pyaudio.paOutputUnderflowed:
                raise
            cb.xruns += 1  # PortAudio wrote the period, then reported the underrun
