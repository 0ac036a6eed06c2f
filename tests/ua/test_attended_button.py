"""The ``attended-transfer`` button through the intercom core, sans-IO: a short press holds the
visitor (``call1`` from 192.0.2.50) and consults the flat, a second short press completes the
transfer (REFER with Replaces), a long press cancels it and resumes the visitor."""

from __future__ import annotations

import random
from dataclasses import replace

from endpoint.config import ButtonSettings, CallSettings, Config, HardwareSettings
from endpoint.sip import Request
from endpoint.sip.refer import ReferTarget
from endpoint.ua.actions import NeedMedia
from endpoint.ua.intercom import Intercom
from endpoint.ua.io import ButtonEvent, InputKind
from endpoint.ua.registration import LocalAddress
from tests.ua.test_hold_ours import answer_reinvite
from tests.ua.test_session import Peer, requests
from tests.ua.test_transfer import ALLOW, FLAT, target_answers


def door() -> tuple[Intercom, Peer]:
    """The intercom with an attended-transfer button to the flat, the visitor's call up."""
    button = ButtonSettings("xfer", 22, action="attended-transfer", targets=(FLAT,))
    config = replace(
        Config(),
        calls=replace(CallSettings(), allow=ALLOW),
        hardware=HardwareSettings(board="simulated", buttons=(button,)),
    )
    intercom = Intercom(config, LocalAddress("192.0.2.5", 5060), random.Random(7))
    intercom.start(0.0)
    peer = Peer(intercom.ua)
    peer.call_in()
    intercom.events()
    return intercom, peer


def press(intercom: Intercom, now: float, *, long: bool = False) -> None:
    intercom.input(ButtonEvent("xfer", InputKind.PRESSED), now)
    if long:
        intercom.input(ButtonEvent("xfer", InputKind.HELD), now + 2.0)
    intercom.input(ButtonEvent("xfer", InputKind.RELEASED), now + (2.5 if long else 0.1))


def consult_by_button(intercom: Intercom, peer: Peer) -> Request:
    """First press: the visitor is held, the flat called and answering; its INVITE."""
    press(intercom, 1.0)
    answer_reinvite(peer, 1.2, "recvonly", 2)
    (need,) = [a for a in intercom.call_actions() if isinstance(a, NeedMedia)]
    intercom.media_ready(need.call_id, 40002, 1.3)
    (invite,) = requests(peer.read())
    assert invite.method == "INVITE" and str(invite.uri) == FLAT
    target_answers(intercom.ua, invite, 200, 2.0)
    return invite


def test_first_press_consults_second_press_completes() -> None:
    intercom, peer = door()
    invite = consult_by_button(intercom, peer)
    assert intercom.ua.consultations.current is not None
    press(intercom, 3.0)
    (refer,) = requests(peer.read())
    assert (refer.method, refer.call_id) == ("REFER", "call1")
    target = ReferTarget.parse(refer.headers.get("Refer-To") or "")
    assert target.replaces is not None and target.replaces.call_id == invite.call_id
    assert intercom.button_errors() == []


def test_a_long_press_cancels_and_resumes_the_visitor() -> None:
    intercom, peer = door()
    invite = consult_by_button(intercom, peer)
    press(intercom, 3.0, long=True)
    out = requests(peer.read())
    assert [(r.method, r.call_id) for r in out] == [("BYE", invite.call_id), ("INVITE", "call1")]
    assert b"a=sendrecv" in out[1].body
    assert intercom.ua.consultations.current is None
    ended = [e.as_dict() for e in intercom.events() if e.name == "consultation-ended"]
    assert [e["outcome"] for e in ended] == ["cancelled"]


def test_a_second_press_before_the_flat_answers_is_reported_not_acted_on() -> None:
    intercom, peer = door()
    press(intercom, 1.0)
    answer_reinvite(peer, 1.2, "recvonly", 2)
    press(intercom, 1.5)
    assert intercom.button_errors() == ["button xfer: the consultation call is not answered yet"]
    assert intercom.ua.consultations.current is not None
