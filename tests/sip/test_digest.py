"""Digest authentication, client side: the RFCs' own examples, then SIP's cases."""

import contextlib
import hashlib
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


def values(fields: list[tuple[str, str]]) -> list[str]:
    """The header values of the credentials we sent: what a re-challenged request carried."""
    return [value for _, value in fields]


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
    """RFC 3261 §22.2: a re-challenge of a request that carried credentials is a refusal."""
    c = client()
    sent = c.answer(['Digest realm="r", nonce="1", qop="auth"'], 401, "REGISTER", "sip:r")
    with pytest.raises(DigestError, match="rejected"):
        c.answer(
            ['Digest realm="r", nonce="2", qop="auth"'], 401, "REGISTER", "sip:r", sent=values(sent)
        )


def test_a_request_without_credentials_gets_an_ordinary_challenge_call_after_call() -> None:
    """The second and third INVITE through a proxy that challenges every INVITE: each first
    407 answers a request with no credentials, so it is a challenge, not a refusal."""
    c = client()
    for call in range(3):
        challenge = f'Digest realm="pbx", nonce="n{call}", qop="auth"'
        (field,) = c.answer([challenge], 407, "INVITE", "sip:flat@pbx")
        assert params(field[1])["nonce"] == f"n{call}"


def test_parallel_requests_answer_their_own_challenges() -> None:
    """A call group: two INVITEs challenged at once, and REGISTER beside them."""
    c = client()
    first = c.answer(['Digest realm="pbx", nonce="a", qop="auth"'], 407, "INVITE", "sip:x@pbx")
    second = c.answer(['Digest realm="pbx", nonce="b", qop="auth"'], 407, "INVITE", "sip:y@pbx")
    c.answer(['Digest realm="pbx", nonce="c", qop="auth"'], 401, "REGISTER", "sip:pbx")
    with pytest.raises(DigestError, match="rejected"):
        c.answer(['Digest realm="pbx", nonce="d"'], 407, "INVITE", "sip:x@pbx", sent=values(first))
    assert params(second[0][1])["nonce"] == "b"


def test_a_second_proxy_challenges_after_the_first_let_us_through() -> None:
    """RFC 3261 §22.3: the credentials for the first realm travel on with the second's."""
    c = client()
    first = c.answer(['Digest realm="edge", nonce="1", qop="auth"'], 407, "INVITE", "sip:b@h")
    both = c.answer(
        ['Digest realm="core", nonce="2", qop="auth"'], 407, "INVITE", "sip:b@h", sent=values(first)
    )
    assert sorted(params(v)["realm"] for _, v in both) == ["core", "edge"]
    assert {params(v)["realm"]: params(v)["nc"] for _, v in both} == {
        "core": "00000001",
        "edge": "00000002",
    }


def test_stale_nonce_is_retried() -> None:
    c = client()
    sent = c.answer(['Digest realm="r", nonce="1", qop="auth"'], 401, "REGISTER", "sip:r")
    (field,) = c.answer(
        ['Digest realm="r", nonce="2", qop="auth", stale=true'],
        401,
        "REGISTER",
        "sip:r",
        sent=values(sent),
    )
    assert 'nonce="2"' in field[1] and "nc=00000001" in field[1]


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
    sent = c.answer(['Digest realm="r", nonce="1"'], 401, "REGISTER", "sip:r")
    with pytest.raises(DigestError) as info:
        c.answer(['Digest realm="r", nonce="2"'], 401, "REGISTER", "sip:r", sent=values(sent))
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


