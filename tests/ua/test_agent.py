"""The user agent core, sans-IO: requests answered, registration routed, backup failover."""

import random

from endpoint.config import AccountSettings, Config
from endpoint.sip import Request, Response, make_response, parse
from endpoint.sip.transaction import Outgoing
from endpoint.ua.actions import NeedMedia, StartMedia
from endpoint.ua.agent import UserAgent
from endpoint.ua.registration import LocalAddress, RegState

PEER = ("192.0.2.50", 5060)


def request(method: str, extra: str = "") -> bytes:
    return (
        f"{method} sip:door@192.0.2.5 SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 192.0.2.50;branch=z9hG4bK{method}\r\n"
        f"From: <sip:flat@example.com>;tag=1\r\nTo: <sip:door@example.com>\r\n"
        f"Call-ID: c-{method}\r\nCSeq: 1 {method}\r\nMax-Forwards: 70\r\n"
        f"{extra}Content-Length: 0\r\n\r\n"
    ).encode()


def answer_to(ua: UserAgent, data: bytes) -> Response:
    message = parse(data)
    assert isinstance(message, Request)
    ua.receive(message, PEER, "udp", 0.0)
    outs = ua.datagrams_to_send()
    assert all(out.destination == PEER for out in outs)
    replies = [parse(out.data) for out in outs]
    if message.method == "INVITE":  # RFC 3261 §8.2.6.1: a 100 Trying at once, then the answer
        trying = replies.pop(0)
        assert isinstance(trying, Response) and trying.status == 100
    (reply,) = replies
    assert isinstance(reply, Response)
    return reply


def peer_to_peer() -> UserAgent:
    return UserAgent(Config(), LocalAddress("192.0.2.5", 5060), random.Random(1))


def test_options_lists_what_we_do() -> None:
    reply = answer_to(peer_to_peer(), request("OPTIONS"))
    assert reply.status == 200
    assert "INVITE" in (reply.headers.get("Allow") or "")
    assert "application/sdp" in (reply.headers.get("Accept") or "") and reply.to_addr.tag


def test_request_checks_come_first() -> None:
    ua = peer_to_peer()
    assert answer_to(ua, request("SUBSCRIBE")).status == 405
    reply = answer_to(
        ua, request("OPTIONS", "Require: foo\r\n").replace(b"OPTIONS\r\n", b"OPTIONS\r\n")
    )
    assert reply.status == 420 and reply.headers.get("Unsupported") == "foo"


OFFER = (
    "v=0\r\no=- 1 1 IN IP4 192.0.2.50\r\ns=-\r\nc=IN IP4 192.0.2.50\r\nt=0 0\r\n"
    "m=audio 7000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n"
)


def invite(call_id: str) -> Request:
    data = (
        request("INVITE", "Content-Type: application/sdp\r\n")
        .replace(
            b"Content-Length: 0\r\n\r\n", f"Content-Length: {len(OFFER)}\r\n\r\n{OFFER}".encode()
        )
        .replace(b"c-INVITE", call_id.encode())
        .replace(b"z9hG4bKINVITE", f"z9hG4bK{call_id}".encode())
    )
    message = parse(data)
    assert isinstance(message, Request)
    return message


def test_incoming_call_rings_gets_media_and_is_answered_with_sdp() -> None:
    ua = peer_to_peer()
    ua.receive(invite("call1"), PEER, "udp", 0.0)
    (trying, ringing) = [parse(o.data) for o in ua.datagrams_to_send()]
    assert isinstance(trying, Response) and trying.status == 100 and trying.to_addr.tag is None
    assert isinstance(ringing, Response) and ringing.status == 180 and ringing.to_addr.tag
    (need,) = ua.call_actions()
    assert isinstance(need, NeedMedia) and need.call_id == "call1"
    ua.media_ready("call1", 40000, 0.01)
    (ok,) = [parse(o.data) for o in ua.datagrams_to_send()]
    assert isinstance(ok, Response) and ok.status == 200 and ok.content_type == "application/sdp"
    assert b"m=audio 40000 RTP/AVP 0 101" in ok.body and ok.to_addr.tag == ringing.to_addr.tag
    (start,) = ua.call_actions()
    assert isinstance(start, StartMedia) and start.media.remote_port == 7000
    ua.receive(invite("call2"), PEER, "udp", 1.0)
    (_, busy) = [parse(o.data) for o in ua.datagrams_to_send()]
    assert isinstance(busy, Response) and busy.status == 486
    events = [n.event for n in ua.notices()]
    assert events == ["call-incoming", "call-answered", "call-busy"]


