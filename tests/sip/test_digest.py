"""Digest authentication, client side: the RFCs' own examples, then SIP's cases."""

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from endpoint.sip import ParseError
from endpoint.sip.digest import (
    Challenge,
    DigestClient,
    DigestError,
    digest_response,
    parse_challenge,
)


def test_rfc2617_section_3_5_example() -> None:
    challenge = parse_challenge(
        'Digest realm="testrealm@host.com", qop="auth,auth-int", '
        'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"'
    )
    assert challenge is not None and challenge.qop == ("auth", "auth-int")
    response = digest_response(
        challenge,
        "Mufasa",
        "Circle Of Life",
        "GET",
        "/dir/index.html",
        nc="00000001",
        cnonce="0a4f113b",
        qop="auth",
    )
    assert response == "6629fae49393a05397450978507c4ef1"


RFC7616 = (
    'realm="http-auth@example.org", qop="auth, auth-int", '
    'nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", '
    'opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"'
)


@pytest.mark.parametrize(
    ("algorithm", "expected"),
    [
        ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
        ("SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"),
    ],
)
def test_rfc7616_section_3_9_1_examples(algorithm: str, expected: str) -> None:
    challenge = parse_challenge(f"Digest {RFC7616}, algorithm={algorithm}")
    assert challenge is not None and challenge.algorithm == algorithm
    response = digest_response(
        challenge,
        "Mufasa",
        "Circle of Life",
        "GET",
        "/dir/index.html",
        nc="00000001",
        cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
        qop="auth",
    )
    assert response == expected


def test_session_variant_and_auth_int_follow_the_formula() -> None:
    import hashlib

    def h(s: str) -> str:
        return hashlib.sha256(s.encode()).hexdigest()

    c = Challenge(realm="r", nonce="n", algorithm="SHA-256", session=True, qop=("auth-int",))
    body = b"v=0\r\n"
    ha1 = h(f"{h('u:r:p')}:n:c")
    ha2 = h(f"INVITE:sip:b@h:{hashlib.sha256(body).hexdigest()}")
    expected = h(f"{ha1}:n:00000001:c:auth-int:{ha2}")
    got = digest_response(
        c, "u", "p", "INVITE", "sip:b@h", nc="00000001", cnonce="c", qop="auth-int", body=body
    )
    assert got == expected


def client() -> DigestClient:
    return DigestClient("door", "secret", random.Random(1))


def test_answer_to_kamailio_challenge() -> None:
    value = 'Digest realm="127.0.0.1", nonce="Zmk3ZmFjZWU=", qop="auth"'
    (field,) = client().answer([value], 401, "REGISTER", "sip:127.0.0.1")
    name, credentials = field
    assert name == "Authorization"
    assert credentials.startswith('Digest username="door", realm="127.0.0.1", nonce="Zmk3ZmFjZWU="')
    assert 'uri="sip:127.0.0.1"' in credentials and "qop=auth, nc=00000001, cnonce=" in credentials
    assert "algorithm=MD5" in credentials


def test_strongest_challenge_wins_and_407_uses_proxy_authorization() -> None:
    values = [
        'Digest realm="pbx", nonce="a", qop="auth", algorithm=MD5',
        'Digest realm="pbx", nonce="b", qop="auth", algorithm=SHA-256',
        'Basic realm="pbx"',
    ]
    (field,) = client().answer(values, 407, "INVITE", "sip:flat@pbx")
    assert field[0] == "Proxy-Authorization"
    assert 'nonce="b"' in field[1] and "algorithm=SHA-256" in field[1]


def test_two_proxies_get_two_answers() -> None:
    values = ['Digest realm="p1", nonce="a"', 'Digest realm="p2", nonce="b", algorithm=MD5-sess']
    fields = client().answer(values, 407, "INVITE", "sip:flat@pbx")
    assert [f[1].split('realm="')[1][:2] for f in fields] == ["p1", "p2"]
    assert "qop" not in fields[0][1]  # RFC 2069 form without qop
    assert "algorithm=MD5-sess" in fields[1][1]


def test_wrong_password_stops_instead_of_looping() -> None:
    c = client()
    c.answer(['Digest realm="r", nonce="1", qop="auth"'], 401, "REGISTER", "sip:r")
    with pytest.raises(DigestError, match="rejected"):
        c.answer(['Digest realm="r", nonce="2", qop="auth"'], 401, "REGISTER", "sip:r")


def test_stale_nonce_is_retried() -> None:
    c = client()
    c.answer(['Digest realm="r", nonce="1", qop="auth"'], 401, "REGISTER", "sip:r")
    (field,) = c.answer(
        ['Digest realm="r", nonce="2", qop="auth", stale=true'], 401, "REGISTER", "sip:r"
    )
    assert 'nonce="2"' in field[1] and "nc=00000001" in field[1]


def test_nc_counts_per_nonce_on_preemptive_use() -> None:
    c = client()
    c.answer(['Digest realm="r", nonce="1", qop="auth"'], 401, "REGISTER", "sip:r")
    c.succeeded()
    (field,) = c.authorize("REGISTER", "sip:r")
    assert "nc=00000002" in field[1]
    # a new challenge after a pre-emptive attempt is a refresh, not a rejection
    (again,) = c.answer(['Digest realm="r", nonce="3", qop="auth"'], 401, "REGISTER", "sip:r")
    assert "nc=00000001" in again[1]


def test_userhash() -> None:
    import hashlib

    (field,) = client().answer(
        ['Digest realm="r", nonce="1", qop="auth", algorithm=SHA-256, userhash=true'],
        401,
        "REGISTER",
        "sip:r",
    )
    assert hashlib.sha256(b"door:r").hexdigest() in field[1] and "userhash=true" in field[1]


def test_password_never_in_repr_or_errors() -> None:
    c = DigestClient("door", "hunter2-secret", random.Random(1))
    assert "hunter2" not in repr(c)
    c.answer(['Digest realm="r", nonce="1"'], 401, "REGISTER", "sip:r")
    with pytest.raises(DigestError) as info:
        c.answer(['Digest realm="r", nonce="2"'], 401, "REGISTER", "sip:r")
    assert "hunter2" not in str(info.value)


@pytest.mark.parametrize(
    "value",
    ['Digest nonce="1"', 'Digest realm="r"', 'Digest realm="r, nonce=1', "Digest realm=r nonce=1"],
)
def test_bad_challenges(value: str) -> None:
    with pytest.raises(ParseError):
        parse_challenge(value)


def test_nothing_supported() -> None:
    with pytest.raises(DigestError, match="no supported"):
        client().answer(
            ['Digest realm="r", nonce="1", algorithm=SHA-1', "NewAuth x=1"], 401, "M", "u"
        )


@given(st.text(max_size=200))
def test_parsing_any_text_raises_only_parse_error(value: str) -> None:
    try:
        parse_challenge(value)
        parse_challenge("Digest " + value)
    except ParseError:
        pass
