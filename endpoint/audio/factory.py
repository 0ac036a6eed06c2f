"""`open_audio()`: the one place that maps a backend name and options to an `AudioPort`.

The keyword names are those of `[audio]` in the configuration (`AudioSettings`), so the runtime
can pass the settings through. `role="alert"` opens the port that plays ringback and alert tones:
on ALSA it plays to `alert_device`, or else shares (and mixes into) the call's playback device;
the other backends have nowhere separate to play it, so alerts go to a null port.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

from endpoint.audio.devices import DeviceSpec
from endpoint.audio.null import NullPort
from endpoint.audio.port import AudioError, AudioPort
from endpoint.audio.tone import TonePort
from endpoint.audio.wavfile import FilePort
from endpoint.media.frame import FRAME_SAMPLES, SAMPLE_RATE

if TYPE_CHECKING:
    from endpoint.audio.registry import DeviceRegistry

BACKENDS = ("alsa", "file", "tone", "null")

PortRole = Literal["call", "alert"]


def open_audio(
    backend: str,
    *,
    capture_device: DeviceSpec = None,
    playback_device: DeviceSpec = None,
    alert_device: DeviceSpec = None,
    input_file: Path | None = None,
    output_file: Path | None = None,
    tone_hz: float = 440.0,
    role: PortRole = "call",
    loop: bool = True,
    frame_samples: int = FRAME_SAMPLES,
    registry: DeviceRegistry | None = None,
    rate: int = SAMPLE_RATE,
    duplex: bool = False,
) -> AudioPort:
    """Create (not start) the port for `backend`; raises AudioError for a bad choice or file.

    `rate` is the call's audio rate (16 kHz for G.722), with `frame_samples` the 20 ms at it;
    the ALSA port opens its devices at that rate where they support it."""
    if backend not in BACKENDS:
        raise AudioError(f"unknown audio backend {backend!r}; use one of {', '.join(BACKENDS)}")
    if backend != "alsa":
        return _open_other(
            backend,
            role,
            input_file=input_file,
            output_file=output_file,
            tone_hz=tone_hz,
            loop=loop,
            frame_samples=frame_samples,
            rate=rate,
        )
    # Imported here: PyAudio (PortAudio) and the resampler serve the alsa backend alone.
    from endpoint.audio.alsa import AlsaPort

    if role == "alert":
        device = alert_device if alert_device is not None else playback_device
        return AlsaPort(
            playback_device=device,
            capture=False,
            registry=registry,
            frame_samples=frame_samples,
            duplex=duplex,
        )
    return AlsaPort(
        capture_device,
        playback_device,
        registry=registry,
        frame_samples=frame_samples,
        rate=rate,
        duplex=duplex,
    )


def _open_other(
    backend: str,
    role: PortRole,
    *,
    input_file: Path | None,
    output_file: Path | None,
    tone_hz: float,
    loop: bool,
    frame_samples: int,
    rate: int,
) -> AudioPort:
    """The ports without a sound card; an alert has nothing to play on without one."""
    if role == "alert":
        return NullPort(frame_samples)
    if backend == "file":
        if input_file is None and output_file is None:
            raise AudioError("the file backend needs an input_file and/or an output_file")
        return FilePort(input_file, output_file, loop=loop, frame_samples=frame_samples, rate=rate)
    if backend == "tone":
        try:
            return TonePort(tone_hz, frame_samples=frame_samples, rate=rate)
        except ValueError as exc:
            raise AudioError(str(exc)) from exc
    return NullPort(frame_samples)
