"""G.722 (ITU-T G.722, 64 kbit/s sub-band ADPCM): 16 kHz audio in 8 kHz-clocked RTP.

The codec is the ``G722`` package (sippy/libg722: Steve Underwood's bit-exact implementation
that passes the ITU test vectors, with manylinux wheels for x86_64 and aarch64 on 3.11 and
3.13), not a hand-written ADPCM. G.722 is stateful: its predictors adapt with every sample,
so each call (and each codec change at a re-INVITE) gets a fresh encoder and decoder, and the
two directions never share one.

The binding takes any int16 buffer (a frame's bytes seen through ``memoryview.cast("h")``, no
copy) and returns an ``array('h')``: no numpy on a G.722 call either (issue 19). The package
is imported with the first G.722 call, not at start.

RFC 3551 §4.5.2 keeps the RTP clock at 8000 Hz for G.722 although the audio is sampled at
16000 Hz: a 20 ms packet carries 320 samples in 160 octets and advances the timestamp by 160.
"""

from __future__ import annotations

from typing import Any

from endpoint.media.frame import Frame

PAYLOAD_TYPE = 9
AUDIO_RATE = 16000
#: RFC 3551's quirk: the RTP timestamp (and the SDP rtpmap) run at 8000 Hz.
CLOCK_RATE = 8000
BIT_RATE = 64000


def _codec() -> Any:
    """A fresh codec state; the package loads with the first G.722 call."""
    import G722

    return G722.G722(AUDIO_RATE, BIT_RATE)


class G722Encoder:
    """One direction's encoder: PCM at 16 kHz in, 8 bits per two samples out."""

    __slots__ = ("_codec",)

    def __init__(self) -> None:
        self._codec = _codec()

    def __call__(self, pcm: Frame) -> bytes:
        # Whole samples only: the binding reads the buffer as int16.
        samples = memoryview(pcm[: len(pcm) - len(pcm) % 2]).cast("h")
        return bytes(self._codec.encode(samples))


class G722Decoder:
    """One direction's decoder: each octet gives two 16 kHz samples."""

    __slots__ = ("_codec",)

    def __init__(self) -> None:
        self._codec = _codec()

    def __call__(self, payload: bytes) -> Frame:
        return bytes(self._codec.decode(payload).tobytes())
