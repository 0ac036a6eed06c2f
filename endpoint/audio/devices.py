"""Finding a sound device by name or index, and choosing the rate and channel count to open it.

Names come from PortAudio's ALSA host API (e.g. "USB Audio Device: - (hw:1,0)", "pulse",
"default"). A configured name matches case-insensitively as a substring, because the card part
is stable across reboots and replugs while the index may not be. Choosing is pure: it works on a
list of `DeviceInfo` and a `supports(rate, channels)` predicate, so it is tested without
PortAudio; `list_devices()` is the thin part that asks PortAudio.
"""

import enum
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from endpoint.audio.port import AudioError
from endpoint.media.frame import SAMPLE_RATE

PREFERRED_RATES: tuple[int, ...] = (SAMPLE_RATE, 48000, 44100, 16000, 32000, 96000, 22050)
"""Rates tried in order: 8 kHz needs no resampling; 48 kHz and 44.1 kHz are what USB cards
and codecs nearly always support; the rest are fallbacks before the device's default rate."""

DeviceSpec = str | int | None
"""How configuration names a device: a name substring, a PortAudio index, or None (default)."""


class Direction(enum.Enum):
    CAPTURE = "capture"
    PLAYBACK = "playback"


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """One PortAudio device as `list_devices()` reports it (for `doctor` and for matching)."""

    index: int
    name: str
    max_input_channels: int
    max_output_channels: int
    default_rate: float
    is_default_input: bool = False
    is_default_output: bool = False

    def channels(self, direction: Direction) -> int:
        if direction is Direction.CAPTURE:
            return self.max_input_channels
        return self.max_output_channels


def describe(spec: DeviceSpec) -> str:
    """How a configured device appears in log lines."""
    if spec is None:
        return "default"
    if isinstance(spec, int):
        return f"#{spec}"
    return repr(spec)


def find_device(
    devices: Sequence[DeviceInfo], spec: DeviceSpec, direction: Direction
) -> DeviceInfo:
    """Pick the device `spec` names among those that can `direction`.

    An exact (case-insensitive) name wins over a substring match; among several substring
    matches the lowest index wins, which is the first card ALSA enumerated.
    """
    usable = [d for d in devices if d.channels(direction) > 0]
    if spec is None:
        for device in usable:
            if (direction is Direction.CAPTURE and device.is_default_input) or (
                direction is Direction.PLAYBACK and device.is_default_output
            ):
                return device
        named_default = [d for d in usable if d.name.lower() == "default"]
        if named_default:
            return named_default[0]
        raise AudioError(f"no default {direction.value} device")
    if isinstance(spec, int):
        for device in usable:
            if device.index == spec:
                return device
        raise AudioError(f"no {direction.value} device with index {spec}")
    wanted = spec.lower()
    exact = [d for d in usable if d.name.lower() == wanted]
    if exact:
        return exact[0]
    partial = [d for d in usable if wanted in d.name.lower()]
    if partial:
        return min(partial, key=lambda d: d.index)
    raise AudioError(f"no {direction.value} device whose name contains {spec!r}")


def choose_format(
    supports: Callable[[int, int], bool],
    max_channels: int,
    default_rate: float,
    rates: Iterable[int] = PREFERRED_RATES,
) -> tuple[int, int]:
    """Return (rate, channels) for opening a device: the first preferred rate it supports.

    Mono is preferred at each rate; a device that refuses mono (many USB cards are stereo-only)
    is opened with 2 channels, then with all of its channels, and the adapter down/up-mixes.
    """
    channel_options = sorted({c for c in (1, 2, max_channels) if 1 <= c <= max_channels})
    candidates = [*rates, round(default_rate)]
    for rate in candidates:
        for channels in channel_options:
            if supports(rate, channels):
                return rate, channels
    raise AudioError(
        f"the device supports none of the rates {candidates} with {channel_options} channels"
    )
