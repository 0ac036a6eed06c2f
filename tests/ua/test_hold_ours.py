"""``ctl hold`` / ``ctl resume`` sans-IO: our a=sendonly re-INVITE, no audio while held, and
the peer's own re-offer answered sendonly while we hold (RFC 3264 §8.4)."""

from __future__ import annotations

from endpoint.sip import Request, make_response
from endpoint.ua.actions import UpdateMedia
from endpoint.ua.events import CallHeld, CallResumed
from tests.ua.test_session import Peer, make_ua, requests, responses, sdp


def answer_reinvite(peer: Peer, now: float, direction: str, version: int) -> Request:
    """The peer answers our re-INVITE with ``direction``; returns our re-INVITE."""
    (reinvite,) = requests(peer.read())
    assert reinvite.method == "INVITE"
    body = sdp(direction, version=version).encode()
    ok = make_response(
        reinvite,
        200,
        headers=[("Contact", "<sip:flat@192.0.2.50>"), ("Content-Type", "application/sdp")],
        body=body,
    )
    acks = requests(peer.send(ok, now))
    assert [a.method for a in acks] == ["ACK"]
    return reinvite


def test_hold_offers_sendonly_sends_nothing_and_resume_offers_sendrecv() -> None:
    ua = make_ua()
    peer = Peer(ua)
    peer.call_in()
    assert ua.set_hold(True, 1.0) is None
    reinvite = answer_reinvite(peer, 1.1, "recvonly", 2)
    assert b"a=sendonly" in reinvite.body
    (update,) = ua.call_actions()
    assert isinstance(update, UpdateMedia) and update.media.direction == "inactive"
    assert ua.set_hold(True, 1.5) == "the call is already held"
    notices = ua.notices()
    assert CallHeld(call_id="call1", by="us") in notices

    assert ua.set_hold(False, 2.0) is None
    reinvite = answer_reinvite(peer, 2.1, "sendrecv", 3)
    assert b"a=sendrecv" in reinvite.body
    (update,) = ua.call_actions()
    assert isinstance(update, UpdateMedia) and update.media.direction == "sendrecv"
    assert CallResumed(call_id="call1", by="us") in ua.notices()


def test_a_peer_reoffer_while_we_hold_is_answered_sendonly_and_stays_silent() -> None:
    ua = make_ua()
    peer = Peer(ua)
    peer.call_in()
    ua.set_hold(True, 1.0)
    answer_reinvite(peer, 1.1, "recvonly", 2)
    ua.call_actions()
    peer.cseq += 1
    (ok,) = responses(peer.send(peer.request("INVITE", body=sdp("sendrecv", version=3)), 2.0))
    assert ok.status == 200 and b"a=sendonly" in ok.body
    updates = [a for a in ua.call_actions() if isinstance(a, UpdateMedia)]
    assert all(u.media.direction == "inactive" for u in updates)


def test_a_refused_hold_leaves_the_call_as_it_was() -> None:
    ua = make_ua()
    peer = Peer(ua)
    peer.call_in()
    ua.set_hold(True, 1.0)
    (reinvite,) = requests(peer.read())
    peer.send(make_response(reinvite, 488), 1.1)
    assert ua.call_actions() == []
    assert not any(isinstance(n, CallHeld) for n in ua.notices())
    assert ua.set_hold(False, 1.5) == "the call is not held"


def test_no_call_no_hold() -> None:
    assert make_ua().set_hold(True, 0.0) == "no answered call"
