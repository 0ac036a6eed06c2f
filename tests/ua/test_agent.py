"""The user agent core, sans-IO: requests answered, registration routed, backup failover."""

import base64
import random

from endpoint.config import AccountSettings, Config, MediaSettings, SipSettings
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


def routed_invite(ua: UserAgent, call_id: str) -> Request:
    """An INVITE as the registrar routes it: to our registered Contact, ``line=`` token and all."""
    token = ua.registrations[0].line
    message = parse(
        bytes(invite(call_id)).replace(
            b"INVITE sip:door@192.0.2.5 ", f"INVITE sip:door@192.0.2.5;line={token} ".encode()
        )
    )
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
    events = [n.name for n in ua.notices()]
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
    assert "registration-failed" in [n.name for n in ua.notices()]


def test_info_dtmf_outside_a_dialog_is_481_and_message_is_answered_and_reported() -> None:
    """Issue 13 rule 4: a DTMF digit counts only inside the call's dialog; a pager-mode
    MESSAGE needs none."""
    ua = peer_to_peer()
    info = request("INFO", "Content-Type: application/dtmf-relay\r\n").replace(
        b"Content-Length: 0\r\n\r\n", b"Content-Length: 24\r\n\r\nSignal=5\r\nDuration=160\r\n"
    )
    assert answer_to(ua, info).status == 481
    text = request("MESSAGE", "Content-Type: text/plain\r\n").replace(
        b"Content-Length: 0\r\n\r\n", b"Content-Length: 10\r\n\r\nopen door?"
    )
    assert answer_to(ua, text).status == 200
    notices = [(n.name, n.detail) for n in ua.notices()]
    assert notices == [("message", {"from": "sip:flat@example.com", "text": "open door?"})]


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
    assert dropped.name == "request-dropped" and dropped.detail["source"] == "203.0.113.9"
    assert "accept_from" in dropped.detail["fix"]
    assert ua.get_timer() is None or ua.get_timer() > 1.0  # no transaction left behind
    # Rule 2: the registrar's address alone proves nothing over UDP; the line= token does.
    ua.receive(invite("spoofed"), ("192.0.2.101", 5060), "udp", 1.0)
    assert ua.datagrams_to_send() == [] and ua.status()["untrusted_dropped"] == 3
    token = ua.registrations[0].line
    routed = parse(
        bytes(invite("real")).replace(
            b"INVITE sip:door@192.0.2.5 ", f"INVITE sip:door@192.0.2.5;line={token} ".encode()
        )
    )
    assert isinstance(routed, Request)
    ua.receive(routed, ("192.0.2.101", 5060), "udp", 1.0)
    (_, ringing) = [parse(o.data) for o in ua.datagrams_to_send()]
    assert isinstance(ringing, Response) and ringing.status == 180


def test_accept_from_lists_networks_and_a_call_id_alone_proves_nothing() -> None:
    """Issue 13 rule 4: knowing a call's Call-ID does not let a stranger in; only the
    dialog's peer, with both tags, speaks inside it."""
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
    assert ua.datagrams_to_send() == [] and ua.status()["untrusted_dropped"] == 1
    assert [c["state"] for c in ua.status()["calls"]] == ["ringing"]  # type: ignore[attr-defined]


def test_a_ringing_call_we_cannot_serve_is_refused_503() -> None:
    """No RTP port left: the caller hears 503 at once instead of ringing for ever."""
    ua = peer_to_peer()
    ua.receive(invite("full"), PEER, "udp", 0.0)
    ua.datagrams_to_send()  # 180
    ua.call_actions()  # NeedMedia, which the runtime could not satisfy
    assert ua.end_call("full", "no RTP port free", 0.1, status=503)
    (refusal,) = [parse(o.data) for o in ua.datagrams_to_send()]
    assert isinstance(refusal, Response) and refusal.status == 503
    ended = [n.detail for n in ua.notices() if n.name == "call-ended"]
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
    ua.receive(routed_invite(ua, "nat"), ("192.0.2.101", 5060), "udp", 1.0)
    ua.datagrams_to_send()
    (need,) = ua.call_actions()
    ua.media_ready(need.call_id, 40000, 1.0)
    (ok200,) = [parse(o.data) for o in ua.datagrams_to_send()]
    assert isinstance(ok200, Response) and ok200.status == 200
    line = ua.registrations[0].line
    assert ok200.headers.get("Contact") == f"<sip:door@203.0.113.7:40000;line={line}>"