def test_invite_without_an_offer_is_488() -> None:
    assert answer_to(peer_to_peer(), request("INVITE")).status == 488


def account(registrar: str) -> AccountSettings:
    return AccountSettings(
        registrar=registrar,
        user="door",
        password="pw",
        domain="example.com",
        auth_user="door",
        expires=600,
    )


def test_backup_account_takes_over_while_the_primary_fails() -> None:
    config = Config(
        account=account("sip:pbx1.example.com"), backup_account=account("sip:pbx2.example.com")
    )
    ua = UserAgent(
        config,
        LocalAddress("192.0.2.5", 5060),
        random.Random(2),
        {"pbx1.example.com": "192.0.2.101", "pbx2.example.com": "192.0.2.102"},
    )
    ua.start(0.0)
    (first,) = ua.datagrams_to_send()
    assert first.destination == ("192.0.2.101", 5060)
    # Timer F: the primary never answers -> registration-failed -> the backup registers.
    t = 0.0
    sent: list[Outgoing] = []
    while not any(o.destination[0] == "192.0.2.102" for o in sent) and t < 40:
        t = ua.get_timer() or 40
        ua.handle_timer(t)
        sent = ua.datagrams_to_send()
    backup = next(o for o in sent if o.destination[0] == "192.0.2.102")
    reg = parse(backup.data)
    assert isinstance(reg, Request) and reg.method == "REGISTER"
    ua.receive(make_response(reg, 200, to_tag="x"), ("192.0.2.102", 5060), "udp", t + 0.1)
    assert ua.registrations[1].state is RegState.REGISTERED
    assert "registration-failed" in [n.event for n in ua.notices()]


def test_info_dtmf_relay_and_message_are_answered_and_reported() -> None:
    ua = peer_to_peer()
    info = request("INFO", "Content-Type: application/dtmf-relay\r\n").replace(
        b"Content-Length: 0\r\n\r\n", b"Content-Length: 24\r\n\r\nSignal=5\r\nDuration=160\r\n"
    )
    assert answer_to(ua, info).status == 200
    text = request("MESSAGE", "Content-Type: text/plain\r\n").replace(
        b"Content-Length: 0\r\n\r\n", b"Content-Length: 10\r\n\r\nopen door?"
    )
    assert answer_to(ua, text).status == 200
    notices = [(n.event, n.detail) for n in ua.notices()]
    assert notices == [
        ("dtmf", {"call_id": "c-INFO", "digit": "5", "duration_ms": 160}),
        ("message", {"from": "sip:flat@example.com", "text": "open door?"}),
    ]


def test_with_an_account_only_the_registrar_may_start_a_call() -> None:
    """``accept_from`` defaults to the registrar: a scanner's INVITE straight to the box gets
    no answer at all; the same INVITE through the PBX rings."""
    ua = UserAgent(
        Config(account=account("sip:pbx1.example.com")),
        LocalAddress("192.0.2.5", 5060),
        random.Random(3),
        {"pbx1.example.com": "192.0.2.101"},
    )
    ua.receive(invite("scan"), ("203.0.113.9", 5060), "udp", 0.0)
    assert ua.datagrams_to_send() == [] and ua.call_actions() == []
    assert ua.status()["untrusted_dropped"] == 1
    ua.receive(invite("scan2"), ("203.0.113.10", 5060), "udp", 0.5)  # within 10 s: no 2nd line
    (dropped,) = ua.notices()
    assert dropped.event == "request-dropped" and dropped.detail["source"] == "203.0.113.9"
    assert "accept_from" in dropped.detail["fix"]
    assert ua.get_timer() is None or ua.get_timer() > 1.0  # no transaction left behind
    ua.receive(invite("real"), ("192.0.2.101", 5060), "udp", 1.0)
    (_, ringing) = [parse(o.data) for o in ua.datagrams_to_send()]
    assert isinstance(ringing, Response) and ringing.status == 180


