"""``[audio]``: which audio backend, which ALSA devices, which WAV files or test tone, and the
hands-free processing (issue 17: echo cancellation, noise suppression, gain, volumes)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from endpoint.config.reader import (
    Document,
    Section,
    boolean,
    choice,
    int_in,
    nonempty_str,
    number_in,
    path,
    show,
)


@dataclass(frozen=True, slots=True)
class AudioSettings:
    """The ``[audio]`` section: which backend and devices carry the door's sound."""

    backend: str = "alsa"
    capture_device: str | int | None = None
    playback_device: str | int | None = None
    alert_device: str | int | None = None
    #: One full-duplex PortAudio stream for a device that captures and plays (registry.py).
    duplex: bool = False
    input_file: Path | None = None
    output_file: Path | None = None
    tone_hz: float = 440.0
    # Hands-free processing (issue 17): on by default for a real sound card (the default
    # backend, `alsa`); `read` turns the defaults off for the file, tone and null backends.
    echo_cancellation: bool = True
    noise_suppression: bool = True
    auto_gain: bool = True
    speaker_volume: float = 0.0
    mic_gain: float = 0.0
    processing_engine: str = "auto"
    #: None: what ``doctor --audio`` measured and kept in the state directory (else 0).
    echo_delay_ms: int | None = None


_DEVICE_FIX = 'an ALSA device name (e.g. "USB Audio") or index (e.g. 1)'


def _device(value: Any) -> str | int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    return nonempty_str(value)


def read(doc: Document) -> AudioSettings:
    r = doc.reader("audio")
    backend = r.get(
        "backend",
        "alsa",
        choice("alsa", "file", "tone", "null"),
        'one of "alsa", "file", "tone", "null"',
    )
    audio = AudioSettings(
        backend=backend,
        capture_device=r.get("capture_device", None, _device, _DEVICE_FIX),
        playback_device=r.get("playback_device", None, _device, _DEVICE_FIX),
        alert_device=r.get("alert_device", None, _device, _DEVICE_FIX),
        duplex=r.get("duplex", False, boolean, "true or false"),
        input_file=doc.relative(r.get("input_file", None, path, "a WAV file path")),
        output_file=doc.relative(r.get("output_file", None, path, "a WAV file path")),
        tone_hz=r.get("tone_hz", 440.0, number_in(20, 3900), "Hz between 20 and 3900"),
        echo_cancellation=r.get("echo_cancellation", backend == "alsa", boolean, "true or false"),
        noise_suppression=r.get("noise_suppression", backend == "alsa", boolean, "true or false"),
        auto_gain=r.get("auto_gain", backend == "alsa", boolean, "true or false"),
        speaker_volume=r.get(
            "speaker_volume", 0.0, number_in(-60, 12), "a level in dB from -60 to 12 (0 = as is)"
        ),
        mic_gain=r.get("mic_gain", 0.0, number_in(-20, 40), "a gain in dB from -20 to 40"),
        processing_engine=r.get(
            "processing_engine",
            "auto",
            choice("auto", "webrtc", "speex"),
            'one of "auto" (webrtc where installed, else speex), "webrtc", "speex"',
        ),
        echo_delay_ms=r.get(
            "echo_delay_ms",
            None,
            int_in(0, 1000),
            "milliseconds from 0 to 1000 (what sip-endpoint doctor --audio measured)",
        ),
    )
    if backend == "file" and audio.input_file is None and audio.output_file is None:
        doc.problems.append(
            '[audio] backend = "file" needs input_file and/or output_file, e.g. '
            'input_file = "greeting.wav"'
        )
    if audio.input_file is not None and backend == "file" and not audio.input_file.is_file():
        doc.problems.append(
            f"[audio] input_file = {show(str(audio.input_file))}: no such file; give the path "
            "of a WAV file"
        )
    return audio


AUDIO = Section(
    "audio",
    (
        "backend",
        "capture_device",
        "playback_device",
        "alert_device",
        "duplex",
        "input_file",
        "output_file",
        "tone_hz",
        "echo_cancellation",
        "noise_suppression",
        "auto_gain",
        "speaker_volume",
        "mic_gain",
        "processing_engine",
        "echo_delay_ms",
    ),
    AudioSettings(),
    read,
)
