"""Attended transfer from our side, sans-IO, as RFC 5589 §7.1 reads with us as transferor:
the visitor's call (A, ``call1`` from 192.0.2.50) is held, we consult the flat (B, to
``sip:flat2@192.0.2.60``), then REFER the visitor to the flat with Replaces naming B; or we
cancel and the visitor is resumed. And what a stranger's forged Replaces/REFER changes: nothing.
"""

from __future__ import annotations

from urllib.parse import unquote

import pytest

from endpoint.sip import Request, make_response, parse
from endpoint.sip.refer import ReferTarget
from endpoint.ua.actions import NeedMedia
from endpoint.ua.agent import UserAgent
from tests.ua.test_hold_ours import answer_reinvite
from tests.ua.test_session import Peer, requests, responses
from tests.ua.test_transfer import FLAT, notify, replacing_invite, target_answers, transferee


def consult(ua: UserAgent, peer: Peer) -> Request:
    """``transfer --attended FLAT``: A is held, B is placed and answered; B's INVITE."""
    call_b = ua.transfer_attended(FLAT, 1.0)
    answer_reinvite(peer, 1.1, "recvonly", 2)  # A's peer accepts the hold
    (need,) = [a for a in ua.call_actions() if isinstance(a, NeedMedia)]
    assert need.call_id == call_b
    ua.media_ready(call_b, 40002, 1.2)
    (invite,) = requests(peer.read())
    assert invite.method == "INVITE" and str(invite.uri) == FLAT
    assert requests(target_answers(ua, invite, 200, 2.0)) == []  # only the ACK went
    return invite


def names(ua: UserAgent) -> list[str]:
    return [n.name for n in ua.notices() if n.name.startswith(("transfer", "consultation"))]


def test_complete_refers_a_to_b_with_replaces_and_both_calls_end() -> None:
    ua, peer = transferee()
    invite = consult(ua, peer)
    status = {c["call_id"]: c["state"] for c in ua.status(2.0)["calls"]}  # type: ignore[union-attr, index]
    assert status == {"call1": "confirmed", invite.call_id: "confirmed"}
    consultation = ua.status(2.0)["consultation"]
    assert consultation == {
        "held_call_id": "call1",
        "call_id": invite.call_id,
        "target": FLAT,
        "completing": False,
    }

    assert ua.transfer_complete(3.0) == "call1"
    (refer,) = requests(peer.read())
    assert refer.method == "REFER" and refer.call_id == "call1"
    raw = refer.headers.get("Refer-To") or ""
    assert "?Replaces=" in raw and ";" not in raw.split("?", 1)[1]  # escaped (RFC 3261 §19.1.1)
    target = ReferTarget.parse(raw)
    assert str(target.uri) == FLAT  # B's remote target (the flat's Contact)
    assert target.replaces is not None
    # As the flat sees B: its own tag is the To tag, ours the From tag (RFC 3891 §3).
    assert (target.replaces.call_id, target.replaces.to_tag) == (invite.call_id, "flat")
    assert target.replaces.from_tag == invite.from_addr.tag
    assert unquote(raw).count("Replaces=") == 1

    peer.send(make_response(refer, 202), 3.1)
    out = peer.send(notify(peer, "SIP/2.0 200 OK\r\n", "terminated", refer.cseq.seq), 4.0)
    byes = {r.call_id for r in requests(out) if r.method == "BYE"}
    assert byes == {"call1", invite.call_id}  # we end what the peers did not
    assert names(ua) == [
        "consultation-started",
        "transfer-requested",
        "transfer-succeeded",
        "consultation-ended",
    ]
    assert ua.consultations.current is None and ua.status(4.0)["consultation"] is None


def test_cancel_ends_b_and_resumes_a() -> None:
    ua, peer = transferee()
    invite = consult(ua, peer)
    assert ua.transfer_cancel(3.0) == "call1"
    sent = requests(peer.read())
    assert [(r.method, r.call_id) for r in sent] == [("BYE", invite.call_id), ("INVITE", "call1")]
    assert b"a=sendrecv" in sent[1].body
    assert names(ua) == ["consultation-started", "consultation-ended"]


def test_a_failed_refer_keeps_both_calls_and_cancel_still_resumes() -> None:
    ua, peer = transferee()
    consult(ua, peer)
    ua.transfer_complete(3.0)
    (refer,) = requests(peer.read())
    peer.send(make_response(refer, 603), 3.1)
    assert {c["state"] for c in ua.status(3.2)["calls"]} == {"confirmed"}  # type: ignore[union-attr, index]
    ua.transfer_cancel(4.0)
    assert [r.method for r in requests(peer.read())] == ["BYE", "INVITE"]


def test_the_target_not_answering_resumes_the_held_call() -> None:
    ua, peer = transferee()
    ua.transfer_attended(FLAT, 1.0)
    answer_reinvite(peer, 1.1, "recvonly", 2)
    (need,) = [a for a in ua.call_actions() if isinstance(a, NeedMedia)]
    ua.media_ready(need.call_id, 40002, 1.2)
    (invite,) = requests(peer.read())
    (resume,) = target_answers(ua, invite, 486, 2.0)
    assert resume.method == "INVITE" and resume.call_id == "call1"
    assert names(ua)[-1] == "consultation-ended"
    with pytest.raises(ValueError, match="no consultation"):
        ua.transfer_complete(3.0)


def test_a_third_caller_is_busy_and_nothing_is_completed_before_b_answers() -> None:
    ua, _peer = transferee()
    ua.transfer_attended(FLAT, 1.0)
    with pytest.raises(ValueError, match="not answered"):
        ua.transfer_complete(1.05)
    with pytest.raises(ValueError, match="already up"):
        ua.transfer_attended(FLAT, 1.06)
    with pytest.raises(ValueError, match="consultation call is up"):
        ua.transfer(FLAT, 1.07)
    other = Peer(ua)
    other.our_tag = "stranger"
    stranger = other.request("INVITE", in_dialog=False)
    data = bytes(stranger).replace(b"Call-ID: call1", b"Call-ID: call3")
    third = parse(data)
    assert isinstance(third, Request)
    statuses = [r.status for r in responses(other.send(third, 1.1))]
    assert 486 in statuses


def test_a_forged_replaces_for_our_consultation_call_changes_nothing() -> None:
    """A stranger (not in ``allow``) who learnt B's identifiers sends INVITE/Replaces naming
    B, and a REFER-with-Replaces outside any dialog: refused; both calls and the consultation
    stay (RFC 3891 §6.1: Replaces only from someone we would take a call from)."""
    ua, peer = transferee()
    invite = consult(ua, peer)
    replaces = f"{invite.call_id};to-tag={invite.from_addr.tag};from-tag=flat"
    data = bytes(replacing_invite(replaces)).replace(
        b"sip:flat2@example.com", b"sip:mallory@evil.example.net"
    )
    forged = parse(data)
    assert isinstance(forged, Request)
    ua.receive(forged, ("198.51.100.9", 5060), "udp", 3.0)
    answers = [r.status for r in responses(peer.read())]
    assert answers and answers[-1] == 403
    stray = peer.request(
        "REFER",
        extra=f"Refer-To: <{FLAT}?Replaces=x%3Bto-tag%3Da%3Bfrom-tag%3Db>\r\n",
        in_dialog=False,
    )
    answers = [r.status for r in responses(peer.send(stray, 3.1))]
    assert answers and answers[-1] >= 400
    assert ua.consultations.current is not None
    assert {c["state"] for c in ua.status(3.2)["calls"]} == {"confirmed"}  # type: ignore[union-attr, index]
