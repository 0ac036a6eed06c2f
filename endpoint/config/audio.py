"""``[audio]``: which audio backend, which ALSA devices, which WAV files or test tone."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from endpoint.config.reader import Document, Section, choice, nonempty_str, number_in, path, show


@dataclass(frozen=True, slots=True)
class AudioSettings:
    backend: str = "alsa"
    capture_device: str | int | None = None
    playback_device: str | int | None = None
    alert_device: str | int | None = None
    input_file: Path | None = None
    output_file: Path | None = None
    tone_hz: float = 440.0


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
        input_file=doc.relative(r.get("input_file", None, path, "a WAV file path")),
        output_file=doc.relative(r.get("output_file", None, path, "a WAV file path")),
        tone_hz=r.get("tone_hz", 440.0, number_in(20, 3900), "Hz between 20 and 3900"),
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
        "input_file",
        "output_file",
        "tone_hz",
    ),
    AudioSettings(),
    read,
)
