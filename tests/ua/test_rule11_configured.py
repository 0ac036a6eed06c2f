"""Issue 13 rule 11, sans-IO: digest credentials only for configured realms, 3xx redirects only
to configured domains and peers (no hash for a stranger, no toll fraud)."""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path

import pytest

from endpoint.config import AccountSettings, CallSettings, Config, ConfigError, load_config
from endpoint.sip import Request, Response, make_response, parse
from endpoint.sip.digest import DigestClient, DigestError
from endpoint.ua.actions import Notice, SendRequest
from endpoint.ua.agent import UserAgent
from endpoint.ua.configured import account_realms
from endpoint.ua.registration import LocalAddress, Registration

PBX = ("192.0.2.101", 5060)
ACCOUNT = AccountSettings(
    registrar="sip:192.0.2.101",
    user="door",
    password="secret",
    domain="example.com",
    auth_user="door",
)


def challenge(realm: str, nonce: str = "n1") -> str:
    return f'Digest realm="{realm}", nonce="{nonce}", qop="auth"'


def test_the_configured_realms_are_domain_registrar_proxy_and_the_extra_list() -> None:
    account = replace(ACCOUNT, outbound_proxy="sip:Proxy.example.net:5060", realms=("asterisk",))
    assert account_realms(account) == {
        "example.com",
        "192.0.2.101",
        "proxy.example.net",
        "asterisk",
    }


def test_an_ipv6_registrar_is_a_realm_with_and_without_brackets() -> None:
    """Kamailio names its realm after the From domain as a URI writes it: ``[::1]``."""
    account = replace(ACCOUNT, registrar="sip:[::1]:5060", domain="::1")
    assert account_realms(account) == {"::1", "[::1]"}


def test_digest_client_answers_configured_realms_only() -> None:
    client = DigestClient(
        "door", "secret", random.Random(1), allowed_realms=account_realms(ACCOUNT)
    )
    with pytest.raises(DigestError, match=r"realm 'evil\.example', which is not configured"):
        client.answer([challenge("evil.example")], 401, "REGISTER", "sip:example.com")
    (field,) = client.answer([challenge("EXAMPLE.com")], 401, "REGISTER", "sip:example.com")
    assert field[0] == "Authorization" and 'realm="EXAMPLE.com"' in field[1]
    # A stranger's challenge beside the PBX's: only the PBX's realm is answered.
    fields = client.answer(
        [challenge("evil.example"), challenge("example.com", "n2")],
        407,
        "INVITE",
        "sip:flat@example.com",
    )
    assert [f[1].split("realm=")[1].split(",")[0] for f in fields] == ['"example.com"']
    # Without a list (library use, the tests of RFC examples) any realm is answered.
    open_client = DigestClient("door", "secret", random.Random(1))
    assert open_client.answer([challenge("evil.example")], 401, "REGISTER", "sip:x")


def sent(actions: list[object]) -> list[SendRequest]:
    return [a for a in actions if isinstance(a, SendRequest)]


def test_registration_gives_no_hash_to_a_foreign_realm_and_says_why() -> None:
    reg = Registration(ACCOUNT, LocalAddress("192.0.2.5", 5060), random.Random(1))
    (first,) = sent(reg.start(0.0))
    stranger = make_response(
        first.request, 401, to_tag="x", headers=[("WWW-Authenticate", challenge("evil"))]
    )
    actions = reg.on_response(first.tag, stranger, 0.1)
    assert sent(actions) == []
    (notice,) = [a for a in actions if isinstance(a, Notice)]
    assert "realm 'evil'" in str(notice.as_dict()) and "secret" not in str(notice.as_dict())
    # The same PBX with [account] realms = ["evil"] is answered.
    reg = Registration(
        replace(ACCOUNT, realms=("evil",)), LocalAddress("192.0.2.5", 5060), random.Random(1)
    )
    (first,) = sent(reg.start(0.0))
    stranger = make_response(
        first.request, 401, to_tag="x", headers=[("WWW-Authenticate", challenge("evil"))]
    )
    (again,) = sent(reg.on_response(first.tag, stranger, 0.1))
    assert 'realm="evil"' in (again.request.headers.get("Authorization") or "")


