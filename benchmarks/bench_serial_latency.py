"""Button edge at the firmware -> ButtonEvent at the host's ``emit``, over a pty.

The real firmware runs in the MicroPython unix port with the fake ``machine`` pins of the
tests (tests/hardware/serial_rig.py); the host side is ``SerialBoard``, the endpoint's driver.
Each press drives the button pin low through the pin side channel and times until ``emit``
receives PRESSED (release is timed too, then ignored). This is the board part of
"button -> INVITE"; on a Pico add USB CDC latency (~1 ms frames) instead of the pty's.

    .venv/bin/python benchmarks/bench_serial_latency.py [--presses 200]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from endpoint.hardware.serial_board import SerialBoard
from endpoint.ua.io import (
    BoardSpec,
    ButtonEvent,
    ButtonSpec,
    HardwareEvent,
    InputKind,
)
from tests.hardware.serial_rig import FirmwareRig, wait_until

PIN = 15


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presses", type=int, default=200)
    args = parser.parse_args(argv)

    arrived: dict[InputKind, threading.Event] = {
        InputKind.PRESSED: threading.Event(),
        InputKind.RELEASED: threading.Event(),
    }
    stamps: dict[InputKind, float] = {}

    def emit(event: HardwareEvent) -> None:
        if isinstance(event, ButtonEvent) and event.kind in arrived:
            stamps[event.kind] = time.monotonic()
            arrived[event.kind].set()

    spec = BoardSpec(buttons=(ButtonSpec("call", PIN, bounce_ms=5, hold_s=0),))
    with tempfile.TemporaryDirectory() as tmp:
        rig = FirmwareRig(Path(tmp))
        rig.start()
        board = SerialBoard(spec, rig.port)
        board.start(emit)
        try:
            wait_until(lambda: board.status()["link"] == "ready", 10)
            latencies: list[float] = []
            for _ in range(args.presses):
                for kind, level in ((InputKind.PRESSED, 0), (InputKind.RELEASED, None)):
                    arrived[kind].clear()
                    sent = rig.drive(PIN, level)
                    if not arrived[kind].wait(5):
                        print(f"no {kind.value} event within 5 s", file=sys.stderr)
                        return 1
                    if kind is InputKind.PRESSED:
                        latencies.append((stamps[kind] - sent) * 1000)
                    time.sleep(0.012)  # past the 5 ms bounce lock-out before the next edge
        finally:
            board.close()
            rig.stop()

    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, round(0.99 * (len(latencies) - 1)))]
    print(f"button edge -> ButtonEvent at emit, {len(latencies)} presses, pty + MicroPython unix")
    print(
        f"  median {statistics.median(latencies):.2f} ms   p99 {p99:.2f} ms   "
        f"max {latencies[-1]:.2f} ms   min {latencies[0]:.2f} ms"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
