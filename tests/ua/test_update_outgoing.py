"""An UPDATE from the callee inside the early dialog of a call WE placed (RFC 3311 §5.1), sans-IO.

The flat's PBX answers our INVITE's offer in a reliable 183 (RFC 3262), we PRACK it, and before
the 200 it moves its announcement with an UPDATE carrying a new offer (port 7002). It is answered
with our SDP and the early media follows, and the 200's repeated SDP does not move it back. Before
a reliable answer the offer is glare (491); a stranger, wrong tags or a replay change nothing."""

from __future__ import annotations

from endpoint.sip import Request, Response, make_response, parse
from endpoint.ua.actions import StartMedia, UpdateMedia
from endpoint.ua.agent import UserAgent
from tests.ua.test_agent import PEER
from tests.ua.test_session import answer, make_ua, place, requests, responses, sdp

RELIABLE = [("Require", "100rel"), ("RSeq", "7")]


def callee_update(
    invite: Request, cseq: int, body: str = "", *, from_tag: str = "callee", branch: str = "u"
) -> Request:
    """The callee's UPDATE: its own tag in From, ours (the INVITE's From) in To."""
    content = "Content-Type: application/sdp\r\n" if body else ""
    data = (
        "UPDATE sip:door@192.0.2.5:5060 SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 192.0.2.50;branch=z9hG4bK{branch}{cseq}\r\n"
        f"From: <sip:flat@192.0.2.50>;tag={from_tag}\r\n"
        f"To: {invite.headers.get('From')}\r\n"
        f"Call-ID: {invite.call_id}\r\nCSeq: {cseq} UPDATE\r\nMax-Forwards: 70\r\n"
        f"Contact: <sip:flat@192.0.2.50>\r\n{content}Content-Length: {len(body)}\r\n\r\n{body}"
    ).encode()
    message = parse(data)
    assert isinstance(message, Request)
    return message


def sent(ua: UserAgent) -> list[Request | Response]:
    return [parse(o.data) for o in ua.datagrams_to_send()]  # type: ignore[misc]


def ringing_with_reliable_early_media() -> tuple[UserAgent, Request, StartMedia]:
    """Our INVITE, the PBX's reliable 183 with its answer, our PRACK, and its 200."""
    ua = make_ua()
    invite = place(ua)
    ua.receive(answer(invite, 183, sdp(), extra=RELIABLE), PEER, "udp", 0.1)
    (prack,) = requests(sent(ua))
    assert prack.method == "PRACK"
    ua.receive(answer(prack, 200), PEER, "udp", 0.15)
    (start,) = [a for a in ua.call_actions() if isinstance(a, StartMedia)]
    assert start.media.remote_port == 7000
    return ua, invite, start


def test_an_early_update_moves_our_early_media_and_the_200_does_not_move_it_back() -> None:
    ua, invite, _ = ringing_with_reliable_early_media()
    ua.receive(callee_update(invite, 1, sdp(port=7002, version=2)), PEER, "udp", 0.5)
    (ok,) = responses(sent(ua))
    assert ok.status == 200 and ok.cseq.method == "UPDATE"
    assert b"m=audio 40002 RTP/AVP 0" in ok.body and ok.headers.get("Contact")
    assert ok.headers.get("Content-Type") == "application/sdp"
    (moved,) = ua.call_actions()
    assert isinstance(moved, UpdateMedia) and moved.media.remote_port == 7002
    # The 200 to the INVITE repeats the 183's SDP (RFC 3261 §13.2.1): no new answer.
    ua.receive(answer(invite, 200, sdp()), PEER, "udp", 1.0)
    (ack,) = requests(sent(ua))
    assert ack.method == "ACK"
    assert [a for a in ua.call_actions() if isinstance(a, (StartMedia, UpdateMedia))] == []


def test_an_early_update_without_a_body_is_a_plain_200() -> None:
    ua, invite, _ = ringing_with_reliable_early_media()
    ua.receive(callee_update(invite, 1), PEER, "udp", 0.5)
    (ok,) = responses(sent(ua))
    assert ok.status == 200 and ok.body == b"" and ua.call_actions() == []


