"""One owner per ALSA device: shared PortAudio streams, and the thread that keeps them alive.

Why a process-wide registry: an ALSA hw device can be opened once. The call audio and the
ringback/alert tone both play on the same card, so two ports that name the same device share one
PortAudio stream; the stream mixes what each attached port queues for playback and copies each
captured frame to every attached port that captures. A device that both captures and plays is
opened as ONE full-duplex stream when its format is the same both ways (`[audio] duplex`, off
by default): one Python callback per 20 ms period instead of two (stream_plan.py). Every other
stream runs in PortAudio's blocking mode, moved by a Python thread of its own (blocking.py says
why: a callback from PortAudio's C thread costs twice what our thread's return from a blocking
read costs).

Why a supervisor thread: opening a device, re-initialising PortAudio and closing a stream can each
take tens of milliseconds or hang on a sick USB card; none of that may happen on the media thread.
`AudioPort.start()`/`stop()` only attach or detach ring buffers and wake the supervisor, which
opens, watches and reopens streams:

* a stream whose thread ended (a read or write failed, or PortAudio stopped its callback, on an
  ALSA error such as an unplugged USB card) or whose periods stopped arriving is closed and
  marked LOST ("audio device X lost");
* a device that is STARTING or LOST is retried with backoff; when nothing else is open on the
  host, PortAudio is re-initialised first so that a card plugged back in is enumerated again;
* when it opens again: "audio device X back after N s" and the port's reopen counter grows;
* xruns reported by PortAudio (callback flags, a blocking write's underflow) are counted and
  logged once per burst.

The supervisor sleeps until a device needs it: a running one is looked at every half stall
timeout (at most every 0.5 s), a starting or lost one at its next attempt, and attaching or
detaching a port wakes it at once. (It used to look every 50 ms: 0.4-0.5 % of a core during a
device call, issue 19.)

Meanwhile the media thread reads None / writes into a bounded ring, i.e. the call continues with
silence.
"""

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import pyaudio

from endpoint.audio.blocking import StreamPump
from endpoint.audio.conversion import CaptureConverter, PlaybackConverter
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
from endpoint.audio.stream_plan import Chosen, StreamCallback, StreamPlan, plan_streams
from endpoint.backoff import Backoff
from endpoint.media.frame import SAMPLE_RATE

log = logging.getLogger("endpoint.audio.alsa")


class PortAudioHost:
    """The process's PortAudio library instance; every call into it holds `lock`.

    PortAudio enumerates devices once, in `Pa_Initialize`; a card plugged in later is only seen
    after terminate + initialise, which is only safe while no stream is open.
    """

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._pa: pyaudio.PyAudio | None = None
        #: Streams left to close themselves when a hung read/write returns (blocking.py):
        #: PortAudio must not be terminated under them.
        self.lingering: list[StreamPump] = []

    def may_reinitialize(self) -> bool:
        with self.lock:
            self.lingering = [pump for pump in self.lingering if pump.alive]
            return not self.lingering

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
            if self._pa is not None and self.may_reinitialize():
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
    duplex: bool = False
    """Open a device that captures and plays as one full-duplex stream (`[audio] duplex`).
    Off by default: on ALSA's pulse plugin, the only device measurable here, PortAudio's duplex
    stream ends after a callback or two at 8 and 16 kHz, and at 48 kHz it sometimes busy-polls
    (17-92 % of a core) (bench_audio_duplex.py). A device whose duplex stream ends within its
    first `DUPLEX_PROOF_CALLBACKS` periods runs a stream per direction from then on. Every port
    of a device must agree (they come from one configuration): it decides whether the registry
    keys the device per direction."""