def test_over_tls_via_and_contact_say_tls_and_a_lost_flow_registers_again() -> None:
    """RFC 3261 §26 / RFC 5626 §4.4.1: REGISTER goes to port 5061 by default over TLS, and when
    the connection carrying the binding closes, the binding is renewed over a new one at once;
    a failure of that attempt leaves the rest to the registration's backoff."""
    ua = UserAgent(
        Config(account=account("sip:pbx.example.com;transport=tls")),
        LocalAddress("192.168.1.20", 5060, "tls"),
        random.Random(6),
        {"pbx.example.com": "192.0.2.101"},
    )
    ua.start(0.0)
    (sent,) = ua.datagrams_to_send()
    assert (sent.destination, sent.transport) == (("192.0.2.101", 5061), "tls")
    register = parse(sent.data)
    assert isinstance(register, Request)
    assert (register.headers.get("Via") or "").startswith("SIP/2.0/TLS 192.168.1.20:5060;")
    contact = register.headers.get("Contact") or ""
    assert "sip:door@192.168.1.20:5060;transport=tls" in contact
    ok = make_response(register, 200, to_tag="reg")
    ok = ok.replace(headers=ok.headers.add("Contact", f"{contact};expires=600"))
    ua.receive(ok, ("192.0.2.101", 5061), "tls", 0.1)
    assert ua.registrations[0].registered
    ua.notices()
    ua.flow_closed(("192.0.2.101", 9999), "tls", 1.0)  # another connection: nothing to do
    assert ua.datagrams_to_send() == [] and ua.notices() == []
    ua.flow_closed(("192.0.2.101", 5061), "tls", 2.0)
    (again,) = ua.datagrams_to_send()
    assert again.transport == "tls" and again.data.startswith(b"REGISTER sip:example.com ")
    assert [n.name for n in ua.notices()][:1] == ["registration-flow-lost"]
    # The new connection fails too: the pending REGISTER fails and the backoff takes over.
    ua.flow_closed(("192.0.2.101", 5061), "tls", 2.1)
    assert ua.datagrams_to_send() == []
    assert ua.registrations[0].state is RegState.WAITING
    assert (ua.registrations[0].get_timer() or 0.0) > 2.1


def test_info_digits_are_refused_when_encryption_is_mandatory() -> None:
    """Door codes only from authenticated SRTP: a SIP INFO digit inside the encrypted call gets
    403 and never becomes a ``dtmf`` notice (the door listens to those)."""
    config = Config(sip=SipSettings(transport="tls"), media=MediaSettings(encryption="mandatory"))
    ua = UserAgent(config, LocalAddress("192.0.2.5", 5061, "tls"), random.Random(1))
    key = base64.b64encode(bytes(range(30))).decode()
    offer = OFFER.replace("RTP/AVP", "RTP/SAVP") + (
        f"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{key}\r\n"
    )
    srtp_invite = parse(
        bytes(invite("srtp"))
        .replace(OFFER.encode(), offer.encode())
        .replace(f"Content-Length: {len(OFFER)}".encode(), f"Content-Length: {len(offer)}".encode())
    )
    assert isinstance(srtp_invite, Request)
    ua.receive(srtp_invite, PEER, "tls", 0.0)
    ua.datagrams_to_send()
    (need,) = ua.call_actions()
    ua.media_ready(need.call_id, 40000, 0.1)
    (ok,) = [parse(o.data) for o in ua.datagrams_to_send()]
    assert isinstance(ok, Response) and ok.status == 200 and b"RTP/SAVP" in ok.body
    ua.notices()
    info = request("INFO", "Content-Type: application/dtmf-relay\r\n").replace(
        b"Content-Length: 0\r\n\r\n", b"Content-Length: 24\r\n\r\nSignal=5\r\nDuration=160\r\n"
    )
    info = info.replace(b"c-INFO", b"srtp").replace(
        b"To: <sip:door@example.com>", f"To: <sip:door@example.com>;tag={ok.to_addr.tag}".encode()
    )
    message = parse(info)
    assert isinstance(message, Request)
    ua.receive(message, PEER, "tls", 1.0)
    (reply,) = [parse(o.data) for o in ua.datagrams_to_send()]
    assert isinstance(reply, Response)
    assert (reply.status, reply.reason) == (403, "Forbidden (DTMF only over SRTP)")
    assert [n.name for n in ua.notices()] == ["dtmf-refused"]


