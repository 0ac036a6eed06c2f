"""CPU of one media tick of one PCMU call (issue 19): the real MediaLoop's send + receive +
playout on loopback sockets, one RTP packet from a peer socket per tick, as SIPp or baresip
send. Prints the media thread's CPU time (thread_time) per tick, median and p90, "warm" (ticks
back to back) and "cold" (each after a 20 ms sleep, as in a call: caches and branch predictors
have gone to other work, so this is what a call pays), interleaved.

The media thread is the whole per-call CPU (the asyncio thread is at 0.00 % in a call), so this
isolates what ``bench_media_cpu.py`` measures from the process noise around it. ``--root``
runs another checkout's code (a pre-issue-19 commit has no ``_tick_all``: its ``_send`` and
``_tick`` are driven instead), so a before/after is two processes, run alternately.

Run: .venv/bin/python benchmarks/bench_media_tick.py [--root DIR] [--ticks 300] [--rounds 3]
"""

from __future__ import annotations

import argparse
import random
import socket
import struct
import sys
import time
from pathlib import Path


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--root", default=str(Path(__file__).resolve().parents[1]))
    args.add_argument("--ticks", type=int, default=300)
    args.add_argument("--rounds", type=int, default=3)
    opts = args.parse_args()
    sys.path.insert(0, opts.root)
    tick, peer_send, drain_peer = rig()
    print(f"code: {sys.modules['endpoint'].__file__}")
    for _ in range(100):  # past probation and latching, the jitter buffer filled
        peer_send()
        tick()
        drain_peer()
    for _ in range(opts.rounds):
        for mode, pause in (("warm", 0.0), ("cold", 0.02)):
            costs = []
            for _ in range(opts.ticks):
                peer_send()
                if pause:
                    time.sleep(pause)
                start = time.thread_time_ns()
                tick()
                costs.append(time.thread_time_ns() - start)
                drain_peer()
            costs.sort()
            median, p90 = costs[len(costs) // 2] / 1000, costs[len(costs) * 9 // 10] / 1000
            print(f"{mode}: per tick median {median:6.1f} us, p90 {p90:6.1f} us")


def rig():  # type: ignore[no-untyped-def]
    """One call on loopback sockets and a peer; returns (tick, peer_send, drain_peer)."""
    from endpoint.audio.null import NullPort
    from endpoint.media.stream import MediaStream, StreamConfig
    from endpoint.runtime.call_steps import CallMedia
    from endpoint.runtime.media_loop import MediaLoop
    from endpoint.runtime.rtp_transport import RtpSockets

    def bound() -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        sock.setblocking(False)
        return sock

    rtp, rtcp, peer, peer_rtcp = bound(), bound(), bound(), bound()
    config = StreamConfig(peer.getsockname(), peer_rtcp.getsockname(), payload_type=0)
    stream = MediaStream(config, random.Random(1), time.monotonic())
    call = CallMedia("c1", stream, RtpSockets(rtp, rtcp), NullPort())
    loop = MediaLoop(realtime_priority=None)
    if hasattr(loop, "_tick_all"):
        loop._add(call)

        def tick() -> None:
            loop._tick_all(time.monotonic())
    else:
        loop._calls["c1"] = call

        def tick() -> None:
            now = time.monotonic()
            loop._send(call, now)
            loop._tick(call, now)

    payload, numbers = bytes(range(160)), [1000, 5000]

    def peer_send() -> None:
        seq, ts = numbers
        peer.sendto(struct.pack("!BBHII", 0x80, 0, seq, ts, 0x1234) + payload, rtp.getsockname())
        numbers[:] = [(seq + 1) & 0xFFFF, (ts + 160) & 0xFFFFFFFF]

    def drain_peer() -> None:
        for sock in (peer, peer_rtcp):
            while True:
                try:
                    sock.recv(2048)
                except BlockingIOError:
                    break

    return tick, peer_send, drain_peer


if __name__ == "__main__":
    main()
