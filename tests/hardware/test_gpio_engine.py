"""End to end: the real Engine with ``board = "gpio"`` on gpiozero's mock pins, and baresip.

The Engine runs in this process (so the test can drive its mock pins like wires), with
``GPIOZERO_PIN_FACTORY=mock`` choosing the factory the way an installer's environment would.
Pressing the call button must put an INVITE on the wire that a real baresip rings for; pressing
again must CANCEL it. A DTMF code typed on baresip must pulse the door relay.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from gpiozero import Device
from gpiozero.pins.mock import MockPin

from endpoint.config import parse_config
from endpoint.runtime.engine import Engine
from tests.interop.peers import Baresip, free_port

pytestmark = pytest.mark.interop

CALL_PIN, LED_PIN, RELAY_PIN = 17, 23, 27


async def until(check: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        await asyncio.sleep(0.01)
    return check()


def door_config(tmp: Path, callee: str) -> str:
    return f"""
[sip]
listen = "127.0.0.1:{free_port(both=True)}"
[audio]
backend = "null"
[control]
socket = "{tmp / "ctl.sock"}"
[hardware]
board = "gpio"
[[hardware.button]]
name = "call"
pin = {CALL_PIN}
action = "call-or-hangup"
targets = ["{callee}"]
[[hardware.led]]
name = "status"
pin = {LED_PIN}
[door]
relay_pin = {RELAY_PIN}
pulse_s = 2
code = "1234"
"""


@pytest.fixture
async def mock_pins(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[None]:
    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "mock")
    previous = Device.pin_factory
    Device.pin_factory = None  # gpiozero picks the factory from the environment
    try:
        yield
    finally:
        if Device.pin_factory is not None:
            Device.pin_factory.reset()
        Device.pin_factory = previous


async def start_engine(tmp: Path, callee: str) -> Engine:
    engine = Engine(parse_config(door_config(tmp, callee)))
    await engine.start()
    return engine


def pin(number: int) -> MockPin:
    assert Device.pin_factory is not None
    return Device.pin_factory.pin(number)


async def test_button_calls_baresip_and_a_second_press_cancels(
    tmp_path: Path, mock_pins: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="endpoint")
    peer = Baresip(tmp_path / "flat", user="flat", answermode="manual").start()
    engine = await start_engine(tmp_path, peer.uri)
    try:
        assert type(Device.pin_factory).__name__ == "MockFactory"
        assert await until(lambda: pin(LED_PIN).state is True)  # peer-to-peer ready: idle = on
        pin(CALL_PIN).drive_low()  # press
        pin(CALL_PIN).drive_high()
        incoming = await asyncio.to_thread(peer.ctrl.wait_event, "CALL_INCOMING", 10)
        assert "sip:door@" in str(incoming.get("peeruri", ""))
        assert engine.hardware is not None
        assert engine.hardware.status()["leds"] == {"status": "slow"}  # calling
        pin(CALL_PIN).drive_low()  # press again: CANCEL
        pin(CALL_PIN).drive_high()
        closed = await asyncio.to_thread(peer.ctrl.wait_event, "CALL_CLOSED", 10)
        assert closed.get("type") == "CALL_CLOSED"
        assert await until(lambda: engine.ua is not None and engine.ua.active_call_id() is None)
        ended = [r for r in caplog.records if "call-ended" in r.getMessage()]
        assert len(ended) == 1 and "reason=cancelled" in ended[0].getMessage()  # 487 to CANCEL
        assert ended[0].levelname == "INFO"  # cancelling is not a failure
    finally:
        await engine.close()
        peer.stop()
    assert pin(RELAY_PIN).state is False


async def test_dtmf_code_from_baresip_pulses_the_relay(tmp_path: Path, mock_pins: None) -> None:
    peer = Baresip(tmp_path / "flat", user="flat", answermode="auto").start()
    engine = await start_engine(tmp_path, peer.uri)
    relay = pin(RELAY_PIN)
    try:
        pin(CALL_PIN).drive_low()
        pin(CALL_PIN).drive_high()
        await asyncio.to_thread(peer.ctrl.wait_event, "CALL_ESTABLISHED", 10)
        await asyncio.sleep(1.0)  # media flowing both ways before the keys
        relay.clear_states()
        await asyncio.to_thread(peer.ctrl.command, "sndcode", "1234")
        assert await until(lambda: relay.state is True), "the relay never switched"
        assert engine.core is not None
        assert engine.core.indicator.state.value == "door_open"
        assert await until(lambda: relay.state is False, timeout=5), "the pulse never ended"
        assert [s.state for s in relay.states] == [False, True, False]
        answer = await engine.command({"cmd": "open-door"})
        assert answer == {"ok": True, "seconds": 2.0}
        assert relay.state is True
    finally:
        await engine.close()
        peer.stop()
    assert relay.state is False  # close() released the relay mid-pulse