def test_mandatory_encryption_over_tls_offers_savp_and_never_keys_in_the_clear() -> None:
    """Peer-to-peer with transport = "tls": the INVITE goes over TLS with an RTP/SAVP offer and
    a=crypto keys; a target that asks for UDP fails the call instead of sending keys in the
    clear (or a plain offer that mandatory forbids)."""
    config = Config(sip=SipSettings(transport="tls"), media=MediaSettings(encryption="mandatory"))
    ua = UserAgent(config, LocalAddress("192.0.2.5", 5061, "tls"), random.Random(3))
    call_id = ua.call("sip:flat@192.0.2.50", 0.0)
    ua.call_actions()
    ua.media_ready(call_id, 40002, 0.0)
    (out,) = ua.datagrams_to_send()
    assert (out.destination, out.transport) == (("192.0.2.50", 5061), "tls")
    assert b"m=audio 40002 RTP/SAVP" in out.data and b"a=crypto:1 AEAD_AES_128_GCM" in out.data
    ua.notices()
    other = UserAgent(config, LocalAddress("192.0.2.5", 5061, "tls"), random.Random(4))
    call_id = other.call("sip:flat@192.0.2.50;transport=udp", 0.0)
    other.call_actions()
    other.media_ready(call_id, 40004, 0.0)
    assert other.datagrams_to_send() == []
    (failed,) = [n for n in other.notices() if n.name == "call-failed"]
    assert failed.detail["reason"] == "SRTP keys are only sent over TLS, not UDP"


def test_an_info_that_arrives_after_a_later_one_is_refused_500() -> None:
    """RFC 3261 §12.2.2 for every request in a dialog, not only re-INVITE: a keypad's INFO for
    "1" (CSeq 2) overtaken by its INFO for "9" (CSeq 3) is refused with 500, and its digit is
    not entered (a replayed or stale digit must not complete a door code)."""
    ua = peer_to_peer()
    ua.receive(invite("order"), PEER, "udp", 0.0)
    ua.datagrams_to_send()
    (need,) = ua.call_actions()
    ua.media_ready(need.call_id, 40000, 0.1)
    (ok,) = [parse(o.data) for o in ua.datagrams_to_send()]
    assert isinstance(ok, Response) and ok.status == 200
    ua.notices()

    def info(seq: int, digit: str) -> Response:
        body = f"Signal={digit}\r\nDuration=160\r\n"
        data = (
            request("INFO", "Content-Type: application/dtmf-relay\r\n")
            .replace(
                b"Content-Length: 0\r\n\r\n", f"Content-Length: {len(body)}\r\n\r\n{body}".encode()
            )
            .replace(b"c-INFO", b"order")
            .replace(b"CSeq: 1 INFO", f"CSeq: {seq} INFO".encode())
            .replace(b"z9hG4bKINFO", f"z9hG4bKinfo{seq}".encode())
            .replace(
                b"To: <sip:door@example.com>",
                f"To: <sip:door@example.com>;tag={ok.to_addr.tag}".encode(),
            )
        )
        return answer_to(ua, data)

    assert info(3, "9").status == 200
    late = info(2, "1")
    assert (late.status, late.reason) == (500, "Server Internal Error (CSeq out of order)")
    assert [n.detail["digit"] for n in ua.notices() if n.name == "dtmf"] == ["9"]


