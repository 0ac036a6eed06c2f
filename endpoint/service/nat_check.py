"""``doctor``'s NAT line: would the SDP and Contact carry a private address to a public PBX?

A door on 192.168.1.20 that registers with a cloud PBX gets its calls (the registration's flow
comes back through the router) but the PBX, and the phone behind it, send the audio to
192.168.1.20: a call that rings and stays silent. The fix is ``[nat] stun_server`` or a fixed
``[sip] advertise``; this check says so before the first visitor rings.
"""

from __future__ import annotations

import asyncio
import ipaddress

from endpoint.config import Config
from endpoint.runtime.addresses import is_wildcard, source_address_towards
from endpoint.runtime.resolver import Resolver, configured_lookups
from endpoint.service.findings import Finding, Level, ok

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
    """The address the running endpoint would advertise, against the first registrar's."""
    lookups = configured_lookups(config)
    if not lookups:
        return []
    resolver = Resolver()
    resolver.use_servers(config.sip.dns_servers)
    target = asyncio.run(resolver.target(lookups[0]))
    if target is None:
        return []  # the registrar line already says it cannot be resolved
    advertised = config.sip.advertise or config.sip.listen.host
    if is_wildcard(advertised):
        advertised = source_address_towards(target.address, target.port or 5060) or advertised
    return [nat_finding(advertised, target.address, config.nat.stun_server is not None)]
