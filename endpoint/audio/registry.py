"""One owner per ALSA device: shared PortAudio streams, and the thread that keeps them alive.

Why a process-wide registry: an ALSA hw device can be opened once. The call audio and the
ringback/alert tone both play on the same card, so two ports that name the same device share one
PortAudio stream; the stream mixes what each attached port queues for playback and copies each
captured frame to every attached port that captures.

Why a supervisor thread: opening a device, re-initialising PortAudio and closing a stream can each
take tens of milliseconds or hang on a sick USB card; none of that may happen on the media thread.
`AudioPort.start()`/`stop()` only attach or detach ring buffers and wake the supervisor, which
opens, watches and reopens streams:

* a stream whose callback thread ended (PortAudio stops it on an ALSA error such as an unplugged
  USB card) or whose callbacks stopped arriving is closed and marked LOST ("audio device X lost");
* a device that is STARTING or LOST is retried with backoff; when nothing else is open on the
  host, PortAudio is re-initialised first so that a card plugged back in is enumerated again;
* when it opens again: "audio device X back after N s" and the port's reopen counter grows;
* xruns reported by PortAudio's callback flags are counted and logged once per burst.

Meanwhile the media thread reads None / writes into a bounded ring, i.e. the call continues with
silence.
"""

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pyaudio

from endpoint.audio.conversion import CaptureConverter, PlaybackConverter, mix
from endpoint.audio.devices import (
    PREFERRED_RATES,
    DeviceInfo,
    DeviceSpec,
    Direction,
    choose_format,
    describe,
    find_device,
)
from endpoint.audio.port import AudioError, DeviceState
from endpoint.audio.recovery import XrunBursts
from endpoint.audio.ring import FrameRing
from endpoint.backoff import Backoff
from endpoint.media.frame import SAMPLE_RATE, Frame

log = logging.getLogger("endpoint.audio.alsa")

_XRUN_FLAGS = (
    pyaudio.paInputOverflow
    | pyaudio.paInputUnderflow
    | pyaudio.paOutputOverflow
    | pyaudio.paOutputUnderflow
)


class PortAudioHost:
    """The process's PortAudio library instance; every call into it holds `lock`.

    PortAudio enumerates devices once, in `Pa_Initialize`; a card plugged in later is only seen
    after terminate + initialise, which is only safe while no stream is open.
    """

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._pa: pyaudio.PyAudio | None = None

    def pyaudio(self) -> pyaudio.PyAudio:
        with self.lock:
            if self._pa is None:
                self._pa = pyaudio.PyAudio()
            return self._pa

    def reinitialize(self) -> None:
        with self.lock:
            self.terminate()
            self.pyaudio()

    def terminate(self) -> None:
        with self.lock:
            if self._pa is not None:
                self._pa.terminate()
                self._pa = None

    def devices(self) -> list[DeviceInfo]:
        with self.lock:
            pa = self.pyaudio()
            default_in = _default_index(pa.get_default_input_device_info)
            default_out = _default_index(pa.get_default_output_device_info)
            found = []
            for index in range(pa.get_device_count()):
                info: Mapping[str, Any] = pa.get_device_info_by_index(index)
                found.append(
                    DeviceInfo(
                        index=index,
                        name=str(info["name"]),
                        max_input_channels=int(info["maxInputChannels"]),
                        max_output_channels=int(info["maxOutputChannels"]),
                        default_rate=float(info["defaultSampleRate"]),
                        is_default_input=index == default_in,
                        is_default_output=index == default_out,
                    )
                )
            return found

    def supports(self, device: DeviceInfo, direction: Direction, rate: int, channels: int) -> bool:
        with self.lock:
            pa = self.pyaudio()
            try:
                if direction is Direction.CAPTURE:
                    return bool(
                        pa.is_format_supported(
                            rate,
                            input_device=device.index,
                            input_channels=channels,
                            input_format=pyaudio.paInt16,
                        )
                    )
                return bool(
                    pa.is_format_supported(
                        rate,
                        output_device=device.index,
                        output_channels=channels,
                        output_format=pyaudio.paInt16,
                    )
                )
            except ValueError:
                return False


