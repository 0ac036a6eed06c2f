"""``[sip]``: where we listen, on which transport, and whom we accept new requests from."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from endpoint.config.reader import (
    Document,
    HostPort,
    Section,
    choice,
    hostname,
    nonempty_str,
    parse_host_port,
)
from endpoint.sip.grammar import is_ip_literal


@dataclass(frozen=True, slots=True)
class SipSettings:
    """The ``[sip]`` section: where we listen, how we present ourselves, whom we accept."""

    listen: HostPort = HostPort("0.0.0.0", 5060)
    transport: str = "udp"
    user_agent: str = "sip-endpoint"
    #: Public address to put in Via/Contact/SDP when the listen address is a wildcard.
    advertise: str | None = None
    #: Sources trusted with new requests: "*", "registrar", addresses, networks. None: the
    #: registrar when an account is configured, anyone in peer-to-peer mode.
    accept_from: tuple[str, ...] | None = None
    #: DNS servers (IP or IP:port) for the registrar's and proxy's names (RFC 3263 NAPTR, SRV,
    #: A/AAAA); empty: the system's (/etc/resolv.conf).
    dns_servers: tuple[HostPort, ...] = ()
    #: RFC 3262 100rel: "off", "supported" (reliable 1xx when the caller requires it),
    #: "required" (whenever the caller supports it; 421 otherwise). See endpoint/ua/reliable.py.
    reliable_provisional: str = "supported"


def _listen(value: Any) -> HostPort | None:
    return parse_host_port(value) if isinstance(value, str) else None


def _sources(value: Any) -> tuple[str, ...] | None:
    """``accept_from``: "*", "registrar", IP addresses and networks (CIDR)."""
    if not isinstance(value, list) or not value:
        return None
    out = []
    for item in value:
        if not isinstance(item, str):
            return None
        if item not in ("*", "registrar"):
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                return None
        out.append(item)
    return tuple(out)


def _dns_servers(value: Any) -> tuple[HostPort, ...] | None:
    if not isinstance(value, list) or len(value) > 8:
        return None
    servers = []
    for item in value:
        hp = parse_host_port(item, 53) if isinstance(item, str) else None
        if hp is None or not is_ip_literal(hp.host):
            return None
        servers.append(hp)
    return tuple(servers)


def read(doc: Document) -> SipSettings:
    r = doc.reader("sip")
    return SipSettings(
        listen=r.get(
            "listen",
            HostPort("0.0.0.0", 5060),
            _listen,
            'host:port to listen on, e.g. listen = "0.0.0.0:5060" or "[::]:5060"',
        ),
        transport=r.get(
            "transport", "udp", choice("udp", "tcp", "tls"), 'one of "udp", "tcp", "tls"'
        ),
        user_agent=r.get("user_agent", "sip-endpoint", nonempty_str, "a non-empty product name"),
        advertise=r.get(
            "advertise",
            None,
            hostname,
            'the address peers should reach us at, e.g. advertise = "192.168.1.20"',
        ),
        accept_from=r.get(
            "accept_from",
            None,
            _sources,
            'a list of "*", "registrar", addresses or networks, '
            'e.g. accept_from = ["registrar", "192.168.1.0/24"]',
        ),
        dns_servers=r.get(
            "dns_servers",
            (),
            _dns_servers,
            'a list of IP addresses, optionally with a port, e.g. dns_servers = ["192.168.1.1", '
            '"127.0.0.53:5353"]',
        ),
        reliable_provisional=r.get(
            "reliable_provisional",
            "supported",
            choice("off", "supported", "required"),
            'one of "off", "supported", "required" (RFC 3262 100rel)',
        ),
    )


SIP = Section(
    "sip",
    (
        "listen",
        "transport",
        "user_agent",
        "advertise",
        "accept_from",
        "dns_servers",
        "reliable_provisional",
    ),
    SipSettings(),
    read,
)
