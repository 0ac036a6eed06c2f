"""The call state tables (RFC 3261 §13), walked by hypothesis through a real ``UserAgent``.

Every change of an incoming or outgoing call's state goes through ``INCOMING`` or
``OUTGOING``; a pair not listed raises ``StateError``. Random runs of what a caller, a callee
and the box itself can do (ring, answer, ACK, CANCEL, BYE, errors, hang-ups, timers) must meet
only listed pairs: no ``StateError`` escapes a direct call, and none is swallowed by the UA's
per-message guard (``internal_errors`` stays 0).
"""

from __future__ import annotations

import contextlib

from hypothesis import given, settings
from hypothesis import strategies as st

from endpoint.sip import Request, Response, make_response, parse
from endpoint.ua.actions import NeedMedia
from endpoint.ua.agent import UserAgent
from endpoint.ua.calls import INCOMING, CallInput, CallState
from endpoint.ua.outgoing import OUTGOING, OutInput, OutState
from tests.ua.test_session import PEER, Peer, make_ua, sdp


def test_tables_reach_every_state_and_end_only_in_ended() -> None:
    assert {CallState.RINGING} | set(INCOMING.values()) == set(CallState)
    assert {OutState.WAITING_MEDIA} | set(OUTGOING.values()) == set(OutState)
    assert {i for _, i in INCOMING} == set(CallInput)
    assert {i for _, i in OUTGOING} == set(OutInput)
    assert not [pair for pair in INCOMING if pair[0] is CallState.ENDED]
    assert not [pair for pair in OUTGOING if pair[0] is OutState.ENDED]


INCOMING_STEPS = st.sampled_from(
    ["invite", "media", "answer", "ack", "cancel", "bye", "hangup", "timer"]
)


@settings(max_examples=200, deadline=None)
@given(st.booleans(), st.lists(INCOMING_STEPS, max_size=20))
def test_incoming_calls_take_only_listed_transitions(auto: bool, steps: list[str]) -> None:
    ua = make_ua(auto_answer=auto)
    peer = Peer(ua)
    now = 0.0
    invite: Request | None = None
    waiting: list[str] = []  # calls whose RTP sockets the "runtime" has not opened yet
    for step in ["invite", *steps]:  # a call rings, then anything
        now += 0.5
        if step == "invite":
            peer.cseq += 1
            invite = peer.request("INVITE", body=sdp(), in_dialog=False)
            _learn_tag(peer, peer.send(invite, now))
        elif step == "media":
            for call_id in waiting:
                ua.media_ready(call_id, 40000, now)
            waiting.clear()
            _learn_tag(peer, peer.read())
        elif step == "answer":
            ua.answer(now)
            _learn_tag(peer, peer.read())
        elif step == "ack" and invite is not None:
            ack = peer.request("ACK")
            peer.send(ack.replace(headers=ack.headers.set("CSeq", f"{invite.cseq.seq} ACK")), now)
        elif step == "cancel" and invite is not None:
            cancel = peer.request("CANCEL", in_dialog=False)
            headers = cancel.headers.set("Via", invite.headers.get("Via") or "")
            headers = headers.set("CSeq", f"{invite.cseq.seq} CANCEL")
            peer.send(cancel.replace(headers=headers), now)
        elif step == "bye":
            peer.cseq += 1
            peer.send(peer.request("BYE"), now)
        elif step == "hangup":
            ua.hangup(now)
            peer.read()
        elif step == "timer":
            deadline = ua.get_timer()
            if deadline is not None:
                now = max(now, deadline)
                ua.handle_timer(now)
                peer.read()
        waiting += [a.call_id for a in ua.call_actions() if isinstance(a, NeedMedia)]
    assert ua.internal_errors == 0


def _learn_tag(peer: Peer, messages: list[Request | Response]) -> None:
    for message in messages:
        if isinstance(message, Response) and message.to_addr.tag:
            peer.their_tag = message.to_addr.tag


OUTGOING_STEPS = st.sampled_from(
    ["call", "media", "180", "183", "200", "486", "bye", "hangup", "timer"]
)


@settings(max_examples=200, deadline=None)
@given(st.lists(OUTGOING_STEPS, max_size=20))
def test_outgoing_calls_take_only_listed_transitions(steps: list[str]) -> None:
    ua = make_ua()
    now = 0.0
    invite: Request | None = None
    waiting: list[str] = []  # calls whose RTP sockets the "runtime" has not opened yet
    callee_cseq = 100
    for step in ["call", "media", *steps]:  # a call on its way, then anything
        now += 0.5
        if step == "call":
            with contextlib.suppress(ValueError):  # a call is already up
                ua.call("sip:flat@192.0.2.50", now)
        elif step == "media":
            for call_id in waiting:
                ua.media_ready(call_id, 40000, now)
            waiting.clear()
        elif step == "bye" and invite is not None:
            callee_cseq += 1
            ua.receive(_bye_from_callee(invite, callee_cseq), PEER, "udp", now)
        elif step == "hangup":
            ua.hangup(now)
        elif step == "timer":
            deadline = ua.get_timer()
            if deadline is not None:
                now = max(now, deadline)
                ua.handle_timer(now)
        elif invite is not None and step in ("180", "183", "200", "486"):
            ua.receive(_answer(invite, int(step)), PEER, "udp", now)
        invite = _last_invite(ua) or invite
        waiting += [a.call_id for a in ua.call_actions() if isinstance(a, NeedMedia)]
    assert ua.internal_errors == 0


def _last_invite(ua: UserAgent) -> Request | None:
    found = None
    for out in ua.datagrams_to_send():
        message = parse(out.data)
        if isinstance(message, Request) and message.method == "INVITE":
            found = message
    return found


def _answer(invite: Request, status: int) -> Response:
    body = sdp().encode() if status in (183, 200) else b""
    headers = [("Contact", "<sip:flat@192.0.2.50>")]
    if body:
        headers.append(("Content-Type", "application/sdp"))
    return make_response(invite, status, to_tag="callee", headers=headers, body=body)


def _bye_from_callee(invite: Request, cseq: int) -> Request:
    data = (
        f"BYE sip:door@192.0.2.5 SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 192.0.2.50;branch=z9hG4bKbye{cseq}\r\n"
        f"From: <sip:flat@192.0.2.50>;tag=callee\r\n"
        f"To: {invite.headers.get('From')}\r\n"
        f"Call-ID: {invite.call_id}\r\nCSeq: {cseq} BYE\r\nMax-Forwards: 70\r\n"
        f"Content-Length: 0\r\n\r\n"
    ).encode()
    message = parse(data)
    assert isinstance(message, Request)
    return message
