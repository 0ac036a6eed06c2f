"""Our early media as UAS (``[calls] early_media``), sans-IO: while the call rings the caller
gets a 183 with our SDP answer (reliable when it supports 100rel) and the runtime is told to
play ring-back, not the microphone; the 200 repeats the same SDP and switches to the door's
audio. An offer inside the PRACK of our reliable 183 (RFC 3262 §5) is answered in the PRACK's
200; one before any answer of ours, or one we cannot take, is refused and changes nothing."""

from __future__ import annotations

import random
from dataclasses import replace

from endpoint.config import CallSettings, Config, SipSettings
from endpoint.sip import Request, parse
from endpoint.ua.actions import NeedMedia, StartMedia, StopMedia, UpdateMedia
from endpoint.ua.agent import UserAgent
from endpoint.ua.registration import LocalAddress
from tests.ua.test_agent import PEER
from tests.ua.test_reliable import prack, replies, with_header
from tests.ua.test_session import sdp


def door(**calls: object) -> UserAgent:
    settings = replace(CallSettings(), **{"early_media": True, **calls})  # type: ignore[arg-type]
    config = Config(sip=SipSettings(reliable_provisional="supported"), calls=settings)
    return UserAgent(config, LocalAddress("192.0.2.5", 5060), random.Random(5))


def early(ua: UserAgent, header: str = "Require: 100rel\r\n") -> list[object]:
    """INVITE in, media ready: the responses (100, then the 183) and the call actions."""
    ua.receive(with_header("e1", header), PEER, "udp", 0.0)
    (need,) = ua.call_actions()
    assert isinstance(need, NeedMedia)
    ua.media_ready("e1", 40000, 0.1)
    return [*replies(ua), *ua.call_actions()]


def test_a_reliable_183_with_our_answer_then_the_200_with_the_same_sdp() -> None:
    ua = door(answer_delay=3.0)
    trying, progress, start = early(ua)
    assert trying.status == 100  # type: ignore[attr-defined]
    assert progress.status == 183 and progress.body  # type: ignore[attr-defined]
    assert progress.headers.get("Require") == "100rel"  # type: ignore[attr-defined]
    assert isinstance(start, StartMedia) and start.early  # ring-back, not the microphone
    rseq = progress.headers.get("RSeq")  # type: ignore[attr-defined]
    ua.receive(prack(progress, f"{rseq} 1 INVITE"), PEER, "udp", 0.2)  # type: ignore[arg-type]
    assert [r.status for r in replies(ua)] == [200]
    ua.handle_timer(3.1)
    (ok,) = [r for r in replies(ua) if r.status == 200]
    assert ok.body == progress.body  # type: ignore[attr-defined]
    (answered,) = [a for a in ua.call_actions() if isinstance(a, StartMedia)]
    assert not answered.early and answered.media == start.media


def test_without_100rel_the_183_is_unreliable_and_a_cancel_stops_the_ring_back() -> None:
    ua = door(auto_answer=False)
    _, progress, start = early(ua, "")
    assert progress.status == 183 and "RSeq" not in progress.headers  # type: ignore[attr-defined]
    assert isinstance(start, StartMedia) and start.early
    cancel = parse(
        bytes(with_header("e1", ""))
        .replace(b"INVITE sip:", b"CANCEL sip:", 1)
        .replace(b"CSeq: 1 INVITE", b"CSeq: 1 CANCEL")
    )
    assert isinstance(cancel, Request)
    ua.receive(cancel, PEER, "udp", 1.0)
    assert any(isinstance(a, StopMedia) for a in ua.call_actions())


def test_answering_at_once_sends_no_183_and_off_keeps_the_180() -> None:
    ua = door(answer_delay=0.0)
    statuses = [getattr(m, "status", None) for m in early(ua, "")]
    assert 183 not in statuses and 200 in statuses
    plain = UserAgent(Config(), LocalAddress("192.0.2.5", 5060), random.Random(5))
    plain.receive(with_header("e2", ""), PEER, "udp", 0.0)
    assert [r.status for r in replies(plain)] == [100, 180]


