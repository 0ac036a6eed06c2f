"""SIP messages: parse bytes into requests and responses, serialize them back (RFC 3261 §7).

Parsing does the work every message needs at once (start line, header split and unfolding,
framing by Content-Length, and validation of the header fields the transaction and dialog layers
always read: Via, From, To, Call-ID, CSeq, Contact, Max-Forwards, Content-Length) and keeps the
rest as text until something asks for it (Route, auth, bodies). That keeps a parse fast and the
RFC 4475 verdicts right: a malformed Via or From is a 400 at once, while a malformed header we
never read cannot hurt us.

Header values are stored unfolded (RFC 3261 §7.3.1: folding is equivalent to one SP) and decoded
as UTF-8 with ``surrogateescape``, so any byte a peer sends survives a round trip.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from endpoint.sip import grammar
from endpoint.sip.errors import ParseError
from endpoint.sip.headers import (
    CSeq,
    NameAddr,
    Via,
    parse_name_addr_list,
    parse_via_list,
    split_list,
)
from endpoint.sip.uri import URI, SipURI, parse_uri

#: RFC 3261 §18.1.1: a UDP message should stay well below the path MTU; we accept datagrams up
#: to 64 KiB and stream messages up to the same size (larger: 513 Message Too Large).
MAX_MESSAGE_SIZE = 65535
MAX_HEADER_FIELDS = 256

COMPACT_FORMS = {
    "i": "Call-ID",
    "m": "Contact",
    "v": "Via",
    "f": "From",
    "t": "To",
    "l": "Content-Length",
    "c": "Content-Type",
    "k": "Supported",
    "e": "Content-Encoding",
    "s": "Subject",
    "o": "Event",
    "r": "Refer-To",
    "b": "Referred-By",
    "x": "Session-Expires",
    "u": "Allow-Events",
    "a": "Accept-Contact",
    "j": "Reject-Contact",
    "d": "Request-Disposition",
    "y": "Identity",
    "n": "Identity-Info",
}

_KNOWN_NAMES = [
    "Accept", "Accept-Contact", "Accept-Encoding", "Accept-Language", "Alert-Info", "Allow",
    "Allow-Events", "Authentication-Info", "Authorization", "Call-ID", "Call-Info", "Contact",
    "Content-Disposition", "Content-Encoding", "Content-Language", "Content-Length",
    "Content-Type", "CSeq", "Date", "Error-Info", "Event", "Expires", "From", "Identity",
    "Identity-Info", "In-Reply-To", "Max-Forwards", "Min-Expires", "Min-SE", "MIME-Version",
    "Organization", "P-Asserted-Identity", "Priority", "Proxy-Authenticate",
    "Proxy-Authorization", "Proxy-Require", "RAck", "Reason", "Record-Route", "Refer-To",
    "Referred-By", "Reject-Contact", "Reply-To", "Request-Disposition", "Require",
    "Retry-After", "Route", "RSeq", "Server", "Session-Expires", "Subject", "Supported",
    "Timestamp", "To", "Unsupported", "User-Agent", "Via", "Warning", "WWW-Authenticate",
]  # fmt: skip
CANONICAL_NAMES: dict[str, str] = {name.lower(): name for name in _KNOWN_NAMES}
CANONICAL_NAMES.update(COMPACT_FORMS)

#: Header fields whose grammar is a comma-separated list (RFC 3261 §7.3.1), so that
#: ``get_all`` may split one row into several values.
LIST_HEADERS = frozenset(
    name.lower()
    for name in (
        "Accept", "Accept-Encoding", "Accept-Language", "Alert-Info", "Allow", "Allow-Events",
        "Call-Info", "Contact", "Content-Encoding", "Content-Language", "Error-Info",
        "In-Reply-To", "Proxy-Require", "Record-Route", "Reply-To", "Require", "Route",
        "Supported", "Unsupported", "Via", "Warning", "P-Asserted-Identity", "Reason",
    )
)  # fmt: skip


def canonical_name(name: str) -> str:
    """``"cseq"`` -> ``"CSeq"``, ``"v"`` -> ``"Via"``; unknown names as written."""
    return CANONICAL_NAMES.get(name.lower(), name)


class Headers:
    """Immutable, ordered multi-map of header fields with case-insensitive lookup."""

    __slots__ = ("_fields", "_index")

    def __init__(self, fields: Iterable[tuple[str, str]] = ()) -> None:
        self._fields: tuple[tuple[str, str], ...] = tuple((canonical_name(n), v) for n, v in fields)
        self._index: dict[str, list[str]] | None = None

    @classmethod
    def _trusted(
        cls, fields: list[tuple[str, str]], index: dict[str, list[str]] | None = None
    ) -> Headers:
        """Build from fields whose names are already canonical (the parser's fast path)."""
        h = cls.__new__(cls)
        h._fields = tuple(fields)
        h._index = index
        return h

    def _lookup(self) -> dict[str, list[str]]:
        index = self._index
        if index is None:
            index = {}
            for name, value in self._fields:
                index.setdefault(name.lower(), []).append(value)
            self._index = index
        return index

    def get(self, name: str) -> str | None:
        key = name.lower()
        if len(key) == 1:
            key = canonical_name(key).lower()
        values = self._lookup().get(key)
        return values[0] if values else None

    def get_all(self, name: str) -> list[str]:
        key = canonical_name(name).lower()
        values = self._lookup().get(key, [])
        if key in LIST_HEADERS:
            return [item for value in values for item in split_list(value)]
        return list(values)

    def rows(self, name: str) -> list[str]:
        """Every row of ``name`` as written (not split at commas)."""
        return list(self._lookup().get(canonical_name(name).lower(), []))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and canonical_name(name).lower() in self._lookup()

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._fields)

    def __len__(self) -> int:
        return len(self._fields)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Headers) and self._fields == other._fields

    def __hash__(self) -> int:
        return hash(self._fields)

    def __repr__(self) -> str:
        return f"Headers({list(self._fields)!r})"

    def add(self, name: str, value: str) -> Headers:
        return Headers._trusted([*self._fields, (canonical_name(name), value)])

    def prepend(self, name: str, value: str) -> Headers:
        return Headers._trusted([(canonical_name(name), value), *self._fields])

    def set(self, name: str, value: str) -> Headers:
        name = canonical_name(name)
        key = name.lower()
        out: list[tuple[str, str]] = []
        placed = False
        for n, v in self._fields:
            if n.lower() == key:
                if not placed:
                    out.append((name, value))
                    placed = True
            else:
                out.append((n, v))
        if not placed:
            out.append((name, value))
        return Headers._trusted(out)

    def remove(self, name: str) -> Headers:
        key = canonical_name(name).lower()
        return Headers._trusted([(n, v) for n, v in self._fields if n.lower() != key])

    def remove_first(self, name: str) -> Headers:
        """Drop the first value of a list header (e.g. the top Via), keeping the row's rest."""
        key = canonical_name(name).lower()
        out: list[tuple[str, str]] = []
        done = False
        for n, v in self._fields:
            if not done and n.lower() == key:
                done = True
                rest = split_list(v)[1:]
                if rest:
                    out.append((n, ", ".join(rest)))
                continue
            out.append((n, v))
        return Headers._trusted(out)


