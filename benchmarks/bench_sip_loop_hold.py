"""How long the SIP loop holds on to the GIL under a flood, and what that costs another thread.

The real Engine runs in this process (peer-to-peer, null audio) while a flooder process on
127.0.0.2 sends OPTIONS, INVITEs or garbage (bench_flood.py's rates), or nothing (``none``, the
control). Prints per flood:

- the UDP read callbacks a second, datagrams per callback (mean, max) and each callback's
  duration (p50/p99/max): an upper bound on one uninterrupted stretch of the SIP loop (it
  lets the GIL go inside each recvfrom/sendto and at the switch interval);
- the lateness of a probe thread that stands in for the media thread (SCHED_FIFO when
  permitted, like it): it sleeps 1 ms at a time and measures how late it got the GIL back
  (p50/p99/max), which is the wait the media thread pays before it can send a packet.

Asserts nothing; the numbers are only comparable on the same machine under the same load.

    .venv/bin/python benchmarks/bench_sip_loop_hold.py [--seconds 8] [--floods options,none]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing as mp
import os
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.bench_flood import _flood, percentile
from benchmarks.quiet_engine import quiet_engine
from endpoint.runtime.engine import Engine
from endpoint.runtime.realtime import make_current_thread_realtime
from endpoint.runtime.sip_transport import SipTransport
from tests.interop.peers import free_port

RATES = {"options": 2000, "invite": 500, "garbage": 5000}


class Stretches:
    """Wraps ``SipTransport._udp_readable`` (this process only) to time each call."""

    def __init__(self) -> None:
        self.durations: list[float] = []
        self.batches: list[int] = []
        original = SipTransport._udp_readable

        def timed(transport: SipTransport) -> None:
            stats = transport.stats
            before = stats.received + stats.junk + stats.shed + stats.malformed
            start = time.perf_counter()
            original(transport)
            self.durations.append((time.perf_counter() - start) * 1000)
            self.batches.append(stats.received + stats.junk + stats.shed + stats.malformed - before)

        SipTransport._udp_readable = timed  # type: ignore[method-assign]

    def reset(self) -> None:
        self.durations.clear()
        self.batches.clear()


def probe(seconds: float, out: list[float]) -> None:
    """The media thread's stand-in: how late each 1 ms sleep ends, in ms."""
    make_current_thread_realtime()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        start = time.perf_counter()
        time.sleep(0.001)
        out.append((time.perf_counter() - start) * 1000 - 1.0)


async def one(engine: Engine, stretches: Stretches, kind: str, seconds: float) -> str:
    assert engine.transport is not None
    stretches.reset()
    late: list[float] = []
    prober = threading.Thread(target=probe, args=(seconds, late))
    flooder = None
    if kind != "none":
        queue: mp.Queue = mp.Queue()  # type: ignore[type-arg]
        flooder = mp.Process(
            target=_flood, args=(kind, engine.transport.port, RATES[kind], seconds, queue)
        )
        flooder.start()
    prober.start()
    await asyncio.to_thread(prober.join)
    if flooder is not None:
        await asyncio.to_thread(flooder.join)
    calls = len(stretches.durations)
    mean = sum(stretches.batches) / calls if calls else 0.0
    return (
        f"{kind:8s} {calls / seconds:6.0f} reads/s, {mean:.1f} datagrams/read "
        f"(max {max(stretches.batches, default=0)}); read stretch p50 "
        f"{percentile(stretches.durations, 50):.3f} p99 {percentile(stretches.durations, 99):.3f}"
        f" max {max(stretches.durations, default=0.0):.3f} ms; probe lateness p50 "
        f"{percentile(late, 50):.3f} p99 {percentile(late, 99):.3f} max {max(late):.3f} ms; "
        f"load {os.getloadavg()[0]:.2f}"
    )


async def run(kinds: list[str], seconds: float) -> None:
    stretches = Stretches()
    async with quiet_engine(free_port(both=True)) as engine:
        for kind in kinds:
            print(await one(engine, stretches, kind, seconds), flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--floods", default="none,options,invite,garbage")
    args = parser.parse_args()
    logging.getLogger("endpoint").setLevel(logging.ERROR)
    asyncio.run(run(args.floods.split(","), args.seconds))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
