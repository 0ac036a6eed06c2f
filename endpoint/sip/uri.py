"""SIP, SIPS and other URIs (RFC 3261 §19.1, §25.1).

SIP URIs are parsed into their parts; other schemes (``tel:``, ``http:``, unknown ones) are kept
opaque as ``AbsoluteURI``, because a UA only needs to know it cannot use them (416, RFC 4475
§3.3.2). The user part and parameter values stay %-escaped exactly as received: RFC 4475 §3.1.1.4
registers ``sip:%00@host`` and ``sip:%00%00@host`` as two distinct contacts, and comparing escaped
forms keeps them distinct while serialization stays byte-exact.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import lru_cache

from endpoint.sip import grammar
from endpoint.sip.errors import ParseError

Params = tuple[tuple[str, str | None], ...]


def find_param(params: Params, name: str) -> str | None:
    """Value of parameter ``name`` (case-insensitive); "" for a flag parameter; None if absent."""
    lowered = name.lower()
    for key, value in params:
        if key.lower() == lowered:
            return "" if value is None else value
    return None


def replace_params(params: Params, changes: dict[str, str | None]) -> Params:
    """``params`` with each named parameter replaced (in place) or appended."""
    pending = {k.lower(): (k, v) for k, v in changes.items()}
    out: list[tuple[str, str | None]] = []
    for key, value in params:
        change = pending.pop(key.lower(), None)
        out.append((key, change[1]) if change is not None else (key, value))
    out.extend(pending.values())
    return tuple(out)


def remove_params(params: Params, names: tuple[str, ...]) -> Params:
    drop = {n.lower() for n in names}
    return tuple((k, v) for k, v in params if k.lower() not in drop)


def format_params(params: Params) -> str:
    return "".join(f";{k}" if v is None else f";{k}={v}" for k, v in params)


@dataclass(frozen=True, slots=True)
class SipURI:
    """``sip:user:password@host:port;params?headers``; IPv6 hosts keep their brackets."""

    scheme: str
    host: str
    user: str | None = None
    password: str | None = None
    port: int | None = None
    params: Params = ()
    headers: tuple[tuple[str, str], ...] = ()

    def param(self, name: str) -> str | None:
        return find_param(self.params, name)

    def has_param(self, name: str) -> bool:
        return find_param(self.params, name) is not None

    def with_params(self, **changes: str | None) -> SipURI:
        return dataclasses.replace(self, params=replace_params(self.params, changes))

    def without_params(self, *names: str) -> SipURI:
        return dataclasses.replace(self, params=remove_params(self.params, names))

    def without_headers(self) -> SipURI:
        return dataclasses.replace(self, headers=())

    @property
    def transport(self) -> str:
        value = self.param("transport")
        return value.lower() if value else "udp"

    @property
    def host_port(self) -> str:
        return self.host if self.port is None else f"{self.host}:{self.port}"

    @property
    def bare_host(self) -> str:
        """The host without IPv6 brackets, as sockets want it."""
        return self.host[1:-1] if self.host.startswith("[") else self.host

    def __str__(self) -> str:
        out = [self.scheme, ":"]
        if self.user is not None:
            out.append(self.user)
            if self.password is not None:
                out += [":", self.password]
            out.append("@")
        out.append(self.host)
        if self.port is not None:
            out += [":", str(self.port)]
        out.append(format_params(self.params))
        if self.headers:
            out.append("?" + "&".join(f"{k}={v}" for k, v in self.headers))
        return "".join(out)


@dataclass(frozen=True, slots=True)
class AbsoluteURI:
    """Any non-SIP URI (``tel:``, ``http:``, ``urn:``, unknown schemes), kept opaque."""

    scheme: str
    rest: str

    def __str__(self) -> str:
        return f"{self.scheme}:{self.rest}"


URI = SipURI | AbsoluteURI


def uri_host(host: str) -> str:
    """``host`` as a URI, Via or Contact writes it: an IPv6 address in brackets (RFC 3261
    §19.1.1 ``IPv6reference``), anything else as it is. Sockets and config keep them bare."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def hop_transport(uri: SipURI, default: str) -> tuple[int, str]:
    """The port and transport a request to ``uri`` uses (RFC 3263 §4.1-4.2 without DNS):
    its ``transport`` parameter, else TLS for ``sips:``, else ``default``; the port given, else
    5061 for TLS and 5060 for the others (RFC 3261 §19.1.2)."""
    kind = (uri.param("transport") or ("tls" if uri.scheme == "sips" else default)).lower()
    return uri.port or (5061 if kind == "tls" else 5060), kind


