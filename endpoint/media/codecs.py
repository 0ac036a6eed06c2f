"""The audio codecs a call can use, by RTP payload type: name, rates and fresh per-call state.

A codec's audio rate (the samples the devices, the processing and the jitter buffer see) and
its RTP clock rate (the timestamps and the SDP) differ for G.722 (RFC 3551 §4.5.2), so the
stream takes both from here instead of assuming 8 kHz. ``make`` returns a new encoder and
decoder for every call: G.711 is stateless, G.722 and Opus are not.

Opus (RFC 7587) has no static payload type: the number is the one the SDP's rtpmap gave it,
so the stream finds its codec by the negotiated name (``by_name``); ``codec_for`` knows only
the static types of RFC 3551. Its RTP clock is 48 kHz while our audio runs at 16 kHz.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from endpoint.media import g711
from endpoint.media.frame import Frame

Encoder = Callable[[Frame], bytes]
Decoder = Callable[[bytes], Frame]


@runtime_checkable
class FollowsPeer(Protocol):
    """An encoder that adapts to the peer's ``a=fmtp`` for its payload type (Opus)."""

    def follow(self, fmtp: str | None) -> None: ...


@runtime_checkable
class RecoversLoss(Protocol):
    """A decoder that can rebuild a lost packet from the one after it (Opus in-band FEC)."""

    def recover(self, payload: bytes) -> Frame: ...


@dataclass(frozen=True, slots=True)
class Codec:
    name: str
    payload_type: int
    #: Samples per second of the PCM the call's audio path carries.
    audio_rate: int
    #: Ticks per second of the RTP timestamp (and the rate in ``a=rtpmap``).
    clock_rate: int
    make: Callable[[], tuple[Encoder, Decoder]]

    def frame_samples(self, ms: int = 20) -> int:
        """PCM samples in ``ms`` of audio."""
        return self.audio_rate * ms // 1000

    def clock_ticks(self, ms: int = 20) -> int:
        """RTP timestamp advance for ``ms`` of audio."""
        return self.clock_rate * ms // 1000


def _g711(encode: Encoder, decode: Decoder) -> Callable[[], tuple[Encoder, Decoder]]:
    return lambda: (encode, decode)


def _g722() -> tuple[Encoder, Decoder]:
    # Imported on first use: the native module loads only when a call negotiated G.722.
    from endpoint.media.g722 import G722Decoder, G722Encoder

    return G722Encoder(), G722Decoder()


def _opus() -> tuple[Encoder, Decoder]:
    # Imported on first use: libopus loads only when a call negotiated Opus (issue 19).
    from endpoint.media.opus import OpusDecoder, OpusEncoder

    return OpusEncoder(), OpusDecoder()


PCMU = Codec("PCMU", 0, 8000, 8000, _g711(g711.ulaw_encode, g711.ulaw_decode))
PCMA = Codec("PCMA", 8, 8000, 8000, _g711(g711.alaw_encode, g711.alaw_decode))
G722 = Codec("G722", 9, 16000, 8000, _g722)
#: 111 is only what we offer; an answer or a peer's offer may number it otherwise.
OPUS = Codec("OPUS", 111, 16000, 48000, _opus)

BY_PAYLOAD_TYPE: dict[int, Codec] = {c.payload_type: c for c in (PCMU, PCMA, G722)}
BY_NAME: dict[str, Codec] = {c.name: c for c in (PCMU, PCMA, G722, OPUS)}


def codec_for(payload_type: int) -> Codec:
    """The codec of a static payload type; ValueError for one we do not implement."""
    codec = BY_PAYLOAD_TYPE.get(payload_type)
    if codec is None:
        raise ValueError(f"unsupported payload type {payload_type}")
    return codec


def by_name(name: str) -> Codec:
    """The codec an SDP rtpmap names; ValueError for one we do not implement."""
    codec = BY_NAME.get(name.upper())
    if codec is None:
        raise ValueError(f"unsupported codec {name!r}")
    return codec