class _Typed:
    """Typed accessors shared by requests and responses, cached per message."""

    __slots__ = ()

    headers: Headers
    _cache: dict[str, Any]

    def _cached(self, key: str, compute: Any) -> Any:
        cache = self._cache
        if key not in cache:
            cache[key] = compute()
        return cache[key]

    @property
    def via(self) -> tuple[Via, ...]:
        return self._cached(  # type: ignore[no-any-return]
            "via", lambda: tuple(v for row in self.headers.rows("Via") for v in parse_via_list(row))
        )

    @property
    def top_via(self) -> Via:
        vias = self.via
        if not vias:
            raise ParseError("missing Via")
        return vias[0]

    def _single_name_addr(self, name: str) -> NameAddr:
        def compute() -> NameAddr:
            value = self.headers.get(name)
            if value is None:
                raise ParseError(f"missing {name}")
            return NameAddr.parse(value)

        return self._cached(name, compute)  # type: ignore[no-any-return]

    @property
    def from_addr(self) -> NameAddr:
        return self._single_name_addr("From")

    @property
    def to_addr(self) -> NameAddr:
        return self._single_name_addr("To")

    @property
    def call_id(self) -> str:
        value = self.headers.get("Call-ID")
        if value is None:
            raise ParseError("missing Call-ID")
        return value

    @property
    def cseq(self) -> CSeq:
        def compute() -> CSeq:
            value = self.headers.get("CSeq")
            if value is None:
                raise ParseError("missing CSeq")
            return CSeq.parse(value)

        return self._cached("CSeq", compute)  # type: ignore[no-any-return]

    @property
    def contact_star(self) -> bool:
        return any(v.strip() == "*" for v in self.headers.rows("Contact"))

    @property
    def contact(self) -> tuple[NameAddr, ...]:
        def compute() -> tuple[NameAddr, ...]:
            return tuple(
                addr
                for row in self.headers.rows("Contact")
                if row.strip() != "*"
                for addr in parse_name_addr_list(row)
            )

        return self._cached("Contact", compute)  # type: ignore[no-any-return]

    def _addr_list(self, name: str) -> tuple[NameAddr, ...]:
        return self._cached(  # type: ignore[no-any-return]
            name,
            lambda: tuple(a for row in self.headers.rows(name) for a in parse_name_addr_list(row)),
        )

    @property
    def route(self) -> tuple[NameAddr, ...]:
        return self._addr_list("Route")

    @property
    def record_route(self) -> tuple[NameAddr, ...]:
        return self._addr_list("Record-Route")

    @property
    def max_forwards(self) -> int | None:
        value = self.headers.get("Max-Forwards")
        if value is None:
            return None
        value = value.strip()
        number = grammar.parse_int(value, 9)
        if number is None:
            raise ParseError(f"malformed Max-Forwards {value[:20]!r}")
        return number

    @property
    def content_type(self) -> str | None:
        value = self.headers.get("Content-Type")
        if value is None:
            return None
        return value.split(";", 1)[0].strip().lower()

    @property
    def expires(self) -> int | None:
        value = self.headers.get("Expires")
        if value is None:
            return None
        value = value.strip()
        number = grammar.parse_int(value, 20)
        if number is None:
            raise ParseError(f"malformed Expires {value[:20]!r}")
        return min(number, 2**32 - 1)

    def _head_bytes(self, start_line: str, body: bytes) -> bytes:
        lines = [start_line]
        wrote_length = False
        for name, value in self.headers:
            if name == "Content-Length":
                if not wrote_length:
                    lines.append(f"Content-Length: {len(body)}")
                    wrote_length = True
                continue
            lines.append(f"{name}: {value}")
        if not wrote_length:
            lines.append(f"Content-Length: {len(body)}")
        lines.append("\r\n")
        return "\r\n".join(lines).encode("utf-8", "surrogateescape") + body


