"""``sip-endpoint demo``: a door and a flat on 127.0.0.1, a whole call, no hardware needed.

Two complete endpoints run in this process, each with its own SIP socket, media thread and
control socket: the door (a 440 Hz tone for a microphone) presses its call button, the flat (a
1 kHz tone) auto-answers, audio flows both ways for a few seconds, the door sends DTMF, hangs
up, and both print their end-of-call report. Everything is the production code path; only the
button press is simulated (it is the same command a GPIO button or ``ctl call`` issues).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import tempfile
from pathlib import Path
from typing import Any, TextIO

from endpoint.config import parse_config
from endpoint.runtime.engine import Engine

CALL_SECONDS = 3.0


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


def _config(name: str, tone_hz: int, workdir: Path) -> str:
    return (
        f'[sip]\nlisten = "127.0.0.1:{_free_port()}"\nuser_agent = "sip-endpoint-demo-{name}"\n'
        f'[media]\nrtp_ports = "40000-40999"\n'
        f'[audio]\nbackend = "tone"\ntone_hz = {tone_hz}\n'
        f'[control]\nsocket = "{workdir / (name + ".sock")}"\n[log]\nlevel = "warning"\n'
    )


async def _wait(queue: asyncio.Queue[dict[str, Any]], event: str, timeout: float) -> dict[str, Any]:
    async with asyncio.timeout(timeout):
        while True:
            item = await queue.get()
            if item.get("event") == event:
                return item


async def _demo(out: TextIO) -> int:
    with tempfile.TemporaryDirectory(prefix="sip-endpoint-demo-") as tmp:
        work = Path(tmp)
        door = Engine(parse_config(_config("door", 440, work)))
        flat = Engine(parse_config(_config("flat", 1000, work)))
        await door.start()
        await flat.start()
        door_events, flat_events = door.events.subscribe(), flat.events.subscribe()
        try:
            assert door.transport is not None and flat.transport is not None
            flat_uri = f"sip:flat@127.0.0.1:{flat.transport.port}"
            print(f"door  on 127.0.0.1:{door.transport.port} (microphone: 440 Hz tone)", file=out)
            print(f"flat  on 127.0.0.1:{flat.transport.port} (microphone: 1 kHz tone)", file=out)
            print(f"door: call button pressed -> calling {flat_uri}", file=out)
            answer = await door.command({"cmd": "call", "uri": flat_uri})
            if not answer.get("ok"):
                print(f"demo failed: {answer.get('error')}", file=out)
                return 1
            incoming = await _wait(flat_events, "call-incoming", 5)
            print(f"flat: incoming call from {incoming['from']}", file=out)
            answered = await _wait(door_events, "call-answered", 5)
            print(f"door: answered ({answered['codec']}), audio flowing both ways", file=out)
            await asyncio.sleep(CALL_SECONDS / 2)
            await door.command({"cmd": "dtmf", "digits": "1234#"})
            print("door: sends DTMF 1234#", file=out)
            digits = ""
            for _ in range(5):
                digits += (await _wait(flat_events, "dtmf", 5))["digit"]
            print(f"flat: received DTMF {digits}", file=out)
            await asyncio.sleep(CALL_SECONDS / 2)
            await door.command({"cmd": "hangup"})
            print("door: hangs up", file=out)
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
