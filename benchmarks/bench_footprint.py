"""Footprint of the real ``sip-endpoint run`` beside baresip 1.0, in one run (issue 19).

Both run peer-to-peer on 127.0.0.1 with auto-answer and no sound card (ours: the ``null``
audio backend; baresip: its ``aubridge`` echo source and player at 8 kHz, no recording), so
neither pays for a device. Measured black-box from ``/proc``, side by side over the same
seconds:

- start -> ready: ours until systemd's ``READY=1`` (control socket up, SIP listening);
  baresip until it answers an OPTIONS;
- RSS (VmRSS) idle, and the highest seen during the call;
- CPU of one core while idle, and during one PCMU call from SIPp to each (``uac_pcmu.xml``
  streams a 1 kHz tone; each endpoint decodes it and sends its own audio back);
- open file descriptors idle and in the call.

Ours runs from compiled bytecode, as an installed wheel does (pip compiles it at install): the
whole package is compiled into a private ``PYTHONPYCACHEPREFIX``, then one warm-up start, not
measured, writes the bytecode of everything else it imports, so an environment with
``PYTHONDONTWRITEBYTECODE`` charges neither the measured start nor the first call (which loads
the call path, issue 19) with compiling.
Then the dataclass code cache is built there, as ``sip-endpoint install`` does on a device.
``PYTHONPATH=<checkout>`` measures that checkout.

Goals (issue 19): RSS <= 25 MB idle and <= 28 MB in a call, idle CPU <= 0.05 % of one core,
CPU per call <= baresip's, start -> ready < 300 ms. Asserts nothing; prints the figures.
The CPU rows come twice: from ``/proc/PID/stat`` (clock ticks, every thread that ran) and from
each thread's ``schedstat`` (nanoseconds, with how often each thread was woken: an idle process
with no periodic timer wakes about once per watchdog beat).

    .venv/bin/python benchmarks/bench_footprint.py [--seconds 20] [--idle-seconds 60]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.interop.peers import Baresip, Sipp, free_port
from tests.security.attacker import p2p_config
from tests.service.harness import NotifySocket, Service

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
#: The shipped unit's ``WatchdogSec=10``: the watchdog's beats are part of the idle cost.
WATCHDOG_USEC = 10_000_000


@dataclass
class Sample:
    cpu: float  # seconds of CPU (user + system) since the process started
    rss_kb: int
    fds: int
    #: Per live thread: nanoseconds on a CPU and times it was scheduled in, from
    #: ``/proc/PID/task/TID/schedstat``. Nanosecond resolution, where ``stat`` counts clock ticks
    #: (10 ms: 0.07 % of a core over 15 s, coarser than the idle goal of 0.05 %).
    threads: dict[str, tuple[int, int]]


def schedstats(pid: int) -> dict[str, tuple[int, int]]:
    """On-CPU nanoseconds and run count of each thread of ``pid`` that is alive now."""
    found: dict[str, tuple[int, int]] = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            on_cpu, _waited, runs = Path(f"/proc/{pid}/task/{tid}/schedstat").read_text().split()
        except (FileNotFoundError, ProcessLookupError):
            continue  # the thread ended between the listing and the read
        found[tid] = (int(on_cpu), int(runs))
    return found


def sample(pid: int) -> Sample:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    rss = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1])
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    return Sample((int(fields[11]) + int(fields[12])) / CLOCK_TICKS, rss, fds, schedstats(pid))


@dataclass
class Phase:
    cpu_percent: float
    rss_max_kb: int
    fds: int
    #: From the threads alive at both ends of the phase (a thread that came and went inside it
    #: is missed; ``cpu_percent`` counts it).
    precise_percent: float
    wakeups_per_second: float


def _precise(first: Sample, last: Sample, elapsed: float) -> tuple[float, float]:
    """CPU share and wake-ups per second of the threads alive at both ends of a phase."""
    both = first.threads.keys() & last.threads.keys()
    on_cpu = sum(last.threads[t][0] - first.threads[t][0] for t in both)
    runs = sum(last.threads[t][1] - first.threads[t][1] for t in both)
    return 100 * on_cpu / 1e9 / elapsed, runs / elapsed


def watch(pids: dict[str, int], seconds: float) -> dict[str, Phase]:
    """CPU as a share of one core over ``seconds``, the highest RSS sampled every 0.2 s."""
    first = {name: sample(pid) for name, pid in pids.items()}
    peak = {name: s.rss_kb for name, s in first.items()}
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        time.sleep(0.2)
        for name, pid in pids.items():
            peak[name] = max(peak[name], sample(pid).rss_kb)
    elapsed = time.monotonic() - start
    last = {name: sample(pid) for name, pid in pids.items()}
    return {
        name: Phase(
            100 * (last[name].cpu - first[name].cpu) / elapsed,
            peak[name],
            last[name].fds,
            *_precise(first[name], last[name], elapsed),
        )
        for name in pids
    }


def call(workdir: Path, user: str, port: int, seconds: float) -> Sipp:
    return Sipp(
        workdir,
        "uac_pcmu.xml",
        [
            "-s",
            user,
            "-key",
            "from_user",
            "bench",
            "-d",
            str(int(seconds * 1000)),
            f"127.0.0.1:{port}",
        ],
    ).start()


#: What ``sip-endpoint install`` does once the venv is compiled: the dataclass code cache
#: (``endpoint.dataclass_cache``; a checkout from before it has none).
WARM_UP = """
try:
    from endpoint import dataclass_cache
