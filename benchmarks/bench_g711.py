"""G.711 encode + decode cost per 20 ms frame (160 samples), both laws.

Run: .venv/bin/python benchmarks/bench_g711.py
"""

from __future__ import annotations

import platform
import timeit

import numpy as np

from endpoint.media.g711 import alaw_decode, alaw_encode, ulaw_decode, ulaw_encode


def main() -> None:
    frame = (np.sin(np.arange(160) * 2 * np.pi * 440 / 8000) * 12000).astype(np.int16).tobytes()
    print(f"Python {platform.python_version()}, 160-sample frames (int16 bytes)")
    for name, encode, decode in (
        ("mu-law", ulaw_encode, ulaw_decode),
        ("A-law", alaw_encode, alaw_decode),
    ):
        payload = encode(frame)
        n = 200_000
        enc = min(timeit.repeat(lambda e=encode: e(frame), number=n, repeat=3)) / n * 1e9
        dec = min(timeit.repeat(lambda d=decode, p=payload: d(p), number=n, repeat=3)) / n * 1e9
        total = enc + dec
        print(
            f"{name:7} encode {enc:6.0f} ns  decode {dec:6.0f} ns  both {total:6.0f} ns per frame"
        )


if __name__ == "__main__":
    main()