class DeviceStream:
    """One device's PortAudio stream(s), shared by the ports attached to it.

    Without duplex (the default) the registry keeps one per device and direction. With duplex,
    a port that captures from and plays to the device and an alert port that only plays to it
    all attach to one; it is opened as one full-duplex stream when both directions are wanted
    and the device takes the same format both ways (one callback per period instead of two,
    see stream_plan.py), otherwise with one stream per direction. A running device that is
    asked for a direction it has not opened (a call starts while an alert plays) is closed and
    reopened with both; one that keeps a direction nobody wants any more stays as it is, so the
    remaining port's audio is not interrupted.
    """

    def __init__(self, spec: DeviceSpec, options: StreamOptions) -> None:
        self.spec = spec
        self.options = options
        self.state = DeviceState.STOPPED
        self.capture_rings: tuple[FrameRing, ...] = ()
        self.playback_rings: tuple[FrameRing, ...] = ()
        self.device_names: dict[Direction, str] = {}
        self.rates: dict[Direction, int] = {}
        self.reopens = 0
        self.last_error: str | None = None
        self._directions: tuple[Direction, ...] = ()  # what is open, or was when it failed
        self._streams: list[OpenStream] = []
        self._past_xruns = 0
        self._past_callbacks = 0
        self._backoff = Backoff(options.backoff_initial, options.backoff_max, jitter=False)
        self._failures = 0  # reopen attempts that failed since the device last worked
        self._next_attempt = 0.0
        self._lost_since: float | None = None
        self._failing_reported = False
        self._opened_at = 0.0
        #: False once this device has shown it cannot keep a full-duplex stream (see
        #: `_rule_out_duplex`); it then runs a stream per direction for the process's life.
        self._duplex = options.duplex
        self._bursts = XrunBursts(options.xrun_quiet)
        stall = options.stall_timeout if options.stall_timeout is not None else WATCH_INTERVAL * 2
        self._watch_interval = min(WATCH_INTERVAL, stall / 2)

    # --- read by any thread ----------------------------------------------------------------

    @property
    def label(self) -> str:
        return (
            f"{_directions_label(self._directions or self.wanted())} device {describe(self.spec)}"
        )

    @property
    def xruns(self) -> int:
        return self._past_xruns + sum(s.cb.xruns for s in self._streams)

    @property
    def callbacks(self) -> int:
        """Callbacks PortAudio has run for this device (every stream, every open so far)."""
        return self._past_callbacks + sum(s.cb.callbacks for s in self._streams)

    @property
    def open_streams(self) -> int:
        """How many PortAudio streams are open: 1 for a duplex device, 2 for split directions.
        A stream stops counting when the supervisor takes it to close it, before its thread
        has been stopped (the close is over when "closed" is logged)."""
        return len(self._streams)

    def next_service(self, now: float) -> float | None:
        """Seconds until the supervisor must look at this device again, None for never (a
        stopped device: attach/detach wake the supervisor). A running device is watched every
        half stall timeout, so a stall is reported 1 to 1.5 timeouts after it starts; a device
        that is starting or lost when its next attempt is due."""
        if self.state is DeviceState.RUNNING:
            return self._watch_interval
        if self.state in (DeviceState.STARTING, DeviceState.LOST):
            return max(0.0, self._next_attempt - now)
        return None

    def wanted(self) -> tuple[Direction, ...]:
        return tuple(
            d
            for d, rings in (
                (Direction.CAPTURE, self.capture_rings),
                (Direction.PLAYBACK, self.playback_rings),
            )
            if rings
        )

    def is_open(self) -> bool:
        return bool(self._streams)

    def callback(self, plan: StreamPlan) -> StreamCallback:
        """The callback for a stream opened by `plan`, with its format converters."""
        frame_samples, app_rate = self.options.frame_samples, self.options.app_rate
        capture = playback = None
        if Direction.CAPTURE in plan.directions:
            capture = CaptureConverter(plan.rate, plan.channels, frame_samples, app_rate)
        if Direction.PLAYBACK in plan.directions:
            playback = PlaybackConverter(plan.rate, plan.channels, frame_samples, app_rate)
        return StreamCallback(self, capture, playback, frame_samples)

    # --- supervisor thread -----------------------------------------------------------------

    def service(self, host: PortAudioHost, now: float, others_open: bool) -> None:
        """Bring the stream where its attachments want it; called by the supervisor only."""
        wanted = self.wanted()
        if not wanted:
            if self._streams or self.state is not DeviceState.STOPPED:
                label = self.label
                self._close(host, graceful=True)
                self.state = DeviceState.STOPPED
                self._lost_since = None
                self._failures = 0
                self._failing_reported = False
                self._directions = ()
                log.info("audio %s closed", label)
            return
        if self.state is DeviceState.STOPPED:
            self.state = DeviceState.STARTING
            self._next_attempt = now
        if self.state is DeviceState.RUNNING and not set(wanted) <= set(self._directions):
            self._widen(host, wanted)
        if self.state is DeviceState.RUNNING:
            self._watch(host, now)
            self._report_xruns(now)
        if self.state in (DeviceState.STARTING, DeviceState.LOST) and now >= self._next_attempt:
            self._attempt(host, now, others_open)

    def _widen(self, host: PortAudioHost, wanted: tuple[Direction, ...]) -> None:
        """A running duplex-capable device is asked for a direction it has not opened (a call
        starts while an alert plays): it is closed and reopened as one stream."""
        log.info("audio %s reopened for %s", self.label, _directions_label(wanted))
        self._close(host, graceful=True)
        self.state = DeviceState.STARTING
        self._next_attempt = time.monotonic()

    def _next_delay(self) -> float:
        """Delay before the next reopen attempt; each call counts one failed attempt."""
        delay = self._backoff.delay(self._failures)
        self._failures += 1
        return delay

    def _watch(self, host: PortAudioHost, now: float) -> None:
        reason = None
        for stream, cb, pump in self._streams:
            with host.lock:
                active = (pump is None or pump.alive) and _is_active(stream)
            if not active:
                reason = cb.error or "the stream stopped"
                if pump is None and cb.callbacks < DUPLEX_PROOF_CALLBACKS:
                    self._rule_out_duplex(host, cb.callbacks)
                    return
            elif cb.callbacks != cb.seen:
                cb.seen = cb.callbacks
                cb.since = now
            elif (
                self.options.stall_timeout is not None
                and now - cb.since >= self.options.stall_timeout
                and now - self._opened_at >= self.options.startup_grace
            ):
                reason = f"no audio for {now - cb.since:.1f} s"
            if reason is not None:
                break
        if reason is None:
            return
        self.state = DeviceState.LOST
        self.last_error = reason
        self._lost_since = now
        log.warning("audio %s (%s) lost: %s; retrying", self.label, self._names(), reason)
        self._close(host, graceful=False)
        self._failures = 0
        self._next_attempt = time.monotonic() + self._next_delay()

    def _names(self) -> str:
        return ", ".join(dict.fromkeys(self.device_names.values()))

    def _report_xruns(self, now: float) -> None:
        report = self._bursts.update(self.xruns, now)
        if report is None:
            return
        kind = _XRUN_KIND.get(self._directions, "overrun or underrun")
        if report.started:
            log.warning("audio %s: %s (xrun); the card's buffer ran out", self.label, kind)
        else:
            log.warning(
                "audio %s: %d xruns in %.1f s, now quiet", self.label, report.count, report.duration
            )

    def _attempt(self, host: PortAudioHost, now: float, others_open: bool) -> None:
        try:
            if not others_open and host.may_reinitialize():
                host.reinitialize()
            self._directions = ()
            plans = self._open(host, self.wanted())
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
        for opened in self._streams:
            opened.cb.since = now
        self._opened_at = now
        if self._lost_since is not None:
            self.reopens += 1
            log.warning(
                "audio %s (%s) back after %.1f s", self.label, self._names(), now - self._lost_since
            )
            self._lost_since = None
        else:
            self._log_opened(plans)
        self.state = DeviceState.RUNNING

    def _log_opened(self, plans: list[StreamPlan]) -> None:
        for plan in plans:
            log.info(
                "audio %s device %s opened: %s at %d Hz, %d channel(s)",
                _directions_label(plan.directions),
                describe(self.spec),
                plan.device.name,
                plan.rate,
                plan.channels,
            )

    def _rule_out_duplex(self, host: PortAudioHost, periods: int) -> None:
        """`[audio] duplex` asked for one stream, and this device cannot keep one: ALSA's
        pulse plugin ends PortAudio's duplex stream after a period or two at 8 and 16 kHz, and
        reopening it would leave the call silent, a new stream every 0.3 s. The device is
        reopened at once with a stream per direction, and stays so."""
        self._duplex = False
        log.warning(
            "audio %s: its full-duplex stream ended after %d period(s); using one stream per "
            "direction from now on",
            self.label,
            periods,
        )
        self._close(host, graceful=False)
        self.state = DeviceState.STARTING
        self._failures = 0
        self._next_attempt = time.monotonic()

    def _open(self, host: PortAudioHost, directions: tuple[Direction, ...]) -> list[StreamPlan]:
        """Open the stream(s) `directions` need beside those open; all of them or none."""
        with host.lock:
            devices = host.devices()
            chosen = {d: self._choose(host, devices, d) for d in directions}
            plans = plan_streams(
                chosen.get(Direction.CAPTURE),
                chosen.get(Direction.PLAYBACK),
                duplex=self._duplex,
            )
            opened: list[OpenStream] = []
            try:
                for plan in plans:
                    opened.append(self._open_one(host, plan))
            except BaseException:
                self._close_streams(host, opened, graceful=False)
                raise
            self._streams.extend(opened)
            both = set(self._directions) | set(directions)
            self._directions = tuple(d for d in Direction if d in both)
            self.device_names.update({d: c.device.name for d, c in chosen.items()})
            self.rates.update({d: c.rate for d, c in chosen.items()})
            return plans

    def _choose(
        self, host: PortAudioHost, devices: list[DeviceInfo], direction: Direction
    ) -> Chosen:
        device = find_device(devices, self.spec, direction)
        rate, channels = choose_format(
            lambda r, c: host.supports(device, direction, r, c),
            device.channels(direction),
            device.default_rate,
            self.options.rates,
        )
        return Chosen(device, rate, channels)

    def _open_one(self, host: PortAudioHost, plan: StreamPlan) -> "OpenStream":
        """A stream in blocking mode with its thread (blocking.py says why); a duplex stream
        keeps PortAudio's callback (one stream cannot be read and written by two threads)."""
        capture = Direction.CAPTURE in plan.directions
        playback = Direction.PLAYBACK in plan.directions
        cb = self.callback(plan)
        frames = max(1, round(plan.rate * self.options.frame_samples / self.options.app_rate))
        stream = host.pyaudio().open(
            format=pyaudio.paInt16,
            channels=plan.channels,
            rate=plan.rate,
            input=capture,
            output=playback,
            input_device_index=plan.device.index if capture else None,
            output_device_index=plan.device.index if playback else None,
            frames_per_buffer=frames,
            stream_callback=cb.on_buffer if capture and playback else None,
        )
        if capture and playback:
            return OpenStream(stream, cb, None)
        pump = StreamPump(stream, cb, frames, host.lock)
        pump.start()
        return OpenStream(stream, cb, pump)

    def _close(self, host: PortAudioHost, *, graceful: bool) -> None:
        """Close the stream(s). A blocking stream's thread is stopped first (it ends within a
        period); one still blocked inside an ALSA plugin after `PUMP_JOIN_TIMEOUT` closes its
        stream itself when the read returns. Graceful stops wait for the callback to finish; a
        dead or stalled callback stream is closed directly (PortAudio aborts it). An abort
        cannot interrupt a read that blocks inside an ALSA plugin; then this waits until the
        read returns, with the state already LOST, and the media thread is unaffected."""
        streams, self._streams = self._streams, []
        self._close_streams(host, streams, graceful=graceful)

    def _close_streams(
        self,
        host: PortAudioHost,
        streams: list["OpenStream"],
        *,
        graceful: bool,
    ) -> None:
        for stream, cb, pump in streams:
            if pump is not None and not pump.stop(PUMP_JOIN_TIMEOUT, drain=graceful):
                with host.lock:
                    host.lingering.append(pump)
                log.warning(
                    "audio %s: a read or write is stuck; closed when it returns", self.label
                )
            self._past_xruns += cb.xruns
            self._past_callbacks += cb.callbacks
            if pump is not None and pump in host.lingering:
                continue
            with host.lock, contextlib.suppress(OSError):
                if graceful and stream.is_active():
                    stream.stop_stream()
                stream.close()

    def shutdown(self, host: PortAudioHost) -> None:
        self._close(host, graceful=True)
        self.state = DeviceState.STOPPED


