"""The grammar of call transfer: Refer-To (RFC 3515 §2.1), Replaces (RFC 3891 §6.1) and the
``message/sipfrag`` bodies of the NOTIFYs that report a transfer's progress (RFC 3420).

A REFER names where the call should go as a URI whose ``?Replaces=`` header (escaped) says
which of the target's dialogs the new call takes over (attended transfer). Every field here
comes from the peer: anything malformed raises ``ParseError`` (answered 400), and only the
Replaces header is taken from the URI's headers; any other header a REFER tries to put into
our INVITE is dropped (RFC 3261 §19.1.5 lets a UA ignore them, and a Route or Call-Info
injected into the door's INVITE is nothing we want to send).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, unquote

from endpoint.sip.errors import ParseError
from endpoint.sip.grammar import token_re
from endpoint.sip.headers import NameAddr, parse_params
from endpoint.sip.uri import SipURI, find_param

#: The Event package of a REFER's implicit subscription (RFC 3515 §2.4.4).
EVENT = "refer"
SIPFRAG = "message/sipfrag"
_STATUS_LINE_RE = re.compile(r"SIP/2\.0 ([1-6][0-9]{2}) ?([^\r\n]*)")
#: A Call-ID is ``word [@ word]`` (RFC 3261 §25.1); this is its character set.
_CALL_ID_RE = re.compile(r"[A-Za-z0-9\-.!%*_+`'~()<>:\\\"/\[\]?{}]+(?:@[^\s;@]+)?")


@dataclass(frozen=True, slots=True)
class Replaces:
    """Which dialog a new INVITE takes over: its Call-ID and tags as the *recipient* names
    them (``to-tag`` is the recipient's local tag), and whether only an early dialog may
    match (RFC 3891 §3)."""

    call_id: str
    to_tag: str
    from_tag: str
    early_only: bool = False

    @classmethod
    def parse(cls, text: str) -> Replaces:
        """``callid;to-tag=a;from-tag=b[;early-only]``; ParseError when a part is missing."""
        text = text.strip()
        call_id, semi, rest = text.partition(";")
        call_id = call_id.strip()
        if not call_id or not _CALL_ID_RE.fullmatch(call_id):
            raise ParseError(f"malformed Replaces Call-ID in {text[:80]!r}")
        params = parse_params(semi + rest, "Replaces") if semi else ()
        to_tag, from_tag = find_param(params, "to-tag"), find_param(params, "from-tag")
        if not to_tag or not from_tag:
            raise ParseError(f"Replaces needs to-tag and from-tag: {text[:80]!r}")
        early = any(name.lower() == "early-only" for name, _ in params)
        return cls(call_id, to_tag, from_tag, early)

    def __str__(self) -> str:
        flag = ";early-only" if self.early_only else ""
        return f"{self.call_id};to-tag={self.to_tag};from-tag={self.from_tag}{flag}"


@dataclass(frozen=True, slots=True)
class ReferTarget:
    """Where a REFER sends the call: the URI to INVITE (without URI headers) and the dialog
    the INVITE replaces, if the transfer is attended."""

    uri: SipURI
    replaces: Replaces | None = None

    @classmethod
    def parse(cls, text: str) -> ReferTarget:
        """A Refer-To value (name-addr or addr-spec, RFC 3515 §2.1). Only sip/sips targets:
        a door places SIP calls, nothing else (a ``tel:`` or ``http:`` target is refused)."""
        address = NameAddr.parse(text)
        uri = address.uri
        if not isinstance(uri, SipURI):
            raise ParseError(f"Refer-To must be a sip or sips URI, not {str(uri)[:60]!r}")
        method = uri.param("method")
        if method is not None and method.upper() != "INVITE":
            # RFC 3515 §2.1: the URI's method is the request to send; a door only calls.
            raise ParseError(f"Refer-To method {method[:20]!r}: only INVITE is followed")
        replaces = None
        for name, value in uri.headers:
            if name.lower() == "replaces":
                replaces = Replaces.parse(unquote(value))
        return cls(uri.without_headers().without_params("method"), replaces)

    def refer_to(self) -> str:
        """The Refer-To value naming this target, Replaces escaped into the URI (§2.1)."""
        if self.replaces is None:
            return f"<{self.uri}>"
        escaped = quote(str(self.replaces), safe="-_.!~*'()[]/:+$")
        return f"<{self.uri}?Replaces={escaped}>"


def sipfrag(status: int, reason: str) -> bytes:
    """The body of a refer NOTIFY: the status line of the new call's latest response."""
    return f"SIP/2.0 {status} {reason}\r\n".encode()


def sipfrag_status(body: bytes) -> int | None:
    """The status code in a NOTIFY's sipfrag body, None when it holds no status line (RFC
    3515 §2.4.5 requires one; a body without it tells nothing about the transfer)."""
    first = body.decode("utf-8", "replace").lstrip().split("\n", 1)[0].rstrip("\r")
    match = _STATUS_LINE_RE.fullmatch(first)
    return int(match.group(1)) if match else None


def subscription_terminated(value: str | None) -> bool:
    """Does a Subscription-State value (RFC 6665 §8.2.3) end the implicit subscription?"""
    if not value:
        return False
    state = value.split(";", 1)[0].strip().lower()
    return bool(token_re().fullmatch(state)) and state == "terminated"
