"""Start -> ready of the real ``sip-endpoint run``, several starts, and what the time goes on
(issue 19: < 300 ms).

Each start is timed from ``Popen`` to systemd's ``READY=1`` on a notify socket (control
socket up, SIP listening), as ``bench_footprint.py`` does once; here the median of
``--starts`` runs, with the CPU time (user + system, from ``/proc``) and the RSS the process
has at that moment: on a machine other work shares, CPU time varies less than the wall clock.
The config is ``bench_footprint.py``'s (peer-to-peer, auto-answer, ``null`` audio); bytecode is
written once to a private ``PYTHONPYCACHEPREFIX`` first, as a wheel install has it compiled, and
so is the code dataclasses generate (``endpoint.dataclass_cache.build()``, as
``sip-endpoint install`` does on a device). Run it with ``PYTHONPATH=<checkout>`` to measure a
checkout other than the one the venv's ``sip-endpoint`` points at.

Then the interpreter's share: the same figures for ``python -c pass``, ``python -I -c pass``
(what an isolated ExecStart would save: no user site, no PYTHON* variables) and
``python -c "import asyncio"`` (the event loop, which also loads ssl), and the imports of
``run`` alone (``endpoint.cli`` and the engine), so what is left is the engine's start.
Asserts nothing; prints the figures and the load average.

    .venv/bin/python benchmarks/bench_start.py [--starts 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.bench_footprint import build_dataclass_cache
from tests.interop.peers import free_port
from tests.security.attacker import p2p_config
from tests.service.harness import NotifySocket, Service

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_and_rss(pid: int) -> tuple[float, int]:
    """CPU seconds (user + system) the process has used, and its VmRSS in kB."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    rss = next(
        int(line.split()[1])
        for line in Path(f"/proc/{pid}/status").read_text().splitlines()
        if line.startswith("VmRSS:")
    )
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS, rss


def one_start(config: Path) -> tuple[float, float, int]:
    """Wall seconds to READY=1, CPU seconds and RSS kB at that moment."""
    notify = NotifySocket(config.with_name(f"notify-{time.monotonic_ns()}"))
    started = time.monotonic()
    service = Service(config, notify)
    try:
        notify.wait_for(lambda d: d.get("READY") == "1", timeout=30)
        wall = time.monotonic() - started
        cpu, rss = cpu_and_rss(service.proc.pid)
    finally:
        service.stop()
        notify.close()
    return wall, cpu, rss


#: Appended to each measured ``-c`` program: its VmRSS at the end (``wait4``'s ru_maxrss would
#: still count the benchmark's own pages from before the exec).
PRINT_RSS = "\nprint([x for x in open('/proc/self/status') if x.startswith('VmRSS')][0].split()[1])"


def one_command(flags: list[str], code: str) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds (of the child, from ``wait4``) and RSS kB at its end of
    ``python FLAGS -c CODE``."""
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, *flags, "-c", code + PRINT_RSS], stdout=subprocess.PIPE
    )
    assert proc.stdout is not None
    rss = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - started
    proc.stdout.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"python {flags} -c {code!r} failed")
    return wall, usage.ru_utime + usage.ru_stime, int(rss.split()[-1])


def line(name: str, runs: list[tuple[float, float, int]]) -> str:
    walls = [1000 * r[0] for r in runs]
    cpus = [1000 * r[1] for r in runs]
    rss = statistics.median(r[2] for r in runs) / 1024
    return (
        f"{name:42}{statistics.median(walls):9.0f}{min(walls):7.0f}"
        f"{statistics.median(cpus):9.0f}{rss:9.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--starts", type=int, default=7, help="starts of each kind")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        config = root / "door.toml"
        p2p_config(config, free_port(both=True))
        os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
        os.environ["PYTHONPYCACHEPREFIX"] = str(root / "pycache")
        one_start(config)  # writes the bytecode; not measured
        build_dataclass_cache()
        commands = {
            "python -c pass": ([], "pass"),
            "python -I -c pass": (["-I"], "pass"),
            "python -c 'import asyncio'": ([], "import asyncio"),
            "imports of run (cli + engine)": ([], "import endpoint.cli, endpoint.runtime.engine"),
        }
        rows = {
            name: [one_command(flags, code) for _ in range(args.starts)]
            for name, (flags, code) in commands.items()
        }
        rows["sip-endpoint run -> READY=1"] = [one_start(config) for _ in range(args.starts)]
    print(
        f"{args.starts} starts each (load average {os.getloadavg()[0]:.2f}, "
        f"{os.cpu_count()} cores; CPU resolution {1000 / CLOCK_TICKS:.0f} ms)"
    )
    print(f"{'':42}{'wall ms':>9}{'min':>7}{'CPU ms':>9}{'RSS MB':>9}")
    for name, runs in rows.items():
        print(line(name, runs))


if __name__ == "__main__":
    main()
