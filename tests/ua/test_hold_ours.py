"""``ctl hold`` / ``ctl resume`` sans-IO: our a=sendonly re-INVITE, no audio while held, and
the peer's own re-offer answered sendonly while we hold (RFC 3264 §8.4)."""

from __future__ import annotations

from endpoint.sip import Request, make_response
from endpoint.ua.actions import UpdateMedia
from endpoint.ua.events import CallHeld, CallHoldFailed, CallResumed
from endpoint.ua.session import HOLD_GLARE_RETRIES
from tests.ua.test_session import PEER, Peer, answer, make_ua, place, requests, responses, sdp


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


def glare(peer: Peer, now: float) -> Request:
    """The peer answers our re-INVITE 491 (its own re-INVITE crossed ours); returns ours."""
    (reinvite,) = requests(peer.read())
    assert reinvite.method == "INVITE"
    acks = requests(peer.send(make_response(reinvite, 491), now))
    assert [a.method for a in acks] == ["ACK"]  # the non-2xx ACK, hop by hop
    return reinvite


def test_a_491_to_our_hold_retries_the_hold_offer_after_the_callees_wait() -> None:
    """RFC 3261 §14.1: we answered the call (not the Call-ID's owner), so 0-2 s; then the
    same a=sendonly offer again in a new re-INVITE, not a plain refresh, and it takes."""
    ua = make_ua()
    peer = Peer(ua)
    peer.call_in()
    assert ua.set_hold(True, 1.0) is None
    first = glare(peer, 1.1)
    assert not any(isinstance(n, (CallHeld, CallHoldFailed)) for n in ua.notices())
    when = ua.get_timer()
    assert when is not None and 1.1 <= when <= 3.1
    assert ua.set_hold(True, 1.2) is not None  # ctl hold again: already on its way
    ua.handle_timer(when)
    second = answer_reinvite(peer, when + 0.1, "recvonly", 2)
    assert b"a=sendonly" in first.body and b"a=sendonly" in second.body
    assert second.cseq.seq > first.cseq.seq
    assert CallHeld(call_id="call1", by="us") in ua.notices()


def test_as_caller_the_hold_retry_waits_2_1_to_4_s() -> None:
    ua = make_ua()
    peer = Peer(ua)
    invite = place(ua)
    ua.receive(answer(invite, 200, sdp()), PEER, "udp", 0.1)
    ua.datagrams_to_send()  # our ACK
    assert ua.set_hold(True, 10.0) is None
    glare(peer, 10.0)
    when = ua.get_timer()
    assert when is not None and 12.1 <= when <= 14.0


def test_a_peer_that_keeps_answering_491_gets_a_call_hold_failed_event() -> None:
    ua = make_ua()
    peer = Peer(ua)
    peer.call_in()
    ua.set_hold(True, 1.0)
    now = 1.0
    for _ in range(HOLD_GLARE_RETRIES):
        glare(peer, now)
        now = ua.get_timer() or 0.0
        ua.handle_timer(now)
    glare(peer, now)
    (failed,) = [n for n in ua.notices() if isinstance(n, CallHoldFailed)]
    assert failed.hold and failed.reason.startswith("491")
    ua.handle_timer(now + 5.0)  # past any glare wait: no retry left
    assert not [m for m in requests(peer.read()) if m.method == "INVITE"]
    assert ua.set_hold(False, now) == "the call is not held"


def test_resume_asked_while_the_hold_retry_waits_drops_the_retry() -> None:
    ua = make_ua()
    peer = Peer(ua)
    peer.call_in()
    ua.set_hold(True, 1.0)
    glare(peer, 1.1)
    assert ua.set_hold(False, 1.2) == "the call is not held"
    ua.handle_timer(10.0)
    assert peer.read() == []
