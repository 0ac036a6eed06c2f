"""STUN Binding (RFC 8489) encode/decode and retransmission, checked against the RFC 5769 test
vectors and hostile input."""

import contextlib
import itertools
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from endpoint.media.stun import (
    RC,
    RM,
    RTO,
    BindingTransaction,
    MappedAddress,
    StunError,
    binding_request,
    looks_like_stun,
    parse_binding_response,
)

# RFC 5769 §2.2: a Binding success response with SOFTWARE, XOR-MAPPED-ADDRESS (192.0.2.1:32853),
# MESSAGE-INTEGRITY and FINGERPRINT.
TID = bytes.fromhex("b7e7a701bc34d686fa87dfae")
RFC5769_IPV4 = bytes.fromhex(
    "0101003c2112a442b7e7a701bc34d686fa87dfae"
    "8022000b7465737420766563746f7220"
    "002000080001a147e112a643"
    "000800142b91f599fd9e90c38c7489f92af9ba53f06be7d7"
    "80280004c07d4c96"
)
# RFC 5769 §2.3: the same for 2001:db8:1234:5678:11:2233:4455:6677 port 32853.
RFC5769_IPV6 = bytes.fromhex(
    "010100482112a442b7e7a701bc34d686fa87dfae"
    "8022000b7465737420766563746f7220"
    "002000140002a1470113a9faa5d3f179bc25f4b5bed2b9d9"
    "00080014a382954e4be67bf11784c97c8292c275bfe3ed41"
    "80280004c8fb0b4c"
)


def test_rfc5769_ipv4_response() -> None:
    assert parse_binding_response(RFC5769_IPV4, TID) == MappedAddress("192.0.2.1", 32853)


def test_rfc5769_ipv6_response() -> None:
    assert parse_binding_response(RFC5769_IPV6, TID) == MappedAddress(
        "2001:db8:1234:5678:11:2233:4455:6677", 32853
    )


def test_request_is_a_binding_with_our_id_and_a_fingerprint() -> None:
    request = binding_request(TID)
    assert request[:4] == bytes.fromhex("00010008") and request[8:20] == TID
    assert looks_like_stun(request) and not looks_like_stun(b"INVITE sip:door@x SIP/2.0\r\n")
    assert request[20:24] == bytes.fromhex("80280004")
    with pytest.raises(ValueError):
        binding_request(b"short")


def test_another_transaction_is_not_ours() -> None:
    with pytest.raises(StunError, match="not our transaction"):
        parse_binding_response(RFC5769_IPV4, bytes(12))


def test_a_corrupted_address_fails_the_fingerprint() -> None:
    bad = bytearray(RFC5769_IPV4)
    bad[47] ^= 1  # the last byte of the XOR-MAPPED-ADDRESS
    with pytest.raises(StunError, match="FINGERPRINT"):
        parse_binding_response(bytes(bad), TID)


def test_an_attribute_longer_than_the_message_is_refused() -> None:
    body = struct.pack("!HH", 0x0020, 200) + bytes(8)
    data = struct.pack("!HHI", 0x0101, len(body), 0x2112A442) + TID + body
    with pytest.raises(StunError, match="longer"):
        parse_binding_response(data, TID)


def test_an_error_response_and_a_response_without_address_are_refused() -> None:
    error = struct.pack("!HHI", 0x0111, 0, 0x2112A442) + TID
    with pytest.raises(StunError, match="error"):
        parse_binding_response(error, TID)
    empty = struct.pack("!HHI", 0x0101, 0, 0x2112A442) + TID
    with pytest.raises(StunError, match="no mapped address"):
        parse_binding_response(empty, TID)


def test_plain_mapped_address_of_old_servers() -> None:
    body = struct.pack("!HHBBH", 0x0001, 8, 0, 1, 5060) + bytes([203, 0, 113, 7])
    data = struct.pack("!HHI", 0x0101, len(body), 0x2112A442) + TID + body
    assert parse_binding_response(data, TID) == MappedAddress("203.0.113.7", 5060)


@given(st.binary(max_size=600))
def test_any_datagram_parses_or_raises_stun_error(data: bytes) -> None:
    for candidate in (data, struct.pack("!HHI", 0x0101, len(data), 0x2112A442) + TID + data):
        with contextlib.suppress(StunError):
            parse_binding_response(candidate, TID)


def test_retransmissions_double_then_the_transaction_fails() -> None:
    t = BindingTransaction(TID, started=100.0)
    sends = [100.0]
    while (deadline := t.get_timer()) is not None:
        if t.handle_timer(deadline) is not None:
            sends.append(deadline)
    assert t.failed and len(sends) == RC
    gaps = [b - a for a, b in itertools.pairwise(sends)]
    assert gaps == [RTO * 2**i for i in range(RC - 1)]  # 0.5, 1, 2, 4, 8, 16 s


def test_an_answer_settles_the_transaction_and_strays_are_ignored() -> None:
    t = BindingTransaction(TID, started=0.0)
    assert t.handle_timer(0.1) is None  # not yet due
    assert not t.receive(b"garbage") and not t.receive(RFC5769_IPV4[:-4])
    assert t.receive(RFC5769_IPV4)
    assert t.result == MappedAddress("192.0.2.1", 32853) and t.get_timer() is None


def test_the_last_request_is_waited_for_rm_times_rto() -> None:
    t = BindingTransaction(TID, started=0.0, sent=RC)
    assert t.get_timer() == RTO * (2 ** (RC - 1) - 1) + RTO * RM  # 39.5 s in all
    assert t.handle_timer(39.0) is None and not t.failed
    assert t.handle_timer(39.5) is None and t.failed
