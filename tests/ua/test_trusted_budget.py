"""Issue 13 rule 9 without refusing the PBX: the registrar, the outbound proxy, the networks of
``[sip] accept_from`` and the peers the configuration names get the larger transaction budget;
anyone else (every caller in peer-to-peer mode) keeps the small one."""

from __future__ import annotations

import random

from endpoint.config import AccountSettings, CallSettings, Config, SipSettings
from endpoint.sip import Request, Response, parse
from endpoint.ua.agent import UserAgent
from endpoint.ua.registration import LocalAddress
from endpoint.ua.trust import MEMO_HOSTS, SourceFilter

PBX = "192.0.2.60"
STRANGER = "203.0.113.9"
OFFER = (
    "v=0\r\no=- 1 1 IN IP4 192.0.2.60\r\ns=-\r\nc=IN IP4 192.0.2.60\r\nt=0 0\r\n"
    "m=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
)


def invite(call_id: str, host: str) -> Request:
    message = parse(
        (
            f"INVITE sip:door@192.0.2.5 SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {host};branch=z9hG4bK{call_id}\r\n"
            f"From: <sip:flat@{host}>;tag=1\r\nTo: <sip:door@192.0.2.5>\r\n"
            f"Call-ID: {call_id}\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n"
            f"Contact: <sip:flat@{host}>\r\nContent-Type: application/sdp\r\n"
            f"Content-Length: {len(OFFER)}\r\n\r\n{OFFER}"
        ).encode()
    )
    assert isinstance(message, Request)
    return message


def statuses(ua: UserAgent, host: str, calls: int) -> list[int]:
    """Place ``calls`` INVITEs from ``host``, ten a second; the final statuses they got."""
    finals = []
    for n in range(calls):
        ua.receive(invite(f"{host}-{n}", host), (host, 5060), "udp", n / 10)
        for out in ua.datagrams_to_send():
            answer = parse(out.data)
            assert isinstance(answer, Response)
            if answer.status >= 200:
                finals.append(answer.status)
        ua.call_actions()
        ua.notices()
    return finals


def test_generous_is_the_listed_networks_the_registrar_and_the_peers_never_anyone() -> None:
    trusted = SourceFilter.build(["*", "registrar", "10.0.0.0/8"], ["192.0.2.101"], [PBX])
    assert trusted.generous("10.1.2.3") and trusted.generous("192.0.2.101")
    assert trusted.generous(PBX)
    assert trusted.allows(STRANGER) and not trusted.generous(STRANGER)  # "*": admitted only
    assert not SourceFilter.build(["*"], [], ["pbx.example.com"]).generous(PBX)  # no name


def test_a_configured_peer_placing_many_calls_is_served_while_a_stranger_is_limited() -> None:
    """Peer-to-peer, ``[calls] allow`` names the PBX by address: 150 calls in 15 s from it are
    all answered (busy, the door is ringing already), none 503; the same from a stranger gets
    503 once its 64 transactions are held."""
    config = Config(calls=CallSettings(allow=(f"flat@{PBX}",)))
    ua = UserAgent(config, LocalAddress("192.0.2.5", 5060), random.Random(1))
    from_pbx = statuses(ua, PBX, 150)
    assert len(from_pbx) == 149 and 503 not in from_pbx  # the first one rings
    from_stranger = statuses(ua, STRANGER, 150)
    assert from_stranger.count(503) == 150 - 64


def test_the_registrar_gets_the_larger_budget_in_account_mode() -> None:
    """Its calls come over the registered TCP flow (rule 2's proof): many a second, no 503."""
    account = AccountSettings(
        registrar="sip:pbx.example.com",
        user="door",
        password="pw",
        domain="example.com",
        auth_user="door",
    )
    ua = UserAgent(
        Config(account=account, sip=SipSettings(transport="tcp")),
        LocalAddress("192.0.2.5", 5060, "tcp"),
        random.Random(2),
        {"pbx.example.com": PBX},
    )
    finals = []
    for n in range(150):
        ua.receive(invite(f"reg-{n}", PBX), (PBX, 5060), "tcp", n / 10)
        finals += [parse(o.data).status for o in ua.datagrams_to_send()]  # type: ignore[union-attr]
        ua.call_actions()
    assert finals.count(503) == 0 and len([s for s in finals if s >= 200]) == 149


def test_the_filters_memory_of_hosts_is_bounded_and_answers_stay_right() -> None:
    """A sweep from many addresses cannot grow the memo beyond MEMO_HOSTS."""
    trusted = SourceFilter.build(["registrar", "10.0.0.0/8"], ["192.0.2.101"], [PBX])
    for n in range(3 * MEMO_HOSTS):
        assert not trusted.allows(f"198.51.{n // 256}.{n % 256}")
        assert len(trusted._memo) <= MEMO_HOSTS
    assert trusted.allows("10.9.9.9") and not trusted.proven_by_source("192.0.2.101")
    assert trusted.allows("192.0.2.101") and not trusted.allows(PBX) and trusted.generous(PBX)
