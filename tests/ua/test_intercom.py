"""The intercom core, sans-IO: buttons, door trust and LEDs decided in one place.

A real ``UserAgent`` receives real SIP messages; the board is replaced by the events a board
sends (``ButtonEvent``, ``SensorEvent``, ``BoardFault``) and by reading what the core asks the
board to do (``device_actions``). The clock is a number.
"""

from __future__ import annotations

import random
from dataclasses import replace

from endpoint.config import (
    ButtonSettings,
    CallSettings,
    Config,
    DoorSettings,
    HardwareSettings,
    LedSettings,
)
from endpoint.sip import Request, Response, parse
from endpoint.ua.actions import NeedMedia
from endpoint.ua.events import (
    ButtonChanged,
    CallAnswered,
    CallEnded,
    CallIncoming,
    CallOutgoing,
    DoorCodeWrong,
    DoorOpened,
    DoorSensor,
    DtmfReceived,
    HardwareFault,
    SensorChanged,
)
from endpoint.ua.indicator import SetLed
from endpoint.ua.intercom import Intercom, PulseRelay
from endpoint.ua.io import DOOR, BoardFault, ButtonEvent, InputKind, LedPattern, SensorEvent
from endpoint.ua.registration import LocalAddress

PEER = ("192.0.2.50", 5060)
OFFER = (
    "v=0\r\no=- 1 1 IN IP4 192.0.2.50\r\ns=-\r\nc=IN IP4 192.0.2.50\r\nt=0 0\r\n"
    "m=audio 7000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n"
)
DOOR_SETTINGS = DoorSettings(relay_pin=27, pulse_s=3.0, code="4242", sensor_pin=22)
STATUS_LED = LedSettings("status", 23)


def config(**calls: object) -> Config:
    buttons = (
        ButtonSettings("bell", 17, action="call", targets=("sip:flat@192.0.2.60",)),
        ButtonSettings("inside", 18, action="open-door"),
    )
    return replace(
        Config(),
        door=DOOR_SETTINGS,
        hardware=HardwareSettings(board="simulated", buttons=buttons, leds=(STATUS_LED,)),
        calls=replace(CallSettings(), answer_delay=0.0, **calls),  # type: ignore[arg-type]
    )


def core(cfg: Config | None = None) -> Intercom:
    intercom = Intercom(cfg or config(), LocalAddress("192.0.2.5", 5060), random.Random(3))
    intercom.start(0.0)
    return intercom


def invite(call_id: str, caller: str = "sip:flat@example.com") -> Request:
    data = (
        f"INVITE sip:door@192.0.2.5 SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 192.0.2.50;branch=z9hG4bK{call_id}\r\n"
        f"From: <{caller}>;tag=1\r\nTo: <sip:door@example.com>\r\n"
        f"Call-ID: {call_id}\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n"
        f"Contact: <sip:flat@192.0.2.50>\r\nContent-Type: application/sdp\r\n"
        f"Content-Length: {len(OFFER)}\r\n\r\n{OFFER}"
    ).encode()
    message = parse(data)
    assert isinstance(message, Request)
    return message


def ring_and_answer(intercom: Intercom, call_id: str, caller: str, now: float) -> None:
    """An incoming call, its media sockets, and (for an allowed caller) the auto-answer."""
    intercom.receive(invite(call_id, caller), PEER, "udp", now)
    for action in intercom.call_actions():
        if isinstance(action, NeedMedia):
            intercom.media_ready(action.call_id, 40000, now)
    intercom.datagrams_to_send()


def test_a_button_press_places_the_call_in_one_pass() -> None:
    intercom = core()
    intercom.events()
    intercom.input(ButtonEvent("bell", InputKind.PRESSED), 1.0)
    (need,) = intercom.call_actions()  # the runtime opens RTP sockets, then the INVITE goes
    assert isinstance(need, NeedMedia)
    intercom.media_ready(need.call_id, 40000, 1.0)
    (invite_out,) = [parse(o.data) for o in intercom.datagrams_to_send()]
    assert isinstance(invite_out, Request) and invite_out.method == "INVITE"
    assert str(invite_out.uri) == "sip:flat@192.0.2.60"
    events = intercom.events()
    assert isinstance(events[0], ButtonChanged) and events[0].as_dict() == {
        "event": "button",
        "name": "bell",
        "kind": "pressed",
    }
    assert any(isinstance(e, CallOutgoing) for e in events)
    assert SetLed("status", LedPattern.SLOW) in intercom.device_actions()  # calling


def test_the_inside_button_pulses_the_relay_and_the_led_shows_it() -> None:
    intercom = core()
    intercom.device_actions()
    intercom.input(ButtonEvent("inside", InputKind.PRESSED), 1.0)
    actions = intercom.device_actions()
    assert PulseRelay(3.0) in actions
    assert SetLed("status", LedPattern.DOUBLE) in actions
    assert [e for e in intercom.events() if isinstance(e, DoorOpened)] == [
        DoorOpened(via="button", call_id=None, seconds=3.0)
    ]
    timer = intercom.get_timer()
    assert timer is not None and timer == 4.0  # the pulse ends: one timer for UA and door
    intercom.handle_timer(timer)
    assert SetLed("status", LedPattern.ON) in intercom.device_actions()  # idle (peer-to-peer)


