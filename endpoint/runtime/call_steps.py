"""One call on the media thread: its state, and the steps both ticks take for it.

The generic tick (``endpoint.runtime.media_loop``) and the fused one
(``endpoint.runtime.fused_tick``) run the same per-call steps: the microphone's frame (through
a voice processor), the speaker's, whether the next frame is there yet, which socket a timer's
packet leaves from. They live here, beside the call's state, so that both tick modules import
them and neither imports the other's module for them.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING

from endpoint.audio import AudioPort
from endpoint.audio.processing import VoiceProcessor
from endpoint.audio.rate_bridge import RateBridge
from endpoint.media.frame import SAMPLE_RATE, Frame
from endpoint.media.pcm_ops import WIDTH, audioop
from endpoint.media.rtcp import is_rtcp
from endpoint.media.stream import Datagram, MediaEvent, MediaStream
from endpoint.runtime.rtp_transport import Address, RtpSockets

if TYPE_CHECKING:
    from endpoint.media.dtls import DtlsSrtp


@dataclass
class CallMedia:
    call_id: str
    stream: MediaStream
    sockets: RtpSockets
    port: AudioPort
    #: An alert being mixed into what the peer hears (the call-length warning), and where.
    alert: Frame | None = None
    alert_at: int = 0
    #: The DTLS-SRTP handshake of the call (RFC 5764), run here on its RTP socket; the stream
    #: holds ``AwaitingKeys`` until it is done.
    dtls: DtlsSrtp | None = None
    #: Without rtcp-mux, the RTCP component's own handshake on the RTCP socket (RFC 5764 §4.1).
    dtls_rtcp: DtlsSrtp | None = None
    #: Every handshake done and its keys in use: DTLS is looked at again only if a record comes.
    dtls_settled: bool = False
    #: A DTLS record came in this tick: the handshake is driven in this tick's ``_tick``.
    dtls_in: bool = False
    #: Hands-free processing (volume, gain, echo/noise); None leaves the audio untouched.
    processor: VoiceProcessor | None = None
    #: With a processor: the microphone frame processed last tick, sent at this tick's start.
    processed: Frame | None = None
    #: The audio rate the port (and processor) were opened at: the first codec's.
    port_rate: int = SAMPLE_RATE
    #: After a re-INVITE changed the codec's rate: port -> stream and stream -> port.
    bridges: tuple[RateBridge, RateBridge] | None = None
    #: The peer the RTP socket was already connected to when a tick's receive emptied every
    #: socket: from then on only that peer's datagrams are queued on it, so the fused tick
    #: may ``recv()`` without asking the source (datagrams queued before the connect keep
    #: theirs, and the generic tick reads those with ``recvfrom``).
    drained_peer: Address | None = None
    #: The next tick's RTP, made at the end of this tick because its frame was already there
    #: (``frame_ready``): the next tick sends it first thing, so nothing but the send sits
    #: between the wake-up and the packet, SRTP's protect included (issue 15: pacing p99 <
    #: 0.2 ms with SRTP). The same frame at the same instant as without it: a frame that is
    #: not there yet is read at the next tick's start, as always. ``[]``: the frame went into
    #: the stream and made no packet (a longer ptime, a held call).
    prepared: list[Datagram] | None = None


def frame_ready(call: CallMedia) -> bool:
    """Whether ``microphone(call)`` would give a frame now: the processed frame of a native
    processor (made in this tick's ``speaker``), or the port's (it only looks)."""
    processor = call.processor
    if processor is not None and processor.native:
        return call.processed is not None
    return call.port.frame_ready()


def exchange(port: AudioPort, processor: VoiceProcessor, to_play: Frame) -> Frame | None:
    """One tick of a processed call: the microphone against what was played, then play.

    Returns the processed microphone frame, or None when the device had none ready. (The
    reference's alignment is the processor's: a constant, see endpoint.audio.processing.)
    """
    captured = port.read_frame()
    processed = None
    if captured is not None:
        processed = processor.captured(captured)
    port.write_frame(processor.played(to_play))
    return processed


def microphone(call: CallMedia) -> Frame | None:
    """The frame to send this tick, at the port's rate. With a native processor it was read
    and processed in the previous tick's ``speaker`` (the canceller's hundreds of microseconds
    never sit between the wake-up and the send); a gains-only one costs microseconds here."""
    processor = call.processor
    if processor is not None and processor.native:
        frame, call.processed = call.processed, None
        return frame
    frame = call.port.read_frame()
    if frame is not None and processor is not None:
        frame = processor.captured(frame)
    return frame


def speaker(call: CallMedia, frame: Frame) -> None:
    """Hand ``frame`` (at the port's rate) to the speaker; with a native processor, process
    the microphone against it too (sent at the next tick's start)."""
    processor = call.processor
    if processor is None:
        call.port.write_frame(frame)
    elif processor.native:
        call.processed = exchange(call.port, processor, frame)
    else:
        call.port.write_frame(processor.played(frame))


def send_rtp(call: CallMedia, datagrams: list[Datagram]) -> None:
    """The stream's RTP datagrams out of the call's RTP socket; an empty one is none (no keys
    yet: a DTLS-SRTP handshake under way)."""
    sockets = call.sockets
    for data, destination in datagrams:
        if data:
            sockets.send(sockets.rtp, data, destination)


def at_rate(samples: Frame, rate: int) -> Frame:
    """8 kHz alert samples at a call's audio rate (audioop's interpolating rate conversion: a
    beep needs no more, and it runs once per alert, not per frame)."""
    if rate == SAMPLE_RATE:
        return samples
    out: Frame = audioop.ratecv(samples, WIDTH, 1, SAMPLE_RATE, rate, None)[0]
    return out


def timer_socket(sockets: RtpSockets, data: bytes) -> socket.socket:
    """The socket a stream's timer output leaves from: RTCP from the RTCP port, but the RTP
    keep-alives of a held call (RFC 6263) from the RTP port, since that port's NAT mapping is
    the one they keep (from the RTCP port they kept only that port's, and the router dropped
    the RTP mapping mid-hold: tests/interop/test_nat_stun.py caught it). The packet type tells
    them apart (RFC 5761 §4); SRTP leaves that header byte in clear."""
    if sockets.rtcp is not None and is_rtcp(data):
        return sockets.rtcp
    return sockets.rtp


def switch_codec(call: CallMedia, name: str, payload_type: int) -> None:
    """Change the stream's codec; bridge rates when it no longer matches the port's."""
    call.stream.set_codec(name, payload_type)
    rate = call.stream.codec.audio_rate
    if rate == call.port_rate:
        call.bridges = None
    elif call.bridges is None or call.bridges[0].out_samples != rate // 50:
        call.bridges = (RateBridge(call.port_rate, rate), RateBridge(rate, call.port_rate))
    call.alert = None  # sampled for the old rate


@dataclass(frozen=True, slots=True)
class CallFailed:
    """A call's media hit an internal error and was ended."""

    reason: str


LoopEvent = tuple[str, MediaEvent | CallFailed]