except ImportError:
    pass
else:
    dataclass_cache.build()
"""


def build_dataclass_cache() -> None:
    """Write the dataclass code cache where ``PYTHONPYCACHEPREFIX`` puts the bytecode."""
    subprocess.run([sys.executable, "-c", WARM_UP], check=True)


def warm_bytecode(config: Path, cache: Path) -> None:
    """Start and stop the service once with bytecode written to ``cache`` (and read from it by
    every later start: our children inherit the environment), then the dataclass code cache
    as a device's install builds it."""
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ["PYTHONPYCACHEPREFIX"] = str(cache)
    import endpoint  # the package the service will run (PYTHONPATH or this checkout)

    package = Path(endpoint.__file__).parent
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(package)], check=True)
    notify = NotifySocket(config.with_name("warm-notify"))
    service = Service(config, notify, watchdog_usec=WATCHDOG_USEC)
    try:
        notify.wait_for(lambda d: d.get("READY") == "1", timeout=60)
    finally:
        service.stop()
        notify.close()
    build_dataclass_cache()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=float, default=20, help="length of each phase")
    parser.add_argument(
        "--idle-seconds",
        type=float,
        default=None,
        help="length of the idle phase (default: --seconds); 60 s resolves the idle goal "
        "with the clock-tick figure too",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        port = free_port(both=True)
        config = root / "door.toml"
        p2p_config(config, port)
        warm_bytecode(config, root / "pycache")
        notify = NotifySocket(root / "notify")
        started = time.monotonic()
        ours = Service(config, notify, watchdog_usec=WATCHDOG_USEC)
        try:
            notify.wait_for(lambda d: d.get("READY") == "1", timeout=20)
            ours_ready = time.monotonic() - started
            started = time.monotonic()
            baresip = Baresip(root / "baresip", echo=True, record=False).start()
            baresip_ready = time.monotonic() - started
            try:
                assert baresip.proc is not None
                pids = {"ours": ours.proc.pid, "baresip": baresip.proc.pid}
                time.sleep(2)  # start-up work (first registration, imports) is not idling
                idle = watch(pids, args.idle_seconds or args.seconds)
                talk = args.seconds + 4
                callers = [
                    call(root / "sipp-ours", "door", port, talk),
                    call(root / "sipp-baresip", baresip.user, baresip.sip_port, talk),
                ]
                time.sleep(2)  # both answered, media flowing
                busy = watch(pids, args.seconds)
                for sipp in callers:
                    code = sipp.wait(timeout=talk + 20)
                    if code != 0:
                        print(f"warning: sipp exited {code}:\n{sipp.report()}")
            finally:
                baresip.stop()
        finally:
            ours.stop()
            notify.close()
    load = os.getloadavg()[0]
    idle_seconds = args.idle_seconds or args.seconds
    resolution = 100 / CLOCK_TICKS / idle_seconds
    print(
        f"footprint: idle {idle_seconds:.0f} s, call {args.seconds:.0f} s (load average "
        f"{load:.2f}, {os.cpu_count()} cores; idle CPU resolution {resolution:.3f} % = one "
        "clock tick; the schedstat rows count nanoseconds)"
    )
    print(f"{'':28}{'ours':>12}{'baresip':>12}")
    rows = [
        ("start -> ready (ms)", f"{ours_ready * 1000:.0f}", f"{baresip_ready * 1000:.0f}"),
        ("RSS idle (MB)", *(f"{idle[n].rss_max_kb / 1024:.1f}" for n in pids)),
        ("RSS in a call (MB, max)", *(f"{busy[n].rss_max_kb / 1024:.1f}" for n in pids)),
        ("CPU idle (% of one core)", *(f"{idle[n].cpu_percent:.2f}" for n in pids)),
        ("  schedstat (%)", *(f"{idle[n].precise_percent:.3f}" for n in pids)),
        ("  wake-ups per second", *(f"{idle[n].wakeups_per_second:.2f}" for n in pids)),
        ("CPU in a call (%)", *(f"{busy[n].cpu_percent:.2f}" for n in pids)),
        ("  schedstat (%)", *(f"{busy[n].precise_percent:.3f}" for n in pids)),
        ("  wake-ups per second", *(f"{busy[n].wakeups_per_second:.1f}" for n in pids)),
        ("open fds idle / call", *(f"{idle[n].fds} / {busy[n].fds}" for n in pids)),
    ]
    for name, ours, theirs in rows:
        print(f"{name:28}{ours:>12}{theirs:>12}")
    theirs = busy["baresip"].cpu_percent
    ratio = f"{busy['ours'].cpu_percent / theirs:.2f}" if theirs > 0 else "n/a (baresip used none)"
    print(f"CPU per call, ours / baresip: {ratio}")


if __name__ == "__main__":
    main()
