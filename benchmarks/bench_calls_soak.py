"""500 consecutive calls against the real ``sip-endpoint run`` (issue 13): does it grow?

SIPp (tests/interop/peers/uac_pcmu.xml) places the calls one at a time, 20 from each of
127.0.0.10, .11, ... (one source may hold 64 transactions, rule 9): INVITE
with a PCMU offer, auto-answered by the door (peer-to-peer, null audio), its tone as RTP for
``--talk-ms``, BYE. Prints the process's RSS and open file descriptors (from /proc) at the
start, after one warm-up call, and after every ``--step`` calls, with SIPp's success/failure
counts. Goal: RSS growth < 5 MB and the fd count flat. Asserts nothing.

    .venv/bin/python benchmarks/bench_calls_soak.py [--calls 500] [--step 100] [--talk-ms 200]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.interop.peers import free_port
from tests.security.attacker import p2p_config, running_door
from tests.security.soak import BATCH, settle_fds, sipp_calls, soak, steady, wait_calls_gone


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--step", type=int, default=100)
    parser.add_argument("--talk-ms", type=int, default=200)
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores", flush=True)
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        work = Path(tmp)
        port = free_port(both=True)
        config = work / "door.toml"
        p2p_config(config, port)
        config.write_text(config.read_text().replace('level = "info"', 'level = "warning"'))
        with running_door(work, port, config) as door:
            pid = door.service.proc.pid
            start = steady(pid)
            print(f"start:              {start}", flush=True)
            warm = sipp_calls(work / "warm", port, 1, args.talk_ms)
            wait_calls_gone(door)
            base = steady(pid)
            print(f"after 1 call:       {base} (SIPp ok {warm.successful})", flush=True)
            done = ok = failed = 0
            began = time.monotonic()
            while done < args.calls:
                n = min(args.step, args.calls - done)
                run = soak(work / f"run{done}", port, n, 10 + done // BATCH, args.talk_ms)
                done += n
                ok += max(run.successful, 0)
                failed += max(run.failed, 0)
                wait_calls_gone(door)
                now = settle_fds(pid, base.fds)
                grown = (now.rss_kb - base.rss_kb) / 1024
                print(
                    f"after {done:4d} calls:  {now}; RSS {grown:+.1f} MB and fds "
                    f"{now.fds - base.fds:+d} since the first call; SIPp ok {ok} failed {failed}",
                    flush=True,
                )
                if run.code != 0:
                    print(f"SIPp exited {run.code}:\n{run.output}", flush=True)
            took = time.monotonic() - began
            end = settle_fds(pid, base.fds)
            traceback = "a Traceback" if "Traceback" in door.log else "no traceback"
            print(
                f"{done} calls in {took:.0f} s; RSS growth "
                f"{(end.rss_kb - start.rss_kb) / 1024:+.1f} MB since start "
                f"({(end.rss_kb - base.rss_kb) / 1024:+.1f} MB since the first call), "
                f"fds {end.fds - base.fds:+d}; load average now {os.getloadavg()[0]:.2f}; "
                f"{traceback} in the log",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
