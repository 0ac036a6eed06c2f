"""``UserAgent.readdress``: ``[nat]`` reloaded and STUN saw another public address. The
registrar gets the new Contact and loses the old one; new calls say the new address."""

from __future__ import annotations

import random

from endpoint.config import Config
from endpoint.sip import Request, make_response, parse
from endpoint.ua.agent import UserAgent
from endpoint.ua.registration import LocalAddress, RegState
from tests.ua.test_agent import account

REGISTRAR = ("192.0.2.101", 5060)


def sent_requests(ua: UserAgent) -> list[Request]:
    out = [parse(o.data) for o in ua.datagrams_to_send()]
    return [m for m in out if isinstance(m, Request)]


def registered_ua() -> UserAgent:
    config = Config(account=account("sip:pbx1.example.com"))
    ua = UserAgent(
        config,
        LocalAddress("10.0.0.5", 5060),
        random.Random(3),
        {"pbx1.example.com": REGISTRAR[0]},
    )
    ua.start(0.0)
    (reg,) = sent_requests(ua)
    ua.receive(make_response(reg, 200, to_tag="x"), REGISTRAR, "udp", 0.1)
    assert ua.registrations[0].state is RegState.REGISTERED
    return ua


def test_a_new_public_address_registers_the_new_contact_and_removes_the_old() -> None:
    ua = registered_ua()
    ua.readdress(LocalAddress("203.0.113.7", 40123), 5.0)
    registers = [r for r in sent_requests(ua) if r.method == "REGISTER"]
    removal = [r for r in registers if r.headers.get("Expires") == "0"]
    added = [r for r in registers if r.headers.get("Expires") != "0"]
    assert len(removal) == 1 and len(added) == 1, registers
    assert "@10.0.0.5:5060" in (removal[0].headers.get("Contact") or "")
    assert "@203.0.113.7:40123" in (added[0].headers.get("Contact") or "")
    assert "203.0.113.7:40123" in (added[0].headers.get("Via") or "")


def test_calls_after_readdress_carry_the_new_address() -> None:
    ua = registered_ua()
    ua.readdress(LocalAddress("203.0.113.7", 40123), 5.0)
    sent_requests(ua)
    ua.call("sip:flat@192.0.2.50", 6.0)
    for action in ua.call_actions():
        call_id = getattr(action, "call_id", None)
        if call_id is not None:
            ua.media_ready(call_id, 40002, 6.0)
    (invite,) = [r for r in sent_requests(ua) if r.method == "INVITE"]
    assert "@203.0.113.7:40123" in (invite.headers.get("Contact") or "")
    assert "203.0.113.7:40123" in (invite.headers.get("Via") or "")