def _default_index(get: Callable[[], Mapping[str, Any]]) -> int | None:
    try:
        return int(get()["index"])
    except OSError:
        return None


@dataclass(frozen=True, slots=True)
class StreamOptions:
    """How device streams are opened and watched (tests shorten the timings)."""

    frame_samples: int
    rates: tuple[int, ...] = PREFERRED_RATES
    #: The rate of the frames the ports exchange: the call's audio rate (16 kHz for G.722).
    app_rate: int = SAMPLE_RATE
    stall_timeout: float | None = 1.0
    """Seconds without a callback after which a running stream counts as lost (None: never)."""
    startup_grace: float = 3.0
    """Seconds after opening before a stall counts: some devices take long to start flowing
    (measured: ALSA's pulse plugin, about 2 s for a process's first stream)."""
    backoff_initial: float = 0.25
    backoff_max: float = 5.0
    xrun_quiet: float = 2.0


class DeviceStream:
    """One PortAudio stream on one device in one direction, shared by the ports attached to it."""

    def __init__(self, spec: DeviceSpec, direction: Direction, options: StreamOptions) -> None:
        self.spec = spec
        self.direction = direction
        self.options = options
        self.label = f"{direction.value} device {describe(spec)}"
        self.state = DeviceState.STOPPED
        self.rings: tuple[FrameRing, ...] = ()
        self.device_name: str | None = None
        self.rate: int | None = None
        self.channels = 0
        self.xruns = 0
        self.reopens = 0
        self.callbacks = 0
        self.last_error: str | None = None
        self.callback_error: str | None = None
        self._stream: pyaudio.Stream | None = None
        self._capture: CaptureConverter | None = None
        self._playback: PlaybackConverter | None = None
        self._backoff = Backoff(options.backoff_initial, options.backoff_max, jitter=False)
        self._failures = 0  # reopen attempts that failed since the device last worked
        self._next_attempt = 0.0
        self._lost_since: float | None = None
        self._failing_reported = False
        self._watch_callbacks = 0
        self._watch_since = 0.0
        self._opened_at = 0.0
        self._bursts = XrunBursts(options.xrun_quiet)

    # --- PortAudio's callback thread -------------------------------------------------------

    def on_buffer(
        self, in_data: bytes | None, frame_count: int, time_info: object, status: int
    ) -> tuple[bytes | None, int]:
        """Runs on PortAudio's thread: convert, hand frames over, never block, never raise."""
        self.callbacks += 1
        if status & _XRUN_FLAGS:
            self.xruns += 1
        try:
            if self._capture is not None:
                for frame in self._capture.convert(in_data or b""):
                    for ring in self.rings:
                        ring.push(frame)  # immutable bytes: every ring may share it
                return None, pyaudio.paContinue
            if self._playback is not None:
                return self._playback.render(frame_count, self._next_mixed), pyaudio.paContinue
        except Exception as exc:  # the callback must not die silently: the supervisor reopens
            self.callback_error = f"{type(exc).__name__}: {exc}"
        return None, pyaudio.paAbort

    def _next_mixed(self) -> Frame:
        frames = [f for f in (ring.pop() for ring in self.rings) if f is not None]
        return mix(frames, self.options.frame_samples)

    # --- supervisor thread -----------------------------------------------------------------

    def service(self, host: PortAudioHost, now: float, others_open: bool) -> None:
        """Bring the stream where its attachments want it; called by the supervisor only."""
        if not self.rings:
            if self._stream is not None or self.state is not DeviceState.STOPPED:
                self._close(host, graceful=True)
                self.state = DeviceState.STOPPED
                self._lost_since = None
                self._failures = 0
                self._failing_reported = False
                log.info("audio %s closed", self.label)
            return
        if self.state is DeviceState.STOPPED:
            self.state = DeviceState.STARTING
            self._next_attempt = now
        if self.state is DeviceState.RUNNING:
            self._watch(host, now)
            self._report_xruns(now)
        if self.state in (DeviceState.STARTING, DeviceState.LOST) and now >= self._next_attempt:
            self._attempt(host, now, others_open)

    def _next_delay(self) -> float:
        """Delay before the next reopen attempt; each call counts one failed attempt."""
        delay = self._backoff.delay(self._failures)
        self._failures += 1
        return delay

    def is_open(self) -> bool:
        return self._stream is not None

    def _watch(self, host: PortAudioHost, now: float) -> None:
        stream = self._stream
        if stream is None:
            return
        reason = None
        with host.lock:
            active = stream.is_active()
        if not active:
            reason = self.callback_error or "the stream stopped"
        elif self.callbacks != self._watch_callbacks:
            self._watch_callbacks = self.callbacks
            self._watch_since = now
        elif (
            self.options.stall_timeout is not None
            and now - self._watch_since >= self.options.stall_timeout
            and now - self._opened_at >= self.options.startup_grace
        ):
            reason = f"no audio for {now - self._watch_since:.1f} s"
        if reason is None:
            return
        self.state = DeviceState.LOST
        self.last_error = reason
        self._lost_since = now
        log.warning("audio %s (%s) lost: %s; retrying", self.label, self.device_name, reason)
        self._close(host, graceful=False)
        self._failures = 0
        self._next_attempt = time.monotonic() + self._next_delay()

    def _report_xruns(self, now: float) -> None:
        report = self._bursts.update(self.xruns, now)
        if report is None:
            return
        kind = "overrun" if self.direction is Direction.CAPTURE else "underrun"
        if report.started:
            log.warning("audio %s: %s (xrun); the card's buffer ran out", self.label, kind)
        else:
            log.warning(
                "audio %s: %d xruns in %.1f s, now quiet", self.label, report.count, report.duration
            )

    def _attempt(self, host: PortAudioHost, now: float, others_open: bool) -> None:
        try:
            if not others_open:
                host.reinitialize()
            self._open(host)
        except (AudioError, OSError, ValueError) as exc:
            now = time.monotonic()  # opening can take long; measure from when it ended
            self.last_error = str(exc)
            self._next_attempt = now + self._next_delay()
            if not self._failing_reported:
                self._failing_reported = True
                log.warning("audio %s not available: %s; retrying", self.label, exc)
            return
        now = time.monotonic()
        self._failures = 0
        self._failing_reported = False
        self._watch_callbacks = self.callbacks
        self._watch_since = now
        self._opened_at = now
        if self._lost_since is not None:
            self.reopens += 1
            log.warning(
                "audio %s (%s) back after %.1f s",
                self.label,
                self.device_name,
                now - self._lost_since,
            )
            self._lost_since = None
        else:
            log.info(
                "audio %s opened: %s at %d Hz, %d channel(s)",
                self.label,
                self.device_name,
                self.rate,
                self.channels,
            )
        self.state = DeviceState.RUNNING

    def _open(self, host: PortAudioHost) -> None:
        with host.lock:
            device = find_device(host.devices(), self.spec, self.direction)
            rate, channels = choose_format(
                lambda r, c: host.supports(device, self.direction, r, c),
                device.channels(self.direction),
                device.default_rate,
                self.options.rates,
            )
            self.prepare(rate, channels)
            capture = self.direction is Direction.CAPTURE
            self._stream = host.pyaudio().open(
                format=pyaudio.paInt16,
                channels=channels,
                rate=rate,
                input=capture,
                output=not capture,
                input_device_index=device.index if capture else None,
                output_device_index=None if capture else device.index,
                frames_per_buffer=max(
                    1, round(rate * self.options.frame_samples / self.options.app_rate)
                ),
                stream_callback=self.on_buffer,
            )
            self.device_name = device.name

    def prepare(self, rate: int, channels: int) -> None:
        """Set up the converters for a stream about to open at `rate` with `channels`."""
        frame_samples = self.options.frame_samples
        if self.direction is Direction.CAPTURE:
            self._capture = CaptureConverter(rate, channels, frame_samples, self.options.app_rate)
            self._playback = None
        else:
            self._playback = PlaybackConverter(rate, channels, frame_samples, self.options.app_rate)
            self._capture = None
        self.callback_error = None
        self.rate = rate
        self.channels = channels

    def _close(self, host: PortAudioHost, *, graceful: bool) -> None:
        """Close the stream. Graceful stops wait for the callback to finish; a dead or stalled
        stream is closed directly (PortAudio aborts it). An abort cannot interrupt a read that
        blocks inside an ALSA plugin; then this waits until the read returns, with the state
        already LOST, and the media thread is unaffected."""
        stream, self._stream = self._stream, None
        if stream is None:
            return
        with host.lock, contextlib.suppress(OSError):
            if graceful and stream.is_active():
                stream.stop_stream()
            stream.close()

    def shutdown(self, host: PortAudioHost) -> None:
        self._close(host, graceful=True)
        self.state = DeviceState.STOPPED


