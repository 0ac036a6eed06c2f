"""The TLS listener of a peer-to-peer door (issue 15) under use and under attack: the real
``sip-endpoint run`` with a certificate made here, clients on 127.0.0.0/8.

Three figures:
- served: N clients one after another, each from its own address, TCP connect + TLS handshake
  (certificate checked) + OPTIONS -> 200: milliseconds, min / median / p99 / max;
- attacked: one stranger opens M connections and never says hello: how many the door closed at
  once (over the per-source limit), the door's open descriptors before and during, and when the
  last of the others was closed (the handshake limit);
- a client on another address during that attack: the same round trip, milliseconds.

Run: .venv/bin/python benchmarks/bench_tls_listener.py [--clients 200] [--silent 300]
"""

from __future__ import annotations

import argparse
import os
import socket
import ssl
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.interop.peers import free_port
from tests.security.attacker import p2p_tls_config, request, running_door


def round_trip(port: int, source: str, context: ssl.SSLContext) -> float:
    """Connect from ``source``, handshake, OPTIONS, wait for the 200: seconds."""
    start = time.perf_counter()
    raw = socket.create_connection(("127.0.0.1", port), 10, (source, 0))
    address = raw.getsockname()
    with context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        tls.sendall(request("OPTIONS", port, source=address, transport="TLS"))
        tls.settimeout(10)
        answer = tls.recv(65536)
    if not answer.startswith(b"SIP/2.0 200 "):
        raise SystemExit(f"unexpected answer: {answer[:60]!r}")
    return time.perf_counter() - start


def descriptors(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def closed(conn: socket.socket) -> bool:
    conn.setblocking(False)
    try:
        return conn.recv(1) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def attack(port: int, pid: int, count: int, context: ssl.SSLContext) -> None:
    before = descriptors(pid)
    start = time.perf_counter()
    silent = [
        socket.create_connection(("127.0.0.1", port), 5, ("127.0.0.2", 0)) for _ in range(count)
    ]
    time.sleep(1.0)
    during = descriptors(pid)
    open_ones = [conn for conn in silent if not closed(conn)]
    at_once = count - len(open_ones)
    friend = round_trip(port, "127.0.0.3", context)
    last_close = 0.0
    deadline = time.monotonic() + 15
    while open_ones and time.monotonic() < deadline:
        for conn in [c for c in open_ones if closed(c)]:
            open_ones.remove(conn)
            last_close = time.perf_counter() - start
        time.sleep(0.05)
    for conn in silent:
        conn.close()
    print(
        f"attacked: {count} silent connections from one source: {at_once} closed within 1 s, "
        f"{count - at_once - len(open_ones)} later (the last {last_close:.1f} s after the "
        f"attack began), {len(open_ones)} still open after 15 s; door descriptors {before} "
        f"before, {during} during"
    )
    print(f"a client on another address during the attack: {friend * 1000:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--silent", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        port = free_port(both=True)
        config = work / "door.toml"
        context = ssl.create_default_context(cafile=str(p2p_tls_config(config, port)))
        with running_door(work, port, config) as door:
            times = sorted(
                round_trip(port, f"127.0.{i % 200 + 10}.{i // 200 + 10}", context) * 1000
                for i in range(args.clients)
            )
            p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
            print(
                f"served: {len(times)} clients, connect + TLS handshake + OPTIONS -> 200: "
                f"min {times[0]:.1f} / median {statistics.median(times):.1f} / p99 {p99:.1f} "
                f"/ max {times[-1]:.1f} ms"
            )
            attack(port, door.service.proc.pid, args.silent, context)


if __name__ == "__main__":
    main()
