"""The audio frame every media and audio module exchanges: 20 ms of 8 kHz mono 16-bit PCM.

G.711 (ITU-T G.711) is defined at 8000 samples/s; the default RTP packetization time of
20 ms (RFC 3551 §4.5) gives 160 samples per frame.

A frame is ``bytes``: native-endian int16 samples, ``2 * samples`` long. Why not an array:
``audioop`` (endpoint/media/pcm_ops.py) does every per-frame operation the media path needs on
bytes, in C (G.711 coding, saturating mix, gain, RMS, resampling, pair averaging, best-match
search), so a call needs no numpy, whose import alone costs 15-19 MB of RSS and 0.1 s of start
(issue 19). Immutable bytes also let the media thread hand a frame on without copying it.
Sample-level work audioop cannot do (PLC's short ramps) reads it through
``memoryview(frame).cast("h")``.
"""

from __future__ import annotations

from functools import lru_cache

Frame = bytes
SAMPLE_RATE = 8000
FRAME_SAMPLES = 160
#: Bytes per sample.
SAMPLE_BYTES = 2


@lru_cache(maxsize=16)
def silence(samples: int = FRAME_SAMPLES) -> Frame:
    """``samples`` of digital silence, made once per length (a frame is immutable)."""
    return bytes(SAMPLE_BYTES * samples)