class DeviceRegistry:
    """The streams of one process, keyed by (device, direction), and their supervisor thread."""

    def __init__(self, tick: float = 0.05) -> None:
        self.host = PortAudioHost()
        self._tick = tick
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._changed = threading.Condition(self._lock)
        self._streams: dict[tuple[DeviceSpec, Direction, int, int], DeviceStream] = {}
        self._thread: threading.Thread | None = None
        self._closing = False

    def attach(
        self, spec: DeviceSpec, direction: Direction, ring: FrameRing, options: StreamOptions
    ) -> DeviceStream:
        """Connect a ring to the device's stream (created on first use). Never blocks long.

        A stream is per device, direction and frame format: a G.722 call's 16 kHz stream is
        not the 8 kHz one a call just left (closing on the supervisor thread), which the
        device may hold a moment longer; opening then retries with the usual backoff."""
        name = spec.lower() if isinstance(spec, str) else spec
        key = (name, direction, options.frame_samples, options.app_rate)
        with self._lock:
            stream = self._streams.get(key)
            if stream is None:
                stream = DeviceStream(spec, direction, options)
                self._streams[key] = stream
            stream.rings = (*stream.rings, ring)
            self._ensure_thread()
            self._wake.notify_all()
            return stream

    def detach(self, stream: DeviceStream, ring: FrameRing) -> None:
        with self._lock:
            stream.rings = tuple(r for r in stream.rings if r is not ring)
            self._wake.notify_all()

    def wait_for(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Block the *calling* thread until a stream changes so that `predicate` holds."""
        with self._lock:
            return self._changed.wait_for(predicate, timeout)

    def shutdown(self) -> None:
        """Stop the supervisor, close every stream and release PortAudio (at process exit)."""
        with self._lock:
            self._closing = True
            self._wake.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join()
        with self._lock:
            streams = list(self._streams.values())
            self._streams.clear()
            self._thread = None
            self._closing = False
        for stream in streams:
            stream.shutdown(self.host)
        self.host.terminate()

    def _ensure_thread(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="audio-supervisor", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            with self._lock:
                if self._closing:
                    return
                streams = list(self._streams.values())
            now = time.monotonic()
            for stream in streams:
                others_open = any(s.is_open() for s in streams if s is not stream)
                before = (stream.state, stream.reopens)
                stream.service(self.host, now, others_open)
                if (stream.state, stream.reopens) != before:
                    with self._lock:
                        self._changed.notify_all()
            with self._lock:
                for key, stream in list(self._streams.items()):
                    if not stream.rings and stream.state is DeviceState.STOPPED:
                        del self._streams[key]
                if not self._closing:
                    self._wake.wait(self._tick if self._streams else None)


_default: DeviceRegistry | None = None
_default_lock = threading.Lock()


def default_registry() -> DeviceRegistry:
    """The process-wide registry (one owner per device per process)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = DeviceRegistry()
        return _default


def list_devices() -> list[DeviceInfo]:
    """Enumerate PortAudio's devices (through the process-wide PortAudio host)."""
    return default_registry().host.devices()
