"""One call's voice processing: speaker volume, microphone gain, echo cancellation, noise
suppression and automatic gain, between the audio port and the codec.

Two engines, chosen by measurement (benchmarks/bench_echo.py; figures in the README): WebRTC's
audio processing module (AEC3, its noise suppressor and gain controller) through livekit's
wheel, which reached 57 dB of echo reduction with 100 ppm clock drift where speex's MDF
canceller reached 13-19 dB, and libspeexdsp from Debian, used where livekit has no wheel
(32-bit Pi OS) or when `engine="speex"` is asked for. Both are loaded only when a call makes a
processor with a feature on (issue 19: a lean idle process; livekit adds about 28 MB and a few
threads, speex about 6 MB).

The media thread calls `played()` with every frame it hands to the speaker and `captured()` with
every frame the microphone gave, once per 20 ms tick. The echo canceller needs the far-end
reference *as it is heard*, so the reference is the frame after the speaker volume. Its
alignment is a constant (`echo_delay_ms`, what `doctor --audio` measured; 0 by default), never
the ring buffers' instantaneous fill: fills jitter by a frame or two as a sound server delivers
in bursts while the echo's real delay does not, and following them cost 30-60 dB of reduction
through PulseAudio (tests/audio/test_alsa.py's path: WebRTC's AEC3 unaligned removed about
70 dB there, aligned by the fills 12-33 dB). AEC3 finds the delay itself; speex's filter must
span delay + tail (`echo_tail_ms`), so with speex set `echo_delay_ms` from `doctor --audio`.

State is per call (a new `VoiceProcessor` for every call), so a call never starts with a filter
adapted to a previous call's room or a noise estimate of last night's street. The native
library is loaded only when a processor with a native feature is made.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass
from typing import Any, Protocol

from endpoint.audio.port import AudioError
from endpoint.media.frame import Frame, silence
from endpoint.media.pcm_ops import gain

#: Frames of reference history kept; bounds the alignment delay (1.28 s at 20 ms).
MAX_REFERENCE_FRAMES = 64


@dataclass(frozen=True, slots=True)
class ProcessingSettings:
    """The `[audio]` keys that shape processing; gains are in dB (0 = unchanged)."""

    echo_cancellation: bool = False
    noise_suppression: bool = False
    auto_gain: bool = False
    speaker_volume_db: float = 0.0
    mic_gain_db: float = 0.0
    #: Echo the adaptive filter can model after the buffer alignment (device latency + room).
    echo_tail_ms: int = 200
    #: The preprocessor's residual echo suppressor after the linear canceller.
    echo_suppression: bool = True
    #: Extra fixed delay of the echo path (what `doctor --audio` measured beyond the buffers).
    echo_delay_ms: int = 0
    #: "webrtc", "speex", or "auto" (webrtc where livekit is installed, else speex).
    engine: str = "auto"

    @property
    def native(self) -> bool:
        """True when a feature needs libspeexdsp."""
        return self.echo_cancellation or self.noise_suppression or self.auto_gain


def _gain(frame: Frame, factor: float) -> Frame:
    return frame if factor == 1.0 else gain(frame, factor)


def db_to_factor(db: float) -> float:
    return float(10.0 ** (db / 20.0))


class Engine(Protocol):
    """A native processing chain fed one frame of what was played and one of what was heard."""

    #: Samples by which the engine delays the microphone signal.
    latency: int

    def process(self, captured: Frame, played: Frame) -> Frame: ...


class SpeexEngine:
    """libspeexdsp: MDF canceller, then the preprocessor (residual echo, noise, gain)."""

    def __init__(self, settings: ProcessingSettings, rate: int, frame: int) -> None:
        from endpoint.audio.speexdsp import EchoCanceller, Preprocessor

        self._echo = (
            EchoCanceller(frame, rate, settings.echo_tail_ms)
            if settings.echo_cancellation
            else None
        )
        suppress = settings.echo_cancellation and settings.echo_suppression
        self._pre = (
            Preprocessor(
                frame,
                rate,
                denoise=settings.noise_suppression,
                agc=settings.auto_gain,
                echo=self._echo if suppress else None,
            )
            if settings.noise_suppression or settings.auto_gain or suppress
            else None
        )
        # speex's preprocessor works on overlapping windows: its output lags by one frame.
        self.latency = frame if self._pre is not None else 0

    def process(self, captured: Frame, played: Frame) -> Frame:
        out = captured
        if self._echo is not None:
            out = self._echo.process(out, played)
        if self._pre is not None:
            out = self._pre.process(out)
        return out


class WebRtcEngine:
    """WebRTC's audio processing module (through livekit): 10 ms frames, in place."""

    def __init__(self, settings: ProcessingSettings, rate: int, frame: int) -> None:
        rtc = _livekit()
        if rtc is None:
            raise AudioError(
                "the webrtc audio engine needs the livekit package (pip install livekit); "
                'set [audio] engine = "speex" to use libspeexdsp instead'
            )
        self._rtc = rtc
        self._apm = rtc.AudioProcessingModule(
            echo_cancellation=settings.echo_cancellation,
            noise_suppression=settings.noise_suppression,
            high_pass_filter=settings.native,
            auto_gain_control=settings.auto_gain,
        )
        self._aec = settings.echo_cancellation
        self._rate = rate
        self._half = frame // 2
        self.latency = 0

    def process(self, captured: Frame, played: Frame) -> Frame:
        rtc, half, rate = self._rtc, self._half, self._rate
        out = []
        for k in range(2):
            part = slice(2 * k * half, 2 * (k + 1) * half)  # bytes: two per sample
            if self._aec:
                reverse = rtc.AudioFrame(played[part], rate, 1, half)
                self._apm.process_reverse_stream(reverse)
                # The reference is aligned by the caller; AEC3 estimates what remains itself.
                self._apm.set_stream_delay_ms(0)
            near = rtc.AudioFrame(captured[part], rate, 1, half)
            self._apm.process_stream(near)
            out.append(bytes(near.data))
        return b"".join(out)


