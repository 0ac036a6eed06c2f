"""RFC 3262, sans-IO. As UAS: the reliable 180, its retransmissions, PRACK matching, the 2xx
that waits for the PRACK, giving up after 64*T1. As UAC: PRACK once per RSeq, in order, in the
early dialog, and the dialog's CSeq carried on after it."""

import random

import pytest

from endpoint.config import Config, SipSettings
from endpoint.sip import Request, Response, parse
from endpoint.ua.actions import StartMedia
from endpoint.ua.agent import UserAgent
from endpoint.ua.registration import LocalAddress
from endpoint.ua.reliable import parse_rack
from tests.ua.test_agent import PEER, invite
from tests.ua.test_session import answer, make_ua, place, requests, sdp


def door(mode: str = "supported") -> UserAgent:
    config = Config(sip=SipSettings(reliable_provisional=mode))
    return UserAgent(config, LocalAddress("192.0.2.5", 5060), random.Random(5))


def with_header(call_id: str, header: str) -> Request:
    data = bytes(invite(call_id)).replace(
        b"Max-Forwards: 70\r\n", f"Max-Forwards: 70\r\n{header}".encode()
    )
    message = parse(data)
    assert isinstance(message, Request)
    return message


def replies(ua: UserAgent) -> list[Response]:
    out = [parse(o.data) for o in ua.datagrams_to_send()]
    assert all(isinstance(r, Response) for r in out)
    return out  # type: ignore[return-value]


def prack(ringing: Response, rack: str, *, branch: str = "p1") -> Request:
    data = (
        f"PRACK sip:door@192.0.2.5 SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 192.0.2.50;branch=z9hG4bK{branch}\r\n"
        "From: <sip:flat@example.com>;tag=1\r\n"
        f"To: <sip:door@example.com>;tag={ringing.to_addr.tag}\r\n"
        f"Call-ID: {ringing.call_id}\r\nCSeq: 2 PRACK\r\nRAck: {rack}\r\nMax-Forwards: 70\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()
    message = parse(data)
    assert isinstance(message, Request)
    return message


def ring(ua: UserAgent, call_id: str, header: str) -> Response:
    ua.receive(with_header(call_id, header), PEER, "udp", 0.0)
    trying, ringing = replies(ua)
    assert trying.status == 100 and ringing.status == 180
    return ringing


def test_a_required_100rel_gets_a_reliable_180_and_the_answer_waits_for_its_prack() -> None:
    ua = door()
    ringing = ring(ua, "r1", "Require: 100rel\r\n")
    assert ringing.headers.get("Require") == "100rel"
    rseq = ringing.headers.get("RSeq")
    assert rseq is not None and 1 <= int(rseq) < 2**31
    ua.media_ready("r1", 40000, 0.1)
    assert replies(ua) == []  # auto-answer is due, but the 180 was not PRACKed (§3)
    # T1 later: the same 180 again, same RSeq; then 2*T1 later.
    assert ua.get_timer() == pytest.approx(0.5)
    ua.handle_timer(0.5)
    (again,) = replies(ua)
    assert again.status == 180 and again.headers.get("RSeq") == rseq
    assert ua.get_timer() == pytest.approx(1.5)
    # A PRACK with the wrong RAck acknowledges nothing.
    ua.receive(prack(ringing, f"{int(rseq) + 1} 1 INVITE", branch="bad"), PEER, "udp", 0.7)
    assert [r.status for r in replies(ua)] == [481]
    ua.receive(prack(ringing, f"{rseq} 1 INVITE"), PEER, "udp", 0.8)
    ok_prack, ok_invite = replies(ua)
    assert ok_prack.status == 200 and ok_prack.cseq.method == "PRACK"
    assert ok_invite.status == 200 and ok_invite.cseq.method == "INVITE" and ok_invite.body
    assert "100rel" in (ok_invite.headers.get("Supported") or "")
    assert [n.name for n in ua.notices()] == ["call-incoming", "call-answered"]


def test_no_prack_in_64_t1_ends_the_call_with_500() -> None:
    ua = door()
    ring(ua, "r2", "Require: 100rel\r\n")
    ua.media_ready("r2", 40000, 0.1)
    sent = []
    while (deadline := ua.get_timer()) is not None and deadline <= 32.0:
        ua.handle_timer(deadline)
        sent += [r.status for r in replies(ua)]
    assert sent == [180] * 6 + [500]  # at 0.5, 1.5, 3.5, 7.5, 15.5, 31.5; gave up at 32
    assert any("no PRACK" in str(n.as_dict()) for n in ua.notices())


def test_a_prack_from_another_source_or_for_no_call_is_not_taken() -> None:
    ua = door()
    ringing = ring(ua, "r3", "Require: 100rel\r\n")
    rseq = ringing.headers.get("RSeq")
    ua.receive(prack(ringing, f"{rseq} 1 INVITE"), ("192.0.2.66", 5060), "udp", 0.2)
    assert [r.status for r in replies(ua)] == [481]  # peer-to-peer: anyone is answered
    ua.media_ready("r3", 40000, 0.3)
    assert replies(ua) == []  # still waiting: the stranger's PRACK did not count


@pytest.mark.parametrize(
    ("mode", "header", "status", "reliable"),
    [
        ("supported", "Supported: 100rel\r\n", 180, False),  # §3: the UAS may choose
        ("required", "Supported: timer, 100rel\r\n", 180, True),
        ("required", "", 421, False),
        ("off", "Require: 100rel\r\n", 420, False),
        ("off", "Supported: 100rel\r\n", 180, False),
    ],
)
def test_what_the_setting_does(mode: str, header: str, status: int, reliable: bool) -> None:
    ua = door(mode)
    ua.receive(with_header("m", header), PEER, "udp", 0.0)
    answer = replies(ua)[-1]
    assert answer.status == status
    assert (answer.headers.get("RSeq") is not None) is reliable
    if status == 421:
        assert answer.headers.get("Require") == "100rel"


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("776656 1 INVITE", (776656, 1, "INVITE")),
        ("1  2\tINVITE", (1, 2, "INVITE")),
        ("1 2", None),
        ("x 2 INVITE", None),
        ("\u00b2 2 INVITE", None),
        ("99999999999 2 INVITE", None),
        ("4294967296 2 INVITE", None),
    ],
)
def test_rack_numbers_are_bounded_ascii_digits(
    text: str, parsed: tuple[int, int, str] | None
) -> None:
    assert parse_rack(text) == parsed


