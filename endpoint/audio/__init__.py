"""Audio device adapters (ALSA through PyAudio, WAV files, tones, null) behind one Protocol.

The media runtime uses `open_audio()` and the `AudioPort` it returns; `list_devices()` is for
the `doctor` command.
"""

from endpoint.audio.devices import DeviceInfo
from endpoint.audio.factory import BACKENDS, open_audio
from endpoint.audio.port import AudioError, AudioPort, AudioStatus, DeviceState
from endpoint.audio.registry import list_devices

__all__ = [
    "BACKENDS",
    "AudioError",
    "AudioPort",
    "AudioStatus",
    "DeviceInfo",
    "DeviceState",
    "list_devices",
    "open_audio",
]
