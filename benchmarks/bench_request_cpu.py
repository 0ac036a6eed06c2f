"""CPU one request costs the SIP loop, from datagram to answer sent, in this process.

The real Engine runs here (peer-to-peer, null audio); each request is handed to its UDP
transport's receive path as ``_udp_readable`` does after ``recvfrom``, so parsing, the trust
checks, the transaction layer, the UA, serialising and ``sendto`` are all counted, and the
answers really leave (to loopback addresses nobody listens on). Sources rotate over many
127.0.0.0/8 hosts (64) so the per-source rate limit does not drop them; ``busy`` sends from one
host past its transaction budget (answered 503). Prints the CPU (thread time) per request in
µs per kind; ``--profile`` adds cProfile's top functions. The figures are only comparable on
the same machine under the same load: this is the cost the media thread waits behind
(issue 13, flood pacing).

    .venv/bin/python benchmarks/bench_request_cpu.py [--count 3000] [--kinds options,invite,busy]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import logging
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.quiet_engine import quiet_engine
from endpoint.runtime.engine import Engine
from tests.interop.peers import free_port
from tests.security.attacker import request, sdp_offer

SORT = "cumulative"


def datagrams(kind: str, port: int, count: int) -> list[tuple[bytes, tuple[str, int]]]:
    """``count`` new requests of ``kind`` with their (spoofed) loopback sources."""
    out = []
    for n in range(count):
        host = "127.0.9.9" if kind == "busy" else f"127.0.10.{2 + n % 64}"
        source = (host, 5070)
        if kind == "invite":
            data = request(
                "INVITE",
                port,
                source=source,
                headers=("Content-Type: application/sdp",),
                body=sdp_offer(host, 40000),
            )
        else:
            data = request("OPTIONS", port, source=source, cseq=n + 1)
        out.append((data, source))
    return out


def serve(engine: Engine, batch: list[tuple[bytes, tuple[str, int]]]) -> float:
    """Feed ``batch`` to the transport; µs of this thread's CPU per datagram."""
    transport = engine.transport
    assert transport is not None
    start = time.thread_time()
    for data, source in batch:
        transport._incoming(data, source, "udp", None)
    return (time.thread_time() - start) * 1e6 / len(batch)


async def run(kinds: list[str], count: int, profile: bool) -> None:
    port = free_port(both=True)
    async with quiet_engine(port) as engine:
        for kind in kinds:
            # busy: the first 64 fill the host's budget, the rest (within its burst) get 503
            batch = datagrams(kind, port, 100 if kind == "busy" else count)
            skip = 64 if kind == "busy" else 0
            if skip:
                serve(engine, batch[:skip])
            profiler = cProfile.Profile() if profile else None
            if profiler is not None:
                profiler.enable()
            cost = serve(engine, batch[skip:])
            if profiler is not None:
                profiler.disable()
            served = len(batch) - skip
            print(f"{kind:8s} {cost:7.1f} µs CPU per request ({served} requests)")
            if profiler is not None:
                stats = pstats.Stats(profiler).sort_stats(SORT)
                stats.print_stats(25)
                stats.dump_stats(f"/tmp/bench_request_cpu.{kind}.prof")
            await asyncio.sleep(0.1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--kinds", default="options,invite,busy")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    logging.getLogger("endpoint").setLevel(logging.ERROR)
    asyncio.run(run(args.kinds.split(","), args.count, args.profile))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
