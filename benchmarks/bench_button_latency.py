"""Button latency: a GPIO edge on the call button -> the INVITE arriving at the callee.

The real Engine runs in this process with ``[hardware] board = "gpio"`` on gpiozero's
MockFactory; a plain UDP socket on 127.0.0.1 stands in as the callee. A driver thread (like
lgpio's callback thread on a Pi) drives the button pin low and takes the time, the callee
socket takes the time the INVITE arrives, answers 486 Busy Here and waits for the ACK so that
the next press starts from idle. The span includes gpiozero's event handling, the hand-over to
the asyncio loop, the button logic, the RTP socket allocation, building the INVITE with its SDP
offer and the send. Goal: well under 10 ms.

Run: .venv/bin/python benchmarks/bench_button_latency.py [--presses 200]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gpiozero import Device
from gpiozero.pins.mock import MockFactory

from endpoint.config import parse_config
from endpoint.runtime.engine import Engine
from tests.interop.peers import free_port

PIN = 17


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


def drive(presses: int, sock: socket.socket) -> list[float]:
    """The driver thread: press, time the INVITE, refuse the call, release."""
    factory = Device.pin_factory
    assert factory is not None
    button = factory.pin(PIN)
    spans: list[float] = []
    for _ in range(presses):
        start = time.perf_counter()
        button.drive_low()
        invite, arrived = receive(sock, b"INVITE", time.monotonic() + 5)
        spans.append(arrived - start)
        button.drive_high()
        source = invite.split(b"\r\n", 2)[1]  # the Via line: where the UA listens
        host_port = source.split(b" ")[-1].split(b";")[0].decode()
        host, _, port = host_port.rpartition(":")
        sock.sendto(busy_here(invite), (host, int(port)))
        receive(sock, b"ACK", time.monotonic() + 5)
        time.sleep(0.005)  # let the loop finish the call's teardown before the next press
    return spans


async def run(presses: int) -> list[float]:
    Device.pin_factory = MockFactory()
    callee = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    callee.bind(("127.0.0.1", 0))
    with tempfile.TemporaryDirectory() as tmp, callee:
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
board = "gpio"
[[hardware.button]]
name = "call"
pin = {PIN}
bounce_ms = 0
action = "call"
targets = ["sip:bench@127.0.0.1:{callee.getsockname()[1]}"]
"""
        engine = Engine(parse_config(text))
        await engine.start()
        try:
            return await asyncio.to_thread(drive, presses, callee)
        finally:
            await engine.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--presses", type=int, default=200)
    args = parser.parse_args()
    logging.getLogger("endpoint").setLevel(logging.ERROR)  # each refused call logs a warning
    spans = sorted(s * 1000 for s in asyncio.run(run(args.presses)))
    p99 = spans[min(len(spans) - 1, round(0.99 * (len(spans) - 1)))]
    print(
        f"button edge -> INVITE at the callee over {len(spans)} presses: "
        f"median {statistics.median(spans):.3f} ms, p99 {p99:.3f} ms, max {spans[-1]:.3f} ms"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