def _is_active(stream: pyaudio.Stream) -> bool:
    """Whether PortAudio still runs the stream; False for one PyAudio has closed (it closes a
    blocking stream whose read or write failed)."""
    try:
        return bool(stream.is_active())
    except OSError:
        return False


class OpenStream(NamedTuple):
    """An open PortAudio stream, what it does each period, and its thread (None: PortAudio's
    callback runs it, a duplex stream)."""

    stream: pyaudio.Stream
    cb: StreamCallback
    pump: StreamPump | None


#: Seconds between two looks at a running device at most (a dead stream, xruns), whatever
#: its stall timeout: the supervisor used to look every 50 ms, 0.4-0.5 % of a core a device.
WATCH_INTERVAL = 0.5

#: Periods a full-duplex stream must run before its end counts as a lost device, not as a
#: device that cannot keep a duplex stream (a second at 20 ms periods).
DUPLEX_PROOF_CALLBACKS = 50

#: Seconds `_close` waits for a blocking stream's thread (it ends within a period unless the
#: device hangs it).
PUMP_JOIN_TIMEOUT = 1.0


_XRUN_KIND: dict[tuple[Direction, ...], str] = {
    (Direction.CAPTURE,): "overrun",
    (Direction.PLAYBACK,): "underrun",
}


