"""HardwareBridge with a GPIOBoard on MockFactory and a real (sans-IO) intercom core."""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from gpiozero import Device
from gpiozero.pins.mock import MockFactory

from endpoint.config import Config, parse_config
from endpoint.hardware.factory import HardwareError
from endpoint.runtime.engine import Engine
from endpoint.runtime.hardware_bridge import HardwareBridge, open_board
from endpoint.sip import Request, parse
from endpoint.ua.actions import NeedMedia
from endpoint.ua.events import CallAnswered, DoorLeftOpen, DoorOpened, DoorSensor, Notice
from endpoint.ua.intercom import Intercom
from endpoint.ua.io import HardwareEvent
from endpoint.ua.registration import LocalAddress
from tests.interop.peers import free_port

PEER = ("192.0.2.50", 5060)

CONFIG = """
[hardware]
board = "gpio"
[[hardware.button]]
name = "call"
pin = 17
action = "call"
targets = ["sip:flat@192.0.2.9"]
[[hardware.button]]
name = "door"
pin = 18
action = "open-door"
[[hardware.led]]
name = "status"
pin = 23
[door]
relay_pin = 27
pulse_s = 5
sensor_pin = 22
left_open_s = 60
"""


@pytest.fixture
def factory() -> Iterator[MockFactory]:
    previous = Device.pin_factory
    Device.pin_factory = MockFactory()
    try:
        yield Device.pin_factory
    finally:
        Device.pin_factory.reset()
        Device.pin_factory = previous


class Harness:
    """What the Engine does around the bridge, minus sockets: the core decides, the bridge
    drives the board, SIP goes into a list."""

    def __init__(self, config: Config) -> None:
        self.core = Intercom(config, LocalAddress("192.0.2.5", 5060), random.Random(7))
        self.sent: list[bytes] = []
        self.published: list[Notice] = []
        # Each reading of the clock is 0.2 s later: digits come at a human pace (issue 13
        # rule 8 ignores digits closer than 0.1 s).
        ticks = itertools.count()
        self.clock = lambda: time.monotonic() + 0.2 * next(ticks)
        self.bridge = HardwareBridge(config, open_board(config), self.input)

    def input(self, event: HardwareEvent) -> None:
        self.core.input(event, self.clock())
        self.step()

    def step(self) -> None:
        for _ in range(4):
            for action in self.core.call_actions():
                if isinstance(action, NeedMedia):
                    self.core.media_ready(action.call_id, 40000, self.clock())
            self.sent += [out.data for out in self.core.datagrams_to_send()]
        for device in self.core.device_actions():
            failure = self.bridge.execute(device)
            if failure is not None:
                self.core.relay_failed(failure, self.clock())
        self.published += self.core.events()

    def events(self) -> list[str]:
        return [n.name for n in self.published]


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_press_places_the_call_and_leds_follow(factory: MockFactory) -> None:
    h = Harness(parse_config(CONFIG))
    h.bridge.start()
    h.core.start(0.0)
    h.step()
    assert factory.pin(23).state is True  # peer-to-peer ready: idle = on
    factory.pin(17).drive_low()
    await settle()
    invites = [parse(d) for d in h.sent]
    assert [m.method for m in invites if isinstance(m, Request)] == ["INVITE"]
    assert str(invites[0].uri) == "sip:flat@192.0.2.9"  # type: ignore[union-attr]
    assert "button" in h.events() and "call-outgoing" in h.events()
    assert h.core.indicator.state.value == "calling"
    factory.pin(17).drive_high()
    factory.pin(17).drive_low()  # "call" (not call-or-hangup): a second press does nothing
    await settle()
    assert len([d for d in h.sent if d.startswith(b"INVITE")]) == 1
    factory.pin(17).drive_high()  # released: gpiozero's hold thread would delay close()
    h.bridge.close()
    assert factory.pin(23).state is False


async def test_door_button_sensor_and_ctl(factory: MockFactory) -> None:
    h = Harness(parse_config(CONFIG))
    h.bridge.start()
    relay = factory.pin(27)
    factory.pin(18).drive_low()
    factory.pin(18).drive_high()
    await settle()
    assert relay.state is True
    opened = [n for n in h.published if n.name == "door-opened"]
    assert opened == [DoorOpened(via="button", call_id=None, seconds=5.0)]
    assert h.core.indicator.state.value == "door_open"
    factory.pin(22).drive_low()  # sensor_active = low: the door opened
    await settle()
    assert DoorSensor(state="open") in h.published
    assert h.core.open_door("ctl", h.clock())
    h.step()
    assert [n.detail["via"] for n in h.published if isinstance(n, DoorOpened)] == ["button", "ctl"]
    assert h.bridge.status()["relays"] == {"door": "energised"}
    assert h.core.device_status()["state"] == "door_open"
    h.bridge.release_at_exit()  # what atexit runs
    assert relay.state is False
    h.bridge.close()
    h.bridge.close()
    assert relay.state is False


async def test_no_relay_means_ctl_says_so(factory: MockFactory) -> None:
    h = Harness(parse_config(""))
    h.bridge.start()
    assert not h.bridge.has_relay
    assert not h.core.open_door("ctl", h.clock())
    assert h.bridge.status()["board"] == "none"
    h.bridge.close()


