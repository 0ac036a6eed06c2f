"""Checks a user agent makes before it accepts a request (RFC 3261 §8.2, RFC 4475 §3.3).

``parse`` accepts everything that is well-formed; whether a well-formed request is one we can
process is decided here, in the order of RFC 3261 §8.2: method (405/501), header fields every
request must carry (400), URI scheme (416), extensions in Require (420), body type (415). The
answer comes back as a ``Rejection`` carrying the extra header fields the RFC wants on it
(``Allow``, ``Unsupported``, ``Accept``), so the caller only adds the response to the wire.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from endpoint.sip.errors import ParseError
from endpoint.sip.message import Request, Response, reason_phrase
from endpoint.sip.uri import SipURI

#: Methods a SIP endpoint knows of. Those it does not implement get 405 with Allow; any other
#: method gets 501 (RFC 3261 §8.2.1).
KNOWN_METHODS = frozenset(
    {
        "INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER", "INFO", "MESSAGE", "UPDATE",
        "PRACK", "SUBSCRIBE", "NOTIFY", "REFER", "PUBLISH",
    }
)  # fmt: skip
DEFAULT_METHODS = (
    "INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "INFO", "MESSAGE", "UPDATE", "PRACK", "REFER",
    "NOTIFY",
)  # fmt: skip

#: Header fields that must appear exactly once in every request (RFC 3261 §8.1.1).
_SINGLE = ("To", "From", "Call-ID", "CSeq")


@dataclass(frozen=True, slots=True)
class Rejection:
    """The response a request gets instead of being processed."""

    status: int
    reason: str
    headers: tuple[tuple[str, str], ...] = ()


def check_request(
    request: Request,
    *,
    methods: Iterable[str] = DEFAULT_METHODS,
    supported: Iterable[str] = (),
    accept: Iterable[str] = ("application/sdp",),
    uri_schemes: Iterable[str] = ("sip", "sips"),
) -> Rejection | None:
    """None if the request may be processed, else the Rejection to answer with.

    A malformed header field met on the way is answered 400 rather than raised.
    """
    try:
        return _check(request, tuple(methods), supported, tuple(accept), tuple(uri_schemes))
    except ParseError as exc:
        return Rejection(exc.status, f"Bad Request ({exc.reason})")


def _check(
    request: Request,
    allowed: tuple[str, ...],
    supported: Iterable[str],
    acceptable: tuple[str, ...],
    uri_schemes: tuple[str, ...],
) -> Rejection | None:
    """RFC 3261 §8.2's checks in its order: framing, method, Request-URI, extensions, body."""
    return (
        _check_framing(request)
        or _check_method(request, allowed)
        or _check_uri(request, uri_schemes)
        or _check_body(request, supported, acceptable)
    )


def _check_framing(request: Request) -> Rejection | None:
    """The version and the header fields every request carries exactly once (§8.2.1)."""
    if request.version != "SIP/2.0":
        return Rejection(505, "Version Not Supported")
    h = request.headers
    for name in _SINGLE:
        rows = h.rows(name)
        if len(rows) != 1:
            what = "missing" if not rows else "repeated"
            return Rejection(400, f"Bad Request ({what} {name})")
    if not request.via:
        return Rejection(400, "Bad Request (missing Via)")
    if len(h.rows("Max-Forwards")) > 1:
        return Rejection(400, "Bad Request (repeated Max-Forwards)")
    if len(set(h.rows("Content-Length"))) > 1:
        return Rejection(400, "Bad Request (conflicting Content-Length)")
    return None


def _check_method(request: Request, allowed: tuple[str, ...]) -> Rejection | None:
    """Unknown methods get 501, known ones we do not serve 405, both with Allow (§8.2.1)."""
    allow_header = ("Allow", ", ".join(allowed))
    cseq = request.cseq
    if request.method not in KNOWN_METHODS and request.method not in allowed:
        return Rejection(501, "Not Implemented", (allow_header,))
    if cseq.method != request.method:
        return Rejection(400, "Bad Request (CSeq method does not match)")
    if request.method not in allowed:
        return Rejection(405, "Method Not Allowed", (allow_header,))
    return None


