"""The `alsa` backend: a sound card through PyAudio (PortAudio's ALSA host API), callback mode.

A port is a pair of ring buffers. PortAudio's callback thread converts between the card's format
(its own rate and channel count, chosen by `devices.choose_format`) and 8 kHz mono frames and
pushes/pulls whole frames; the media thread only touches the rings, so it never waits for the
card. The device itself is owned by the process-wide `DeviceRegistry`, which shares one stream
between the ports that name the same device (call audio plus alert tones) and reopens devices
that disappear (see registry.py for the recovery story).
"""

from endpoint.audio.devices import PREFERRED_RATES, DeviceSpec, Direction, describe
from endpoint.audio.port import AudioStatus, DeviceState, checked_frame
from endpoint.audio.registry import DeviceRegistry, DeviceStream, StreamOptions, default_registry
from endpoint.audio.ring import FrameRing
from endpoint.media.frame import FRAME_SAMPLES, SAMPLE_RATE, Frame

_SEVERITY = {
    DeviceState.STOPPED: 0,
    DeviceState.RUNNING: 1,
    DeviceState.STARTING: 2,
    DeviceState.LOST: 3,
}


class AlsaPort:
    """Capture from one device and play to one (possibly the same) device, without blocking.

    `capture=False` or `playback=False` leaves a direction out (an alert port only plays).
    `duplex` lets the registry open a device that captures and plays as one stream.
    `capture_frames`/`playback_frames` bound the rings (10 frames = 200 ms); `prime` frames must
    be queued before a dry ring delivers again (see ring.py).
    """

    def __init__(
        self,
        capture_device: DeviceSpec = None,
        playback_device: DeviceSpec = None,
        *,
        capture: bool = True,
        playback: bool = True,
        registry: DeviceRegistry | None = None,
        frame_samples: int = FRAME_SAMPLES,
        capture_frames: int = 10,
        playback_frames: int = 10,
        prime: int = 2,
        rates: tuple[int, ...] | None = None,
        rate: int = SAMPLE_RATE,
        stall_timeout: float | None = 1.0,
        startup_grace: float = 3.0,
        backoff_initial: float = 0.25,
        backoff_max: float = 5.0,
        duplex: bool = False,
    ) -> None:
        self._registry = registry if registry is not None else default_registry()
        self._options = StreamOptions(
            frame_samples=frame_samples,
            # The call's own rate first (no resampling where the device has it), then the usual.
            rates=rates or (rate, *[r for r in PREFERRED_RATES if r != rate]),
            app_rate=rate,
            stall_timeout=stall_timeout,
            startup_grace=startup_grace,
            backoff_initial=backoff_initial,
            backoff_max=backoff_max,
            duplex=duplex,
        )
        self._frame_samples = frame_samples
        self._capture_spec = capture_device
        self._playback_spec = playback_device
        self._capture_ring = FrameRing(capture_frames, prime) if capture else None
        self._playback_ring = FrameRing(playback_frames, prime) if playback else None
        self._capture_stream: DeviceStream | None = None
        self._playback_stream: DeviceStream | None = None
        self._started = False

    def start(self) -> None:
        if self._started:
            return
        self._started = True
        if self._capture_ring is not None:
            self._capture_ring.clear()
            self._capture_stream = self._registry.attach(
                self._capture_spec, Direction.CAPTURE, self._capture_ring, self._options
            )
        if self._playback_ring is not None:
            self._playback_stream = self._registry.attach(
                self._playback_spec, Direction.PLAYBACK, self._playback_ring, self._options
            )

    def stop(self) -> None:
        if not self._started:
            return
        self._started = False
        if self._capture_stream is not None and self._capture_ring is not None:
            self._registry.detach(self._capture_stream, self._capture_ring)
            self._capture_ring.clear()
        if self._playback_stream is not None and self._playback_ring is not None:
            self._registry.detach(self._playback_stream, self._playback_ring)
            self._playback_ring.clear()
        self._capture_stream = None
        self._playback_stream = None

    def read_frame(self) -> Frame | None:
        if not self._started or self._capture_ring is None:
            return None
        return self._capture_ring.pop()

    def frame_ready(self) -> bool:
        return self._started and self._capture_ring is not None and self._capture_ring.ready

    def write_frame(self, frame: Frame) -> None:
        """Queue a frame; frames queued before `start()` play first (a prefill)."""
        if self._playback_ring is not None:
            self._playback_ring.push(checked_frame(frame, self._frame_samples))

    def wait_running(self, timeout: float) -> bool:
        """Block the calling thread (never the media thread) until every direction runs (a
        device that captures and plays is one stream: see registry.py)."""
        streams = [s for s in (self._capture_stream, self._playback_stream) if s is not None]
        return self._registry.wait_for(
            lambda: all(s.state is DeviceState.RUNNING for s in streams), timeout
        )

    def status(self) -> AudioStatus:
        # One device stream serves both directions when they name the same device: count it once.
        streams = list(
            {
                id(s): s for s in (self._capture_stream, self._playback_stream) if s is not None
            }.values()
        )
        state = DeviceState.STOPPED
        if streams:
            state = max((s.state for s in streams), key=_SEVERITY.__getitem__)
        errors = [
            s.last_error for s in streams if s.last_error and s.state is not DeviceState.RUNNING
        ]
        cap, play = self._capture_ring, self._playback_ring
        return AudioStatus(
            backend="alsa",
            device=self._describe(),
            state=state,
            capture_fill=cap.fill if cap else 0,
            playback_fill=play.fill if play else 0,
            capture_dropped=cap.dropped if cap else 0,
            playback_dropped=play.dropped if play else 0,
            capture_underruns=cap.underruns if cap else 0,
            playback_underruns=play.underruns if play else 0,
            xruns=sum(s.xruns for s in streams),
            reopens=sum(s.reopens for s in streams),
            capture_rate=self._rate(self._capture_stream, Direction.CAPTURE),
            playback_rate=self._rate(self._playback_stream, Direction.PLAYBACK),
            last_error=errors[0] if errors else None,
        )

    @staticmethod
    def _rate(stream: DeviceStream | None, direction: Direction) -> int | None:
        return stream.rates.get(direction) if stream is not None else None

    def _describe(self) -> str:
        parts = []
        for direction, ring, spec, stream in (
            (Direction.CAPTURE, self._capture_ring, self._capture_spec, self._capture_stream),
            (Direction.PLAYBACK, self._playback_ring, self._playback_spec, self._playback_stream),
        ):
            if ring is None:
                continue
            name = stream.device_names.get(direction) if stream else None
            parts.append(f"{direction.value}: {name or describe(spec)}")
        return ", ".join(parts)
