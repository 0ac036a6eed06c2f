"""Typed header field values: name-addr (From, To, Contact, Route...), Via and CSeq (RFC 3261 §20).

Each type parses from the header's text (after unfolding) and serializes with ``str()``. Parsing
tolerates every bit of whitespace the grammar allows (RFC 4475 §3.1.1.1 puts LWS around every
separator) and rejects what it does not (§3.1.2.6 unbalanced quotes, §3.1.2.14 spaces inside
``<>``, §3.1.2.15 non-token display names, §3.1.2.13 an addr-spec with ``?`` outside ``<>``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from endpoint.sip import grammar
from endpoint.sip.errors import ParseError
from endpoint.sip.uri import (
    URI,
    Params,
    SipURI,
    find_param,
    format_params,
    parse_uri,
    replace_params,
    uri_host,
)

MAX_LIST_ITEMS = 64

_display_tokens_re = grammar.compiled(rf"{grammar.TOKEN}(?:[ \t]+{grammar.TOKEN})*")


def split_list(text: str) -> list[str]:
    """Split a comma-separated header value, respecting quoted strings and ``<...>``.

    RFC 3261 §7.3.1: a header field whose grammar is a comma-separated list may be written as
    several header field rows or one row with commas; both mean the same.
    """
    if "," not in text:
        stripped = text.strip(grammar.WS)
        return [stripped] if stripped else []
    items: list[str] = []
    depth_angle = False
    in_quote = False
    start = 0
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if in_quote:
            if c == "\\":
                i += 1
            elif c == '"':
                in_quote = False
        elif c == '"':
            in_quote = True
        elif c == "<":
            depth_angle = True
        elif c == ">":
            depth_angle = False
        elif c == "," and not depth_angle:
            items.append(text[start:i].strip(grammar.WS))
            start = i + 1
        i += 1
    items.append(text[start:].strip(grammar.WS))
    if len(items) > MAX_LIST_ITEMS:
        raise ParseError("too many values in one header field")
    return [item for item in items if item]


def parse_params(text: str, where: str) -> Params:
    """``;name[=value]`` pairs with optional whitespace around ``;`` and ``=``."""
    if not text:
        return ()
    if text[0] == ";" and not any(c in text for c in ' \t"[') and len(text) < 2048:
        fast = _simple_params(text)
        if fast is not None:
            return fast
    params: list[tuple[str, str | None]] = []
    pos = 0
    n = len(text)
    while pos < n:
        m = grammar.param_re().match(text, pos)
        if m is None:
            rest = text[pos:].strip(grammar.WS)
            if not rest:
                break
            raise ParseError(f"malformed parameter {rest[:40]!r} in {where}")
        params.append((m.group(1), m.group(2)))
        pos = m.end()
        if len(params) > MAX_LIST_ITEMS:
            raise ParseError(f"too many parameters in {where}")
    return tuple(params)


def _simple_params(text: str) -> Params | None:
    """The common case ``;a=b;c`` without quotes or whitespace; None to take the full path."""
    out: list[tuple[str, str | None]] = []
    token = grammar.TOKEN_CHARS
    for item in text[1:].split(";"):
        name, eq, value = item.partition("=")
        if (
            not name
            or not token.issuperset(name)
            or (eq and (not value or not token.issuperset(value)))
        ):
            return None
        out.append((name, value if eq else None))
    if len(out) > MAX_LIST_ITEMS:
        return None
    return tuple(out)


def unquote(text: str) -> str:
    """The content of a quoted-string with its quoted-pairs resolved."""
    inner = text[1:-1]
    if "\\" not in inner:
        return inner
    return re.sub(r"\\(.)", r"\1", inner, flags=re.DOTALL)


def quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True, slots=True)
class NameAddr:
    """``"Display" <uri>;params`` or ``uri;params`` (From, To, Contact, Route, Record-Route...).

    ``display_name`` holds the display name as written (quoted strings keep their quotes), so
    that serialization round-trips exactly; ``display`` gives the unquoted text.
    """

    uri: URI
    display_name: str | None = None
    params: Params = ()

    @classmethod
    def parse(cls, text: str) -> NameAddr:
        return _parse_name_addr(text)

    @property
    def display(self) -> str | None:
        name = self.display_name
        if name is None:
            return None
        return unquote(name) if name.startswith('"') else name

    @property
    def tag(self) -> str | None:
        return find_param(self.params, "tag")

    @property
    def expires(self) -> int | None:
        value = find_param(self.params, "expires")
        return grammar.parse_int(value) if value is not None else None

    def param(self, name: str) -> str | None:
        return find_param(self.params, name)

    def with_params(self, **changes: str | None) -> NameAddr:
        return NameAddr(self.uri, self.display_name, replace_params(self.params, changes))

    def __str__(self) -> str:
        prefix = f"{self.display_name} " if self.display_name else ""
        return f"{prefix}<{self.uri}>{format_params(self.params)}"


def _parse_name_addr(text: str) -> NameAddr:
    text = text.strip(grammar.WS)
    if not text:
        raise ParseError("empty address")
    # A quoted display name may hold "<" (qdtext, RFC 3261 §25.1): look for the "<" after it.
    quoted = grammar.quoted_string_re().match(text) if text.startswith('"') else None
    lt = text.find("<", quoted.end() if quoted is not None else 0)
    if lt >= 0:
        display_text = text[:lt].strip(grammar.WS)
        display: str | None = None
        if display_text:
            if display_text.startswith('"'):
                if not grammar.quoted_string_re().fullmatch(display_text):
                    raise ParseError(f"malformed quoted display name in {text[:60]!r}")
            elif not _display_tokens_re().fullmatch(display_text):
                raise ParseError(f"display name must be tokens or quoted in {text[:60]!r}")
            display = display_text
        gt = text.find(">", lt)
        if gt < 0:
            raise ParseError(f"missing '>' in {text[:60]!r}")
        uri_text = text[lt + 1 : gt]
        if not uri_text or uri_text != uri_text.strip(grammar.WS):
            raise ParseError(f"whitespace inside <> in {text[:60]!r}")
        return NameAddr(parse_uri(uri_text), display, parse_params(text[gt + 1 :], text[:60]))
    if text.startswith('"'):
        raise ParseError(f"unterminated quoted string or missing <> in {text[:60]!r}")
    # addr-spec: RFC 3261 §20.10 - parameters after the URI belong to the header field, and a
    # URI containing a comma, question mark or semicolon MUST be enclosed in <>.
    semi = text.find(";")
    uri_text = text if semi < 0 else text[:semi]
    uri_text = uri_text.rstrip(grammar.WS)
    if any(c in uri_text for c in ' \t?,"'):
        raise ParseError(f"addr-spec with reserved characters must use <> in {text[:60]!r}")
    params = parse_params(text[semi:], text[:60]) if semi >= 0 else ()
    return NameAddr(parse_uri(uri_text), None, params)


def parse_name_addr_list(text: str) -> list[NameAddr]:
    return [NameAddr.parse(item) for item in split_list(text)]


class _Star(Enum):
    """``Contact: *`` (RFC 3261 §10.2.2: remove all bindings)."""

    STAR = "*"

    def __str__(self) -> str:
        return "*"


ContactStar = _Star.STAR

_via_fast_re = grammar.compiled(
    r"SIP/2\.0/([A-Za-z0-9\-.!%*_+`'~]+) ([A-Za-z0-9.\-]+|\[[0-9A-Fa-f:.]+\])(?::([0-9]{1,5}))?"
)
_via_slow_re = grammar.compiled(
    rf"({grammar.TOKEN})[ \t]*/[ \t]*({grammar.TOKEN})[ \t]*/[ \t]*({grammar.TOKEN})[ \t]+"
    rf"({grammar.HOST})(?:[ \t]*:[ \t]*([0-9]{{1,5}}))?"
)


@dataclass(frozen=True, slots=True)
class Via:
    """``SIP/2.0/UDP host:port;branch=...;received=...;rport`` (RFC 3261 §20.42, RFC 3581)."""

    transport: str
    host: str
    port: int | None = None
    params: Params = ()
    protocol: str = "SIP/2.0"

    @classmethod
    def parse(cls, text: str) -> Via:
        return _parse_via(text)

    @property
    def branch(self) -> str | None:
        return find_param(self.params, "branch")

    @property
    def received(self) -> str | None:
        return find_param(self.params, "received")

    @property
    def maddr(self) -> str | None:
        return find_param(self.params, "maddr")

    @property
    def has_rport(self) -> bool:
        return find_param(self.params, "rport") is not None

    @property
    def rport(self) -> int | None:
        value = find_param(self.params, "rport")
        return grammar.parse_int(value, 5) if value else None

    @property
    def sent_by(self) -> str:
        host = uri_host(self.host)
        return host if self.port is None else f"{host}:{self.port}"

    def param(self, name: str) -> str | None:
        return find_param(self.params, name)

    def with_params(self, **changes: str | None) -> Via:
        return Via(
            self.transport,
            self.host,
            self.port,
            replace_params(self.params, changes),
            self.protocol,
        )

    def __str__(self) -> str:
        return f"{self.protocol}/{self.transport} {self.sent_by}{format_params(self.params)}"


def _parse_via(text: str) -> Via:
    m = _via_fast_re().match(text)
    protocol = "SIP/2.0"
    if m is not None:
        transport, host, port_text = m.group(1), m.group(2), m.group(3)
    else:
        m = _via_slow_re().match(text.strip(grammar.WS))
        if m is None:
            raise ParseError(f"malformed Via {text[:60]!r}")
        protocol = f"{m.group(1)}/{m.group(2)}"
        transport, host, port_text = m.group(3), m.group(4), m.group(5)
        text = text.strip(grammar.WS)
    if protocol.upper() != "SIP/2.0":
        protocol = f"{protocol.split('/')[0].upper()}/{protocol.split('/')[1]}"
    if not grammar.host_re().fullmatch(host):
        raise ParseError(f"malformed Via host {host[:40]!r}")
    port = None
    if port_text is not None:
        port = int(port_text)
        if not 0 < port <= 65535:
            raise ParseError(f"Via port out of range in {text[:60]!r}")
    params = parse_params(text[m.end() :], "Via")
    for name, value in params:
        lowered = name.lower()
        if lowered == "rport" and value is not None and grammar.parse_int(value, 5) is None:
            raise ParseError(f"malformed rport in {text[:60]!r}")
        ttl = grammar.parse_int(value, 3) if value is not None else None
        if lowered == "ttl" and (ttl is None or ttl > 255):
            raise ParseError(f"malformed ttl in {text[:60]!r}")
    return Via(transport.upper(), host, port, params, protocol)


def parse_via_list(text: str) -> list[Via]:
    return [Via.parse(item) for item in split_list(text)]


_cseq_re = grammar.compiled(rf"([0-9]{{1,10}})[ \t]+({grammar.TOKEN})")


@dataclass(frozen=True, slots=True)
class CSeq:
    """``CSeq: 4711 INVITE``; RFC 3261 §8.1.1.5: the number MUST be less than 2**31."""

    seq: int
    method: str

    @classmethod
    def parse(cls, text: str) -> CSeq:
        m = _cseq_re().fullmatch(text.strip(grammar.WS))
        if m is None:
            raise ParseError(f"malformed CSeq {text[:60]!r}")
        seq = int(m.group(1))
        if seq >= 2**31:
            raise ParseError(f"CSeq number {seq} is not below 2**31")
        return cls(seq, m.group(2))

    def __str__(self) -> str:
        return f"{self.seq} {self.method}"


def is_sip_uri(uri: URI) -> bool:
    return isinstance(uri, SipURI)
