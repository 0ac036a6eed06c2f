"""Live fuzz of the real ``sip-endpoint run`` process (issue 13): N mutated real-peer messages
over UDP (and a share over TCP), then: is it alive, did it log a traceback or count an internal
error, does it answer OPTIONS at once, how many transactions are left once Timer J/H and the
ring timeout have passed, and how many calls once the RTP timeout (60 s) has too: a fuzzed INVITE
that still made sense is answered, and its caller sends no RTP. Prints the figures; asserts
nothing.

    .venv/bin/python benchmarks/bench_fuzz_live.py --messages 1000000 [--tcp-share 0.05]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.interop.peers import free_port
from tests.security.attacker import (
    UdpAttacker,
    p2p_config,
    request,
    running_door,
    status_of,
)
from tests.security.fuzz import Fuzzer


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--tcp-share", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--settle", type=float, default=40.0, help="seconds before counting transactions"
    )
    parser.add_argument(
        "--call-settle", type=float, default=70.0, help="seconds before counting calls again"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        port = free_port(both=True)
        config = workdir / "door.toml"
        p2p_config(config, port, "")
        config.write_text(
            config.read_text().replace("auto_answer = true", "auto_answer = true\nring_timeout = 5")
        )
        with running_door(workdir, port, config) as door:
            fuzzer = Fuzzer(port, seed=args.seed)
            tcp = int(args.messages * args.tcp_share)
            start = time.monotonic()
            udp_sent = 0
            tcp_sent = 0
            chunk = 50_000
            while udp_sent + tcp_sent < args.messages:
                udp_sent += fuzzer.run_udp(min(chunk, args.messages - udp_sent - tcp_sent))
                if tcp_sent < tcp:
                    tcp_sent += fuzzer.run_tcp(min(chunk // 20, tcp - tcp_sent))
                print(f"  {udp_sent + tcp_sent} sent, {time.monotonic() - start:.0f} s", flush=True)
            elapsed = time.monotonic() - start
            probe = UdpAttacker("127.0.0.254", port)
            t0 = time.monotonic()
            answer = probe.final(request("OPTIONS", port, source=probe.address), timeout=5.0)
            reply_ms = (time.monotonic() - t0) * 1000
            probe.close()
            time.sleep(args.settle)
            status = door.status()
            # A fuzzed INVITE that still made sense was answered (auto-answer, peer-to-peer):
            # its caller sends no RTP, so the call must end by the RTP timeout (60 s).
            time.sleep(max(0.0, args.call_settle - args.settle))
            calls_later = len(door.status().get("calls") or [])  # type: ignore[arg-type]
            log = door.log
            alive = door.alive()
        print(
            f"messages sent: {udp_sent} UDP + {tcp_sent} TCP in {elapsed:.1f} s "
            f"({(udp_sent + tcp_sent) / elapsed:.0f}/s)"
        )
        print(
            f"process alive: {alive}; tracebacks in log: {log.count('Traceback')}; "
            f"internal errors: {status.get('internal_errors')}"
        )
        print(
            f"OPTIONS after the fuzz: {status_of(answer) if answer else 'no answer'} "
            f"in {reply_ms:.1f} ms"
        )
        print(
            f"after {args.settle:.0f} s: transactions {status.get('transactions')}, "
            f"calls {len(status.get('calls') or [])}; after {args.call_settle:.0f} s "
            f"(past the RTP timeout): calls {calls_later}"
        )  # type: ignore[arg-type]
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