def parse_uri(text: str) -> URI:
    """Parse a URI; raises ParseError(400) if it is malformed."""
    return _parse_uri_cached(text)


@lru_cache(maxsize=512)
def _parse_uri_cached(text: str) -> URI:
    scheme, colon, rest = text.partition(":")
    if not colon or not grammar.scheme_re().fullmatch(scheme):
        raise ParseError(f"malformed URI {text[:80]!r}")
    lowered = scheme.lower()
    if lowered not in ("sip", "sips"):
        if not rest or not grammar.uric_re().fullmatch(rest):
            raise ParseError(f"malformed {scheme} URI {text[:80]!r}")
        return AbsoluteURI(lowered, rest)
    return _parse_sip(lowered, rest, text)


def _parse_sip(scheme: str, rest: str, text: str) -> SipURI:
    user = password = None
    if "@" in rest:
        userinfo, _, rest = rest.rpartition("@")
        user, password = _parse_userinfo(userinfo, text)
    rest, question, header_text = rest.partition("?")
    hostport, *param_texts = rest.split(";")
    m = grammar.hostport_re().fullmatch(hostport)
    if m is None:
        raise ParseError(f"malformed host in {text[:80]!r}")
    host, port_text = m.group(1), m.group(2)
    port = None
    if port_text is not None:
        port = int(port_text)
        if port > 65535:
            raise ParseError(f"port out of range in {text[:80]!r}")
    params = _parse_params(param_texts, text)
    headers = _parse_headers(header_text, text) if question else ()
    return SipURI(scheme, host, user, password, port, params, headers)


def _parse_userinfo(userinfo: str, text: str) -> tuple[str, str | None]:
    """``user[:password]`` before the ``@`` (RFC 3261 §25.1 userinfo)."""
    user, colon, pw = userinfo.partition(":")
    if not user or not grammar.user_re().fullmatch(user):
        raise ParseError(f"malformed user part in {text[:80]!r}")
    if colon and not grammar.password_re().fullmatch(pw):
        raise ParseError(f"malformed password part in {text[:80]!r}")
    return user, pw if colon else None


def _parse_params(param_texts: list[str], text: str) -> tuple[tuple[str, str | None], ...]:
    """``;name[=value]`` URI parameters, at most 64 (a bound against a flood of them)."""
    params: list[tuple[str, str | None]] = []
    for p in param_texts:
        name, eq, value = p.partition("=")
        if not grammar.paramchars_re().fullmatch(name) or (
            eq and not grammar.paramchars_re().fullmatch(value)
        ):
            raise ParseError(f"malformed URI parameter {p[:40]!r} in {text[:80]!r}")
        params.append((name, value if eq else None))
    if len(params) > 64:
        raise ParseError("too many URI parameters")
    return tuple(params)


def _parse_headers(header_text: str, text: str) -> tuple[tuple[str, str], ...]:
    """``?name=value&...`` URI headers (RFC 3261 §19.1.1)."""
    headers: list[tuple[str, str]] = []
    for h in header_text.split("&"):
        name, eq, value = h.partition("=")
        if not name or not eq or not grammar.hnv_re().fullmatch(name + value):
            raise ParseError(f"malformed URI header {h[:40]!r} in {text[:80]!r}")
        headers.append((name, value))
    return tuple(headers)