def test_an_offer_before_a_reliable_answer_is_491() -> None:
    """RFC 3311 §5.2: our INVITE's offer has no answer yet (an unreliable 183 is a preview)."""
    ua = make_ua()
    invite = place(ua)
    ua.receive(answer(invite, 183, sdp()), PEER, "udp", 0.1)
    ua.call_actions()
    ua.receive(callee_update(invite, 1, sdp(port=7002, version=2)), PEER, "udp", 0.5)
    (glare,) = responses(sent(ua))
    assert glare.status == 491 and glare.body == b""
    assert ua.call_actions() == []


def test_a_stranger_wrong_tags_or_a_replay_do_not_move_our_media() -> None:
    ua, invite, _ = ringing_with_reliable_early_media()
    elsewhere = sdp(port=9999, version=2)
    ua.receive(callee_update(invite, 1, elsewhere), ("198.51.100.9", 5060), "udp", 0.3)
    ua.receive(callee_update(invite, 2, elsewhere, from_tag="guessed"), PEER, "udp", 0.4)
    assert [r.status for r in responses(sent(ua))] == [481, 481]
    ua.receive(callee_update(invite, 5, sdp(port=7002, version=2)), PEER, "udp", 0.5)
    ua.receive(callee_update(invite, 4, elsewhere, branch="again"), PEER, "udp", 0.6)
    assert [r.status for r in responses(sent(ua))] == [200, 500]
    (moved,) = ua.call_actions()  # only the in-order UPDATE from the callee
    assert isinstance(moved, UpdateMedia) and moved.media.remote_port == 7002


def test_an_unusable_offer_is_488_and_the_early_media_stays() -> None:
    ua, invite, _ = ringing_with_reliable_early_media()
    pcma_only = sdp(port=7002, version=2).replace("RTP/AVP 0 101", "RTP/AVP 8 101")
    ua.receive(callee_update(invite, 1, pcma_only), PEER, "udp", 0.5)
    ua.receive(callee_update(invite, 2, "v=0\r\nm=audio x\r\n"), PEER, "udp", 0.6)
    assert [r.status for r in responses(sent(ua))] == [488, 400]
    assert ua.call_actions() == []


def test_the_phone_behind_the_early_dialogs_contact_may_update_a_third_host_may_not() -> None:
    """As in a confirmed call, the early dialog's peer is also its remote target's host (a
    PBX that does not record-route lets the phone send the UPDATE straight to us)."""
    ua = make_ua()
    invite = place(ua)
    headers = [("Contact", "<sip:flat@192.0.2.77>"), *RELIABLE, ("Content-Type", "application/sdp")]
    progress = make_response(invite, 183, to_tag="callee", headers=headers, body=sdp().encode())
    ua.receive(progress, PEER, "udp", 0.1)
    ua.datagrams_to_send()
    ua.call_actions()
    ua.receive(
        callee_update(invite, 1, sdp(port=9999, version=2)), ("192.0.2.78", 5060), "udp", 0.4
    )
    ua.receive(
        callee_update(invite, 2, sdp(port=7002, version=2)), ("192.0.2.77", 5060), "udp", 0.5
    )
    assert [r.status for r in responses(sent(ua))] == [481, 200]
    (moved,) = ua.call_actions()
    assert isinstance(moved, UpdateMedia) and moved.media.remote_port == 7002


def test_a_2xx_from_another_fork_brings_its_own_answer() -> None:
    """The reliable answer (and its UPDATEs) belong to the first fork's early dialog; a 2xx
    from another fork (another To tag) answers with its own SDP."""
    ua, invite, _ = ringing_with_reliable_early_media()
    other = make_response(
        invite,
        200,
        to_tag="fork2",
        headers=[("Contact", "<sip:flat@192.0.2.50>"), ("Content-Type", "application/sdp")],
        body=sdp(port=7010).encode(),
    )
    ua.receive(other, PEER, "udp", 1.0)
    (moved,) = [a for a in ua.call_actions() if isinstance(a, UpdateMedia)]
    assert moved.media.remote_port == 7010
