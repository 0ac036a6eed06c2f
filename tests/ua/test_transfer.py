"""Call transfer, sans-IO, as the RFC 5589 flows read: REFER/NOTIFY (RFC 3515), Replaces (RFC
3891), and what a stranger's or a malformed REFER gets.

The concierge at 192.0.2.50 calls the door (``call1``) and transfers it; the flat is
``sip:flat2@192.0.2.60``, a host ``[calls] allow`` names. The clock is a number the test moves.
"""

from __future__ import annotations

from endpoint.sip import Request, Response, make_response, parse
from endpoint.sip.refer import ReferTarget, Replaces, sipfrag_status
from endpoint.ua.actions import NeedMedia
from endpoint.ua.agent import UserAgent
from endpoint.ua.transfer import SUBSCRIPTION_S
from tests.ua.test_session import PEER, Peer, make_ua, requests, responses, sdp

ALLOW = ("*@example.com", "*@192.0.2.*")
FLAT = "sip:flat2@192.0.2.60"


def transferee(**calls: object) -> tuple[UserAgent, Peer]:
    ua = make_ua(allow=calls.pop("allow", ALLOW), **calls)
    peer = Peer(ua)
    peer.call_in()
    ua.notices()
    return ua, peer


def refer(peer: Peer, refer_to: str, now: float = 1.0) -> list[Request | Response]:
    peer.cseq += 1
    return peer.send(peer.request("REFER", extra=f"Refer-To: {refer_to}\r\n"), now)


def new_invite(ua: UserAgent, now: float = 1.0) -> Request:
    """The transferee's call to the target: media ready, the INVITE it sends."""
    (need,) = [a for a in ua.call_actions() if isinstance(a, NeedMedia)]
    ua.media_ready(need.call_id, 40002, now)
    (invite,) = [m for m in (parse(o.data) for o in ua.datagrams_to_send())]
    assert isinstance(invite, Request) and invite.method == "INVITE"
    return invite


def target_answers(ua: UserAgent, invite: Request, status: int, now: float = 2.0) -> list[Request]:
    headers = [("Contact", "<sip:flat2@192.0.2.60>")]
    body = b""
    if status == 200:
        headers.append(("Content-Type", "application/sdp"))
        body = sdp().encode()
    ua.receive(
        make_response(invite, status, to_tag="flat", headers=headers, body=body),
        ("192.0.2.60", 5060),
        "udp",
        now,
    )
    sent = [parse(o.data) for o in ua.datagrams_to_send()]
    return [m for m in sent if isinstance(m, Request) and m.method != "ACK"]


def names(ua: UserAgent) -> list[str]:
    return [n.name for n in ua.notices() if n.name.startswith("transfer")]


# -- as transferee (RFC 5589 §6.1 blind, §7.1 attended) -------------------------------------


def test_blind_transfer_202_notify_trying_new_call_notify_200_then_bye() -> None:
    ua, peer = transferee()
    out = refer(peer, f"<{FLAT}>")
    (accepted,) = responses(out)
    assert accepted.status == 202
    (trying,) = requests(out)
    assert trying.method == "NOTIFY" and trying.call_id == "call1"
    assert trying.headers.get("Event") == f"refer;id={peer.cseq}"
    assert (trying.headers.get("Subscription-State") or "").startswith("active")
    assert trying.content_type == "message/sipfrag"
    assert trying.body == b"SIP/2.0 100 Trying\r\n"
    invite = new_invite(ua)
    assert str(invite.uri) == FLAT and "Replaces" not in invite.headers
    (final,) = target_answers(ua, invite, 200)
    assert final.method == "NOTIFY" and sipfrag_status(final.body) == 200
    assert (final.headers.get("Subscription-State") or "").startswith("terminated")
    assert names(ua) == ["transfer-requested", "transfer-succeeded"]
    # The transferor answers the final NOTIFY but does not hang up: we end the old call.
    after = peer.send(make_response(final, 200), 2.1)
    (bye,) = requests(after)
    assert bye.method == "BYE" and bye.call_id == "call1"
    assert [c.call_id for c in ua.outgoing.calls.values()] == [invite.call_id]


