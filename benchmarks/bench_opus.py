"""Opus encode + decode cost per 20 ms frame (320 samples at 16 kHz), beside G.722 and G.711.

Our ctypes binding to libopus at the settings a call uses (24 kbit/s, complexity 5, in-band FEC
on, VOIP application), on speech-like input (a tone with a slow vibrato and noise: constant
input would let the encoder coast), plus the decoder's concealment of a lost frame.

Run: .venv/bin/python benchmarks/bench_opus.py
"""

from __future__ import annotations

import platform
import timeit
from collections.abc import Callable

import numpy as np

from endpoint.media.g711 import ulaw_decode, ulaw_encode
from endpoint.media.g722 import G722Decoder, G722Encoder
from endpoint.media.opus import OpusDecoder, OpusEncoder

FRAMES = 500


def voice(rate: int, frames: int) -> list[bytes]:
    n = rate // 50
    t = np.arange(n * frames) / rate
    rng = np.random.default_rng(1)
    pitch = 180 + 40 * np.sin(2 * np.pi * 3 * t)
    x = 8000 * np.sin(2 * np.pi * np.cumsum(pitch) / rate) + rng.normal(0, 800, len(t))
    pcm = np.clip(x, -32768, 32767).astype(np.int16)
    return [pcm[k * n : (k + 1) * n].tobytes() for k in range(frames)]  # frames: int16 bytes


def per_frame_us(work: Callable[[], None]) -> float:
    return min(timeit.repeat(work, number=1, repeat=5)) / FRAMES * 1e6


def main() -> None:
    print(f"Python {platform.python_version()}, {platform.machine()}, {FRAMES} frames of 20 ms")
    wide, narrow = voice(16000, FRAMES), voice(8000, FRAMES)
    for name, make, frames in (
        ("Opus 16 kHz", lambda: (OpusEncoder(), OpusDecoder()), wide),
        ("G.722", lambda: (G722Encoder(), G722Decoder()), wide),
        ("G.711 mu-law", lambda: (ulaw_encode, ulaw_decode), narrow),
    ):
        encode, decode = make()
        payloads = [encode(f) for f in frames]
        encode, decode = make()
        enc = per_frame_us(lambda e=encode, fs=frames: [e(f) for f in fs] and None)
        dec = per_frame_us(lambda d=decode, ps=payloads: [d(p) for p in ps] and None)
        octets = sum(map(len, payloads)) / len(payloads)
        print(
            f"{name:13} encode {enc:6.1f} us  decode {dec:6.1f} us  both {enc + dec:6.1f} us"
            f" per frame  ({octets:.0f} octets, {octets * 8 * 50 / 1000:.1f} kbit/s)"
        )
    encoder, decoder = OpusEncoder(), OpusDecoder()
    for frame in wide[:10]:
        decoder(encoder(frame))
    plc = per_frame_us(lambda: [decoder.conceal() for _ in range(FRAMES)] and None)
    print(f"Opus concealment of a lost frame {plc:6.1f} us")


if __name__ == "__main__":
    main()
