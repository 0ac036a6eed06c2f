"""Which call a command acts on during an attended transfer's consultation, sans-IO.

A desk phone's rule: the call the user talks on is the target of hang-up, hold and keys; the
held original call is reached only by ``transfer --cancel``/``--complete`` or by naming its
call id. The visitor's call is ``call1`` (from 192.0.2.50, held), the consultation call goes to
the flat at ``sip:flat2@192.0.2.60``.
"""

from __future__ import annotations

import pytest

from endpoint.sip import Request, make_response, parse
from endpoint.ua.actions import NeedMedia
from endpoint.ua.agent import UserAgent
from tests.ua.test_attended import consult
from tests.ua.test_hold_ours import answer_reinvite
from tests.ua.test_session import Peer, requests, sdp
from tests.ua.test_transfer import FLAT, transferee


def sent(ua: UserAgent) -> list[Request]:
    out = [parse(o.data) for o in ua.datagrams_to_send()]
    return [m for m in out if isinstance(m, Request) and m.method != "ACK"]


def consulting() -> tuple[UserAgent, Peer, str]:
    """The visitor held, the flat's consultation call answered; its call id."""
    ua, peer = transferee()
    invite = consult(ua, peer)
    ua.notices()
    ua.call_actions()
    return ua, peer, invite.call_id


def test_hangup_ends_the_consultation_call_and_resumes_the_visitor() -> None:
    ua, peer, call_b = consulting()
    assert ua.hangup(3.0)
    out = requests(peer.read())
    assert [(r.method, r.call_id) for r in out] == [("BYE", call_b), ("INVITE", "call1")]
    assert b"a=sendrecv" in out[1].body  # the visitor is taken off hold
    ended = [n for n in ua.notices() if n.name == "consultation-ended"]
    assert [n.as_dict()["outcome"] for n in ended] == ["cancelled"]
    assert ua.focus() == "call1"


def test_hold_holds_the_consultation_call_not_the_visitor() -> None:
    ua, peer, call_b = consulting()
    assert ua.set_hold(True, 3.0) is None
    (reinvite,) = requests(peer.read())
    assert (reinvite.method, reinvite.call_id) == ("INVITE", call_b)
    assert b"a=sendonly" in reinvite.body
    assert ua.consultations.current is not None  # still consulting


def test_keys_go_to_the_consultation_call() -> None:
    """The flat answered without telephone-event: keys go as SIP INFO in its dialog."""
    ua, peer = transferee()
    call_b = ua.transfer_attended(FLAT, 1.0)
    answer_reinvite(peer, 1.1, "recvonly", 2)
    (need,) = [a for a in ua.call_actions() if isinstance(a, NeedMedia)]
    ua.media_ready(call_b, 40002, 1.2)
    (invite,) = requests(peer.read())
    body = sdp().replace(" 0 101", " 0").replace("a=rtpmap:101 telephone-event/8000\r\n", "")
    ok = make_response(
        invite,
        200,
        to_tag="flat",
        headers=[("Contact", f"<{FLAT}>"), ("Content-Type", "application/sdp")],
        body=body.encode(),
    )
    ua.receive(ok, ("192.0.2.60", 5060), "udp", 2.0)
    sent(ua)
    assert need.call_id == call_b and ua.focus() == call_b
    assert ua.send_dtmf(None, "5", 3.0) == "info"
    (info,) = sent(ua)
    assert (info.method, info.call_id) == ("INFO", call_b)


def test_status_shows_both_calls_and_which_is_active() -> None:
    ua, _peer, call_b = consulting()
    status = ua.status(3.0)
    rows = {r["call_id"]: r for r in status["calls"]}  # type: ignore[attr-defined]
    assert status["active_call_id"] == call_b
    assert (rows[call_b]["active"], rows[call_b]["held"]) == (True, False)
    assert (rows["call1"]["active"], rows["call1"]["held"]) == (False, True)
    assert status["consultation"]["held_call_id"] == "call1"  # type: ignore[index]


def test_the_held_call_is_reached_by_its_call_id() -> None:
    """Hanging up the visitor by id ends the consultation; the flat's call goes on."""
    ua, peer, call_b = consulting()
    assert ua.set_hold(False, 3.0, "call1") == (
        "this call is held for a consultation: transfer --cancel resumes it"
    )
    assert ua.hangup(3.1, "call1")
    assert [(r.method, r.call_id) for r in requests(peer.read())] == [("BYE", "call1")]
    ended = [n.as_dict() for n in ua.notices() if n.name == "consultation-ended"]
    assert [e["outcome"] for e in ended] == ["held-call-ended"]
    assert ua.focus() == call_b and ua.consultations.current is None


def test_an_unknown_call_id_is_refused_and_changes_nothing() -> None:
    ua, peer, call_b = consulting()
    with pytest.raises(ValueError, match="no call with id"):
        ua.hangup(3.0, "not-a-call")
    assert ua.set_hold(True, 3.0, "not-a-call") is not None
    assert requests(peer.read()) == [] and ua.focus() == call_b


def test_without_a_consultation_hangup_still_ends_the_call() -> None:
    ua, peer = transferee()
    assert ua.focus() == "call1"
    assert ua.hangup(1.0)
    assert [r.method for r in requests(peer.read())] == ["BYE"]


def test_a_message_to_the_flat_goes_in_the_consultation_dialog() -> None:
    ua, peer, call_b = consulting()
    assert ua.send_message(FLAT, "a visitor for you", 3.0)  # True: inside a dialog
    (message,) = requests(peer.read())
    assert (message.method, message.call_id) == ("MESSAGE", call_b)