def test_the_transferor_hangs_up_first_and_the_new_call_stays() -> None:
    ua, peer = transferee()
    refer(peer, f"<{FLAT}>")
    invite = new_invite(ua)
    peer.cseq += 1
    (ok,) = responses(peer.send(peer.request("BYE"), 1.5))
    assert ok.status == 200
    assert target_answers(ua, invite, 200) == []  # no NOTIFY in a dialog that is gone
    assert names(ua) == ["transfer-requested", "transfer-succeeded"]
    assert ua.active_call_id() == invite.call_id


def test_target_busy_is_notified_and_the_call_goes_on() -> None:
    ua, peer = transferee()
    refer(peer, f"<{FLAT}>")
    invite = new_invite(ua)
    (final,) = [m for m in target_answers(ua, invite, 486) if m.method == "NOTIFY"]
    assert final.body == b"SIP/2.0 486 Busy Here\r\n"
    assert (final.headers.get("Subscription-State") or "").startswith("terminated")
    assert requests(peer.send(make_response(final, 200), 2.1)) == []  # no BYE
    assert ua.active_call_id() == "call1"
    assert names(ua) == ["transfer-requested", "transfer-failed"]


def test_attended_transfer_carries_replaces_into_the_invite() -> None:
    """RFC 5589 §7.1: Refer-To with an escaped Replaces header (the RFC 3891 §6.1 example)."""
    ua, peer = transferee()
    refer_to = (
        "<sip:flat2@192.0.2.60?Replaces=12345%40192.168.118.3%3Bto-tag%3D12345"
        "%3Bfrom-tag%3D5FFE-3994>"
    )
    assert responses(refer(peer, refer_to))[0].status == 202
    invite = new_invite(ua)
    assert invite.headers.get("Replaces") == "12345@192.168.118.3;to-tag=12345;from-tag=5FFE-3994"
    assert str(invite.uri) == FLAT  # the URI header went into the INVITE, not its URI


# -- what a REFER may not do ---------------------------------------------------------------


def test_a_refer_to_a_host_the_configuration_does_not_name_is_403() -> None:
    """Toll fraud: the peer must not make the door dial a premium number elsewhere."""
    ua, peer = transferee()
    (refused,) = responses(refer(peer, "<sip:+19005551234@premium.example.net>"))
    assert refused.status == 403
    assert ua.call_actions() == [] and ua.active_call_id() == "call1"
    assert names(ua) == ["transfer-failed"]


def test_transfers_off_is_403() -> None:
    ua, peer = transferee(accept_transfer=False)
    (refused,) = responses(refer(peer, f"<{FLAT}>"))
    assert refused.status == 403 and ua.call_actions() == []


def test_a_caller_outside_allow_cannot_transfer_the_door() -> None:
    ua = make_ua(allow=("*@192.0.2.*",), auto_answer=False)
    peer = Peer(ua)
    peer.send(peer.request("INVITE", body=sdp()), 0.0)
    ua.call_actions()
    ua.media_ready("call1", 40000, 0.0)
    ua.answer(0.1)  # a human answered the stranger
    (ok,) = responses(peer.read())
    peer.their_tag = ok.to_addr.tag
    peer.send(peer.request("ACK"), 0.2)
    peer.cseq += 1
    (refused,) = responses(refer(peer, f"<{FLAT}>"))
    assert refused.status == 403


