"""``[nat]``: learning the public address a home router gives the door (STUN, RFC 8489).

A door behind NAT that puts its private address in Contact and SDP can register yet never be
reached, or ring with no audio. With ``stun_server`` set, the runtime asks the server which
address and port the outside sees for the SIP socket and each call's RTP socket and advertises
those; if the server does not answer quickly the local address is used, because a door must
always answer. A fixed public address is ``[sip] advertise``. While a call sends no audio
(held), an RTP keep-alive every ``keepalive_s`` keeps the router's mapping of its port.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from endpoint.config.reader import Document, HostPort, Section, number_in, parse_host_port

STUN_PORT = 3478


@dataclass(frozen=True, slots=True)
class NatSettings:
    """The ``[nat]`` section: STUN and keep-alives for a door behind a NAT."""

    #: The STUN server (host or IP, port 3478 unless given); None: no STUN.
    stun_server: HostPort | None = None
    #: How long a call waits for its RTP socket's public address before using the local one.
    stun_timeout: float = 0.5
    #: Seconds between RTP keep-alives while a call sends no audio (held); 0 = none.
    keepalive_s: float = 15.0


def _server(value: Any) -> HostPort | None:
    return parse_host_port(value, STUN_PORT) if isinstance(value, str) else None


def read(doc: Document) -> NatSettings:
    r = doc.reader("nat")
    return NatSettings(
        stun_server=r.get(
            "stun_server",
            None,
            _server,
            'host:port of a STUN server, e.g. stun_server = "stun.example.net:3478"',
        ),
        stun_timeout=r.get(
            "stun_timeout",
            0.5,
            number_in(0.05, 5),
            "seconds between 0.05 and 5 a call waits for the STUN answer, e.g. 0.5",
        ),
        keepalive_s=r.get(
            "keepalive_s",
            15.0,
            number_in(0, 300),
            "seconds between 0 (off) and 300, e.g. 15 (RFC 6263)",
        ),
    )


NAT = Section("nat", ("stun_server", "stun_timeout", "keepalive_s"), NatSettings(), read)