def _directions_label(directions: tuple[Direction, ...]) -> str:
    return " and ".join(d.value for d in directions) or "no"


class DeviceRegistry:
    """The devices of one process, keyed by device and frame format, and their supervisor."""

    def __init__(self) -> None:
        self.host = PortAudioHost()
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._changed = threading.Condition(self._lock)
        self._streams: dict[tuple[DeviceSpec, int, int, Direction | None], DeviceStream] = {}
        self._thread: threading.Thread | None = None
        self._closing = False
        #: Attaches and detaches so far: one made while the supervisor was busy (its wake-up
        #: went unheard) makes it look again instead of sleeping until the next due device.
        self._requests = 0

    def attach(
        self, spec: DeviceSpec, direction: Direction, ring: FrameRing, options: StreamOptions
    ) -> DeviceStream:
        """Connect a ring to the device's stream(s) (created on first use). Never blocks long.

        A device is shared per frame format (and per direction without duplex): a G.722
        call's 16 kHz stream is not the 8 kHz one a call just left (closing on the supervisor
        thread), which the device may hold a moment longer; opening then retries with the
        usual backoff."""
        name = spec.lower() if isinstance(spec, str) else spec
        # Without duplex each direction is its own DeviceStream, as it always was: a device
        # whose microphone fails still plays, and each direction is lost and back on its own.
        side = None if options.duplex else direction
        key = (name, options.frame_samples, options.app_rate, side)
        with self._lock:
            stream = self._streams.get(key)
            if stream is None:
                stream = DeviceStream(spec, options)
                self._streams[key] = stream
            if direction is Direction.CAPTURE:
                stream.capture_rings = (*stream.capture_rings, ring)
            else:
                stream.playback_rings = (*stream.playback_rings, ring)
            self._ensure_thread()
            self._requests += 1
            self._wake.notify_all()
            return stream

    def detach(self, stream: DeviceStream, ring: FrameRing) -> None:
        with self._lock:
            stream.capture_rings = tuple(r for r in stream.capture_rings if r is not ring)
            stream.playback_rings = tuple(r for r in stream.playback_rings if r is not ring)
            self._requests += 1
            self._wake.notify_all()

    def open_streams(self) -> int:
        """PortAudio streams open now, over all devices (for tests and benchmarks); one being
        closed no longer counts (`DeviceStream.open_streams`)."""
        with self._lock:
            return sum(s.open_streams for s in self._streams.values())

    def callbacks(self) -> int:
        """PortAudio callbacks run so far by the devices in use (for tests and benchmarks)."""
        with self._lock:
            return sum(s.callbacks for s in self._streams.values())

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
                requests = self._requests
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
                    if not stream.wanted() and stream.state is DeviceState.STOPPED:
                        del self._streams[key]
                if not self._closing and self._requests == requests:
                    self._wake.wait(_next_service(self._streams.values()))


def _next_service(streams: Iterable[DeviceStream]) -> float | None:
    """How long the supervisor may sleep: until the first device needs it (None: until a port
    attaches or detaches, which wakes it)."""
    now = time.monotonic()
    due = [d for d in (s.next_service(now) for s in streams) if d is not None]
    return min(due, default=None)


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
