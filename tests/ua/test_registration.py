"""Registration (RFC 3261 §10) as a pure state machine against a scripted registrar."""

import random
from dataclasses import replace

import pytest

from endpoint.config import AccountSettings
from endpoint.sip import Request, Response, make_response
from endpoint.ua.actions import SendRequest
from endpoint.ua.events import Notice
from endpoint.ua.registration import LocalAddress, Registration, RegState

ACCOUNT = AccountSettings(
    registrar="sip:pbx.example.com:5060",
    user="door",
    password="secret",
    domain="pbx.example.com",
    auth_user="door",
    expires=600,
)
CHALLENGE = ("WWW-Authenticate", 'Digest realm="pbx.example.com", nonce="abc", qop="auth"')


def sent(actions: list[object]) -> SendRequest:
    (request,) = [a for a in actions if isinstance(a, SendRequest)]
    return request


def notices(actions: list[object]) -> list[str]:
    return [a.name for a in actions if isinstance(a, Notice)]


def answer(send: SendRequest, status: int, *headers: tuple[str, str]) -> Response:
    return make_response(send.request, status, to_tag="reg", headers=list(headers))


def registered(reg: Registration) -> SendRequest:
    first = sent(reg.start(0.0))
    second = sent(reg.on_response(first.tag, answer(first, 401, CHALLENGE), 0.1))
    reg.on_response(
        second.tag,
        answer(second, 200, ("Contact", f"<sip:door@192.0.2.5:5060;line={reg.line}>;expires=600")),
        0.2,
    )
    return second


def test_register_challenge_and_success() -> None:
    reg = Registration(ACCOUNT, LocalAddress("192.0.2.5", 5060), random.Random(1))
    actions = reg.start(0.0)
    assert notices(actions) == ["registering"]
    first = sent(actions)
    req: Request = first.request
    assert str(req.uri) == "sip:pbx.example.com:5060"
    assert (first.destination.host, first.destination.port) == ("pbx.example.com", 5060)
    # Rule 2 (issue 13): the registered Contact carries an unguessable line= token.
    assert req.headers.get("Contact") == f"<sip:door@192.0.2.5:5060;line={reg.line}>"
    assert len(reg.line) == 16
    assert req.headers.get("Expires") == "600"
    assert req.to_addr.uri == req.from_addr.uri and req.from_addr.tag
    second = sent(reg.on_response(first.tag, answer(first, 401, CHALLENGE), 0.1))
    assert second.request.cseq.seq == req.cseq.seq + 1 and second.request.call_id == req.call_id
    assert second.request.top_via.branch != req.top_via.branch
    credentials = second.request.headers.get("Authorization") or ""
    assert 'username="door"' in credentials and 'uri="sip:pbx.example.com:5060"' in credentials
    actions = reg.on_response(
        second.tag,
        answer(second, 200, ("Contact", f"<sip:door@192.0.2.5:5060;line={reg.line}>;expires=300")),
        0.2,
    )
    assert notices(actions) == ["registered"] and reg.state is RegState.REGISTERED
    assert reg.granted == 300
    assert reg.get_timer() == pytest.approx(0.2 + 25)  # first keep-alive, before the refresh


def test_refresh_before_expiry_and_keepalives() -> None:
    reg = Registration(ACCOUNT, LocalAddress("192.0.2.5", 5060), random.Random(2))
    registered(reg)
    kinds = []
    while (t := reg.get_timer()) is not None and t < 600:
        kinds += [(round(t, 1), type(a).__name__) for a in reg.handle_timer(t)]
        if any(name == "SendRequest" for _, name in kinds):
            break
    assert kinds[0] == (25.2, "SendKeepalive")
    assert kinds[-1] == (pytest.approx(0.2 + 510), "SendRequest")  # 85 % of 600 s


def test_423_follows_min_expires() -> None:
    reg = Registration(ACCOUNT, LocalAddress("192.0.2.5", 5060), random.Random(3))
    first = sent(reg.start(0.0))
    retry = sent(reg.on_response(first.tag, answer(first, 423, ("Min-Expires", "1800")), 0.1))
    assert retry.request.headers.get("Expires") == "1800" and reg.expires == 1800


