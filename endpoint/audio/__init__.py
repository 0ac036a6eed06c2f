"""Audio device adapters (ALSA through PyAudio, WAV files, tones, null) behind one Protocol.

The media runtime uses `open_audio()` and the `AudioPort` it returns; `registry.list_devices()`
is for the `doctor` command (not imported here: PyAudio loads only for the alsa backend).
"""

from endpoint.audio.devices import DeviceInfo
from endpoint.audio.factory import BACKENDS, open_audio
from endpoint.audio.port import AudioError, AudioPort, AudioStatus, DeviceState

__all__ = [
    "BACKENDS",
    "AudioError",
    "AudioPort",
    "AudioStatus",
    "DeviceInfo",
    "DeviceState",
    "open_audio",
]