def test_accept_from_lists_networks_and_the_calls_own_requests_always_pass() -> None:
    from endpoint.config import SipSettings

    config = Config(
        sip=SipSettings(accept_from=("registrar", "10.0.0.0/8")),
        account=account("sip:192.0.2.101"),
    )
    ua = UserAgent(config, LocalAddress("192.0.2.5", 5060), random.Random(4))
    ua.receive(invite("lan"), ("10.1.2.3", 5060), "udp", 0.0)
    assert [parse(o.data).status for o in ua.datagrams_to_send()] == [100, 180]  # type: ignore[union-attr]
    bye = parse(
        request("BYE")
        .replace(b"c-BYE", b"lan")
        .replace(
            b"tag=1\r\nTo: <sip:door@example.com>", b"tag=1\r\nTo: <sip:door@example.com>;tag=x"
        )
    )
    assert isinstance(bye, Request)
    ua.receive(bye, ("198.51.100.77", 5060), "udp", 0.5)  # its Call-ID is one of our calls
    assert ua.datagrams_to_send() != [] and ua.status()["untrusted_dropped"] == 0


def test_a_ringing_call_we_cannot_serve_is_refused_503() -> None:
    """No RTP port left: the caller hears 503 at once instead of ringing for ever."""
    ua = peer_to_peer()
    ua.receive(invite("full"), PEER, "udp", 0.0)
    ua.datagrams_to_send()  # 180
    ua.call_actions()  # NeedMedia, which the runtime could not satisfy
    assert ua.end_call("full", "no RTP port free", 0.1, status=503)
    (refusal,) = [parse(o.data) for o in ua.datagrams_to_send()]
    assert isinstance(refusal, Response) and refusal.status == 503
    ended = [n.detail for n in ua.notices() if n.event == "call-ended"]
    assert ended[0]["reason"] == "no RTP port free" and ua.active_call_id() is None


def test_calls_behind_nat_carry_the_contact_the_registrar_saw() -> None:
    """RFC 3581: the registrar saw us at 203.0.113.7:40000; in-dialog requests must go there."""
    ua = UserAgent(
        Config(account=account("sip:192.0.2.101")),
        LocalAddress("192.168.1.20", 5060),
        random.Random(5),
    )
    ua.start(0.0)
    for t in (0.1, 0.2):  # the first 200 moves the Contact, the second confirms it
        (sent,) = ua.datagrams_to_send()
        register = parse(sent.data)
        assert isinstance(register, Request)
        via = register.headers.get("Via") or ""
        ok = make_response(register, 200, to_tag="reg")
        ok = ok.replace(
            headers=ok.headers.set(
                "Via", f"{via};received=203.0.113.7".replace("rport", "rport=40000")
            )
        )
        contact = register.headers.get("Contact") or ""
        ua.receive(
            ok.replace(headers=ok.headers.add("Contact", f"{contact};expires=600")),
            ("192.0.2.101", 5060),
            "udp",
            t,
        )
    assert ua.registrations[0].registered
    ua.receive(invite("nat"), ("192.0.2.101", 5060), "udp", 1.0)
    ua.datagrams_to_send()
    (need,) = ua.call_actions()
    ua.media_ready(need.call_id, 40000, 1.0)
    (ok200,) = [parse(o.data) for o in ua.datagrams_to_send()]
    assert isinstance(ok200, Response) and ok200.status == 200
    assert ok200.headers.get("Contact") == "<sip:door@203.0.113.7:40000>"
