"""Button latency: an edge on the call button -> the INVITE arriving at the callee.

The real Engine runs in this process; a plain UDP socket on 127.0.0.1 stands in as the callee.
A driver thread drives the button pin active and takes the time, the callee socket takes the
time the INVITE arrives, answers 486 Busy Here and waits for the ACK so that the next press
starts from idle. The span includes the board's event handling, the hand-over to the asyncio
loop, the button logic, the RTP socket allocation, building the INVITE with its SDP offer and
the send.

``--board gpio`` (default): ``[hardware] board = "gpio"`` on gpiozero's MockFactory; the driver
thread stands in for lgpio's callback thread on a Pi. Goal: well under 10 ms.

``--board serial``: ``[hardware] board = "serial"``: the real firmware runs in the MicroPython
unix port on a pty (tests/hardware/serial_rig.py, as bench_serial_latency.py) and the driver
sets the firmware's fake pin over the rig's side channel, so the span adds the firmware's 1 ms
sampling, the line on the pty and the host driver's parsing. Goal: under 20 ms.

Run: .venv/bin/python benchmarks/bench_button_latency.py [--presses 200] [--board serial]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gpiozero import Device
from gpiozero.pins.mock import MockFactory

from endpoint.config import parse_config
from endpoint.runtime.engine import Engine
from tests.hardware.serial_rig import FirmwareRig, wait_until
from tests.interop.peers import free_port

PIN = 17
SERIAL_PIN = 15
"""A Pico GPIO on the header (GP15), as tests/hardware/test_serial_board.py uses."""


def busy_here(invite: bytes) -> bytes:
    """486 for ``invite``: its Via, From, To (+ tag), Call-ID and CSeq copied (RFC 3261 §8.2.6)."""
    lines = invite.split(b"\r\n\r\n", 1)[0].split(b"\r\n")[1:]
    keep = [
        line + (b";tag=bench" if line.lower().startswith(b"to:") else b"")
        for line in lines
        if line.split(b":", 1)[0].strip().lower() in (b"via", b"v", b"from", b"f", b"to", b"t")
        or line.split(b":", 1)[0].strip().lower() in (b"call-id", b"i", b"cseq")
    ]
    return b"SIP/2.0 486 Busy Here\r\n" + b"\r\n".join(keep) + b"\r\nContent-Length: 0\r\n\r\n"


def receive(sock: socket.socket, method: bytes, deadline: float) -> tuple[bytes, float]:
    while True:
        sock.settimeout(max(0.001, deadline - time.monotonic()))
        data, _ = sock.recvfrom(65535)
        if data.startswith(method + b" "):
            return data, time.perf_counter()
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {method.decode()} arrived")


@dataclass(frozen=True, slots=True)
class Button:
    """How the driver thread presses and releases the call button of one kind of board."""

    press: Callable[[], object]
    release: Callable[[], object]
    settle_s: float
    """Pause after a refused call: the loop finishes its teardown and the board sees the release
    (the firmware samples every 1 ms) before the next press."""


def gpio_button() -> Button:
    factory = Device.pin_factory
    assert factory is not None
    pin = factory.pin(PIN)
    return Button(pin.drive_low, pin.drive_high, 0.005)


def serial_button(rig: FirmwareRig) -> Button:
    return Button(lambda: rig.drive(SERIAL_PIN, 0), lambda: rig.drive(SERIAL_PIN, None), 0.012)


def drive(presses: int, sock: socket.socket, button: Button) -> list[float]:
    """The driver thread: press, time the INVITE, refuse the call, release."""
    spans: list[float] = []
    for _ in range(presses):
        start = time.perf_counter()
        button.press()
        invite, arrived = receive(sock, b"INVITE", time.monotonic() + 5)
        spans.append(arrived - start)
        button.release()
        source = invite.split(b"\r\n", 2)[1]  # the Via line: where the UA listens
        host_port = source.split(b" ")[-1].split(b";")[0].decode()
        host, _, port = host_port.rpartition(":")
        sock.sendto(busy_here(invite), (host, int(port)))
        receive(sock, b"ACK", time.monotonic() + 5)
        time.sleep(button.settle_s)
    return spans


def board_ready(engine: Engine) -> bool:
    """The serial board finished HELLO and CONFIG: its buttons report from now on."""
    board = engine.hardware.board if engine.hardware is not None else None
    return board is not None and board.status().get("link") == "ready"


async def run(presses: int, board: str) -> list[float]:
    callee = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    callee.bind(("127.0.0.1", 0))
    with tempfile.TemporaryDirectory() as tmp, callee, contextlib.ExitStack() as stack:
        if board == "serial":
            rig = FirmwareRig(Path(tmp))
            rig.start()
            stack.callback(rig.stop)
            hardware = f'board = "serial"\nserial_port = "{rig.port}"'
            pin = SERIAL_PIN
        else:
            Device.pin_factory = MockFactory()
            hardware = 'board = "gpio"'
            pin = PIN
        text = f"""
[sip]
listen = "127.0.0.1:{free_port(both=True)}"
[audio]
backend = "null"
[control]
socket = "{Path(tmp) / "ctl.sock"}"
[log]
level = "warning"
[hardware]
{hardware}
[[hardware.button]]
name = "call"
pin = {pin}
bounce_ms = 0
action = "call"
targets = ["sip:bench@127.0.0.1:{callee.getsockname()[1]}"]
"""
        engine = Engine(parse_config(text))
        await engine.start()
        try:
            if board == "serial":
                await asyncio.to_thread(wait_until, lambda: board_ready(engine), 10)
                button = serial_button(rig)
            else:
                button = gpio_button()
            return await asyncio.to_thread(drive, presses, callee, button)
        finally:
            await engine.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--presses", type=int, default=200)
    parser.add_argument(
        "--board",
        choices=("gpio", "serial"),
        default="gpio",
        help="gpio: gpiozero MockFactory; serial: the firmware in MicroPython on a pty",
    )
    args = parser.parse_args()
    logging.getLogger("endpoint").setLevel(logging.ERROR)  # each refused call logs a warning
    spans = sorted(s * 1000 for s in asyncio.run(run(args.presses, args.board)))
    p99 = spans[min(len(spans) - 1, round(0.99 * (len(spans) - 1)))]
    edge = "button edge" if args.board == "gpio" else "firmware pin edge (pty + MicroPython unix)"
    print(
        f"{edge} -> INVITE at the callee over {len(spans)} presses: "
        f"median {statistics.median(spans):.3f} ms, p99 {p99:.3f} ms, max {spans[-1]:.3f} ms"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
