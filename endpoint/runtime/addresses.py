"""IPv4 and IPv6 at the socket edge: one spelling per peer, whatever socket it came through.

A socket bound to ``::`` is dual-stack on Linux: IPv4 peers arrive as IPv4-mapped addresses
(``::ffff:192.0.2.1``, RFC 4291 §2.5.5.2) and must be sent to in that form. Everything above the
sockets (trust checks, ``accept_from``, the registrar's address, RTP latching, logs) compares
plain strings, so sources are unmapped where they are read and destinations mapped where they
are written, and nowhere else.
"""

from __future__ import annotations

import ipaddress
import socket


def unmapped(host: str) -> str:
    """``::ffff:a.b.c.d`` as ``a.b.c.d``; every other host unchanged."""
    if "." in host and host[:7].lower() == "::ffff:":
        try:
            mapped = ipaddress.IPv6Address(host).ipv4_mapped
        except ValueError:
            return host
        if mapped is not None:
            return str(mapped)
    return host


def mapped_for(family: int, host: str) -> str:
    """``host`` as a socket of ``family`` sends to it: an IPv4 address becomes
    ``::ffff:a.b.c.d`` on an IPv6 (dual-stack) socket. The inverse of ``unmapped``."""
    if family == socket.AF_INET6 and ":" not in host:
        return f"::ffff:{host}"
    return host


def is_wildcard(host: str) -> bool:
    """``0.0.0.0`` or ``::`` (any spelling): listen everywhere, advertise something else."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_unspecified
    except ValueError:
        return False


def source_address_towards(host: str, port: int) -> str | None:
    """The local address the kernel would use to reach ``host`` (no packet is sent)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as s:
            s.connect((host, port))
            return unmapped(str(s.getsockname()[0]))
    except OSError:
        return None