def test_ctl_dtmf_without_telephone_event_goes_as_info_one_key_at_a_time() -> None:
    """No RFC 4733 on the call: keys go as INFO ``application/dtmf-relay``, the next only after
    the previous one's final answer; a refused INFO drops the rest and says so."""
    ua = peer_to_peer()
    plain = invite("keys")
    bare = plain.body.replace(b" 0 101\r\na=rtpmap:101 telephone-event/8000", b" 0")
    data = bytes(plain).replace(plain.body, bare)
    data = data.replace(f"Length: {len(plain.body)}".encode(), f"Length: {len(bare)}".encode())
    ua.receive(parse(data), PEER, "udp", 0.0)
    ua.datagrams_to_send()
    (need,) = ua.call_actions()
    ua.media_ready(need.call_id, 40000, 0.1)
    ua.datagrams_to_send()
    ua.notices()
    assert ua.send_dtmf("keys", "1#", 1.0) == "info"

    def sent_info() -> Request:
        (out,) = ua.datagrams_to_send()
        info = parse(out.data)
        assert isinstance(info, Request) and info.method == "INFO"
        assert info.content_type == "application/dtmf-relay"
        return info

    first = sent_info()
    assert first.body == b"Signal=1\r\nDuration=160\r\n"
    assert ua.datagrams_to_send() == []  # the second waits for the first's answer
    ua.receive(make_response(first, 200), PEER, "udp", 1.1)
    second = sent_info()
    assert second.body.startswith(b"Signal=#") and second.cseq.seq == first.cseq.seq + 1
    ua.receive(make_response(second, 200), PEER, "udp", 1.2)
    assert ua.datagrams_to_send() == []

    ua.send_dtmf("keys", "78", 2.0)
    ua.receive(make_response(sent_info(), 415), PEER, "udp", 2.1)
    assert ua.datagrams_to_send() == []
    (failed,) = [n for n in ua.notices() if n.name == "dtmf-failed"]
    assert failed.detail == {"call_id": "keys", "status": 415, "keys": 2}


def test_ctl_dtmf_with_telephone_event_is_left_to_the_media_stream() -> None:
    ua = peer_to_peer()
    ua.receive(invite("events"), PEER, "udp", 0.0)
    ua.datagrams_to_send()
    (need,) = ua.call_actions()
    ua.media_ready(need.call_id, 40000, 0.1)
    ua.datagrams_to_send()
    assert ua.send_dtmf("events", "1", 1.0) == "rfc4733"
    assert ua.datagrams_to_send() == []
    assert ua.send_dtmf("no-such-call", "1", 1.0) is None


def test_srv_port_and_a_moved_registrar_are_used_at_once() -> None:
    """RFC 3263: the SRV record's port replaces the default for a name given without one; when
    the runtime's DNS failover moves the name to the next target, the failed registration
    registers there at once instead of waiting out its backoff."""
    ua = UserAgent(
        Config(account=account("sip:pbx.example.com")),
        LocalAddress("192.0.2.5", 5060),
        random.Random(3),
        {"pbx.example.com": "192.0.2.101"},
        {"pbx.example.com": 5070},
    )
    ua.start(0.0)
    (first,) = ua.datagrams_to_send()
    assert first.destination == ("192.0.2.101", 5070)
    ua.transport_failed(("192.0.2.101", 5070), "udp", 0.5)
    failed = [n for n in ua.notices() if n.name == "registration-failed"]
    assert failed and str(failed[0].detail["reason"]).startswith("transport error")
    assert ua.datagrams_to_send() == []  # the backoff would wait 15-30 s
    ua.registrar_moved("pbx.example.com", "192.0.2.102", 5080, 0.6)
    (moved,) = ua.datagrams_to_send()
    assert moved.destination == ("192.0.2.102", 5080)
    reg = parse(moved.data)
    assert isinstance(reg, Request) and reg.method == "REGISTER"
    ua.receive(make_response(reg, 200, to_tag="x"), ("192.0.2.102", 5080), "udp", 0.7)
    assert ua.registrations[0].state is RegState.REGISTERED
    ua.notices()
    call_id = ua.call("flat", 1.0)
    (need,) = ua.call_actions()
    ua.media_ready(call_id, 40000, 1.1)
    (invite_out,) = ua.datagrams_to_send()
    assert need.call_id == call_id and invite_out.destination == ("192.0.2.102", 5080)
    assert parse(invite_out.data).method == "INVITE"  # type: ignore[union-attr]


def registered_account_ua() -> UserAgent:
    """An account (realm example.com) taking calls from the peer's network too."""
    config = Config(
        account=account("sip:192.0.2.50"), sip=SipSettings(accept_from=("192.0.2.0/24",))
    )
    return UserAgent(config, LocalAddress("192.0.2.5", 5060), random.Random(1))