def test_rfc7616_section_3_9_2_sha512_256_userhash_with_errata_4897() -> None:
    """The hashes printed in the RFC are not standard SHA-512/256; erratum 4897 gives these."""
    challenge = parse_challenge(
        'Digest realm="api@example.org", qop="auth", algorithm=SHA-512-256, '
        'nonce="5TsQWLVdgBdmrQ0XsxbDODV+57QdFR34I9HAbC/RVvkK", '
        'opaque="HRPCssKJSGjCrkzDg8OhwpzCiGPChXYjwrI2QmXDnsOS", charset=UTF-8, userhash=true'
    )
    assert challenge is not None
    assert (challenge.algorithm, challenge.userhash) == ("SHA-512-256", True)
    response = digest_response(
        challenge,
        "J\u00e4s\u00f8n Doe",
        "Secret, or not?",
        "GET",
        "/doe.json",
        nc="00000001",
        cnonce="NTg6RKcb9boFIAS3KrFK9BGeh+iDa/sm6jUMp2wds69v",
        qop="auth",
    )
    assert response == "3798d4131c277846293534c3edc11bd8a5e4cdcbff78b05db9d95eeb1cec68a5"
    value = 'Digest realm="api@example.org", nonce="n", algorithm=SHA-512-256, userhash=true'
    jason = DigestClient("J\u00e4s\u00f8n Doe", "Secret, or not?", random.Random(1))
    (field,) = jason.answer([value], 401, "GET", "/doe.json")
    assert field[1].startswith(
        'Digest username="793263caabb707a56211940d90411ea4a575adeccb7e360aeb624ed06ece9b0b"'
    )


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def test_md5_sess_follows_rfc2617_section_3_2_2_2() -> None:
    c = Challenge(realm="r", nonce="n", algorithm="MD5", session=True, qop=("auth",))
    ha1 = md5(f"{md5('u:r:p')}:n:c")
    expected = md5(f"{ha1}:n:00000002:c:auth:{md5('REGISTER:sip:r')}")
    got = digest_response(c, "u", "p", "REGISTER", "sip:r", nc="00000002", cnonce="c", qop="auth")
    assert got == expected


def test_rfc2069_form_without_qop() -> None:
    c = Challenge(realm="r", nonce="n")
    expected = md5(f"{md5('u:r:p')}:n:{md5('INVITE:sip:b@h')}")
    assert digest_response(c, "u", "p", "INVITE", "sip:b@h", nc="", cnonce="", qop=None) == expected


def params(value: str) -> dict[str, str]:
    """The credentials' parameters, unquoted (test helper; values here hold no commas)."""
    out = {}
    for part in value.removeprefix("Digest ").split(", "):
        name, _, raw = part.partition("=")
        out[name] = raw.strip('"')
    return out


def test_sess_without_qop_still_sends_the_cnonce_it_hashed() -> None:
    (field,) = client().answer(['Digest realm="r", nonce="n", algorithm=MD5-sess'], 401, "M", "u")
    p = params(field[1])
    assert "qop" not in p and "nc" not in p
    ha1 = md5(f"{md5('door:r:secret')}:n:{p['cnonce']}")
    assert p["response"] == md5(f"{ha1}:n:{md5('M:u')}")


def test_auth_int_only_hashes_the_body() -> None:
    body = b"v=0\r\n"
    (field,) = client().answer(
        ['Digest realm="r", nonce="n", qop="auth-int"'], 401, "INVITE", "sip:b@h", body
    )
    p = params(field[1])
    ha2 = md5(f"INVITE:sip:b@h:{hashlib.md5(body).hexdigest()}")
    assert p["qop"] == "auth-int"
    assert p["response"] == md5(f"{md5('door:r:secret')}:n:{p['nc']}:{p['cnonce']}:auth-int:{ha2}")


def test_quoting_of_the_credentials() -> None:
    """RFC 7616 §3.4: realm, nonce, uri, response, cnonce, opaque quoted; qop, nc, algorithm not."""
    (field,) = client().answer(
        ['Digest realm="r", nonce="n", opaque="o", qop="auth", algorithm=SHA-256'], 401, "M", "u"
    )
    for quoted in ("username", "realm", "nonce", "uri", "response", "cnonce", "opaque"):
        assert f'{quoted}="' in field[1]
    for bare in ("qop=auth,", "nc=00000001,", "algorithm=SHA-256,"):
        assert bare in field[1] + ","


def test_stale_with_the_nonce_we_just_used_is_a_rejection() -> None:
    c = client()
    sent = c.answer(['Digest realm="r", nonce="1", qop="auth"'], 401, "REGISTER", "sip:r")
    with pytest.raises(DigestError, match="rejected"):
        c.answer(
            ['Digest realm="r", nonce="1", stale=true'], 401, "REGISTER", "sip:r", sent=values(sent)
        )


