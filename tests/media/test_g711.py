"""G.711 against the standard's segment rules, over all 65536 inputs and all 256 codes.

The reference below is the classic scalar formulation (segment search, as in the ITU-T G.191
tools and Sun's g711.c); the module uses audioop (C, Sun's g711.c), so a slip in
either shows up as a mismatch.
"""

import numpy as np

from endpoint.media.g711 import (
    ALAW_SILENCE,
    ULAW_SILENCE,
    alaw_decode,
    alaw_encode,
    ulaw_decode,
    ulaw_encode,
)
from tests.pcm import samples

SEG_UEND = [0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF]
SEG_AEND = [0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF]


def search(value: int, table: list[int]) -> int:
    for i, end in enumerate(table):
        if value <= end:
            return i
    return len(table)


def ref_linear2ulaw(pcm: int) -> int:
    pcm >>= 2
    if pcm < 0:
        pcm, mask = -pcm, 0x7F
    else:
        mask = 0xFF
    pcm = min(pcm, 8159) + 0x21
    seg = search(pcm, SEG_UEND)
    if seg >= 8:
        return 0x7F ^ mask
    return ((seg << 4) | ((pcm >> (seg + 1)) & 0xF)) ^ mask


def ref_ulaw2linear(u: int) -> int:
    u = ~u & 0xFF
    t = (((u & 0x0F) << 3) + 0x84) << ((u & 0x70) >> 4)
    return 0x84 - t if u & 0x80 else t - 0x84


def ref_linear2alaw(pcm: int) -> int:
    pcm >>= 3
    if pcm >= 0:
        mask = 0xD5
    else:
        mask, pcm = 0x55, -pcm - 1
    seg = search(pcm, SEG_AEND)
    if seg >= 8:
        return 0x7F ^ mask
    aval = seg << 4
    aval |= (pcm >> 1) & 0xF if seg < 2 else (pcm >> seg) & 0xF
    return aval ^ mask


def ref_alaw2linear(a: int) -> int:
    a ^= 0x55
    t = (a & 0x0F) << 4
    seg = (a & 0x70) >> 4
    if seg == 0:
        t += 8
    elif seg == 1:
        t += 0x108
    else:
        t = (t + 0x108) << (seg - 1)
    return t if a & 0x80 else -t


ALL = np.arange(-32768, 32768, dtype=np.int16)
CODES = bytes(range(256))


def test_ulaw_encode_all_65536_inputs() -> None:
    assert ulaw_encode(ALL) == bytes(ref_linear2ulaw(int(x)) for x in ALL)


def test_alaw_encode_all_65536_inputs() -> None:
    assert alaw_encode(ALL) == bytes(ref_linear2alaw(int(x)) for x in ALL)


def test_ulaw_decode_all_256_codes() -> None:
    assert samples(ulaw_decode(CODES)).tolist() == [ref_ulaw2linear(c) for c in CODES]


def test_alaw_decode_all_256_codes() -> None:
    assert samples(alaw_decode(CODES)).tolist() == [ref_alaw2linear(c) for c in CODES]


def test_known_points_of_the_standard() -> None:
    # G.711 Table 2 (µ-law): 0 -> 0xFF, full scale -> 0x80 / 0x00; A-law 0 -> 0xD5.
    assert ulaw_encode(np.array([0, 32767, -32768], dtype=np.int16)) == b"\xff\x80\x00"
    assert alaw_encode(np.array([0], dtype=np.int16)) == bytes([ALAW_SILENCE])
    assert samples(ulaw_decode(bytes([ULAW_SILENCE]))).tolist() == [0]
    assert samples(ulaw_decode(b"\x80\x00")).tolist() == [32124, -32124]
    assert samples(alaw_decode(b"\xaa\x2a")).tolist() == [32256, -32256]


def test_decode_then_encode_is_identity_for_every_code() -> None:
    ucodes = ulaw_encode(ulaw_decode(CODES))
    # 0x7F and 0xFF both decode to 0 (µ-law has two zeros); everything else is stable.
    assert [c for c, back in zip(CODES, ucodes, strict=True) if c != back] == [0x7F]
    assert alaw_encode(alaw_decode(CODES)) == CODES


def test_frames_are_int16_and_160_samples() -> None:
    frame = (np.sin(np.arange(160) * 2 * np.pi * 1000 / 8000) * 8000).astype(np.int16)
    payload = ulaw_encode(frame.tobytes())
    assert len(payload) == 160
    pcm = ulaw_decode(payload)
    assert type(pcm) is bytes and len(pcm) == 320  # a frame: 160 native int16 samples
    decoded = samples(pcm)
    assert np.max(np.abs(decoded.astype(int) - frame)) <= 256  # quantisation error bound