def invite_out(ua: UserAgent, target: str) -> Request:
    call_id = ua.call(target, 0.0)
    ua.call_actions()
    ua.media_ready(call_id, 40000, 0.0)
    (out,) = ua.datagrams_to_send()
    invite = parse(out.data)
    assert isinstance(invite, Request) and invite.method == "INVITE"
    return invite


def respond(ua: UserAgent, response: Response, t: float) -> list[Request]:
    """Feed ``response`` from the PBX; the requests the UA sends next (ACKs left out)."""
    ua.receive(response, PBX, "udp", t)
    out = [parse(o.data) for o in ua.datagrams_to_send()]
    return [m for m in out if isinstance(m, Request) and m.method != "ACK"]


def failed_reason(ua: UserAgent) -> str:
    (failed,) = [n for n in ua.notices() if n.name == "call-failed"]
    return str(failed.detail["reason"])


def door(calls: CallSettings | None = None) -> UserAgent:
    config = Config(account=ACCOUNT, calls=calls or CallSettings())
    return UserAgent(config, LocalAddress("192.0.2.5", 5060), random.Random(7))


def test_a_redirect_to_an_unnamed_host_ends_the_call_with_the_reason() -> None:
    ua = door()
    invite = invite_out(ua, "sip:flat12@192.0.2.101")
    moved = make_response(
        invite, 302, to_tag="r", headers=[("Contact", "<sip:0900123456@198.51.100.66>")]
    )
    assert respond(ua, moved, 0.1) == []
    assert failed_reason(ua) == (
        "302 redirect to 198.51.100.66 refused: not a configured domain or peer"
    )


@pytest.mark.parametrize(
    ("allow", "contact"),
    [
        (("*",), "sip:flat12b@example.com"),  # the account's domain
        (("*",), "sip:flat12@192.0.2.101:5070"),  # the host the call already went to
        (("concierge@192.0.2.77",), "sip:concierge@192.0.2.77"),  # an allowed peer
        (("*@10.1.2.*",), "sip:flat3@10.1.2.9"),  # an allowed network pattern
    ],
)
def test_a_redirect_to_a_configured_domain_or_peer_is_followed(
    allow: tuple[str, ...], contact: str
) -> None:
    ua = door(CallSettings(allow=allow))
    invite = invite_out(ua, "sip:flat12@192.0.2.101")
    moved = make_response(invite, 302, to_tag="r", headers=[("Contact", f"<{contact}>")])
    ua.receive(moved, PBX, "udp", 0.1)
    ua.datagrams_to_send()
    events = [n.name for n in ua.notices()]
    assert "call-redirected" in events and "call-failed" not in events


def test_a_strangers_407_on_an_invite_gets_no_credentials() -> None:
    ua = door()
    invite = invite_out(ua, "sip:flat12@192.0.2.101")
    stranger = make_response(
        invite, 407, to_tag="c", headers=[("Proxy-Authenticate", challenge("toll.example"))]
    )
    assert respond(ua, stranger, 0.1) == []
    assert "realm 'toll.example'" in failed_reason(ua)
    ua = door()
    invite = invite_out(ua, "sip:flat12@192.0.2.101")
    ours = make_response(
        invite, 407, to_tag="c", headers=[("Proxy-Authenticate", challenge("example.com"))]
    )
    (again,) = respond(ua, ours, 0.1)
    assert 'realm="example.com"' in (again.headers.get("Proxy-Authorization") or "")


def test_account_realms_is_read_and_a_bad_value_is_one_clear_problem(tmp_path: Path) -> None:
    path = tmp_path / "door.toml"
    base = '[account]\nregistrar = "sip:192.0.2.101"\nuser = "door"\npassword = "pw"\n'
    path.write_text(base + 'realms = ["asterisk", "pbx.lan"]\n')
    account = load_config(path).account
    assert account is not None and account.realms == ("asterisk", "pbx.lan")
    path.write_text(base + "realms = 5\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    (problem,) = caught.value.problems
    assert problem.startswith("[account] realms = 5:") and 'realms = ["asterisk"]' in problem