@dataclass(frozen=True, slots=True, eq=True)
class Request(_Typed):
    """A SIP request (RFC 3261 §7.1), immutable once parsed or built."""

    method: str
    uri: URI
    headers: Headers
    body: bytes = b""
    version: str = "SIP/2.0"
    _cache: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def __bytes__(self) -> bytes:
        return self._head_bytes(f"{self.method} {self.uri} {self.version}", self.body)

    def replace(self, **changes: Any) -> Request:
        """A copy with some fields changed (the typed-accessor cache is not carried over)."""
        values = {k: getattr(self, k) for k in ("method", "uri", "headers", "body", "version")}
        values.update(changes)
        return Request(**values)

    def with_top_via(self, via: Via) -> Request:
        """A copy whose top Via is ``via`` (the transport stamps ``received``/``rport`` on
        every request): what was already parsed is carried over instead of parsed again, since
        only the top Via changed (parsing the copy's header fields anew cost a served request
        a good part of its CPU under a flood, issue 13)."""
        vias = self.via
        if not vias:
            raise ParseError("missing Via")
        headers = self.headers.remove_first("Via").prepend("Via", str(via))
        copy = self.replace(headers=headers)
        copy._cache.update(self._cache)
        copy._cache["via"] = (via, *vias[1:])
        return copy


@dataclass(frozen=True, slots=True, eq=True)
class Response(_Typed):
    """A SIP response (RFC 3261 §7.2), immutable once parsed or built."""

    status: int
    reason: str
    headers: Headers
    body: bytes = b""
    version: str = "SIP/2.0"
    _cache: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def __bytes__(self) -> bytes:
        return self._head_bytes(f"{self.version} {self.status} {self.reason}", self.body)

    def replace(self, **changes: Any) -> Response:
        values = {k: getattr(self, k) for k in ("status", "reason", "headers", "body", "version")}
        values.update(changes)
        return Response(**values)


Message = Request | Response