def test_malformed_or_non_sip_refer_to_is_400() -> None:
    ua, peer = transferee()
    for bad in (
        "<sip:flat2@192.0.2.60",
        "<tel:+15551234>",
        "<sip:x@192.0.2.60?Replaces=bad>",
        "<sip:flat2@192.0.2.60;method=BYE>",
    ):
        (reply,) = responses(refer(peer, bad))
        assert reply.status == 400, bad
    peer.cseq += 1
    (reply,) = responses(peer.send(peer.request("REFER"), 1.0))  # no Refer-To at all
    assert reply.status == 400
    assert ua.call_actions() == [] and ua.active_call_id() == "call1"


def test_refer_outside_a_dialog_or_from_another_host_is_481() -> None:
    ua, peer = transferee()
    stray = peer.request("REFER", extra=f"Refer-To: <{FLAT}>\r\n", in_dialog=False)
    (reply,) = responses(peer.send(stray, 1.0))
    assert reply.status == 481
    peer.cseq += 1
    spoofed = peer.request("REFER", extra=f"Refer-To: <{FLAT}>\r\n")
    ua.receive(spoofed, ("192.0.2.66", 5060), "udp", 1.0)
    for message in (parse(o.data) for o in ua.datagrams_to_send()):
        assert isinstance(message, Response) and message.status == 481
    assert ua.call_actions() == []


def test_a_second_refer_while_one_is_followed_is_403() -> None:
    ua, peer = transferee()
    refer(peer, f"<{FLAT}>")
    (refused,) = responses(refer(peer, f"<{FLAT}>"))
    assert refused.status == 403
    assert len(ua.outgoing.calls) == 1  # one new call, not two


# -- Replaces on an incoming INVITE (RFC 3891) ------------------------------------------------


def replacing_invite(replaces: str, n: int = 0) -> Request:
    data = (
        "INVITE sip:door@192.0.2.5 SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 192.0.2.50;branch=z9hG4bKrepl{n}\r\n"
        "From: <sip:flat2@example.com>;tag=flat\r\nTo: <sip:door@example.com>\r\n"
        "Call-ID: call2\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n"
        f"Contact: <sip:flat2@192.0.2.50>\r\nReplaces: {replaces}\r\n"
        f"Content-Type: application/sdp\r\nContent-Length: {len(sdp())}\r\n\r\n{sdp()}"
    ).encode()
    message = parse(data)
    assert isinstance(message, Request)
    return message


def test_replaces_takes_over_the_confirmed_call_and_byes_the_old_one() -> None:
    ua, peer = transferee()
    ours = ua.calls.calls["call1"].local_tag
    out = peer.send(replacing_invite(f"call1;to-tag={ours};from-tag=peer1"), 1.0)
    (bye,) = requests(out)
    assert bye.method == "BYE" and bye.call_id == "call1"
    needs = [a for a in ua.call_actions() if isinstance(a, NeedMedia)]
    assert [n.call_id for n in needs] == ["call2"]
    ua.media_ready("call2", 40004, 1.0)
    assert [r.status for r in responses(peer.read())] == [200]  # answered at once


def test_replaces_naming_no_dialog_is_481_and_early_only_is_486() -> None:
    ua, peer = transferee()
    ours = ua.calls.calls["call1"].local_tag
    for n, (replaces, status) in enumerate(
        (
            ("call1;to-tag=wrong;from-tag=peer1", 481),
            (f"nosuch;to-tag={ours};from-tag=peer1", 481),
            (f"call1;to-tag={ours};from-tag=peer1;early-only", 486),
            ("call1;to-tag=x", 400),
        )
    ):
        statuses = [r.status for r in responses(peer.send(replacing_invite(replaces, n), 1.0))]
        assert statuses[-1] == status, replaces
    assert ua.active_call_id() == "call1"


# -- as transferor (RFC 5589 §6.1 from the other side) -----------------------------------------


def transfer_out(ua: UserAgent, peer: Peer) -> Request:
    ua.transfer(FLAT, 1.0)
    (sent,) = requests(peer.read())
    assert sent.method == "REFER" and sent.call_id == "call1"
    assert ReferTarget.parse(sent.headers.get("Refer-To") or "").uri.host == "192.0.2.60"
    peer.send(make_response(sent, 202), 1.1)
    return sent


