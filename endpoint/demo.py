"""``sip-endpoint demo``: a door and a flat on 127.0.0.1, a whole visit, no hardware needed.

Two complete endpoints run in this process, each with its own SIP socket, media thread and
control socket. The door has a simulated I/O board (a call button, a status LED, the door
relay): a visitor presses the button, the flat (a 1 kHz tone for a microphone) auto-answers,
audio flows both ways, the resident keys the door code on the phone and the relay opens the
door, the visitor presses the button again to hang up, and both print their end-of-call report.
Everything is the production code path; only the board is simulated (``[hardware] board =
"simulated"``: the same bridge, button logic, door logic and LEDs a GPIO or serial board uses).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import tempfile
from pathlib import Path
from typing import Any, TextIO

from endpoint.config import parse_config
from endpoint.hardware.simulated import SimulatedBoard
from endpoint.runtime.engine import Engine

CALL_SECONDS = 3.0
DOOR_CODE = "1234"


def _free_port() -> int:
    """A port free for both UDP and TCP on 127.0.0.1 (the endpoint listens on both)."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = int(udp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
        return port
    raise OSError("no free port on 127.0.0.1")


def _config(name: str, port: int, tone_hz: int, workdir: Path, extra: str = "") -> str:
    return (
        f'[sip]\nlisten = "127.0.0.1:{port}"\nuser_agent = "sip-endpoint-demo-{name}"\n'
        f'[media]\nrtp_ports = "40000-40999"\n'
        f'[audio]\nbackend = "tone"\ntone_hz = {tone_hz}\n'
        f'[control]\nsocket = "{workdir / (name + ".sock")}"\n[log]\nlevel = "warning"\n' + extra
    )


def _door_hardware(flat_uri: str) -> str:
    """The door's simulated board: a call-or-hang-up button, a status LED, the door relay."""
    return (
        '[hardware]\nboard = "simulated"\n'
        '[[hardware.button]]\nname = "bell"\npin = 17\naction = "call-or-hangup"\n'
        f'targets = ["{flat_uri}"]\n'
        '[[hardware.led]]\nname = "status"\npin = 23\n'
        'show = { idle = "on", calling = "fast", in_call = "slow", door_open = "double" }\n'
        f'[door]\nrelay_pin = 27\npulse_s = 1.0\ncode = "{DOOR_CODE}"\n'
    )


async def _wait(queue: asyncio.Queue[dict[str, Any]], event: str, timeout: float) -> dict[str, Any]:
    async with asyncio.timeout(timeout):
        while True:
            item = await queue.get()
            if item.get("event") == event:
                return item


async def _open_the_door(
    flat: Engine, door_events: asyncio.Queue[dict[str, Any]], board: SimulatedBoard, out: TextIO
) -> None:
    """The resident keys the code: the relay opens, and its own timer closes it again."""
    await flat.command({"cmd": "dtmf", "digits": DOOR_CODE})
    print(f"flat: resident keys the door code {DOOR_CODE}", file=out)
    opened = await _wait(door_events, "door-opened", 5)
    await asyncio.sleep(0.1)
    print(
        f"door: relay energised: {board.relay_energised('door')} "
        f"(door open for {opened['seconds']:g} s, opened via {opened['via']}), "
        f"status LED {board.led('status').value}",
        file=out,
    )
    await _wait(door_events, "door-pulse-ended", 5)
    for _ in range(50):  # the board's own pulse timer ends it, within a few ms
        if not board.relay_energised("door"):
            break
        await asyncio.sleep(0.01)
    print(f"door: relay released: {not board.relay_energised('door')}", file=out)


async def _demo(out: TextIO) -> int:
    with tempfile.TemporaryDirectory(prefix="sip-endpoint-demo-") as tmp:
        work = Path(tmp)
        door_port, flat_port = _free_port(), _free_port()
        flat_uri = f"sip:flat@127.0.0.1:{flat_port}"
        door = Engine(parse_config(_config("door", door_port, 440, work, _door_hardware(flat_uri))))
        flat = Engine(parse_config(_config("flat", flat_port, 1000, work)))
        await door.start()
        await flat.start()
        door_events, flat_events = door.events.subscribe(), flat.events.subscribe()
        try:
            assert door.hardware is not None and isinstance(door.hardware.board, SimulatedBoard)
            board = door.hardware.board
            print(f"door  on 127.0.0.1:{door_port} (microphone: 440 Hz tone)", file=out)
            print(f"flat  on 127.0.0.1:{flat_port} (microphone: 1 kHz tone)", file=out)
            print(f"door: status LED {board.led('status').value} (idle)", file=out)
            print(f"door: visitor presses the bell button -> calling {flat_uri}", file=out)
            board.press("bell")
            board.release("bell")
            incoming = await _wait(flat_events, "call-incoming", 5)
            print(f"flat: incoming call from {incoming['from']}", file=out)
            answered = await _wait(door_events, "call-answered", 5)
            await asyncio.sleep(0.1)  # the LED follows the call-answered notice
            print(
                f"door: answered ({answered['codec']}), audio flowing both ways, "
                f"status LED {board.led('status').value}",
                file=out,
            )
            await asyncio.sleep(CALL_SECONDS / 2)
            await _open_the_door(flat, door_events, board, out)
            await asyncio.sleep(CALL_SECONDS / 2)
            print("door: visitor presses the bell button again -> hangs up", file=out)
            board.press("bell")
            board.release("bell")
            for name, queue in (("door", door_events), ("flat", flat_events)):
                report = await _wait(queue, "call-report", 5)
                print(
                    f"{name} report: {report['codec']} sent {report['sent_packets']} "
                    f"received {report['received_packets']} lost {report['lost']} "
                    f"jitter {report['jitter_ms']:.1f} ms MOS {report['mos']:.2f} "
                    f"({report['reason']})",
                    file=out,
                )
            return 0
        except TimeoutError:
            print("demo failed: an expected event did not come (see the log above)", file=out)
            return 1
        finally:
            for engine in (door, flat):
                engine.request_stop()
                await engine.close()


def run_demo(out: TextIO) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    return asyncio.run(_demo(out))
