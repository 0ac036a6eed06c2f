"""End to end: an ``attended-transfer`` button on gpiozero's mock pins, the real Engine, and two
real PJSIP phones. The visitor calls the door; a short press holds the visitor and calls the
flat; a second short press hands the visitor over (the flat's phone swaps its call with the
door for the visitor's INVITE with Replaces); a long press instead ends the consultation and
the visitor hears the door again.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from endpoint.config import parse_config
from endpoint.runtime.engine import Engine
from tests.hardware.test_gpio_engine import mock_pins, pin, until
from tests.interop.peers import free_port
from tests.interop.pjsua import MISSING, Pjsua, pjsua_python

pytestmark = pytest.mark.interop
__all__ = ["mock_pins"]  # the fixture, used by name

XFER_PIN = 22


@pytest.fixture
async def phones(tmp_path: Path) -> AsyncIterator[tuple[Pjsua, Pjsua]]:
    if pjsua_python() is None:
        if os.environ.get("CI") == "true":
            pytest.fail(MISSING)
        pytest.skip(MISSING)
    visitor = Pjsua(tmp_path / "visitor", user="visitor").start()
    flat = Pjsua(tmp_path / "flat", user="flat", tone_hz=700).start()
    try:
        yield visitor, flat
    finally:
        visitor.stop()
        flat.stop()


async def door(tmp: Path, flat: Pjsua) -> Engine:
    port = free_port(both=True)
    engine = Engine(
        parse_config(f"""
[sip]
listen = "127.0.0.1:{port}"
[calls]
allow = ["*@127.0.0.1"]
[audio]
backend = "null"
[control]
socket = "{tmp / "ctl.sock"}"
[hardware]
board = "gpio"
[[hardware.button]]
name = "xfer"
pin = {XFER_PIN}
action = "attended-transfer"
targets = ["{flat.uri}"]
hold_s = 0.3
""")
    )
    await engine.start()
    return engine


async def press(seconds: float = 0.05) -> None:
    pin(XFER_PIN).drive_low()
    await asyncio.sleep(seconds)
    pin(XFER_PIN).drive_high()


async def consult(engine: Engine, visitor: Pjsua, flat: Pjsua) -> dict[str, object]:
    """The visitor's call answered, a short press: the flat's call up; its state event."""
    uri = f"sip:door@{engine.config.sip.listen}"
    await asyncio.to_thread(visitor.command, "call", uri=uri)
    await asyncio.to_thread(visitor.wait_state, "CONFIRMED")
    await press()
    first = await asyncio.to_thread(flat.wait_event, "state", 10, state="CONFIRMED")
    assert await until(
        lambda: engine.ua is not None and engine.ua.focus() != engine.ua.active_call_id()
    )
    return first


async def test_two_short_presses_hand_the_visitor_to_the_flat(
    tmp_path: Path, mock_pins: None, phones: tuple[Pjsua, Pjsua]
) -> None:
    visitor, flat = phones
    engine = await door(tmp_path, flat)
    try:
        first = await consult(engine, visitor, flat)
        await asyncio.sleep(0.5)
        await press()
        replaced = await asyncio.to_thread(flat.wait_event, "replaced", 10, call=first["call"])
        assert await until(lambda: engine.ua is not None and engine.ua.active_call_id() is None)
        await asyncio.sleep(1.0)
        heard = await asyncio.to_thread(flat.command, "stats", call=replaced["new"])
    finally:
        await engine.close()
    assert heard["rx_packets"] > 0  # the visitor's audio reaches the flat, not through us


async def test_a_long_press_ends_the_consultation_and_resumes_the_visitor(
    tmp_path: Path, mock_pins: None, phones: tuple[Pjsua, Pjsua]
) -> None:
    visitor, flat = phones
    engine = await door(tmp_path, flat)
    try:
        first = await consult(engine, visitor, flat)
        await press(0.6)  # past hold_s = 0.3
        await asyncio.to_thread(
            flat.wait_event, "state", 10, call=first["call"], state="DISCONNECTED"
        )
        await asyncio.sleep(1.0)
        before = (await asyncio.to_thread(visitor.command, "stats"))["rx_packets"]
        await asyncio.sleep(1.0)
        after = (await asyncio.to_thread(visitor.command, "stats"))["rx_packets"]
        assert engine.ua is not None
        calls = engine.ua.status()["calls"]
    finally:
        await engine.close()
    assert after > before  # the door sends audio to the visitor again
    assert [c["direction"] for c in calls] == ["in"]  # type: ignore[attr-defined]