def test_failures_back_off_with_jitter_then_recover() -> None:
    reg = Registration(ACCOUNT, LocalAddress("192.0.2.5", 5060), random.Random(4))
    first = sent(reg.start(0.0))
    actions = reg.on_failure(first.tag, "timeout (no response)", 32.0)
    (notice,) = [a for a in actions if isinstance(a, Notice)]
    assert notice.name == "registration-failed" and 15 <= notice.detail["retry_in"] < 30
    retry_at = reg.get_timer()
    assert retry_at is not None and 47 <= retry_at < 62
    second = sent(reg.handle_timer(retry_at))
    reg.on_response(second.tag, answer(second, 503), retry_at + 0.1)
    assert 30 <= reg.get_timer() - retry_at < 60.2  # type: ignore[operator]  # doubled
    third = sent(reg.handle_timer(reg.get_timer()))  # type: ignore[arg-type]
    reg.on_response(third.tag, answer(third, 200), 200.0)
    assert reg.registered and reg.failures == 0


def test_wrong_password_fails_with_a_fix_and_does_not_loop() -> None:
    reg = Registration(ACCOUNT, LocalAddress("192.0.2.5", 5060), random.Random(5))
    first = sent(reg.start(0.0))
    second = sent(reg.on_response(first.tag, answer(first, 401, CHALLENGE), 0.1))
    fresh = ("WWW-Authenticate", 'Digest realm="pbx.example.com", nonce="def", qop="auth"')
    actions = reg.on_response(second.tag, answer(second, 401, fresh), 0.2)
    assert [a for a in actions if isinstance(a, SendRequest)] == []
    (notice,) = actions
    assert isinstance(notice, Notice) and notice.detail["fix"].startswith("check [account]")
    assert "secret" not in str(notice.as_dict())


def test_contact_follows_the_address_the_registrar_saw() -> None:
    reg = Registration(ACCOUNT, LocalAddress("10.0.0.5", 5060), random.Random(6))
    first = sent(reg.start(0.0))
    nat = make_response(first.request, 200, to_tag="r")
    via = nat.top_via.with_params(received="203.0.113.7", rport="40123")
    nat = nat.replace(headers=nat.headers.remove_first("Via").prepend("Via", str(via)))
    actions = reg.on_response(first.tag, nat, 0.1)
    assert notices(actions) == ["registration-contact-changed", "registering"]
    again = sent(actions)
    assert again.request.headers.get("Contact") == f"<sip:door@203.0.113.7:40123;line={reg.line}>"


def test_stop_unregisters_with_expires_zero() -> None:
    reg = Registration(ACCOUNT, LocalAddress("192.0.2.5", 5060), random.Random(7))
    registered(reg)
    bye = sent(reg.stop(1.0))
    assert bye.request.headers.get("Expires") == "0"
    actions = reg.on_response(bye.tag, answer(bye, 200), 1.1)
    assert notices(actions) == ["unregistered"] and reg.state is RegState.STOPPED
    assert reg.get_timer() is None


def test_an_unanswered_options_keepalive_registers_again_at_once() -> None:
    """Issue 13 rule 10: the registrar may have restarted and lost our binding."""
    reg = Registration(
        replace(ACCOUNT, keepalive="options"), LocalAddress("192.0.2.5", 5060), random.Random(9)
    )
    registered(reg)
    ping = sent(reg.handle_timer(reg.get_timer() or 0.0))
    assert ping.request.method == "OPTIONS"
    actions = reg.on_failure(ping.tag, "no response (timeout)", 60.0)
    assert notices(actions) == ["registration-flow-lost", "registering"]
    again = sent(actions)
    failed = reg.on_failure(again.tag, "transport error", 60.5)  # still down: retry in 2 s
    assert notices(failed) == ["registration-failed"] and reg.get_timer() == pytest.approx(62.5)
