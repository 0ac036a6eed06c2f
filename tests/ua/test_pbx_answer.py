"""PBX-driven auto-answer: which headers ask for it, and that only the proven registrar's
INVITE is heeded, and only when ``[calls] pbx_auto_answer`` is on."""

import random

import pytest

from endpoint.config import CallSettings, Config, SipSettings
from endpoint.sip import Request, Response, parse
from endpoint.ua.agent import UserAgent
from endpoint.ua.pbx_answer import requested_delay
from endpoint.ua.registration import LocalAddress
from tests.ua.test_agent import account, invite

REGISTRAR = ("192.0.2.101", 5060)


def with_headers(call_id: str, extra: str, *, line: str | None = None) -> Request:
    data = bytes(invite(call_id)).replace(
        b"Max-Forwards: 70\r\n", f"Max-Forwards: 70\r\n{extra}".encode()
    )
    if line is not None:
        data = data.replace(
            b"INVITE sip:door@192.0.2.5 ", f"INVITE sip:door@192.0.2.5;line={line} ".encode()
        )
    message = parse(data)
    assert isinstance(message, Request)
    return message


@pytest.mark.parametrize(
    ("headers", "delay"),
    [
        ("Call-Info: <sip:192.0.2.101>;answer-after=0\r\n", 0),
        ("Call-Info: <http://www.notused.com>;Answer-After=5\r\n", 5),
        ("Call-Info: ;answer-after=2\r\n", 2),
        ("Alert-Info: <http://www.notused.com>;info=alert-autoanswer\r\n", 0),
        ("Alert-Info: <http://www.notused.com>;info=alert-autoanswer;delay=3\r\n", 3),
        ("Alert-Info: <http://x>;info=alert-intercom\r\n", 0),
        ("Alert-Info: <sip:x>;info=intercom\r\n", 0),
        ("Alert-Info: <http://x>;answer-after=1\r\n", 1),
        ("Alert-Info: Auto Answer\r\n", 0),
        (
            "Alert-Info: <http://x>;info=alert-autoanswer\r\nCall-Info: <sip:x>;answer-after=4\r\n",
            0,
        ),
        ("Alert-Info: <http://x/bell.wav>\r\n", None),
        ("Call-Info: <http://x/photo.jpg>;purpose=icon\r\n", None),
        ("Call-Info: <sip:x>;info=alert-autoanswer\r\n", None),  # info= is Alert-Info's
        ("Call-Info: <sip:x>;answer-after=\u00b2\r\n", None),  # not ASCII digits
        ("Call-Info: <sip:x>;answer-after=99999999999999999999\r\n", None),  # bounded
        ("Call-Info: <sip:x>;answer-after=3600\r\n", None),  # no paging takes an hour
        ("Call-Info: <sip:x>;answer-after=1;;;=\r\n", None),  # malformed parameters
        ("", None),
    ],
)
def test_the_forms_phones_accept(headers: str, delay: int | None) -> None:
    assert requested_delay(with_headers("c", headers)) == delay


def door(pbx_auto_answer: bool, accept_from: tuple[str, ...] = ()) -> UserAgent:
    config = Config(
        account=account("sip:192.0.2.101"),
        sip=SipSettings(accept_from=accept_from),
        calls=CallSettings(auto_answer=False, pbx_auto_answer=pbx_auto_answer),
    )
    return UserAgent(config, LocalAddress("192.0.2.5", 5060), random.Random(7))


def statuses(ua: UserAgent) -> list[int]:
    replies = [parse(o.data) for o in ua.datagrams_to_send()]
    return [r.status for r in replies if isinstance(r, Response)]


PAGE = "Call-Info: <sip:192.0.2.101>;answer-after=2\r\n"


def test_the_registrars_page_is_answered_after_its_delay_though_auto_answer_is_off() -> None:
    ua = door(pbx_auto_answer=True)
    ua.receive(with_headers("page", PAGE, line=ua.registrations[0].line), REGISTRAR, "udp", 0.0)
    assert statuses(ua) == [100, 180]
    ua.media_ready("page", 40000, 0.1)
    assert statuses(ua) == [] and ua.get_timer() == pytest.approx(2.1)
    ua.handle_timer(2.1)
    assert statuses(ua) == [200]
    answered = [n for n in ua.notices() if n.name == "call-answered"]
    assert answered and answered[0].detail["answered_by"] == "pbx"


def test_without_the_setting_a_page_only_rings() -> None:
    ua = door(pbx_auto_answer=False)
    ua.receive(with_headers("page", PAGE, line=ua.registrations[0].line), REGISTRAR, "udp", 0.0)
    assert statuses(ua) == [100, 180]
    ua.media_ready("page", 40000, 0.1)
    assert ua.get_timer() is None or ua.get_timer() > 50  # only the ring timeout is left
    assert statuses(ua) == []


def test_a_strangers_page_is_ignored_even_from_a_trusted_network() -> None:
    """``accept_from`` lets the LAN ring the door, but only the registrar, proven by the
    ``line=`` token (or a TCP/TLS flow), may make it pick up by itself."""
    ua = door(pbx_auto_answer=True, accept_from=("registrar", "10.0.0.0/8"))
    ua.receive(with_headers("lan", PAGE), ("10.1.2.3", 5060), "udp", 0.0)
    assert statuses(ua) == [100, 180]
    ua.media_ready("lan", 40000, 0.1)
    ua.handle_timer(2.1)
    assert statuses(ua) == []  # it rings on, unanswered
    # The registrar's address on a UDP packet without the token is dropped altogether.
    ua.receive(with_headers("spoofed", PAGE), REGISTRAR, "udp", 3.0)
    assert statuses(ua) == []


def test_a_page_over_the_registrars_tcp_flow_needs_no_token() -> None:
    """A connection's source cannot be spoofed: the registrar's page over TCP is heeded."""
    ua = door(pbx_auto_answer=True)
    ua.receive(
        with_headers("tcp", "Alert-Info: <http://x>;info=alert-intercom\r\n"), REGISTRAR, "tcp", 0.0
    )
    assert statuses(ua) == [100, 180]
    ua.media_ready("tcp", 40000, 0.1)
    assert statuses(ua) == [200]