# -- as UAC (RFC 3262 §4) -----------------------------------------------------------------------


def test_we_prack_a_reliable_183_once_in_order_and_play_its_early_media() -> None:
    ua = make_ua()
    invite = place(ua)
    assert "100rel" in (invite.headers.get("Supported") or "")
    assert invite.headers.get("Require") is None  # "supported": we do not insist
    reliable = [("Require", "100rel"), ("RSeq", "7")]
    ua.receive(answer(invite, 183, sdp(), extra=reliable), PEER, "udp", 0.1)
    (prack_request,) = requests([parse(o.data) for o in ua.datagrams_to_send()])
    assert prack_request.method == "PRACK" and prack_request.headers.get("RAck") == "7 1 INVITE"
    assert prack_request.to_addr.tag == "callee" and prack_request.cseq.seq == 2
    assert [type(a) for a in ua.call_actions()] == [StartMedia]  # early media from the 183
    # The 183 again (our PRACK crossed it) and one out of order: no second PRACK.
    ua.receive(answer(invite, 183, sdp(), extra=reliable), PEER, "udp", 0.6)
    skipped = [("Require", "100rel"), ("RSeq", "9")]
    ua.receive(answer(invite, 180, extra=skipped), PEER, "udp", 0.7)
    assert requests([parse(o.data) for o in ua.datagrams_to_send()]) == []
    ua.receive(answer(invite, 180, extra=[("Require", "100rel"), ("RSeq", "8")]), PEER, "udp", 0.8)
    (second,) = requests([parse(o.data) for o in ua.datagrams_to_send()])
    assert second.headers.get("RAck") == "8 1 INVITE" and second.cseq.seq == 3
    # The BYE after the answer continues the dialog's CSeq after the PRACKs.
    ua.receive(answer(invite, 200, sdp()), PEER, "udp", 1.0)
    ua.datagrams_to_send()
    assert ua.hangup(2.0)
    (bye,) = requests([parse(o.data) for o in ua.datagrams_to_send()])
    assert bye.method == "BYE" and bye.cseq.seq == 4


def test_an_unreliable_183_and_the_off_setting_send_no_prack() -> None:
    ua = make_ua()
    invite = place(ua)
    ua.receive(answer(invite, 183, sdp(), extra=[("RSeq", "1")]), PEER, "udp", 0.1)
    assert requests([parse(o.data) for o in ua.datagrams_to_send()]) == []
    off = UserAgent(
        Config(sip=SipSettings(reliable_provisional="off")),
        LocalAddress("192.0.2.5", 5060),
        random.Random(2),
    )
    invite = place(off)
    assert "100rel" not in (invite.headers.get("Supported") or "")
    reliable = [("Require", "100rel"), ("RSeq", "1")]
    off.receive(answer(invite, 183, sdp(), extra=reliable), PEER, "udp", 0.1)
    assert requests([parse(o.data) for o in off.datagrams_to_send()]) == []


def test_required_puts_require_100rel_on_our_invite() -> None:
    ua = UserAgent(
        Config(sip=SipSettings(reliable_provisional="required")),
        LocalAddress("192.0.2.5", 5060),
        random.Random(3),
    )
    invite = place(ua)
    assert invite.headers.get("Require") == "100rel"
    assert invite.headers.get("Supported") == "timer, 100rel"
