"""Offer/answer in UPDATE (RFC 3311), sans-IO: a caller (a PBX) holds the door's call with an
UPDATE before the answer, inside the early dialog of our reliable 183 (``e1`` from 192.0.2.50),
and after it, inside the confirmed dialog. Each offer is answered with our SDP and the media
follows; an UPDATE from elsewhere, with the wrong tags, replayed, or before our answer is
refused and changes nothing."""

from __future__ import annotations

from endpoint.sip import Request, Response, parse
from endpoint.ua.actions import StartMedia, UpdateMedia
from endpoint.ua.agent import UserAgent
from endpoint.ua.events import CallHeld
from tests.ua.test_agent import PEER
from tests.ua.test_early_media import door, early
from tests.ua.test_reliable import prack, replies
from tests.ua.test_session import Peer, make_ua, responses, sdp


def update(
    ringing: Response, cseq: int, body: str = "", *, tag: str | None = None, branch: str = "u"
) -> Request:
    content = "Content-Type: application/sdp\r\n" if body else ""
    data = (
        f"UPDATE sip:door@192.0.2.5 SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 192.0.2.50;branch=z9hG4bK{branch}{cseq}\r\n"
        "From: <sip:flat@example.com>;tag=1\r\n"
        f"To: <sip:door@example.com>;tag={tag or ringing.to_addr.tag}\r\n"
        f"Call-ID: {ringing.call_id}\r\nCSeq: {cseq} UPDATE\r\nMax-Forwards: 70\r\n"
        f"Contact: <sip:flat@192.0.2.50>\r\n{content}Content-Length: {len(body)}\r\n\r\n{body}"
    ).encode()
    message = parse(data)
    assert isinstance(message, Request)
    return message


def ringing_with_early_media(**calls: object) -> tuple[UserAgent, Response]:
    """The call rings with our reliable 183 (PRACKed); the 183."""
    ua = door(**calls)
    _, progress, _ = early(ua)
    assert isinstance(progress, Response)
    rseq = progress.headers.get("RSeq")
    ua.receive(prack(progress, f"{rseq} 1 INVITE"), PEER, "udp", 0.2)
    assert [r.status for r in replies(ua)] == [200]
    ua.notices()
    return ua, progress


def test_an_early_update_holding_the_caller_is_answered_and_the_200_repeats_it() -> None:
    ua, progress = ringing_with_early_media(answer_delay=3.0)
    ua.receive(update(progress, 3, sdp("sendonly", version=2)), PEER, "udp", 1.0)
    (ok,) = replies(ua)
    assert ok.status == 200 and b"a=recvonly" in ok.body and ok.headers.get("Contact")
    (moved,) = ua.call_actions()
    assert isinstance(moved, UpdateMedia) and moved.media.direction == "recvonly"
    assert CallHeld(call_id="e1", by="peer") in ua.notices()
    ua.handle_timer(3.1)
    (answered,) = [r for r in replies(ua) if r.status == 200]
    assert answered.body == ok.body  # the newest answer, not the 183's
    (start,) = [a for a in ua.call_actions() if isinstance(a, StartMedia)]
    assert start.media.direction == "recvonly" and start.media == moved.media


def test_an_update_without_a_body_changes_nothing() -> None:
    ua, progress = ringing_with_early_media(auto_answer=False)
    ua.receive(update(progress, 3), PEER, "udp", 1.0)
    (ok,) = replies(ua)
    assert ok.status == 200 and ok.body == b"" and ua.call_actions() == []


def test_an_offer_before_our_reliable_answer_is_500_with_retry_after() -> None:
    """RFC 3311 §5.2: our answer went in an unreliable 183 only (a preview)."""
    ua = door(auto_answer=False)
    _, progress, _ = early(ua, "")
    assert isinstance(progress, Response)
    ua.receive(update(progress, 2, sdp("sendonly", version=2)), PEER, "udp", 1.0)
    (refused,) = replies(ua)
    assert refused.status == 500 and refused.headers.get("Retry-After") == "1"
    assert ua.call_actions() == [] and ua.active_call_id() == "e1"


def test_a_stranger_wrong_tags_or_a_replay_change_nothing() -> None:
    ua, progress = ringing_with_early_media(auto_answer=False)
    hold = sdp("sendonly", version=2)
    ua.receive(update(progress, 3, hold), ("198.51.100.9", 5060), "udp", 1.0)
    ua.receive(update(progress, 4, hold, tag="guessed"), PEER, "udp", 1.1)
    assert [r.status for r in replies(ua)] == [481, 481]
    ua.receive(update(progress, 5, hold), PEER, "udp", 1.2)
    ua.receive(update(progress, 5, sdp("inactive", version=3), branch="again"), PEER, "udp", 1.3)
    assert [r.status for r in replies(ua)] == [200, 500]
    (moved,) = ua.call_actions()  # only the first, in-order UPDATE from the caller
    assert isinstance(moved, UpdateMedia) and moved.media.direction == "recvonly"


def test_an_update_after_the_answer_holds_and_resumes() -> None:
    ua = make_ua()
    peer = Peer(ua)
    peer.call_in()
    peer.cseq += 1
    (ok,) = responses(peer.send(peer.request("UPDATE", body=sdp("sendonly", version=2)), 1.0))
    assert ok.status == 200 and b"a=recvonly" in ok.body
    (moved,) = ua.call_actions()
    assert isinstance(moved, UpdateMedia) and moved.media.direction == "recvonly"
    peer.cseq += 1
    (ok,) = responses(peer.send(peer.request("UPDATE", body=sdp("sendrecv", version=3)), 2.0))
    assert ok.status == 200 and b"a=sendrecv" in ok.body
    (moved,) = ua.call_actions()
    assert isinstance(moved, UpdateMedia) and moved.media.direction == "sendrecv"


def test_a_malformed_or_unusable_early_offer_is_refused_and_the_call_rings_on() -> None:
    ua, progress = ringing_with_early_media(auto_answer=False)
    ua.receive(update(progress, 3, "v=0\r\nm=audio x\r\n"), PEER, "udp", 1.0)
    pcma_only = sdp("sendonly", version=2).replace("RTP/AVP 0 101", "RTP/AVP 8 101")
    ua.receive(update(progress, 4, pcma_only), PEER, "udp", 1.1)
    statuses = [r.status for r in replies(ua)]
    assert statuses[0] == 400 and statuses[1] == 488
    assert ua.call_actions() == [] and ua.active_call_id() == "e1"
    ua.receive(update(progress, 5, sdp("sendonly", version=3)), PEER, "udp", 1.2)
    (ok,) = replies(ua)
    assert ok.status == 200 and b"a=recvonly" in ok.body  # the session was left as it was
