"""A challenged in-dialog request goes again once, with credentials, a new CSeq and branch."""

import random

import pytest

from endpoint.sip.digest import DigestClient, DigestError
from endpoint.sip.headers import Via
from endpoint.sip.message import Request, Response, parse
from endpoint.ua.dialog_auth import challenged_in_dialog, with_credentials

BYE = (
    b"BYE sip:flat@127.0.0.1:5090 SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKfirst;rport\r\n"
    b"Max-Forwards: 70\r\n"
    b"From: <sip:door@127.0.0.1>;tag=ours\r\n"
    b"To: <sip:flat@127.0.0.1>;tag=theirs\r\n"
    b"Call-ID: c1@127.0.0.1\r\n"
    b"CSeq: 7 BYE\r\n"
    b"Content-Length: 0\r\n\r\n"
)


def challenge(realm: str, nonce: str = "n1") -> Response:
    raw = (
        b"SIP/2.0 401 Unauthorized\r\n"
        b"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKfirst;rport\r\n"
        b"From: <sip:door@127.0.0.1>;tag=ours\r\n"
        b"To: <sip:flat@127.0.0.1>;tag=theirs\r\n"
        b"Call-ID: c1@127.0.0.1\r\n"
        b"CSeq: 7 BYE\r\n"
        + f'WWW-Authenticate: Digest realm="{realm}", nonce="{nonce}", qop="auth"\r\n'.encode()
        + b"Content-Length: 0\r\n\r\n"
    )
    message = parse(raw)
    assert isinstance(message, Response)
    return message


def bye() -> Request:
    message = parse(BYE)
    assert isinstance(message, Request)
    return message


def client() -> DigestClient:
    return DigestClient("door", "secret", random.Random(1), allowed_realms=frozenset({"pbx"}))


def via(branch: str) -> Via:
    return Via("UDP", "127.0.0.1", 5070, (("branch", branch), ("rport", None)))


def test_the_retry_carries_credentials_a_new_cseq_and_branch_in_the_same_dialog() -> None:
    request, response = bye(), challenge("pbx")
    assert challenged_in_dialog(request, response)
    retry = with_credentials(request, response, client(), cseq=8, via=via("z9hG4bKsecond"))
    assert retry.cseq.seq == 8 and retry.method == "BYE"
    assert retry.top_via.branch == "z9hG4bKsecond"
    assert (retry.call_id, retry.from_addr.tag, retry.to_addr.tag) == (
        "c1@127.0.0.1",
        "ours",
        "theirs",
    )
    [credentials] = retry.headers.rows("Authorization")
    assert 'realm="pbx"' in credentials and 'uri="sip:flat@127.0.0.1:5090"' in credentials


def test_the_same_challenge_to_the_retry_is_not_answered_twice() -> None:
    digest = client()
    retry = with_credentials(bye(), challenge("pbx"), digest, cseq=8, via=via("z9hG4bKb"))
    with pytest.raises(DigestError):
        with_credentials(retry, challenge("pbx", "n2"), digest, cseq=9, via=via("z9hG4bKc"))


def test_a_realm_that_is_not_configured_gets_no_credentials() -> None:
    with pytest.raises(DigestError, match="not configured"):
        with_credentials(bye(), challenge("stranger"), client(), cseq=8, via=via("z9hG4bKb"))


def test_an_initial_request_is_not_in_a_dialog() -> None:
    request = bye().replace(headers=bye().headers.set("To", "<sip:flat@127.0.0.1>"))
    assert not challenged_in_dialog(request, challenge("pbx"))
