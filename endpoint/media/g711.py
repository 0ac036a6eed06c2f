"""G.711 µ-law and A-law (ITU-T G.711) through ``audioop``, C code with no tables to build.

``audioop`` is the standard library's on Python 3.11 and 3.12; Python 3.13 removed it, and the
``audioop-lts`` backport (the same C source, a pinned dependency there) provides the module under
the same name. Its laws are Sun's g711.c, the standard's segment rules: tests/media/test_g711.py
checks all 65536 inputs and all 256 codes against a scalar reference. A 20 ms frame costs about
a microsecond each way, half the numpy lookup's (benchmarks/bench_g711.py), no 65536-entry
table is computed at import, and frames stay bytes from the socket to the device (issue 19).
"""

from __future__ import annotations

from endpoint.media.frame import Frame
from endpoint.media.pcm_ops import WIDTH as _WIDTH
from endpoint.media.pcm_ops import audioop

#: The code of digital silence (a decoded 0): µ-law 0xFF, A-law 0xD5.
ULAW_SILENCE = 0xFF
ALAW_SILENCE = 0xD5


def ulaw_encode(pcm: Frame) -> bytes:
    return audioop.lin2ulaw(pcm, _WIDTH)


def ulaw_decode(data: bytes) -> Frame:
    return audioop.ulaw2lin(data, _WIDTH)


def alaw_encode(pcm: Frame) -> bytes:
    return audioop.lin2alaw(pcm, _WIDTH)


def alaw_decode(data: bytes) -> Frame:
    return audioop.alaw2lin(data, _WIDTH)


#: RTP payload type (RFC 3551) -> (encoder, decoder).
CODECS = {0: (ulaw_encode, ulaw_decode), 8: (alaw_encode, alaw_decode)}
