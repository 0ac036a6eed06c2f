"""What a call's media needs from the runtime: its stream settings, SRTP, audio device and voice
processing, made when a call starts.

The engine imports this (and through it the media engine, the audio adapters and the media
thread) at its first call, not at start (issue 19): an idle door box never loads them. The
first call pays the import before its answer leaves; every later call finds it loaded.
"""

from __future__ import annotations

import functools
import logging
import time

from endpoint.audio import AudioPort, echo_state, open_audio
from endpoint.audio.processing import ProcessingSettings, VoiceProcessor
from endpoint.audio.tone import beeps
from endpoint.config import Config
from endpoint.media.dtls_gate import AwaitingKeys
from endpoint.media.frame import SAMPLE_RATE, Frame
from endpoint.media.stream import PacketProtection, StreamConfig
from endpoint.sip.offer_answer import NegotiatedMedia

log = logging.getLogger("endpoint")


@functools.cache
def warning_tone() -> Frame:
    """The call-length warning the peer hears: three 200 ms beeps at 1 kHz. Made at the first
    warning rather than at import: most starts never play it (issue 19)."""
    return beeps(1000.0, 0.4, (0.2, 0.2), 1.0)


def stream_config(m: NegotiatedMedia, config: Config, cname: str) -> StreamConfig:
    """The media engine's settings for a negotiated call under ``[media]``."""
    return StreamConfig(
        (m.remote_address, m.remote_port),
        (m.remote_address, m.remote_rtcp_port),
        payload_type=m.payload_type,
        codec=m.codec,
        codec_fmtp=m.fmtp,
        telephone_event_pt=m.telephone_event_pt,
        inband_dtmf=config.media.inband_dtmf == "always"
        or (config.media.inband_dtmf == "auto" and m.telephone_event_pt is None),
        ptime_ms=m.ptime,
        rtcp_mux=m.rtcp_mux,
        cname=cname,
        jitter_min_ms=config.media.jitter_min_ms,
        jitter_max_ms=config.media.jitter_max_ms,
        direction=m.direction,
        wallclock_offset=time.time() - time.monotonic(),
        rtp_timeout_s=config.media.rtp_timeout,
        keepalive_s=config.nat.keepalive_s,
    )


def protection_for(m: NegotiatedMedia) -> PacketProtection | None:
    """SRTP for the call when its offer/answer agreed on keys, else None (plain RTP); for
    DTLS-SRTP nothing passes until the handshake on the media thread has keyed it."""
    if m.dtls is not None:
        return AwaitingKeys()
    if m.srtp is None:
        return None
    # Here, not at the top: pylibsrtp is loaded by the first encrypted call only.
    from endpoint.media.srtp import SrtpProtection

    return SrtpProtection(m.srtp.suite, m.srtp.local, m.srtp.remote)


def voice_processor(
    config: Config,
    speaker_db: float | None = None,
    mic_db: float | None = None,
    rate: int = SAMPLE_RATE,
) -> VoiceProcessor:
    """A new call's processing state (issue 17): gains always (so `ctl volume` can change
    them), the native engine only when a feature is on.

    Made per call, so every call starts with a fresh canceller and noise estimate, at the
    call's audio rate (16 kHz in a G.722 call: both engines support it).
    """
    audio = config.audio
    settings = ProcessingSettings(
        echo_cancellation=audio.echo_cancellation,
        noise_suppression=audio.noise_suppression,
        auto_gain=audio.auto_gain,
        speaker_volume_db=audio.speaker_volume if speaker_db is None else speaker_db,
        mic_gain_db=audio.mic_gain if mic_db is None else mic_db,
        engine=audio.processing_engine,
        echo_delay_ms=echo_delay(config),
    )
    return VoiceProcessor(settings, rate, rate // 50)


def echo_delay(config: Config) -> int:
    """``[audio] echo_delay_ms``, else what ``doctor --audio`` measured (issue 17), else 0;
    a measured value is logged, as the one number behind the canceller nobody configured."""
    audio = config.audio
    if audio.echo_delay_ms is not None:
        return audio.echo_delay_ms
    measured = echo_state.load(echo_state.state_file())
    if measured is None:
        return 0
    if audio.echo_cancellation:
        log.info("%s", measured.describe())
    return measured.delay_ms


def open_configured_audio(config: Config, rate: int = SAMPLE_RATE) -> AudioPort:
    """The ``[audio]`` device, opened and started for one call at its audio ``rate``."""
    a = config.audio
    port = open_audio(
        a.backend,
        capture_device=a.capture_device,
        playback_device=a.playback_device,
        alert_device=a.alert_device,
        input_file=a.input_file,
        output_file=a.output_file,
        tone_hz=a.tone_hz,
        rate=rate,
        frame_samples=rate // 50,
        duplex=a.duplex,
    )
    port.start()
    return port