def _livekit() -> Any:
    try:
        from livekit import rtc
    except ImportError:
        return None
    return rtc


def make_engine(settings: ProcessingSettings, rate: int, frame: int) -> Engine:
    """The engine ``settings.engine`` names ("auto": webrtc where it is installed)."""
    name = settings.engine
    if name == "auto":
        name = "webrtc" if _livekit() is not None else "speex"
    if name == "webrtc":
        return WebRtcEngine(settings, rate, frame)
    if name == "speex":
        return SpeexEngine(settings, rate, frame)
    raise AudioError(f'unknown audio processing engine {name!r}: use "webrtc", "speex" or "auto"')


class VoiceProcessor:
    """Per-call processing state; every method runs in the media thread."""

    def __init__(self, settings: ProcessingSettings, rate: int = 8000, frame: int = 160) -> None:
        self.settings = settings
        self.rate = rate
        self.frame = frame
        self._speaker = db_to_factor(settings.speaker_volume_db)
        self._mic = db_to_factor(settings.mic_gain_db)
        self._history: collections.deque[Frame] = collections.deque(maxlen=MAX_REFERENCE_FRAMES)
        self._silence = silence(frame)
        self._fixed_frames = (settings.echo_delay_ms * rate // 1000) // frame
        self._engine = make_engine(settings, rate, frame) if settings.native else None
        #: Samples the processing delays the microphone by.
        self.latency = 0 if self._engine is None else self._engine.latency

    @property
    def native(self) -> bool:
        """True when a native engine runs (hundreds of microseconds a frame), not gains only."""
        return self._engine is not None

    def set_speaker_volume(self, db: float) -> None:
        """Change the speaker volume during a call (`ctl volume`)."""
        self._speaker = db_to_factor(db)

    def set_mic_gain(self, db: float) -> None:
        self._mic = db_to_factor(db)

    def played(self, frame: Frame) -> Frame:
        """Return ``frame`` at the speaker volume, remembered as the echo reference."""
        out = _gain(frame, self._speaker)
        if self.settings.echo_cancellation:
            self._history.append(out)
        return out

    def captured(self, frame: Frame) -> Frame:
        """Return the microphone frame processed (echo of what `played()` saw removed)."""
        out = _gain(frame, self._mic)
        if self._engine is not None:
            out = self._engine.process(out, self._reference())
        return out

    def _reference(self) -> Frame:
        if not self.settings.echo_cancellation:
            return self._silence
        delay = min(self._fixed_frames, MAX_REFERENCE_FRAMES - 1)
        index = len(self._history) - 1 - delay
        return self._history[index] if index >= 0 else self._silence
