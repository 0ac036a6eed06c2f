"""``doctor``'s NAT lines: does the STUN server answer, and would the SDP and Contact carry a
private address to a public PBX?

A door on 192.168.1.20 that registers with a cloud PBX gets its calls (the registration's flow
comes back through the router) but the PBX, and the phone behind it, send the audio to
192.168.1.20: a call that rings and stays silent. The fix is ``[nat] stun_server`` or a fixed
``[sip] advertise``; this check says so before the first visitor rings.
"""

from __future__ import annotations

import asyncio
import ipaddress
import random
import socket

from endpoint.config import Config
from endpoint.runtime.addresses import is_wildcard, source_address_towards
from endpoint.runtime.nat import socket_mapping
from endpoint.runtime.resolver import Resolver, configured_lookups
from endpoint.service.findings import Finding, Level, ok

#: How long doctor waits for the STUN server (a call waits ``[nat] stun_timeout``).
STUN_WAIT_S = 2.0
#: RFC 6598 shared address space (carrier-grade NAT): private to us, not to ``ipaddress``.
CGNAT = ipaddress.ip_network("100.64.0.0/10")
FIX = (
    'set [nat] stun_server = "stun.example.net:3478" (learned at run time) or '
    '[sip] advertise = "<the router\'s public address>" and forward the SIP and RTP ports'
)


def is_private(address: str) -> bool:
    """RFC 1918, ULA (fc00::/7), CGNAT, link-local: not reachable from the Internet."""
    try:
        ip = ipaddress.ip_address(address.strip("[]"))
    except ValueError:
        return False
    if ip.is_loopback:
        return False  # a test bench: nothing crosses a router
    return ip.is_private or ip in CGNAT or ip.is_link_local


def is_public(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.strip("[]")).is_global
    except ValueError:
        return False


def nat_finding(advertised: str, registrar: str, stun: bool) -> Finding:
    """The verdict for SDP/Contact carrying ``advertised`` towards ``registrar``."""
    if stun:
        return ok("nat", "SDP and Contact carry the address the STUN server reports")
    if is_private(advertised) and is_public(registrar):
        return Finding(
            Level.WARN,
            "nat",
            f"SDP and Contact would carry the private address {advertised} towards the "
            f"public registrar {registrar}: calls may ring with no audio",
            FIX,
        )
    return ok("nat", f"SDP and Contact carry {advertised} (registrar {registrar})")


def check_nat(config: Config) -> list[Finding]:
    """The STUN server's answer (when configured), and the address the running endpoint
    would advertise against the first registrar's."""
    resolver = Resolver()
    resolver.use_servers(config.sip.dns_servers)
    findings = check_stun(config, resolver)
    lookups = configured_lookups(config)
    if not lookups:
        return findings
    target = asyncio.run(resolver.target(lookups[0]))
    if target is None:
        return findings  # the registrar line already says it cannot be resolved
    advertised = config.sip.advertise or config.sip.listen.host
    if is_wildcard(advertised):
        advertised = source_address_towards(target.address, target.port or 5060) or advertised
    stun = config.nat.stun_server is not None and not config.sip.advertise
    return [*findings, nat_finding(advertised, target.address, stun)]


def check_stun(config: Config, resolver: Resolver) -> list[Finding]:
    """Ask ``[nat] stun_server`` from a fresh socket, as a call's RTP socket would."""
    configured = config.nat.stun_server
    if configured is None:
        return []
    fix = f'check [nat] stun_server = "{configured}" and that UDP to it is not blocked'
    address = asyncio.run(resolver.resolve(configured.host))
    if address is None:
        return [Finding(Level.WARN, "stun", f"{configured.host} cannot be resolved", fix)]
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.bind(("::" if family == socket.AF_INET6 else "0.0.0.0", 0))
        sock.setblocking(False)
        found = asyncio.run(
            socket_mapping(sock, (address, configured.port), STUN_WAIT_S, random.SystemRandom())
        )
    if found is None:
        detail = (
            f"{configured} did not answer within {STUN_WAIT_S:g} s: calls offer the local address"
        )
        return [Finding(Level.WARN, "stun", detail, fix)]
    return [ok("stun", f"{configured} sees us as {found.host}:{found.port}")]
