"""SRTP's cost per packet (issue 15): our SrtpProtection against pylibsrtp's own Session calls.

A call protects one 172-byte RTP packet and unprotects one every 20 ms. In between, the other
processes of the machine evict the caches, so each packet runs libsrtp, OpenSSL and our code
*cold*: that, not the ciphers' hot speed (a few µs), is what an SRTP call adds to the media
thread. The script times each call (perf_counter_ns around it, median and p90 in µs) hot (back
to back) and cold (after touching ``--evict`` MiB, as 20 ms of other work does), for
``SrtpProtection.protect_rtp`` / ``unprotect_rtp`` (pylibsrtp's Session behind our length check)
and for ``pylibsrtp.Session.protect`` / ``unprotect`` called bare, and
for scale a plain ``MediaStream.send_frame`` (codec + RTP header, no SRTP). Per-packet µs times
100 packets a second (50 each way) / 10,000 is the share of one core.

Run: .venv/bin/python benchmarks/bench_srtp_cost.py [--packets 2000] [--evict 8] [--suite S]
"""

from __future__ import annotations

import argparse
import random
import struct
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pylibsrtp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from endpoint.media.srtp import SUITES, SrtpProtection, key_length
from endpoint.media.stream import MediaStream, StreamConfig


def packets(count: int, ssrc: int) -> list[bytes]:
    """``count`` 172-byte PCMU packets in sequence (libsrtp refuses an index used twice)."""
    return [
        struct.pack("!BBHII", 0x80, 0, i & 0xFFFF, i * 160 & 0xFFFFFFFF, ssrc) + bytes(160)
        for i in range(count)
    ]


def session(suite: str, key: bytes, ssrc_type: int) -> pylibsrtp.Session:
    policy = pylibsrtp.Policy(key=key, ssrc_type=ssrc_type, srtp_profile=SUITES[suite][0])
    return pylibsrtp.Session(policy)


def timed(calls: list[Callable[[], object]], evict: np.ndarray | None) -> tuple[float, float]:
    """Median and p90 in µs of each call, with the caches evicted before each when asked."""
    spent = []
    for call in calls:
        if evict is not None:
            evict *= 1.0
        start = time.perf_counter_ns()
        call()
        spent.append(time.perf_counter_ns() - start)
    spent.sort()
    return spent[len(spent) // 2] / 1000, spent[int(0.9 * (len(spent) - 1))] / 1000


def cases(count: int, suite: str) -> dict[str, list[Callable[[], object]]]:
    """Fresh contexts and packets per case, so every timed call is a valid next packet."""
    rng = random.Random(15)
    ours_key, peer_key = rng.randbytes(key_length(suite)), rng.randbytes(key_length(suite))
    ours = SrtpProtection(suite, ours_key, peer_key)
    peer = SrtpProtection(suite, peer_key, ours_key)
    out = session(suite, ours_key, pylibsrtp.Policy.SSRC_ANY_OUTBOUND)
    back = session(suite, peer_key, pylibsrtp.Policy.SSRC_ANY_INBOUND)
    incoming = [peer.protect_rtp(p) for p in packets(2 * count, 7)]
    stream = MediaStream(StreamConfig(("127.0.0.1", 4000), ("127.0.0.1", 4001)), rng, 0.0)
    frame = np.zeros(160, dtype=np.int16)
    mine = packets(2 * count, 9)
    return {
        "SrtpProtection.protect_rtp": [lambda p=p: ours.protect_rtp(p) for p in mine[:count]],
        "pylibsrtp Session.protect": [lambda p=p: out.protect(p) for p in mine[count:]],
        "SrtpProtection.unprotect_rtp": [
            lambda p=p: ours.unprotect_rtp(p) for p in incoming[:count]
        ],
        "pylibsrtp Session.unprotect": [lambda p=p: back.unprotect(p) for p in incoming[count:]],
        "plain MediaStream.send_frame": [lambda: stream.send_frame(frame, 1.0)] * count,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--packets", type=int, default=2000)
    ap.add_argument("--evict", type=int, default=8, help="MiB touched before each cold call")
    ap.add_argument("--suite", choices=tuple(SUITES), default=next(iter(SUITES)))
    args = ap.parse_args()
    evict = np.ones(args.evict * 1024 * 1024 // 8)
    print(f"{args.suite} per call, µs (median / p90); cold = after touching {args.evict} MiB")
    for mode, memory in (("hot", None), ("cold", evict)):
        for name, calls in cases(args.packets, args.suite).items():
            median, p90 = timed(calls, memory)
            print(f"  {mode:4} {name:30} {median:8.2f} / {p90:8.2f}")


if __name__ == "__main__":
    main()
