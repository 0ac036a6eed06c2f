"""STUN (RFC 8489) Binding, sans-IO: which public address a NAT gives one of our sockets.

A door behind a home router puts its private address in Via, Contact and SDP unless it asks a
STUN server what the outside sees. This module only encodes the Binding request, decodes the
answer and decides when to retransmit; the runtime owns the socket and the clock, the caller
draws the 96-bit transaction id (DESIGN principles 1 and 2).

Everything in a response comes from the network: every length is checked against the bytes
there are before it is read, unknown attributes are skipped within bounds, a FINGERPRINT that
is present must match, and a response whose transaction id is not ours is ignored (RFC 8489
§6.3: "the client MUST check the transaction ID"), so a stranger cannot plant an address.
"""

from __future__ import annotations

import binascii
import ipaddress
import struct
from dataclasses import dataclass

MAGIC_COOKIE = 0x2112A442
BINDING_REQUEST = 0x0001
BINDING_SUCCESS = 0x0101
BINDING_ERROR = 0x0111
MAPPED_ADDRESS = 0x0001
XOR_MAPPED_ADDRESS = 0x0020
FINGERPRINT = 0x8028
FINGERPRINT_XOR = 0x5354554E
HEADER = 20
#: A Binding response carries a few short attributes; anything larger is not for us.
MAX_MESSAGE = 548
#: RFC 8489 §6.2.1: RTO 500 ms doubling, Rc = 7 requests, the last waited for Rm = 16 RTOs.
RTO = 0.5
RC = 7
RM = 16


class StunError(ValueError):
    """A datagram that is not a usable STUN Binding response (dropped by the caller)."""


def looks_like_stun(data: bytes) -> bool:
    """RFC 8489 §5 / RFC 7983: two leading zero bits and the magic cookie; this is how a
    socket shared with SIP or RTP tells a STUN answer from the rest."""
    return len(data) >= HEADER and data[0] < 4 and int.from_bytes(data[4:8], "big") == MAGIC_COOKIE


def binding_request(transaction_id: bytes) -> bytes:
    """A Binding request with a FINGERPRINT (RFC 8489 §14.7), so servers and middleboxes can
    tell it from the SIP or RTP sharing the port."""
    if len(transaction_id) != 12:
        raise ValueError("a STUN transaction id is 96 bits (12 bytes)")
    head = struct.pack("!HHI", BINDING_REQUEST, 8, MAGIC_COOKIE) + transaction_id
    crc = (binascii.crc32(head) ^ FINGERPRINT_XOR) & 0xFFFFFFFF
    return head + struct.pack("!HHI", FINGERPRINT, 4, crc)


@dataclass(frozen=True, slots=True)
class MappedAddress:
    """The address and port the STUN server saw our request come from."""

    host: str
    port: int


def _attributes(data: bytes) -> list[tuple[int, int, bytes]]:
    """(type, offset, value) of each attribute, every length checked against the message."""
    out = []
    offset = HEADER
    while offset < len(data):
        if offset + 4 > len(data):
            raise StunError("truncated attribute header")
        kind, length = struct.unpack_from("!HH", data, offset)
        end = offset + 4 + length
        if end > len(data):
            raise StunError("attribute longer than the message")
        out.append((kind, offset, data[offset + 4 : end]))
        offset = end + (-length % 4)  # values are padded to 32 bits
    if offset != len(data):
        raise StunError("padding runs past the message")
    return out


def _address(value: bytes, xor: bytes | None) -> MappedAddress:
    """(XOR-)MAPPED-ADDRESS (RFC 8489 §14.1, §14.2): family 1 is IPv4, 2 IPv6."""
    if len(value) < 4 or value[0] != 0:
        raise StunError("bad address attribute")
    family, port = value[1], int.from_bytes(value[2:4], "big")
    size = {1: 4, 2: 16}.get(family)
    if size is None or len(value) != 4 + size:
        raise StunError("bad address family or length")
    raw = value[4:]
    if xor is not None:
        port ^= MAGIC_COOKIE >> 16
        raw = bytes(a ^ b for a, b in zip(raw, xor[:size], strict=True))
    host = ipaddress.ip_address(raw)
    return MappedAddress(str(host), port)


def parse_binding_response(data: bytes, transaction_id: bytes) -> MappedAddress:
    """Our public address from a Binding success response to ``transaction_id``.

    Raises StunError for anything else: another transaction, an error response, a bad
    FINGERPRINT, lengths that do not add up, or no address.
    """
    if not HEADER <= len(data) <= MAX_MESSAGE or not looks_like_stun(data):
        raise StunError("not a STUN message")
    kind, length = struct.unpack_from("!HH", data, 0)
    if length != len(data) - HEADER or length % 4:
        raise StunError("message length does not match the datagram")
    if data[8:20] != transaction_id:
        raise StunError("not our transaction")
    if kind != BINDING_SUCCESS:
        raise StunError("error response" if kind == BINDING_ERROR else "not a Binding response")
    found: dict[int, bytes] = {}
    for attr, offset, value in _attributes(data):
        if attr == FINGERPRINT:
            crc = (binascii.crc32(data[:offset]) ^ FINGERPRINT_XOR) & 0xFFFFFFFF
            if len(value) != 4 or int.from_bytes(value, "big") != crc:
                raise StunError("bad FINGERPRINT")
            if offset + 8 != len(data):
                raise StunError("FINGERPRINT is not the last attribute")
        found.setdefault(attr, value)
    if XOR_MAPPED_ADDRESS in found:
        return _address(found[XOR_MAPPED_ADDRESS], data[4:20])
    if MAPPED_ADDRESS in found:  # RFC 3489 servers
        return _address(found[MAPPED_ADDRESS], None)
    raise StunError("no mapped address in the response")


@dataclass
class BindingTransaction:
    """One Binding request over UDP with the retransmissions of RFC 8489 §6.2.1.

    ``get_timer()`` is the next deadline; at it, ``handle_timer(now)`` returns the request to
    send again, or None when the transaction has failed (``failed``). ``receive`` settles it.
    The runtime may also give up earlier (a call must never wait long for its address).
    """

    transaction_id: bytes
    started: float
    sent: int = 1
    result: MappedAddress | None = None
    failed: bool = False

    @property
    def request(self) -> bytes:
        return binding_request(self.transaction_id)

    def get_timer(self) -> float | None:
        if self.result is not None or self.failed:
            return None
        if self.sent < RC:  # requests at 0, RTO, 3 RTO, 7 RTO ... (the interval doubles)
            return self.started + RTO * ((1 << self.sent) - 1)
        return self.started + RTO * ((1 << (RC - 1)) - 1 + RM)

    def handle_timer(self, now: float) -> bytes | None:
        deadline = self.get_timer()
        if deadline is None or now < deadline:
            return None
        if self.sent >= RC:
            self.failed = True
            return None
        self.sent += 1
        return self.request

    def receive(self, data: bytes) -> bool:
        """True when ``data`` answered this transaction (``result`` set); other datagrams,
        hostile or stray, are ignored."""
        if self.result is not None or self.failed:
            return False
        try:
            self.result = parse_binding_response(data, self.transaction_id)
        except (StunError, ValueError):
            return False
        return True