def test_board_errors_are_hardware_errors(factory: MockFactory) -> None:
    config = parse_config(CONFIG)
    first = open_board(config)
    assert first is not None
    try:
        with pytest.raises(HardwareError, match=r'board = "gpio": relay \'door\' on GPIO27'):
            open_board(config)
    finally:
        first.close()


async def test_engine_releases_the_hardware_when_start_fails(
    factory: MockFactory, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    listen = f'[sip]\nlisten = "127.0.0.1:{free_port(both=True)}"\n'
    control = f'[control]\nsocket = "{blocker / "ctl.sock"}"\n'
    engine = Engine(parse_config(listen + control + CONFIG))
    with pytest.raises(OSError):
        await engine.run()  # the control socket cannot be made: start fails after the bridge
    if engine.transport is not None:  # Engine.close stopped at the control socket's unlink
        await engine.transport.close()
    assert engine.hardware is not None and engine.hardware.closed
    assert factory.pin(27).state is False
    board = open_board(parse_config(CONFIG))  # every pin was freed
    assert board is not None
    board.close()


OFFER = (
    "v=0\r\no=- 1 1 IN IP4 192.0.2.50\r\ns=-\r\nc=IN IP4 192.0.2.50\r\nt=0 0\r\n"
    "m=audio 7000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n"
)


def invite(call_id: str, caller: str) -> Request:
    data = (
        f"INVITE sip:door@192.0.2.5 SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 192.0.2.50;branch=z9hG4bK{call_id}\r\n"
        f"From: <{caller}>;tag=1\r\nTo: <sip:door@example.com>\r\n"
        f"Call-ID: {call_id}\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n"
        f"Contact: <{caller}>\r\nContent-Type: application/sdp\r\n"
        f"Content-Length: {len(OFFER)}\r\n\r\n{OFFER}"
    ).encode()
    message = parse(data)
    assert isinstance(message, Request)
    return message


async def test_dtmf_code_only_from_allowed_callers(factory: MockFactory) -> None:
    allow = '[calls]\nallow = ["friend@*"]\nnot_allowed = "ring"\n'
    config = parse_config(allow + CONFIG.replace("pulse_s = 5", 'pulse_s = 5\ncode = "4242"'))
    h = Harness(config)
    h.bridge.start()
    relay = factory.pin(27)
    for call_id, allowed in (("stranger", False), ("friend", True)):
        h.core.receive(invite(call_id, f"sip:{call_id}@192.0.2.50"), PEER, "udp", h.clock())
        h.step()
        if not allowed:
            assert h.core.answer(h.clock())  # rings only; answered by hand (ctl answer)
            h.step()
        assert call_id in [n.call_id for n in h.published if isinstance(n, CallAnswered)]
        for digit in "4242":  # RFC 4733 digits from the media loop
            h.core.dtmf(call_id, digit, 100, h.clock())
            h.step()
        assert relay.state is allowed, call_id
        h.core.hangup(h.clock())
        h.step()
    h.bridge.close()
    assert relay.state is False
    opened = [n.detail for n in h.published if n.name == "door-opened"]
    assert opened == [{"via": "dtmf", "call_id": "friend", "seconds": 5.0}]


async def test_register_button_hold_takes_the_door_out_of_service(factory: MockFactory) -> None:
    text = (
        '[account]\nregistrar = "sip:192.0.2.1"\nuser = "door"\npassword = "pw"\n'
        '[hardware]\nboard = "gpio"\n[[hardware.button]]\nname = "privacy"\npin = 5\n'
        'action = "register"\nhold_s = 0.1\n'
    )
    h = Harness(parse_config(text))
    h.bridge.start()
    h.core.start(0.0)
    h.step()
    registers = len([d for d in h.sent if d.startswith(b"REGISTER")])
    factory.pin(5).drive_low()
    for _ in range(300):  # bounded: gpiozero's hold thread fires after hold_s
        await asyncio.sleep(0.01)
        if "out-of-service" in h.events():
            break
    factory.pin(5).drive_high()
    await settle()
    assert "out-of-service" in h.events()
    assert not h.core.buttons.registration_enabled
    later = [d for d in h.sent if d.startswith(b"REGISTER")][registers:]
    assert len(later) == 1 and b"\r\nExpires: 0\r\n" in later[0]  # un-registered
    factory.pin(5).drive_low()  # a short press while out of service: nothing
    factory.pin(5).drive_high()
    await settle()
    assert h.events().count("out-of-service") == 1 and "in-service" not in h.events()
    h.bridge.close()


async def test_a_door_open_at_start_is_known_and_alarmed(factory: MockFactory) -> None:
    h = Harness(parse_config(CONFIG))
    factory.pin(22).drive_low()  # the contact reads "open" before the bridge starts
    h.bridge.start()
    assert DoorSensor(state="open") in h.published
    deadline = h.core.get_timer()
    assert deadline is not None  # the left-open alarm is armed
    h.core.handle_timer(deadline)
    assert DoorLeftOpen(seconds=60.0) in h.core.events()
    h.bridge.close()