def notify(peer: Peer, frag: str, state: str, refer_cseq: int) -> Request:
    peer.cseq += 1
    extra = (
        f"Event: refer;id={refer_cseq}\r\nSubscription-State: {state}\r\n"
        "Content-Type: message/sipfrag\r\n"
    )
    data = bytes(peer.request("NOTIFY", extra=extra))
    data = data.replace(
        b"Content-Length: 0\r\n\r\n", f"Content-Length: {len(frag)}\r\n\r\n{frag}".encode()
    )
    message = parse(data)
    assert isinstance(message, Request)
    return message


def test_we_transfer_the_peer_and_hang_up_on_the_200_sipfrag() -> None:
    ua, peer = transferee()
    sent = transfer_out(ua, peer)
    out = peer.send(notify(peer, "SIP/2.0 100 Trying\r\n", "active;expires=60", sent.cseq.seq), 1.2)
    assert [r.status for r in responses(out)] == [200] and requests(out) == []
    out = peer.send(notify(peer, "SIP/2.0 200 OK\r\n", "terminated", sent.cseq.seq), 3.0)
    assert [r.status for r in responses(out)] == [200]
    assert [r.method for r in requests(out)] == ["BYE"]
    assert names(ua) == ["transfer-requested", "transfer-succeeded"]


def test_a_failed_transfer_keeps_the_call() -> None:
    ua, peer = transferee()
    sent = transfer_out(ua, peer)
    out = peer.send(notify(peer, "SIP/2.0 486 Busy Here\r\n", "terminated", sent.cseq.seq), 3.0)
    assert requests(out) == [] and ua.active_call_id() == "call1"
    assert names(ua) == ["transfer-requested", "transfer-failed"]


def test_no_final_notify_within_the_subscription_fails_the_transfer() -> None:
    ua, peer = transferee()
    transfer_out(ua, peer)
    peer.run_until(1.0 + SUBSCRIPTION_S)
    assert names(ua) == ["transfer-requested", "transfer-failed"]
    assert ua.active_call_id() == "call1"
    ua.transfer(FLAT, 200.0)  # the call may be transferred again
    assert [r.method for r in requests(peer.read())] == ["REFER"]


def test_a_refused_refer_keeps_the_call_and_a_stray_notify_is_481() -> None:
    ua, peer = transferee()
    ua.transfer(FLAT, 1.0)
    (sent,) = requests(peer.read())
    peer.send(make_response(sent, 405), 1.1)
    assert names(ua) == ["transfer-requested", "transfer-failed"]
    out = peer.send(notify(peer, "SIP/2.0 200 OK\r\n", "terminated", sent.cseq.seq), 2.0)
    assert [r.status for r in responses(out)] == [481] and ua.active_call_id() == "call1"


def test_replaces_round_trips_and_sipfrag_needs_a_status_line() -> None:
    text = "12345@192.168.118.3;to-tag=12345;from-tag=5FFE-3994;early-only"
    assert str(Replaces.parse(text)) == text
    target = ReferTarget(ReferTarget.parse(f"<{FLAT}>").uri, Replaces.parse(text))
    assert ReferTarget.parse(target.refer_to()) == target
    assert sipfrag_status(b"SIP/2.0 180 Ringing\r\n") == 180
    assert sipfrag_status(b"INVITE sip:x@y SIP/2.0\r\n") is None
    assert sipfrag_status(b"") is None


def test_nothing_to_transfer_without_an_answered_call() -> None:
    ua = make_ua()
    try:
        ua.transfer(FLAT, 0.0)
    except ValueError as exc:
        assert "no answered call" in str(exc)
    else:
        raise AssertionError("a transfer without a call was accepted")
    assert PEER  # the scripted peer's address, shared with test_session
