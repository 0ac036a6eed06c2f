"""G.711 µ-law and A-law (ITU-T G.711), as numpy lookup tables.

``audioop`` is gone in Python 3.13, and a per-sample Python loop costs ~100 µs per 20 ms frame.
The whole codec is two tables per law: 65536 entries for encoding (indexed by the int16 sample's
bit pattern) and 256 for decoding, computed once at import from the standard's segment rules.
A frame then costs one numpy ``take`` each way, a microsecond or two.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from endpoint.media.frame import Frame

_ALL = np.arange(-32768, 32768, dtype=np.int32)  # every int16 value, in order


def _ulaw_encode_table() -> npt.NDArray[np.uint8]:
    # 14-bit magnitude, bias 33, segments end at 2**(k+6)-1 (G.711 Table 2a).
    p = _ALL >> 2
    negative = p < 0
    magnitude = np.minimum(np.where(negative, -p, p), 8159) + 0x21
    ends = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF], dtype=np.int32)
    segment = np.searchsorted(ends, magnitude, side="left")
    code = (np.minimum(segment, 7) << 4) | ((magnitude >> (np.minimum(segment, 7) + 1)) & 0xF)
    code = np.where(segment >= 8, 0x7F, code)
    mask = np.where(negative, 0x7F, 0xFF)
    return _by_bit_pattern((code ^ mask).astype(np.uint8))


def _alaw_encode_table() -> npt.NDArray[np.uint8]:
    # 13-bit magnitude, segments end at 2**(k+5)-1 (G.711 Table 1a), even bits inverted.
    p = _ALL >> 3
    negative = p < 0
    magnitude = np.where(negative, -p - 1, p)
    ends = np.array([0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF], dtype=np.int32)
    segment = np.searchsorted(ends, magnitude, side="left")
    seg = np.minimum(segment, 7)
    shift = np.where(seg < 2, 1, seg)
    code = (seg << 4) | ((magnitude >> shift) & 0xF)
    code = np.where(segment >= 8, 0x7F, code)
    mask = np.where(negative, 0x55, 0xD5)
    return _by_bit_pattern((code ^ mask).astype(np.uint8))


def _by_bit_pattern(table: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """Reorder a table indexed from -32768 so that it is indexed by ``int16.view(uint16)``."""
    return np.concatenate([table[32768:], table[:32768]])


def _ulaw_decode_table() -> npt.NDArray[np.int16]:
    u = ~np.arange(256, dtype=np.int32) & 0xFF
    t = (((u & 0x0F) << 3) + 0x84) << ((u & 0x70) >> 4)
    return np.where(u & 0x80, 0x84 - t, t - 0x84).astype(np.int16)


def _alaw_decode_table() -> npt.NDArray[np.int16]:
    a = np.arange(256, dtype=np.int32) ^ 0x55
    t = (a & 0x0F) << 4
    seg = (a & 0x70) >> 4
    t = np.where(seg == 0, t + 8, t + 0x108)
    t = np.where(seg > 1, t << np.maximum(seg - 1, 0), t)
    return np.where(a & 0x80, t, -t).astype(np.int16)


ULAW_ENCODE = _ulaw_encode_table()
ALAW_ENCODE = _alaw_encode_table()
ULAW_DECODE = _ulaw_decode_table()
ALAW_DECODE = _alaw_decode_table()
#: The code of digital silence (a decoded 0): µ-law 0xFF, A-law 0xD5.
ULAW_SILENCE = 0xFF
ALAW_SILENCE = 0xD5


def ulaw_encode(pcm: Frame) -> bytes:
    return ULAW_ENCODE.take(np.asarray(pcm, dtype=np.int16).view(np.uint16)).tobytes()


def ulaw_decode(data: bytes) -> Frame:
    return ULAW_DECODE.take(np.frombuffer(data, dtype=np.uint8))


def alaw_encode(pcm: Frame) -> bytes:
    return ALAW_ENCODE.take(np.asarray(pcm, dtype=np.int16).view(np.uint16)).tobytes()


def alaw_decode(data: bytes) -> Frame:
    return ALAW_DECODE.take(np.frombuffer(data, dtype=np.uint8))


#: RTP payload type (RFC 3551) -> (encoder, decoder).
CODECS = {0: (ulaw_encode, ulaw_decode), 8: (alaw_encode, alaw_decode)}
