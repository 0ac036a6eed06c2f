"""CPU and PortAudio callbacks of one call's audio port on a device (ALSA's pulse plugin).

Why: a Python callback from PortAudio's C thread is the dearest wake-up this process has
(issue 19's measurements: 160-210 us of CPU each on the reference VM). A port that captures
from and plays to one device runs two PortAudio streams (two callbacks per 20 ms); the
registry can open one full-duplex stream there (``[audio] duplex``). This bench shows what
that buys, with no SIP and no network: a private PulseAudio daemon with a null sink (it paces
like a card, 20 ms), an `AlsaPort("pulse", "pulse")` as a call's, and a stand-in for the media
thread that writes a frame and reads a frame on absolute 20 ms deadlines. It prints PortAudio
streams open, callbacks per second, and CPU as % of one core: the whole process, the loop
thread, and every other thread (PortAudio's callback threads, the device supervisor).

``--duplex`` opens the port as ``[audio] duplex = true`` does (off by default).
``--code DIR`` runs the `endpoint` package of another checkout (e.g. a worktree of main's HEAD
under /tmp) for a before/after on the same host; rounds should be interleaved. ``--rate`` is
the device rate (48000: PortAudio's duplex stream on the pulse plugin ends after a callback or
two at 8000 and 16000).

Run: .venv/bin/python benchmarks/bench_audio_duplex.py [--seconds 20] [--rate 48000] [--duplex]
[--code DIR]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def task_cpu(path: str) -> float:
    """utime + stime in seconds of /proc/<path> (a process or one of its tasks)."""
    fields = Path(f"/proc/{path}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def threads_cpu() -> dict[int, float]:
    return {int(t): task_cpu(f"self/task/{t}") for t in os.listdir("/proc/self/task")}


def start_pulse(directory: Path) -> subprocess.Popen[bytes]:
    """A private PulseAudio daemon with a null sink whose monitor is the default source."""
    script = directory / "default.pa"
    script.write_text(
        "load-module module-null-sink sink_name=nullsink\n"
        f"load-module module-native-protocol-unix socket={directory}/pulse.sock "
        "auth-anonymous=1\n"
        "set-default-sink nullsink\n"
        "set-default-source nullsink.monitor\n"
    )
    env = {**os.environ, "HOME": str(directory)}
    daemon = subprocess.Popen(
        ["pulseaudio", "-n", "--daemonize=no", "--exit-idle-time=-1", "-F", str(script)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    deadline = time.monotonic() + 10
    while not (directory / "pulse.sock").exists():
        if time.monotonic() > deadline:
            daemon.kill()
            raise RuntimeError("pulseaudio did not start")
        time.sleep(0.01)
    os.environ.update(
        PULSE_SERVER=f"unix:{directory}/pulse.sock",
        PULSE_RUNTIME_PATH=str(directory / "rt"),
        PULSE_STATE_PATH=str(directory / "st"),
        JACK_NO_START_SERVER="1",
    )
    return daemon


def callbacks(registry: Any) -> int:
    """PortAudio callbacks so far: the registry's own count (older code: its streams')."""
    if hasattr(registry, "callbacks"):
        return int(registry.callbacks())
    return sum(s.callbacks for s in list(registry._streams.values()))


def open_streams(registry: Any) -> int:
    if hasattr(registry, "open_streams"):
        return int(registry.open_streams())
    return sum(1 for s in list(registry._streams.values()) if s.is_open())


def measure(seconds: float, rate: int, duplex: bool) -> dict[str, float]:
    from endpoint.audio.alsa import AlsaPort
    from endpoint.audio.registry import DeviceRegistry

    registry = DeviceRegistry()
    extra = {"duplex": True} if duplex else {}  # older code has no such option
    port = AlsaPort("pulse", "pulse", registry=registry, rates=(rate,), **extra)
    frame = bytes(320)
    port.start()
    if not port.wait_running(20):
        raise RuntimeError(f"the pulse device did not open: {port.status()}")
    time.sleep(3.0)  # past the start (and a fallback to split streams, if any)
    me = threading.get_native_id()
    cpu0, threads0, cb0, t0 = task_cpu("self"), threads_cpu(), callbacks(registry), time.monotonic()
    deadline = t0
    while deadline - t0 < seconds:
        deadline += 0.02
        time.sleep(max(0.0, deadline - time.monotonic()))
        port.write_frame(frame)
        port.read_frame()
    wall = time.monotonic() - t0
    cpu1, threads1, cb1 = task_cpu("self"), threads_cpu(), callbacks(registry)
    streams = open_streams(registry)
    port.stop()
    registry.shutdown()
    loop = threads1.get(me, 0.0) - threads0.get(me, 0.0)
    others = sum(v - threads0.get(k, 0.0) for k, v in threads1.items() if k != me)
    return {
        "streams": streams,
        "callbacks_per_s": (cb1 - cb0) / wall,
        "process": 100 * (cpu1 - cpu0) / wall,
        "loop_thread": 100 * loop / wall,
        "other_threads": 100 * others / wall,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--rate", type=int, default=48000, help="device rate (default 48000)")
    ap.add_argument("--code", type=Path, default=Path(__file__).resolve().parents[1])
    ap.add_argument("--duplex", action="store_true", help="as [audio] duplex = true")
    args = ap.parse_args()
    sys.path.insert(0, str(args.code.resolve()))
    with tempfile.TemporaryDirectory(prefix="bench-duplex-") as tmp:
        daemon = start_pulse(Path(tmp))
        try:
            r = measure(args.seconds, args.rate, args.duplex)
        finally:
            daemon.terminate()
            daemon.wait()
    variant = " --duplex" if args.duplex else ""
    print(
        f"code {args.code}{variant}: {r['streams']:.0f} PortAudio stream(s), "
        f"{r['callbacks_per_s']:.1f} callbacks/s; CPU % of one core: process {r['process']:.2f}, "
        f"loop thread {r['loop_thread']:.2f}, other threads {r['other_threads']:.2f}"
    )


if __name__ == "__main__":
    main()
