"""Media pacing: how evenly the media thread sends 20 ms PCMU packets.

A receiver process on 127.0.0.1 takes every packet's arrival time from the kernel: the receive
timestamp the kernel puts on the datagram when it is queued on the socket (SO_TIMESTAMPNS, the
realtime clock, read with recvmsg), as bench_flood.py does, not a clock read after ``recv`` in
user space, so the receiver's own scheduling delay (large under ``--load``) is not counted
against the sender. The sender is the endpoint's real media thread (MediaLoop + MediaStream +
tone source). Prints the mean,
standard deviation, p99 and max of |inter-arrival - 20 ms|, and the total drift (last arrival -
first - (n-1) * 20 ms), idle or with CPU-burning processes (``--load N``), and whether the media
thread got SCHED_FIFO.

Goal: p99 < 0.2 ms idle and loaded with real-time priority; p99 < 1 ms idle without it
(``--no-rt``); drift < 1 ms per minute.

Where the deviation comes from: each interval is the difference of two packets' (wake-up
lateness + wake-up -> ``sendto`` time), so the script also prints, from the sender's own
clock, the p99 of each part's tick-to-tick change alone: lateness alone is the host's (what a
zero-cost tick would still show), wake-up -> ``sendto`` alone is our tick's (frame, codec,
header, SRTP), and their sum is the sender's own pacing, next to the receiver's.

``--srtp`` protects every packet with SRTP (libsrtp) as an encrypted call does, in the suite
we prefer (AEAD_AES_128_GCM) or ``--suite``; the RTP header stays readable, so the receiver
measures the same way.

Run: .venv/bin/python benchmarks/bench_pacing.py [--seconds 60] [--load 2] [--no-rt] [--srtp]
"""

from __future__ import annotations

import argparse
import itertools
import multiprocessing as mp
import random
import socket
import statistics
import struct
import time

from bench_media_cpu import TimedLoop, TimedSockets, percentile99, send_ticks

from endpoint.audio import open_audio
from endpoint.media.srtp import SUITES, SrtpProtection, key_length
from endpoint.media.stream import MediaStream, StreamConfig
from endpoint.runtime.call_steps import CallMedia
from endpoint.runtime.realtime import make_current_thread_realtime
from endpoint.runtime.rtp_transport import allocate

#: Linux's SO_TIMESTAMPNS (asm-generic/socket.h; the socket module does not name it).
SO_TIMESTAMPNS = 35


def receiver(port_pipe: mp.connection.Connection, seconds: float) -> None:
    # The arrival instants are the kernel's (SO_TIMESTAMPNS), so the receiver's wake-up
    # latency is not counted against the sender; it runs at real-time priority anyway (when
    # allowed) so that it keeps up with the packets.
    make_current_thread_realtime(30)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    port_pipe.send(sock.getsockname()[1])
    arrivals: list[tuple[int, int]] = []
    deadline = time.monotonic() + seconds + 3
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(min(left, 1.0))
        try:
            data, ancillary, _, _ = sock.recvmsg(2048, socket.CMSG_SPACE(16))
        except TimeoutError:
            continue
        stamps = [
            struct.unpack("qq", cmsg[:16])
            for level, kind, cmsg in ancillary
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS
        ]
        if stamps and len(data) > 12 and data[1] & 0x7F == 0:  # PCMU RTP, not RTCP
            sec, nsec = stamps[0]
            arrivals.append((int.from_bytes(data[2:4], "big"), sec * 1_000_000_000 + nsec))
    port_pipe.send(arrivals)


def split(loop: TimedLoop, sent_ns: list[int]) -> None:
    """Prints the pacing's two parts from the sender's clock: per sent packet, the wake-up
    lateness of its tick (L) and the time from that wake-up to its ``sendto`` (W); the
    interval's deviation from 20 ms is the change of L + W from one packet to the next."""
    assert loop.lateness is not None
    lateness = loop.lateness
    parts = [(lateness[i] * 1e3, w) for i, w in send_ticks(loop, sent_ns) if i < len(lateness)]
    pairs = list(itertools.pairwise(parts))
    if not pairs:
        return
    work = sorted(w for _, w in parts)
    print(
        f"wake-up -> sendto: p50 {work[len(work) // 2]:.4f} p99 {percentile99(work):.4f} "
        f"max {work[-1]:.4f} ms"
    )
    print(
        "|change from packet to packet| p99: lateness alone "
        f"{percentile99([abs(b[0] - a[0]) for a, b in pairs]):.4f} ms, wake-up -> sendto alone "
        f"{percentile99([abs(b[1] - a[1]) for a, b in pairs]):.4f} ms, both (the sender's pacing) "
        f"{percentile99([abs(b[0] + b[1] - a[0] - a[1]) for a, b in pairs]):.4f} ms"
    )


