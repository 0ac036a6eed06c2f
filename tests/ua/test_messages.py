"""``ctl message`` sans-IO (endpoint.ua.messages): the MESSAGE on the wire, digest only for a
configured realm, and the refusals of bad texts."""

from __future__ import annotations

import random

import pytest

from endpoint.config import AccountSettings, Config
from endpoint.sip import Request, make_response, parse, parse_uri
from endpoint.sip.transaction import TransactionLayer
from endpoint.sip.uri import SipURI
from endpoint.ua.events import TextMessageFailed, TextMessageSent
from endpoint.ua.messages import MessageRefusedError, OutgoingMessages, same_party
from endpoint.ua.registration import LocalAddress

ACCOUNT = AccountSettings(
    registrar="sip:192.0.2.101",
    user="door",
    password="secret",
    domain="example.com",
    auth_user="door",
)
FLAT = parse_uri("sip:flat@example.com")
assert isinstance(FLAT, SipURI)


def messages() -> tuple[OutgoingMessages, TransactionLayer]:
    tx = TransactionLayer()
    out = OutgoingMessages(
        Config(account=ACCOUNT),
        LocalAddress("192.0.2.5", 5060),
        tx,
        random.Random(1),
        lambda host: {"192.0.2.101": "192.0.2.101"}.get(host, host),
        port_of=lambda host, port: port,
    )
    return out, tx


def last_request(tx: TransactionLayer) -> tuple[Request, str]:
    (datagram,) = tx.datagrams_to_send()
    request = parse(datagram.data)
    assert isinstance(request, Request)
    assert datagram.destination == ("192.0.2.101", 5060)  # through the registrar
    return request, datagram.transport


def test_out_of_dialog_message_is_text_plain_from_our_aor() -> None:
    out, tx = messages()
    assert out.send(FLAT, "Visitor at the door", None, 0.0) is False
    request, _ = last_request(tx)
    assert request.method == "MESSAGE" and str(request.uri) == "sip:flat@example.com"
    assert request.body == b"Visitor at the door"
    assert request.headers.get("Content-Type") == "text/plain;charset=UTF-8"
    assert "sip:door@example.com" in (request.headers.get("From") or "")
    (key,) = out.pending
    out.on_response(key, make_response(request, 200, to_tag="t"), 0.1)
    assert out.events == [TextMessageSent(to="sip:flat@example.com", status=200)]


def test_a_407_for_our_realm_is_answered_once_with_the_next_cseq() -> None:
    out, tx = messages()
    out.send(FLAT, "hello", None, 0.0)
    first, _ = last_request(tx)
    (key,) = out.pending
    challenge = 'Digest realm="example.com", nonce="n1", qop="auth"'
    out.on_response(
        key, make_response(first, 407, headers=[("Proxy-Authenticate", challenge)]), 0.1
    )
    again, _ = last_request(tx)
    assert again.cseq.seq == first.cseq.seq + 1 and again.call_id == first.call_id
    assert 'realm="example.com"' in (again.headers.get("Proxy-Authorization") or "")
    assert again.body == b"hello" and out.events == []


def test_a_challenge_for_a_stranger_realm_gets_no_credentials() -> None:
    out, tx = messages()
    out.send(FLAT, "hello", None, 0.0)
    first, _ = last_request(tx)
    (key,) = out.pending
    evil = 'Digest realm="evil.example", nonce="n1"'
    out.on_response(key, make_response(first, 401, headers=[("WWW-Authenticate", evil)]), 0.1)
    assert tx.datagrams_to_send() == [] and not out.pending
    (failed,) = out.events
    assert isinstance(failed, TextMessageFailed) and failed.reason.startswith("401")


def test_a_proxy_that_keeps_challenging_gets_two_answers_at_most() -> None:
    out, tx = messages()
    out.send(FLAT, "hello", None, 0.0)
    challenge = 'Digest realm="example.com", nonce="n{}", stale=true'
    for i in range(3):  # the first MESSAGE and two answered challenges
        request, _ = last_request(tx)
        (key,) = out.pending
        response = make_response(
            request, 407, headers=[("Proxy-Authenticate", challenge.format(i))]
        )
        out.on_response(key, response, 0.1 * i)
    assert tx.datagrams_to_send() == [] and not out.pending
    assert isinstance(out.events[-1], TextMessageFailed)


@pytest.mark.parametrize(("text", "why"), [(" \n", "empty"), ("é" * 651, "1300")])
def test_bad_texts_are_refused(text: str, why: str) -> None:
    out, tx = messages()
    with pytest.raises(MessageRefusedError, match=why):
        out.send(FLAT, text, None, 0.0)
    assert tx.datagrams_to_send() == []


def test_same_party_compares_user_and_host() -> None:
    assert same_party('"Flat" <sip:flat@Example.com>;tag=1', FLAT)
    assert not same_party("<sip:other@example.com>;tag=1", FLAT)
    assert not same_party("garbage <", FLAT)