def _check_uri(request: Request, uri_schemes: tuple[str, ...]) -> Rejection | None:
    """A Request-URI we can route to (§8.2.2.1)."""
    if not isinstance(request.uri, SipURI) or request.uri.scheme not in uri_schemes:
        return Rejection(416, "Unsupported URI Scheme")
    if request.uri.headers:
        # RFC 3261 §19.1.5: headers of a URI become header fields of a request built from it;
        # in a Request-URI they are meaningless (RFC 4475 §3.1.2.11).
        return Rejection(400, "Bad Request (headers in Request-URI)")
    return None


def _check_body(
    request: Request, supported: Iterable[str], acceptable: tuple[str, ...]
) -> Rejection | None:
    """Extensions we must support (§8.2.2.3) and bodies we can read and send (§8.2.3)."""
    h = request.headers
    if request.method not in ("ACK", "CANCEL"):
        known = {s.lower() for s in supported}
        unknown = [opt for opt in h.get_all("Require") if opt.lower() not in known]
        if unknown:
            return Rejection(420, "Bad Extension", (("Unsupported", ", ".join(unknown)),))
    content_type = request.content_type
    if request.body and content_type is not None and content_type not in acceptable:
        return Rejection(415, "Unsupported Media Type", (("Accept", ", ".join(acceptable)),))
    if request.method == "INVITE" and not _accepts_any(h.get_all("Accept"), acceptable):
        return Rejection(
            406,
            "Not Acceptable",
            (("Warning", '399 - "no acceptable body type in Accept"'),),
        )
    return None


def _accepts_any(accept: list[str], ours: tuple[str, ...]) -> bool:
    """RFC 3261 §20.1: no Accept header means application/sdp is acceptable."""
    if not accept:
        return True
    for item in accept:
        media = item.split(";", 1)[0].strip().lower()
        if media in ("*/*", *ours):
            return True
        if media.endswith("/*") and any(o.startswith(media[:-1]) for o in ours):
            return True
    return False


def check_response(response: Response) -> str | None:
    """None if a UA client may process ``response``, else why it is dropped.

    RFC 3261 §18.1.2: a response with more than one Via value is not for a UA (it would be a
    proxy's to forward); RFC 4475 §3.3.10 shows one aimed at a broadcast address.
    """
    try:
        vias = response.via
        _ = response.cseq, response.call_id, response.from_addr, response.to_addr
    except ParseError as exc:
        return exc.reason
    if len(vias) != 1:
        return f"{len(vias)} Via values in a response to a UA"
    return None


_ECHOED = {
    b"via": b"Via", b"v": b"Via", b"from": b"From", b"f": b"From", b"to": b"To", b"t": b"To",
    b"call-id": b"Call-ID", b"i": b"Call-ID", b"cseq": b"CSeq",
}  # fmt: skip


def error_response(data: bytes, error: ParseError) -> bytes | None:
    """A stateless answer (400, 505, 513...) to a request that failed to parse, or None.

    RFC 3261 §8.2 wants malformed requests answered; the answer must carry the request's Via,
    From, To, Call-ID and CSeq so the sender can match it. They are copied as raw rows when they
    can be found; a datagram that is not a request, or lacks a Via, is dropped (there is nobody
    to answer). The reason phrase is ours, never text from the peer.
    """
    head = data.lstrip(b"\r\n")
    if head[:4].upper() == b"SIP/" or b" " not in head[:64]:
        return None
    rows: list[bytes] = []
    has_via = False
    for line in head.split(b"\r\n\r\n", 1)[0].split(b"\r\n")[1:64]:
        name, colon, value = line.partition(b":")
        canon = _ECHOED.get(name.strip().lower())
        if not colon or canon is None or len(line) > 1024 or b"\r" in value or b"\n" in value:
            continue
        has_via = has_via or canon == b"Via"
        rows.append(canon + b": " + value.strip())
    if not has_via:
        return None
    status = error.status if 400 <= error.status < 600 else 400
    start = f"SIP/2.0 {status} {reason_phrase(status)}".encode()
    return b"\r\n".join([start, *rows, b"Content-Length: 0", b"", b""])
