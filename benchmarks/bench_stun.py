"""What STUN costs a call: the Binding round trip to coturn on loopback (the floor under the
time a call waits for its RTP socket's public address, ``[nat] stun_timeout`` the ceiling), and
the cost of parsing a response in our sans-IO decoder (every datagram that looks like STUN).

Run: .venv/bin/python benchmarks/bench_stun.py [--requests 2000]
"""

from __future__ import annotations

import argparse
import secrets
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from endpoint.media.stun import binding_request, parse_binding_response
from tests.interop.stun_server import Coturn


def round_trips(server: tuple[str, int], count: int) -> tuple[list[float], bytes, bytes]:
    times = []
    last = (b"", b"")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(1.0)
        for _ in range(count):
            tid = secrets.token_bytes(12)
            start = time.perf_counter()
            sock.sendto(binding_request(tid), server)
            data = sock.recv(2048)
            parse_binding_response(data, tid)
            times.append(time.perf_counter() - start)
            last = (data, tid)
    return times, *last


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        stun = Coturn(Path(tmp) / "coturn").start()
        try:
            times, data, tid = round_trips((stun.host, stun.port), args.requests)
        finally:
            stun.stop()
    ms = sorted(t * 1000 for t in times)
    print(f"coturn Binding round trip, {len(ms)} requests on loopback:")
    p99 = ms[int(len(ms) * 0.99)]
    print(f"  median {statistics.median(ms):.3f} ms, p99 {p99:.3f} ms, max {ms[-1]:.3f} ms")
    n = 100_000
    start = time.perf_counter()
    for _ in range(n):
        parse_binding_response(data, tid)
    per = (time.perf_counter() - start) / n * 1e6
    print(f"parse a coturn response ({len(data)} bytes): {per:.2f} us each")


if __name__ == "__main__":
    main()