def challenge(request: Request, realm: str, nonce: str) -> Response:
    header = f'Digest realm="{realm}", nonce="{nonce}", qop="auth"'
    return make_response(request, 401, headers=[("WWW-Authenticate", header)])


def test_a_challenged_info_goes_again_once_with_credentials_and_the_keys_go_on() -> None:
    """RFC 3261 §22.2 inside a dialog: the 401 to our INFO gets it re-sent with credentials,
    a new CSeq and branch; its 200 lets the next key go; a second challenge to a credentialed
    INFO is a refusal (no third INFO) and the keys are reported dropped."""
    ua = registered_account_ua()
    plain = invite("keys")
    bare = plain.body.replace(b" 0 101\r\na=rtpmap:101 telephone-event/8000", b" 0")
    data = bytes(plain).replace(plain.body, bare)
    data = data.replace(f"Length: {len(plain.body)}".encode(), f"Length: {len(bare)}".encode())
    ua.receive(parse(data), PEER, "udp", 0.0)
    ua.datagrams_to_send()
    (need,) = ua.call_actions()
    ua.media_ready(need.call_id, 40000, 0.1)
    ua.datagrams_to_send()
    ua.notices()
    assert ua.send_dtmf("keys", "12", 1.0) == "info"

    def sent_info() -> Request:
        (out,) = ua.datagrams_to_send()
        info = parse(out.data)
        assert isinstance(info, Request) and info.method == "INFO"
        return info

    first = sent_info()
    ua.receive(challenge(first, "example.com", "n1"), PEER, "udp", 1.1)
    retry = [parse(o.data) for o in ua.datagrams_to_send() if o.data.startswith(b"INFO")]
    assert len(retry) == 1 and isinstance(retry[0], Request)
    again = retry[0]
    assert again.body == first.body and again.cseq.seq == first.cseq.seq + 1
    assert again.top_via.branch != first.top_via.branch
    assert 'realm="example.com"' in (again.headers.get("Authorization") or "")
    ua.receive(make_response(again, 200), PEER, "udp", 1.2)
    second = sent_info()
    assert second.body.startswith(b"Signal=2") and second.cseq.seq == again.cseq.seq + 1
    assert second.headers.get("Authorization") is None  # each request answers its own challenge

    ua.receive(challenge(second, "example.com", "n2"), PEER, "udp", 1.3)
    credentialed = sent_info()
    ua.receive(challenge(credentialed, "example.com", "n3"), PEER, "udp", 1.4)
    assert not [o for o in ua.datagrams_to_send() if o.data.startswith(b"INFO")]
    (failed,) = [n for n in ua.notices() if n.name == "dtmf-failed"]
    assert failed.detail["status"] == 401


def test_a_challenge_for_a_realm_that_is_not_ours_gets_no_credentials_in_a_dialog() -> None:
    ua = registered_account_ua()
    ua.receive(invite("bye"), PEER, "udp", 0.0)
    ua.datagrams_to_send()
    (need,) = ua.call_actions()
    ua.media_ready(need.call_id, 40000, 0.1)
    ua.datagrams_to_send()
    assert ua.hangup(1.0)
    (out,) = [o for o in ua.datagrams_to_send() if o.data.startswith(b"BYE")]
    bye = parse(out.data)
    assert isinstance(bye, Request)
    ua.receive(challenge(bye, "stranger.example", "n1"), PEER, "udp", 1.1)
    assert not [o for o in ua.datagrams_to_send() if o.data.startswith(b"BYE")]


def test_a_reloaded_password_answers_the_next_challenges_of_calls_and_messages() -> None:
    """SIGHUP with a new password: the next INVITE's and the next MESSAGE's challenges are
    answered with it (both senders take the account's credentials from one place)."""
    import dataclasses

    config = Config(account=account("sip:192.0.2.101"))
    ua = UserAgent(config, LocalAddress("192.0.2.5", 5060), random.Random(5))
    new_account = dataclasses.replace(config.account, password="new-secret")  # type: ignore[type-var]
    ua.reconfigure(dataclasses.replace(config, account=new_account), {}, 1.0)
    for sender in (ua.outgoing, ua.messages):
        assert sender.digest is not None and sender.digest.password == "new-secret"