def test_door_trust_comes_from_the_call_not_from_the_event() -> None:
    """The code opens only for a caller the allowlist admitted when the call rang."""
    intercom = core(config(allow=("flat@example.com",), not_allowed="ring"))
    # A stranger rings; not allowed, so not auto-answered; answered by hand (ctl answer).
    ring_and_answer(intercom, "stranger", "sip:mallory@example.org", 1.0)
    assert intercom.answer(2.0)
    for key, at in zip("4242", (3.0, 3.5, 4.0, 4.5), strict=True):
        intercom.dtmf("stranger", key, 100, at)
    assert PulseRelay(3.0) not in intercom.device_actions()
    events = intercom.events()
    incoming = [e for e in events if isinstance(e, CallIncoming)]
    assert [e.allowed for e in incoming] == [False]
    assert any(isinstance(e, CallAnswered) for e in events)
    assert not any(isinstance(e, DoorOpened | DoorCodeWrong) for e in events)
    intercom.hangup(5.0)
    # The allowed caller types the same code and the relay is pulsed.
    ring_and_answer(intercom, "friend", "sip:flat@example.com", 10.0)
    for key, at in zip("4242", (11.0, 11.5, 12.0, 12.5), strict=True):
        intercom.dtmf("friend", key, 100, at)
    assert PulseRelay(3.0) in intercom.device_actions()
    opened = [e for e in intercom.events() if isinstance(e, DoorOpened)]
    assert opened == [DoorOpened(via="dtmf", call_id="friend", seconds=3.0)]


def test_a_call_we_placed_is_trusted_with_the_door() -> None:
    intercom = core()
    intercom.input(ButtonEvent("bell", InputKind.PRESSED), 1.0)
    for action in intercom.call_actions():
        if isinstance(action, NeedMedia):
            intercom.media_ready(action.call_id, 40000, 1.0)
    (offer,) = [parse(o.data) for o in intercom.datagrams_to_send()]
    assert isinstance(offer, Request) and offer.method == "INVITE"
    answer = (
        f"SIP/2.0 200 OK\r\n{_via(offer)}\r\nFrom: {offer.headers.get('From')}\r\n"
        f"To: <sip:flat@192.0.2.60>;tag=callee\r\nCall-ID: {offer.call_id}\r\n"
        f"CSeq: 1 INVITE\r\nContact: <sip:flat@192.0.2.60>\r\n"
        f"Content-Type: application/sdp\r\nContent-Length: {len(OFFER)}\r\n\r\n{OFFER}"
    ).encode()
    response = parse(answer)
    assert isinstance(response, Response)
    intercom.receive(response, ("192.0.2.60", 5060), "udp", 2.0)
    assert any(isinstance(e, CallAnswered) for e in intercom.events())
    for key, at in zip("4242", (3.0, 3.5, 4.0, 4.5), strict=True):
        intercom.dtmf(offer.call_id, key, 100, at)
    assert PulseRelay(3.0) in intercom.device_actions()


def _via(request: Request) -> str:
    return f"Via: {request.headers.get('Via')}"


def test_digits_are_events_and_wrong_codes_count() -> None:
    intercom = core()
    ring_and_answer(intercom, "c1", "sip:flat@example.com", 1.0)
    intercom.events()
    for key, at in zip("1111", (2.0, 2.5, 3.0, 3.5), strict=True):
        intercom.dtmf("c1", key, 80, at)
    events = intercom.events()
    assert [e.digit for e in events if isinstance(e, DtmfReceived)] == list("1111")
    assert [e.attempt for e in events if isinstance(e, DoorCodeWrong)] == [1]


def test_the_door_contact_and_other_inputs_become_events() -> None:
    intercom = core()
    intercom.events()
    intercom.input(SensorEvent(DOOR, True), 1.0)
    intercom.input(SensorEvent("tamper", True), 1.0)
    intercom.input(BoardFault(False, "unplugged"), 2.0)
    events = intercom.events()
    assert DoorSensor(state="open") in events
    assert SensorChanged(sensor="tamper", active=True) in events
    assert HardwareFault(reason="unplugged") in events
    assert SetLed("status", LedPattern.FAST) in intercom.device_actions()  # fault: unregistered
    left_open = intercom.get_timer()
    assert left_open == 61.0  # [door] left_open_s after the contact opened


def test_the_door_hangs_up_after_opening_when_configured() -> None:
    cfg = config()
    cfg = replace(cfg, door=replace(DOOR_SETTINGS, hangup_after_open_s=2.0))
    intercom = core(cfg)
    ring_and_answer(intercom, "c1", "sip:flat@example.com", 1.0)
    for key, at in zip("4242", (2.0, 2.5, 3.0, 3.5), strict=True):
        intercom.dtmf("c1", key, 80, at)
    timer = intercom.get_timer()
    assert timer is not None
    for _ in range(4):  # the pulse ends first, then the hang-up is due
        intercom.handle_timer(timer)
        timer = intercom.get_timer()
        if timer is None or timer > 10.0:
            break
    ended = [e for e in intercom.events() if isinstance(e, CallEnded)]
    assert [e.reason for e in ended] == ["hung up after opening the door"]
    (bye,) = [parse(o.data) for o in intercom.datagrams_to_send()][-1:]
    assert isinstance(bye, Request) and bye.method == "BYE"
