"""IPv4-mapped addresses at the socket edge, wildcards, and the source address towards a host."""

import socket

import pytest

from endpoint.runtime.addresses import is_wildcard, mapped_for, source_address_towards, unmapped
from endpoint.runtime.engine import family_mismatch


@pytest.mark.parametrize(
    ("raw", "plain"),
    [
        ("::ffff:127.0.0.1", "127.0.0.1"),
        ("::FFFF:192.0.2.7", "192.0.2.7"),
        ("::1", "::1"),
        ("127.0.0.1", "127.0.0.1"),
        ("2001:db8::ffff:1.2.3.4", "2001:db8::ffff:1.2.3.4"),
        ("::ffff:1.2.3", "::ffff:1.2.3"),
    ],
)
def test_unmapped(raw: str, plain: str) -> None:
    assert unmapped(raw) == plain


def test_mapped_for_is_the_inverse_on_an_ipv6_socket() -> None:
    assert mapped_for(socket.AF_INET6, "127.0.0.1") == "::ffff:127.0.0.1"
    assert unmapped(mapped_for(socket.AF_INET6, "127.0.0.1")) == "127.0.0.1"
    assert mapped_for(socket.AF_INET6, "::1") == "::1"
    assert mapped_for(socket.AF_INET, "127.0.0.1") == "127.0.0.1"


@pytest.mark.parametrize(("host", "wild"), [("0.0.0.0", True), ("::", True), ("[::]", True)])
def test_wildcards(host: str, wild: bool) -> None:
    assert is_wildcard(host) is wild
    assert not is_wildcard("::1") and not is_wildcard("127.0.0.1") and not is_wildcard("pbx")


def test_source_address_towards_loopback_in_both_families() -> None:
    assert source_address_towards("127.0.0.1", 5060) == "127.0.0.1"
    assert source_address_towards("::1", 5060) == "::1"


def test_a_registrar_of_the_other_family_is_named_with_the_fix() -> None:
    assert family_mismatch("0.0.0.0", "2001:db8::1") is not None
    assert "[::]" in (family_mismatch("::1", "192.0.2.1") or "")
    assert family_mismatch("::", "192.0.2.1") is None
    assert family_mismatch("::", "2001:db8::1") is None
    assert family_mismatch("0.0.0.0", "192.0.2.1") is None