def with_offer(plain: Request, offer: str) -> Request:
    """The PRACK ``plain`` carrying ``offer`` (RFC 3262 §5)."""
    body = offer.encode()
    data = bytes(plain).replace(
        b"Content-Length: 0\r\n\r\n",
        b"Content-Type: application/sdp\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body),
    )
    message = parse(data)
    assert isinstance(message, Request)
    return message


def test_an_offer_in_the_prack_of_our_answer_is_answered_in_its_200() -> None:
    """RFC 3262 §5: "If the UAC receives a reliable provisional response with an answer, it
    MAY generate an additional offer in the PRACK. If the UAS receives a PRACK with an offer,
    it MUST place the answer in the 2xx to the PRACK." The early media follows; the 200 to
    the INVITE repeats the newest answer."""
    ua = door(answer_delay=3.0)
    _, progress, start = early(ua)
    rseq = progress.headers.get("RSeq")  # type: ignore[attr-defined]
    offer = with_offer(prack(progress, f"{rseq} 1 INVITE"), sdp("sendrecv", port=7002, version=2))  # type: ignore[arg-type]
    ua.receive(offer, PEER, "udp", 0.2)
    (ok,) = replies(ua)
    assert ok.status == 200 and ok.cseq.method == "PRACK"
    assert ok.headers.get("Content-Type") == "application/sdp" and b"m=audio 40000" in ok.body
    assert ok.body == progress.body  # type: ignore[attr-defined]  # ours did not change (RFC 3264 §8)
    (moved,) = ua.call_actions()
    assert isinstance(moved, UpdateMedia) and moved.media.remote_port == 7002
    assert isinstance(start, StartMedia) and start.media.remote_port != 7002
    ua.handle_timer(3.1)  # acknowledged: no 183 again, the answer is sent
    (answered,) = replies(ua)
    assert answered.status == 200 and answered.body == ok.body


def test_an_offer_in_a_prack_before_our_answer_is_500_and_acknowledges_nothing() -> None:
    """Our reliable 180 carried no answer: the INVITE's offer is still open, so a second
    offer is refused as RFC 3311 §5.2 refuses it in an UPDATE (500, Retry-After); the 180 is
    not acknowledged until a PRACK without a body comes."""
    ua = door(early_media=False, auto_answer=False)
    ua.receive(with_header("e1", "Require: 100rel\r\n"), PEER, "udp", 0.0)
    _, ringing = replies(ua)
    rseq = ringing.headers.get("RSeq")
    ua.receive(with_offer(prack(ringing, f"{rseq} 1 INVITE"), sdp()), PEER, "udp", 0.2)
    (refused,) = replies(ua)
    assert refused.status == 500 and refused.headers.get("Retry-After") == "1"
    ua.handle_timer(ua.get_timer())  # type: ignore[arg-type]
    assert [r.status for r in replies(ua)] == [180]  # still unacknowledged: sent again
    ua.receive(prack(ringing, f"{rseq} 1 INVITE", branch="p2"), PEER, "udp", 0.7)
    assert [r.status for r in replies(ua)] == [200]


def test_an_unusable_offer_or_a_strangers_prack_is_refused_and_the_call_still_rings() -> None:
    ua = door(auto_answer=False)
    _, progress, _ = early(ua)
    rseq = progress.headers.get("RSeq")  # type: ignore[attr-defined]
    plain = prack(progress, f"{rseq} 1 INVITE")  # type: ignore[arg-type]
    stranger = with_offer(prack(progress, f"{rseq} 1 INVITE", branch="x"), sdp(port=9999))  # type: ignore[arg-type]
    ua.receive(stranger, ("198.51.100.9", 5060), "udp", 0.15)
    no_media = "v=0\r\no=- 1 1 IN IP4 192.0.2.50\r\ns=-\r\nc=IN IP4 192.0.2.50\r\nt=0 0\r\n"
    ua.receive(with_offer(plain, no_media), PEER, "udp", 0.2)
    assert [r.status for r in replies(ua)] == [481, 488]
    assert ua.active_call_id() == "e1" and ua.call_actions() == []
    ua.receive(prack(progress, f"{rseq} 1 INVITE", branch="p2"), PEER, "udp", 0.3)  # type: ignore[arg-type]
    assert [r.status for r in replies(ua)] == [200]  # a plain PRACK still acknowledges it