def _split_head(data: bytes, stream: bool) -> tuple[str, bytes]:
    """Header section (decoded) and everything after the empty line."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        if stream:
            raise ParseError("no empty line after the header fields")
        # A datagram that ends right after the last header line without the empty line
        # (RFC 4475's baddn in its archive form) still has all its headers.
        if data.endswith(b"\r\n"):
            return data[:-2].decode("utf-8", "surrogateescape"), b""
        return data.decode("utf-8", "surrogateescape"), b""
    return data[:end].decode("utf-8", "surrogateescape"), data[end + 4 :]


_NAME_CACHE: dict[str, tuple[str, str]] = {}
for _name in [*CANONICAL_NAMES.values(), *COMPACT_FORMS]:
    for _spelling in (_name, _name.lower(), _name.upper()):
        _canon = canonical_name(_spelling)
        _NAME_CACHE[_spelling] = (_canon, _canon.lower())


def _header_fields(text: str) -> tuple[list[tuple[str, str]], dict[str, list[str]]]:
    """Header fields of ``text`` (the lines after the start line) and their index."""
    if "\n " in text or "\n\t" in text:
        lines = [f"{n}:{v}" for n, v in _folded_fields(text.split("\r\n"))]
    else:
        lines = text.split("\r\n")
    if len(lines) > MAX_HEADER_FIELDS:
        raise ParseError("too many header fields")
    cache = _NAME_CACHE
    fields: list[tuple[str, str]] = []
    index: dict[str, list[str]] = {}
    for name, colon, raw_value in [line.partition(":") for line in lines]:
        if not colon:
            raise ParseError(f"header line without ':' {name[:40]!r}")
        known = cache.get(name) or _new_name(name)
        value = raw_value.strip(" \t")
        fields.append((known[0], value))
        key = known[1]
        if key in index:
            index[key].append(value)
        else:
            index[key] = [value]
    return fields, index


def _new_name(raw: str) -> tuple[str, str]:
    """Validate a header name not seen before and remember its canonical form."""
    name = raw.rstrip(" \t")
    if not name or not grammar.TOKEN_CHARS.issuperset(name):
        raise ParseError(f"malformed header name {name[:40]!r}")
    canon = canonical_name(name)
    known = (canon, canon.lower())
    if len(_NAME_CACHE) < 4096:
        _NAME_CACHE[raw] = known
    return known


def _folded_fields(lines: list[str]) -> list[tuple[str, str]]:
    fields: list[tuple[str, str]] = []
    token_chars = grammar.TOKEN_CHARS
    for line in lines:
        if line[:1] in (" ", "\t"):
            # RFC 3261 §7.3.1: a line starting with whitespace continues the previous value.
            if not fields:
                raise ParseError("continuation line before any header field")
            name, value = fields[-1]
            more = line.strip(grammar.WS)
            fields[-1] = (name, f"{value} {more}" if value and more else value or more)
            continue
        name, colon, value = line.partition(":")
        if not colon:
            raise ParseError(f"header line without ':' {line[:40]!r}")
        name = name.rstrip(grammar.WS)
        if not name or not token_chars.issuperset(name):
            raise ParseError(f"malformed header name {name[:40]!r}")
        fields.append((name, value.strip(grammar.WS)))
        if len(fields) > MAX_HEADER_FIELDS:
            raise ParseError("too many header fields")
    return fields


def parse(data: bytes) -> Message:
    """Parse one whole datagram (UDP semantics) into a Request or Response.

    Raises ParseError whose ``status`` is the answer for a request (responses are dropped).
    """
    return _parse(data, stream=False)


def _parse(data: bytes, *, stream: bool) -> Message:
    if len(data) > MAX_MESSAGE_SIZE:
        raise ParseError("message too large", 513)
    # RFC 3261 §7.5: implementations SHOULD ignore CRLFs before the start line.
    if data[:2] == b"\r\n":
        data = data.lstrip(b"\r\n")
    head, rest = _split_head(data, stream)
    start, _, header_text = head.partition("\r\n")
    fields, index = _header_fields(header_text) if header_text else ([], {})
    headers = Headers._trusted(fields, index)
    body = _frame_body(headers, rest, stream)
    message: Message
    if start[:4].upper() == "SIP/":
        m = grammar.status_line_re().fullmatch(start)
        if m is None:
            raise ParseError(f"malformed status line {start[:60]!r}")
        message = Response(int(m.group(2)), m.group(3) or "", headers, body, m.group(1).upper())
    else:
        m = grammar.request_line_re().fullmatch(start)
        if m is None:
            raise ParseError(f"malformed request line {start[:60]!r}")
        uri_text = m.group(2)
        uri = parse_uri(uri_text)
        message = Request(m.group(1), uri, headers, body, m.group(3).upper())
    _validate(message)
    return message


def _content_length(headers: Headers) -> int | None:
    value = headers.get("Content-Length")
    if value is None:
        return None
    number = grammar.parse_int(value, 9)
    if number is None:
        raise ParseError(f"malformed Content-Length {value[:20]!r}")
    return number


def _frame_body(headers: Headers, rest: bytes, stream: bool) -> bytes:
    length = _content_length(headers)
    if length is None:
        if stream:
            raise ParseError("Content-Length is required on a stream transport")
        return rest  # RFC 3261 §18.3: on UDP the body runs to the end of the datagram.
    if len(rest) < length:
        raise ParseError(f"body shorter ({len(rest)}) than Content-Length ({length})")
    return rest[:length]  # RFC 4475 §3.1.1.8: octets after the body are ignored.


def _validate(message: Message) -> None:
    """Validate the header fields every layer reads, so a malformed one is a 400 now.

    Each value is matched in its common form by one compiled expression; only a value that
    does not match goes through the full parser, which accepts all the grammar allows and
    raises ParseError otherwise. Typed objects are built later, on first access.
    """
    index = message.headers._lookup()
    for row in index.get("via", ()):
        if not grammar.via_list_fast_re().fullmatch(row):
            parse_via_list(row)
    for key in ("from", "to"):
        values = index.get(key)
        if values and not grammar.name_addr_fast_re().fullmatch(values[0]):
            NameAddr.parse(values[0])
    for row in index.get("contact", ()):
        if row != "*" and not grammar.name_addr_list_fast_re().fullmatch(row):
            parse_name_addr_list(row)
    values = index.get("cseq")
    if values:
        cseq = values[0]
        if not grammar.cseq_fast_re().fullmatch(cseq) or int(cseq.split(" ", 1)[0]) >= 2**31:
            CSeq.parse(cseq)
    values = index.get("call-id")
    if values and not grammar.call_id_re().fullmatch(values[0]):
        raise ParseError(f"malformed Call-ID {values[0][:40]!r}")
    values = index.get("max-forwards")
    if values and grammar.parse_int(values[0], 9) is None:
        raise ParseError(f"malformed Max-Forwards {values[0][:20]!r}")
    values = index.get("date")
    if values and not grammar.date_re().fullmatch(values[0]):
        raise ParseError(f"malformed Date {values[0][:40]!r} (RFC 1123 date in GMT required)")


_REASONS = {
    100: "Trying", 180: "Ringing", 181: "Call Is Being Forwarded", 182: "Queued",
    183: "Session Progress", 200: "OK", 202: "Accepted", 300: "Multiple Choices",
    301: "Moved Permanently", 302: "Moved Temporarily", 305: "Use Proxy",
    380: "Alternative Service", 400: "Bad Request", 401: "Unauthorized",
    402: "Payment Required", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
    406: "Not Acceptable", 407: "Proxy Authentication Required", 408: "Request Timeout",
    410: "Gone", 413: "Request Entity Too Large", 414: "Request-URI Too Long",
    415: "Unsupported Media Type", 416: "Unsupported URI Scheme", 420: "Bad Extension",
    421: "Extension Required", 422: "Session Interval Too Small", 423: "Interval Too Brief",
    480: "Temporarily Unavailable", 481: "Call/Transaction Does Not Exist",
    482: "Loop Detected", 483: "Too Many Hops", 484: "Address Incomplete", 485: "Ambiguous",
    486: "Busy Here", 487: "Request Terminated", 488: "Not Acceptable Here",
    491: "Request Pending", 493: "Undecipherable", 500: "Server Internal Error",
    501: "Not Implemented", 502: "Bad Gateway", 503: "Service Unavailable",
    504: "Server Time-out", 505: "Version Not Supported", 513: "Message Too Large",
    600: "Busy Everywhere", 603: "Decline", 604: "Does Not Exist Anywhere",
    606: "Not Acceptable",
}  # fmt: skip


def reason_phrase(status: int) -> str:
    """The RFC's reason phrase for ``status`` (a generic one for unknown codes)."""
    return _REASONS.get(status) or _REASONS.get(status // 100 * 100, "Unknown")


def make_response(
    request: Request,
    status: int,
    reason: str | None = None,
    *,
    to_tag: str | None = None,
    headers: Iterable[tuple[str, str]] = (),
    body: bytes = b"",
) -> Response:
    """A response to ``request`` per RFC 3261 §8.2.6.2.

    Via (all rows, in order), From, Call-ID and CSeq are copied; To is copied and gets
    ``to_tag`` if it has no tag yet (a 100 Trying never gets one: §8.2.6.2); a 100 copies
    Timestamp (§8.2.6.1). Responses from 101 to 299 copy every Record-Route row in order:
    §12.1.1 "the UAS MUST copy all Record-Route header field values from the request into the
    response", or the caller's ACK, re-INVITE and BYE bypass the proxies our own requests go
    through, and the two ends hold different route sets. Doing it here, for every provisional
    and success response, means no code path that answers a request can forget it.
    """
    fields: list[tuple[str, str]] = [("Via", v) for v in request.headers.rows("Via")]
    from_value = request.headers.get("From")
    if from_value is not None:
        fields.append(("From", from_value))
    to_value = request.headers.get("To")
    if to_value is not None:
        if to_tag is not None and status != 100 and request.to_addr.tag is None:
            to_value = f"{to_value};tag={to_tag}"
        fields.append(("To", to_value))
    for name in ("Call-ID", "CSeq"):
        value = request.headers.get(name)
        if value is not None:
            fields.append((name, value))
    if status == 100:
        timestamp = request.headers.get("Timestamp")
        if timestamp is not None:
            fields.append(("Timestamp", timestamp))
    elif status < 300:
        fields.extend(("Record-Route", v) for v in request.headers.rows("Record-Route"))
    fields.extend((canonical_name(n), v) for n, v in headers)
    return Response(status, reason or reason_phrase(status), Headers._trusted(fields), body)


class StreamParser:
    """Frames SIP messages on a stream transport (TCP/TLS) by Content-Length (RFC 3261 §18.3).

    Feed it bytes as they arrive; it returns whole messages. CRLF keep-alives between messages
    (RFC 5626 §3.5.1) are skipped; a double-CRLF "ping" sets ``pong_due`` so the transport
    answers with a single CRLF. A framing error raises ParseError and the caller must close the
    connection: after a broken frame nothing on the stream can be trusted.
    """

    def __init__(self, max_size: int = MAX_MESSAGE_SIZE) -> None:
        self._buffer = bytearray()
        self.max_size = max_size
        self.keepalives = 0
        self.pong_due = False
        self._error: ParseError | None = None

    @property
    def pending(self) -> int:
        """Bytes of a message begun but not complete (a slow sender is timed on these)."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[Message]:
        """Whole messages completed by ``data``.

        If the stream breaks after some messages were framed in this call, those are returned
        and the ParseError is raised by the next call (``feed(b"")`` surfaces it).
        """
        if self._error is not None:
            raise self._error
        self._buffer += data
        out: list[Message] = []
        try:
            self._frame(out)
        except ParseError as exc:
            self._error = exc
            if not out:
                raise
        return out

    def _frame(self, out: list[Message]) -> None:
        buf = self._buffer
        while True:
            skipped = 0
            while buf[skipped : skipped + 2] == b"\r\n":
                skipped += 2
            if skipped:
                if skipped >= 4:
                    self.pong_due = True
                self.keepalives += 1
                del buf[:skipped]
            if buf[:1] == b"\r":
                break  # half a CRLF: wait for the rest
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > self.max_size:
                    raise ParseError("header section too large", 513)
                break
            head = bytes(buf[:end])
            length = _stream_content_length(head)
            total = end + 4 + length
            if total > self.max_size:
                raise ParseError("message too large", 513)
            if len(buf) < total:
                break
            frame = bytes(buf[:total])
            del buf[:total]
            out.append(_parse(frame, stream=True))


def _stream_content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, colon, value = line.partition(b":")
        if colon and name.rstrip(b" \t").lower() in (b"content-length", b"l"):
            text = value.strip(b" \t")
            if not text.isdigit() or len(text) > 9:
                raise ParseError("malformed Content-Length")
            return int(text)
    raise ParseError("Content-Length is required on a stream transport")


def is_sip_request_uri(uri: URI) -> bool:
    return isinstance(uri, SipURI)
