"""A building on one machine: N endpoints, one Kamailio, one Mosquitto, all on 127.0.0.1.

Each endpoint is a real ``sip-endpoint run`` process with its own account (door1..doorN at
Kamailio, digest auth), ``[mqtt] topic_prefix = "building/doorI"`` and Home Assistant discovery,
the ``null`` audio backend. The script prints: the time until all are registered at Kamailio,
until all have appeared through discovery and said online; then a baresip flat (registered at
the same Kamailio) rings each door in turn and the script waits for each door's doorbell
``ring`` on the broker and the call to come up; finally the memory (RSS, PSS) of each endpoint
and its CPU use, idle and over the whole run.

Run: .venv/bin/python benchmarks/bench_building.py [--endpoints 30] [--idle 10]
"""

from __future__ import annotations

import argparse
import json
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.integration.broker import Broker, Subscriber
from tests.interop.peers import Baresip, Kamailio, free_port, free_port_range

CLI = [sys.executable, "-m", "endpoint"]
TICK = 100  # clock ticks per second of /proc/PID/stat (CLK_TCK on Linux)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def memory_kib(pid: int) -> tuple[int, int]:
    """(RSS, PSS) in KiB: PSS shares the pages the processes have in common fairly."""
    rss = pss = 0
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Rss:"):
            rss = int(line.split()[1])
        elif line.startswith("Pss:"):
            pss = int(line.split()[1])
    return rss, pss


def door_config(tmp: Path, i: int, kamailio: Kamailio, broker: Broker) -> Path:
    lo, hi = free_port_range(4)
    path = tmp / f"door{i}.toml"
    path.write_text(
        f'[sip]\nlisten = "127.0.0.1:{free_port(both=True)}"\n'
        f'[account]\nregistrar = "sip:127.0.0.1:{kamailio.port}"\nuser = "door{i}"\n'
        'password = "secret"\nexpires = 300\n'
        f'[media]\nrtp_ports = "{lo}-{hi}"\n[audio]\nbackend = "null"\n'
        f'[control]\nsocket = "{tmp}/door{i}.sock"\n'
        f'[mqtt]\nbroker = "{broker.url}"\ntopic_prefix = "building/door{i}"\n'
    )
    return path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoints", type=int, default=30)
    parser.add_argument("--idle", type=float, default=10.0, help="seconds of idle CPU sampling")
    args = parser.parse_args()
    n = args.endpoints
    with tempfile.TemporaryDirectory(prefix="building-") as name:
        tmp = Path(name)
        kamailio = Kamailio(tmp / "kamailio").start()
        broker = Broker(tmp / "broker").start()
        sub = Subscriber(broker, "building/#", "homeassistant/#", client_id="bench")
        flat = Baresip(tmp / "flat", user="flat", registrar=f"127.0.0.1:{kamailio.port}").start()
        procs: list[subprocess.Popen[bytes]] = []
        try:
            configs = [door_config(tmp, i, kamailio, broker) for i in range(1, n + 1)]
            t0 = time.monotonic()
            for config in configs:
                procs.append(
                    subprocess.Popen(
                        [*CLI, "run", "--config", str(config)],
                        stderr=(tmp / f"{config.stem}.log").open("wb"),
                    )
                )
            started = time.monotonic() - t0
            pending = {f"door{i}" for i in range(1, n + 1)}
            deadline = time.monotonic() + 120
            while pending and time.monotonic() < deadline:
                pending = {u for u in pending if not kamailio.registrations(u)}
                time.sleep(0.2)
            registered = time.monotonic() - t0
            print(f"{n} endpoints: processes started in {started:.1f} s")
            print(f"all registered at Kamailio after {registered:.1f} s (missing: {len(pending)})")
            for i in range(1, n + 1):
                sub.wait(f"homeassistant/event/building_door{i}/doorbell/config", timeout=60)
                sub.wait(f"building/door{i}/availability", "online", timeout=60)
                sub.wait(f"building/door{i}/state/registration", "ON", timeout=60)
            discovered = time.monotonic() - t0
            print(
                f"all discovered (doorbell config, online, registration ON) "
                f"after {discovered:.1f} s"
            )

            cpu0 = [cpu_seconds(p.pid) for p in procs]
            time.sleep(args.idle)
            idle = [
                (cpu_seconds(p.pid) - c) / args.idle * 100 for p, c in zip(procs, cpu0, strict=True)
            ]
            mem = [memory_kib(p.pid) for p in procs]

            rings = []
            for i in range(1, n + 1):
                t = time.monotonic()
                flat.ctrl.command("dial", f"sip:door{i}@127.0.0.1:{kamailio.port}")
                ring = json.loads(sub.wait(f"building/door{i}/doorbell", timeout=20, new=True))
                assert ring == {"event_type": "ring"}
                rings.append(time.monotonic() - t)
                flat.ctrl.wait_event("CALL_ESTABLISHED", 15)
                flat.ctrl.command("hangup")
                flat.ctrl.wait_event("CALL_CLOSED", 15)
            total_cpu = [cpu_seconds(p.pid) for p in procs]
            run_s = time.monotonic() - t0
        finally:
            for p in procs:
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)
            codes = [p.wait(30) for p in procs]
            flat.stop()
            sub.close()
            broker.stop()
            kamailio.stop()
        rss = [r for r, _ in mem]
        pss = [q for _, q in mem]
        print(
            f"rings: {len(rings)} of {n} reached the broker as doorbell events; dial -> ring "
            f"median {statistics.median(rings) * 1000:.0f} ms, max {max(rings) * 1000:.0f} ms"
        )
        print(
            f"memory per endpoint: RSS median {statistics.median(rss) / 1024:.1f} MiB "
            f"(max {max(rss) / 1024:.1f}), PSS median {statistics.median(pss) / 1024:.1f} MiB; "
            f"all {n}: RSS {sum(rss) / 1024:.0f} MiB, PSS {sum(pss) / 1024:.0f} MiB"
        )
        print(
            f"CPU per endpoint idle (registered, MQTT connected): median "
            f"{statistics.median(idle):.2f} %, max {max(idle):.2f} % of one core"
        )
        print(
            f"CPU per endpoint over the whole run ({run_s:.0f} s, start-up, 1 call each): "
            f"median {statistics.median(total_cpu):.2f} s, all {sum(total_cpu):.1f} s"
        )
        print(f"exit codes after SIGTERM: {sorted(set(codes))}")


if __name__ == "__main__":
    main()