def burn(stop: mp.synchronize.Event) -> None:
    x = 0
    while not stop.is_set():
        for _ in range(100_000):
            x = (x * 1103515245 + 12345) & 0xFFFFFFFF


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--load", type=int, default=0, help="CPU-burning processes to run meanwhile")
    ap.add_argument("--no-rt", action="store_true", help="do not ask for SCHED_FIFO")
    ap.add_argument("--srtp", action="store_true", help="protect every packet with SRTP")
    ap.add_argument("--suite", choices=tuple(SUITES), default=next(iter(SUITES)))
    ap.add_argument(
        "--aec",
        action="store_true",
        help="hands-free processing on the call (echo cancellation, noise suppression, gain)",
    )
    args = ap.parse_args()

    stop = mp.Event()
    burners = [mp.Process(target=burn, args=(stop,), daemon=True) for _ in range(args.load)]
    for b in burners:
        b.start()
    parent, child = mp.Pipe()
    rx = mp.Process(target=receiver, args=(child, args.seconds), daemon=True)
    rx.start()
    port = parent.recv()
    rng = random.Random()
    plain_sockets = allocate("127.0.0.1", (20000, 60000), rng)
    sockets = TimedSockets(plain_sockets.rtp, plain_sockets.rtcp)
    sockets.sent_ns = []
    protection = (
        SrtpProtection(
            args.suite, rng.randbytes(key_length(args.suite)), rng.randbytes(key_length(args.suite))
        )
        if args.srtp
        else None
    )
    stream = MediaStream(
        StreamConfig(("127.0.0.1", port), ("127.0.0.1", port + 1)),
        rng,
        time.monotonic(),
        protection,
    )
    audio = open_audio("tone", tone_hz=1000)
    audio.start()
    loop = TimedLoop(realtime_priority=None if args.no_rt else 20, record_lateness=True)
    loop.woke_ns = []
    loop.start()
    processor = None
    if args.aec:
        from endpoint.audio.processing import ProcessingSettings, VoiceProcessor

        processor = VoiceProcessor(ProcessingSettings(True, True, True))
    loop.add_call(CallMedia("bench", stream, sockets, audio, processor=processor))
    time.sleep(args.seconds)
    loop.remove_call("bench").result(5)
    loop.stop()
    received: list[tuple[int, int]] = parent.recv()
    # Index packets by their (unwrapped) sequence number, so a lost packet cannot shift the rest.
    seqs, arrivals = [], []
    base = received[0][0]
    cycles = 0
    last = base
    for seq, when in received:
        if seq < last and last - seq > 30000:
            cycles += 65536
        last = seq
        seqs.append(cycles + seq - base)
        arrivals.append(when)
    rx.join(5)
    stop.set()
    for b in burners:
        b.join(5)

    deltas = [(b - a) / 1e6 for a, b in itertools.pairwise(arrivals)]
    deviation = sorted(abs(d - 20.0) for d in deltas)
    n = len(arrivals)
    drift_ms = (arrivals[-1] - arrivals[0]) / 1e6 - seqs[-1] * 20.0
    p99 = deviation[int(0.99 * (len(deviation) - 1))]
    rt = loop.priority.detail if loop.priority else "unknown"
    print(
        f"case: {'loaded with ' + str(args.load) + ' CPU burners' if args.load else 'idle'}; "
        f"{'SRTP ' + args.suite if args.srtp else 'plain RTP'}; "
        f"{'AEC+NS+AGC' if args.aec else 'no processing'}; "
        f"media thread: {rt}"
    )
    print(f"packets received: {n} over {args.seconds:.0f} s")
    wake = sorted(x * 1000 for x in (loop.lateness or [0.0]))
    print(
        f"sender wake-up lateness: median {wake[len(wake) // 2]:.4f} ms, "
        f"p99 {wake[int(0.99 * (len(wake) - 1))]:.4f} ms, max {wake[-1]:.4f} ms"
    )
    print(
        f"inter-arrival mean {statistics.fmean(deltas):.4f} ms, "
        f"stdev {statistics.pstdev(deltas):.4f} ms"
    )
    print(
        f"|deviation from 20 ms|: mean {statistics.fmean(deviation):.4f} ms, "
        f"p99 {p99:.4f} ms, max {deviation[-1]:.4f} ms"
    )
    # Drift as the slope of a least-squares line through the arrivals: one late first or last
    # packet moves the end-to-end figure but not the clock rate.
    x_mean, y_mean = statistics.fmean(seqs), statistics.fmean(arrivals)
    covariance = sum((x - x_mean) * (y - y_mean) for x, y in zip(seqs, arrivals, strict=True))
    slope_ns = covariance / sum((x - x_mean) ** 2 for x in seqs)
    per_minute = (slope_ns / 1e6 - 20.0) * 3000
    split(loop, sockets.sent_ns)
    print(
        f"drift {per_minute:+.4f} ms per minute (fitted slope); first-to-last "
        f"{drift_ms:+.3f} ms; loop resyncs {loop.resyncs}"
    )


if __name__ == "__main__":
    main()
