"""URIs (RFC 3261 §19.1): the examples of §19.1.3 and the edge cases."""

import pytest

from endpoint.sip import AbsoluteURI, ParseError, SipURI, parse_uri
from endpoint.sip.uri import uri_host


@pytest.mark.parametrize(
    "text",
    [
        "sip:alice@atlanta.com",
        "sip:alice:secretword@atlanta.com;transport=tcp",
        "sips:alice@atlanta.com?subject=project%20x&priority=urgent",
        "sip:+1-212-555-1212:1234@gateway.com;user=phone",
        "sips:1212@gateway.com",
        "sip:alice@192.0.2.4",
        "sip:atlanta.com;method=REGISTER?to=alice%40atlanta.com",
        "sip:alice;day=tuesday@atlanta.com",
        "sip:[2001:db8::10]:5070;transport=udp",
    ],
)
def test_rfc3261_examples_round_trip(text: str) -> None:
    uri = parse_uri(text)
    assert isinstance(uri, SipURI)
    assert str(uri) == text


def test_parts() -> None:
    uri = parse_uri("sip:alice:secretword@atlanta.com:5070;transport=TCP;lr?subject=x")
    assert isinstance(uri, SipURI)
    assert (uri.user, uri.password, uri.host, uri.port) == (
        "alice",
        "secretword",
        "atlanta.com",
        5070,
    )
    assert uri.transport == "tcp"
    assert uri.param("lr") == "" and uri.param("maddr") is None
    assert uri.headers == (("subject", "x"),)
    assert str(uri.with_params(transport="udp").without_params("lr").without_headers()) == (
        "sip:alice:secretword@atlanta.com:5070;transport=udp"
    )


def test_ipv6_host_keeps_brackets() -> None:
    uri = parse_uri("sip:door@[2001:db8::1]:5060")
    assert isinstance(uri, SipURI)
    assert uri.host == "[2001:db8::1]" and uri.bare_host == "2001:db8::1" and uri.port == 5060


def test_other_schemes_are_opaque() -> None:
    assert parse_uri("tel:+1-201-555-0123") == AbsoluteURI("tel", "+1-201-555-0123")
    assert str(parse_uri("HTTP://www.example.com")) == "http://www.example.com"


@pytest.mark.parametrize(
    "text",
    [
        "sip:",
        "sip:@host",
        "sip:user@",
        "sip:user@host:99999",
        "sip:user@host:port",
        "sip:us er@host",
        "sip:user@ho st",
        "sip:user@host;a b",
        "sip:user@host?nohvalue",
        "sip:user@host;p=%zz",
        "nocolon",
        "1abc:x",
    ],
)
def test_malformed(text: str) -> None:
    with pytest.raises(ParseError):
        parse_uri(text)


def test_uri_host_brackets_ipv6_only() -> None:
    assert uri_host("::1") == "[::1]" and uri_host("[::1]") == "[::1]"
    assert uri_host("192.0.2.1") == "192.0.2.1" and uri_host("pbx.example.com") == "pbx.example.com"