def test_endless_stale_nonces_stop_after_a_few() -> None:
    c = client()
    sent = c.answer(['Digest realm="r", nonce="0"'], 401, "REGISTER", "sip:r")
    for n in range(1, 4):
        sent = c.answer(
            [f'Digest realm="r", nonce="{n}", stale=true'],
            401,
            "REGISTER",
            "sip:r",
            sent=values(sent),
        )
    with pytest.raises(DigestError, match="stale nonces in a row"):
        c.answer(
            ['Digest realm="r", nonce="4", stale=true'], 401, "REGISTER", "sip:r", sent=values(sent)
        )


def test_a_fresh_challenge_resets_the_stale_count() -> None:
    """Each refresh starts without credentials, so its stale chain starts over."""
    c = client()
    for refresh in range(5):
        sent = c.answer([f'Digest realm="r", nonce="{refresh}"'], 401, "REGISTER", "sip:r")
        for n in range(1, 4):
            sent = c.answer(
                [f'Digest realm="r", nonce="{refresh}.{n}", stale=true'],
                401,
                "REGISTER",
                "sip:r",
                sent=values(sent),
            )


def test_the_same_nonce_challenged_again_later_continues_nc() -> None:
    """A server that re-issues its nonce must not see nc=00000001 twice (a replay to it)."""
    c = client()
    c.answer(['Digest realm="r", nonce="1", qop="auth"'], 401, "REGISTER", "sip:r")
    c.answer(['Digest realm="r", nonce="1", qop="auth"'], 401, "REGISTER", "sip:r")
    (field,) = c.answer(['Digest realm="r", nonce="1", qop="auth"'], 401, "REGISTER", "sip:r")
    assert params(field[1])["nc"] == "00000003"


def test_malformed_challenge_beside_a_good_one_is_skipped() -> None:
    values = ['Digest realm="r", nonce="1", qop="auth', 'Digest realm="p", nonce="2"']
    (field,) = client().answer(values, 407, "INVITE", "sip:b@h")
    assert params(field[1])["realm"] == "p"
    with pytest.raises(DigestError, match=r"no supported.*realm or nonce"):
        client().answer(['Digest nonce="1"'], 401, "REGISTER", "sip:r")


def test_scheme_may_be_followed_by_a_tab_and_is_case_insensitive() -> None:
    challenge = parse_challenge('dIgEsT\trealm="r",nonce="n" , ALGORITHM=sha-256-SESS')
    assert challenge == Challenge(realm="r", nonce="n", algorithm="SHA-256", session=True)
    assert parse_challenge('Basic realm="r"') is None
    assert parse_challenge('NewAuth realm="r", nonce="n"') is None


def test_escapes_in_quoted_strings() -> None:
    challenge = parse_challenge(r'Digest realm="a \"b\" \\c", nonce="n", future="x, y"')
    assert challenge is not None and challenge.realm == r'a "b" \c'
    (field,) = client().answer([r'Digest realm="a \"b\" \\c", nonce="n"'], 401, "M", "u")
    assert r'realm="a \"b\" \\c"' in field[1]


def test_neither_password_nor_ha1_leaks() -> None:
    c = DigestClient("door", "hunter2-secret", random.Random(1))
    ha1 = md5("door:r:hunter2-secret")
    (field,) = c.answer(['Digest realm="r", nonce="1", qop="auth"'], 401, "REGISTER", "sip:r")
    with pytest.raises(DigestError) as info:
        c.answer(['Digest realm="r", nonce="2"'], 401, "REGISTER", "sip:r", sent=[field[1]])
    for text in (repr(c), str(c), str(info.value), repr(info.value), field[1]):
        assert "hunter2" not in text and ha1 not in text


@given(st.lists(st.text(max_size=120), max_size=3))
def test_answer_to_any_challenges_raises_only_digest_error(values: list[str]) -> None:
    for challenges in (values, ["Digest " + v for v in values]):
        with contextlib.suppress(DigestError):
            client().answer(challenges, 401, "REGISTER", "sip:r")
