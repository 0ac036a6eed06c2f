"""SDP session descriptions (RFC 8866): parse and serialize, keeping what we do not use.

Only the fields an audio endpoint acts on are interpreted (origin, connection, media lines,
rtpmap/fmtp/ptime/maxptime, direction, rtcp, rtcp-mux); every other line and attribute is kept
in order so that a description round-trips. Parsing tolerates LF-only line ends and trailing
whitespace (real phones send both) and raises ParseError on anything it cannot make sense of.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from endpoint.sip.errors import ParseError
from endpoint.sip.grammar import parse_int

MAX_LINES = 512
MAX_MEDIA = 16
DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")
#: Session-level line types that RFC 8866 §5 places between s= and c=; the others we keep
#: (r=, z=, k=, and any unknown type) follow the t= lines.
_BEFORE_CONNECTION = frozenset("iuep")


@dataclass(frozen=True, slots=True)
class Origin:
    """The SDP ``o=`` line (RFC 8866 §5.2): who made the session and its version."""

    username: str
    session_id: str
    version: int
    nettype: str
    addrtype: str
    address: str

    def __str__(self) -> str:
        return (
            f"{self.username} {self.session_id} {self.version} "
            f"{self.nettype} {self.addrtype} {self.address}"
        )


@dataclass(frozen=True, slots=True)
class Connection:
    """The SDP ``c=`` line (RFC 8866 §5.7): where media goes."""

    nettype: str
    addrtype: str
    address: str

    @property
    def is_hold(self) -> bool:
        """RFC 3264 §8.4 legacy hold: c=IN IP4 0.0.0.0 (RFC 2543 style)."""
        return self.address in ("0.0.0.0", "::")

    def __str__(self) -> str:
        return f"{self.nettype} {self.addrtype} {self.address}"


Attribute = tuple[str, str | None]


def _find(attributes: tuple[Attribute, ...], name: str) -> list[str | None]:
    return [value for key, value in attributes if key == name]


def _direction(attributes: tuple[Attribute, ...]) -> str | None:
    for key, _ in attributes:
        if key in DIRECTIONS:
            return key
    return None


@dataclass(frozen=True, slots=True)
class MediaDescription:
    """One SDP ``m=`` section (RFC 8866 §5.14) with its attributes."""

    media: str
    port: int
    proto: str
    formats: tuple[str, ...]
    port_count: int | None = None
    connection: Connection | None = None
    bandwidths: tuple[str, ...] = ()
    attributes: tuple[Attribute, ...] = ()
    other: tuple[tuple[str, str], ...] = ()

    def attribute(self, name: str) -> str | None:
        values = _find(self.attributes, name)
        return (values[0] or "") if values else None

    def rtpmap(self) -> dict[int, tuple[str, int, int]]:
        """Payload type -> (encoding name, clock rate, channels), from a=rtpmap lines."""
        out: dict[int, tuple[str, int, int]] = {}
        for value in _find(self.attributes, "rtpmap"):
            pt_text, _, spec = (value or "").partition(" ")
            parts = spec.strip().split("/")
            pt = parse_int(pt_text, 3)
            rate = parse_int(parts[1]) if len(parts) >= 2 else None
            if pt is None or rate is None:
                continue
            channels = (parse_int(parts[2], 3) if len(parts) > 2 else None) or 1
            out[pt] = (parts[0], rate, channels)
        return out

    def fmtp(self, payload_type: int) -> str | None:
        for value in _find(self.attributes, "fmtp"):
            pt_text, _, params = (value or "").partition(" ")
            if pt_text == str(payload_type):
                return params.strip()
        return None

    @property
    def direction(self) -> str | None:
        return _direction(self.attributes)

    @property
    def ptime(self) -> int | None:
        """a=ptime in milliseconds (RFC 8866 §6.4), None if absent or not a sane number."""
        return _milliseconds(self.attribute("ptime"))

    @property
    def maxptime(self) -> int | None:
        """a=maxptime in milliseconds (RFC 8866 §6.5), None if absent or not a sane number."""
        return _milliseconds(self.attribute("maxptime"))

    @property
    def rtcp_mux(self) -> bool:
        return self.attribute("rtcp-mux") is not None

    @property
    def rtcp_port(self) -> int | None:
        """Port of a=rtcp (RFC 3605), if given."""
        value = self.attribute("rtcp")
        return parse_int(value.split(" ", 1)[0], 5) if value else None

    def __str__(self) -> str:
        port = f"{self.port}/{self.port_count}" if self.port_count else str(self.port)
        lines = [f"m={self.media} {port} {self.proto} {' '.join(self.formats)}"]
        lines += [f"{key}={value}" for key, value in self.other if key == "i"]
        if self.connection is not None:
            lines.append(f"c={self.connection}")
        lines += [f"b={b}" for b in self.bandwidths]
        lines += [f"{key}={value}" for key, value in self.other if key != "i"]
        lines += [f"a={k}" if v is None else f"a={k}:{v}" for k, v in self.attributes]
        return "\r\n".join(lines)


@dataclass(frozen=True, slots=True)
class SessionDescription:
    """A whole SDP body (RFC 8866), immutable, as offered or answered."""

    origin: Origin
    session_name: str = "-"
    connection: Connection | None = None
    times: tuple[str, ...] = ("0 0",)
    bandwidths: tuple[str, ...] = ()
    attributes: tuple[Attribute, ...] = ()
    media: tuple[MediaDescription, ...] = ()
    other: tuple[tuple[str, str], ...] = field(default=())

    @property
    def direction(self) -> str | None:
        return _direction(self.attributes)

    def with_media(self, media: tuple[MediaDescription, ...]) -> SessionDescription:
        return replace(self, media=media)

    def __str__(self) -> str:
        lines = ["v=0", f"o={self.origin}", f"s={self.session_name}"]
        lines += [f"{k}={v}" for k, v in self.other if k in _BEFORE_CONNECTION]
        if self.connection is not None:
            lines.append(f"c={self.connection}")
        lines += [f"b={b}" for b in self.bandwidths]
        lines += [f"t={t}" for t in self.times]
        lines += [f"{k}={v}" for k, v in self.other if k not in _BEFORE_CONNECTION]
        lines += [f"a={k}" if v is None else f"a={k}:{v}" for k, v in self.attributes]
        lines += [str(m) for m in self.media]
        return "\r\n".join(lines) + "\r\n"

    def __bytes__(self) -> bytes:
        return str(self).encode("utf-8")


def _milliseconds(value: str | None) -> int | None:
    try:
        number = float(value) if value and len(value) <= 12 else math.nan
    except ValueError:
        return None
    return round(number) if 0 < number <= 10_000 else None  # NaN and inf fail the range test


def _connection(value: str) -> Connection:
    parts = value.split()
    if len(parts) != 3:
        raise ParseError(f"malformed c= line {value[:40]!r}", 400)
    address = parts[2].split("/", 1)[0]  # drop multicast TTL / count
    return Connection(parts[0], parts[1], address)


def _attribute(value: str) -> Attribute:
    name, colon, rest = value.partition(":")
    if not name:
        raise ParseError("empty attribute name in SDP")
    return (name, rest if colon else None)


@dataclass
class _Builder:
    """Accumulates one level (session or one m= section) while parsing."""

    connection: Connection | None = None
    bandwidths: list[str] = field(default_factory=list)
    attributes: list[Attribute] = field(default_factory=list)
    other: list[tuple[str, str]] = field(default_factory=list)
    media_line: tuple[str, int, int | None, str, tuple[str, ...]] | None = None

    def add(self, key: str, value: str) -> None:
        """One c=, b=, a= or other line of this level."""
        if key == "c":
            self.connection = _connection(value)
        elif key == "b":
            self.bandwidths.append(value)
        elif key == "a":
            self.attributes.append(_attribute(value))
        else:
            self.other.append((key, value))

    def media(self) -> MediaDescription:
        assert self.media_line is not None
        kind, port, count, proto, formats = self.media_line
        return MediaDescription(
            kind,
            port,
            proto,
            formats,
            count,
            self.connection,
            tuple(self.bandwidths),
            tuple(self.attributes),
            tuple(self.other),
        )


@dataclass
class _Top:
    """The o=, s= and t= lines, which only the session level has."""

    origin: Origin | None = None
    session_name: str = "-"
    times: list[str] = field(default_factory=list)

    def add(self, key: str, value: str) -> None:
        if key == "o":
            parts = value.split()
            version = parse_int(parts[2], 20) if len(parts) == 6 else None  # 64-bit fits
            if version is None:
                raise ParseError(f"malformed o= line {value[:60]!r}")
            self.origin = Origin(parts[0], parts[1], version, parts[3], parts[4], parts[5])
        elif key == "s":
            self.session_name = value
        else:
            self.times.append(value)


def _media_line(value: str) -> tuple[str, int, int | None, str, tuple[str, ...]]:
    parts = value.split()
    if len(parts) < 4:
        raise ParseError(f"malformed m= line {value[:40]!r}")
    port_text, _, count_text = parts[1].partition("/")
    port = parse_int(port_text, 5)
    if port is None or port > 65535:
        raise ParseError(f"malformed media port {parts[1][:20]!r}")
    return (parts[0], port, parse_int(count_text, 5), parts[2], tuple(parts[3:]))


def parse_sdp(data: bytes | str) -> SessionDescription:
    """Parse an SDP body; raises ParseError (the UA answers 400 or 488)."""
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    lines = [line.rstrip(" \t\r") for line in text.split("\n")]
    lines = [line for line in lines if line]
    if len(lines) > MAX_LINES:
        raise ParseError("SDP too long")
    if not lines or lines[0] != "v=0":
        raise ParseError("SDP must start with v=0")
    top = _Top()
    session = _Builder()
    media: list[_Builder] = []
    for line in lines[1:]:
        if len(line) < 2 or line[1] != "=":
            raise ParseError(f"malformed SDP line {line[:40]!r}")
        key, value = line[0], line[2:]
        if key == "m":
            if len(media) >= MAX_MEDIA:
                raise ParseError("too many m= lines")
            media.append(_Builder(media_line=_media_line(value)))
        elif key in ("o", "s", "t") and not media:
            top.add(key, value)
        else:
            (media[-1] if media else session).add(key, value)
    if top.origin is None:
        raise ParseError("SDP without o= line")
    origin, session_name, times = top.origin, top.session_name, top.times
    return SessionDescription(
        origin=origin,
        session_name=session_name,
        connection=session.connection,
        times=tuple(times) or ("0 0",),
        bandwidths=tuple(session.bandwidths),
        attributes=tuple(session.attributes),
        other=tuple(session.other),
        media=tuple(m.media() for m in media),
    )
