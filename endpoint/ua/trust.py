"""Who may start something with us: the source addresses trusted with out-of-dialog requests.

A door station on a network answers whoever calls it. On the internet (or a flat LAN with a
compromised PC) that means SIP scanners ringing the door at 3 a.m. and toll-fraud probes: they
INVITE the device's address directly, never passing the PBX. With an account configured, the
PBX is the only party that has a reason to send us a new request, so by default only the
registrar's and outbound proxy's addresses are trusted (``[sip] accept_from``); others are
dropped without a reply, which also hides the box from scans. Requests inside our own calls
(their Call-ID) are always taken: the peer's BYE may come straight from its phone.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

#: The ``accept_from`` entry that stands for the registrar(s) and outbound proxy.
REGISTRAR = "registrar"
ANYONE = "*"

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class SourceFilter:
    """``accept_from`` resolved: ``anyone``, or a set of networks (a host is a /32 or /128)."""

    anyone: bool
    networks: tuple[Network, ...]
    #: The registrar's and proxy's addresses: trusted only with proof (``proven_by_source``).
    registrar: tuple[Network, ...] = ()
    #: The registrar's and proxy's addresses whatever ``accept_from`` says: what a request
    #: that claims the PBX's authority (paging, ``[calls] pbx_auto_answer``) must come from.
    pbx: tuple[Network, ...] = ()

    @classmethod
    def build(cls, entries: Iterable[str], registrar_addresses: Iterable[str]) -> SourceFilter:
        networks: list[Network] = []
        registrar: list[Network] = []
        pbx = [n for n in map(_network, registrar_addresses) if n is not None]
        anyone = False
        for entry in entries:
            if entry == ANYONE:
                anyone = True
            elif entry == REGISTRAR:
                registrar += pbx
            else:
                network = _network(entry)
                if network is not None:
                    networks.append(network)
        return cls(anyone, tuple(networks), tuple(registrar), tuple(pbx))

    def allows(self, host: str) -> bool:
        """May ``host`` send us new requests at all (maybe subject to proof)?"""
        return self.proven_by_source(host) or _within(host, self.registrar)

    def proven_by_source(self, host: str) -> bool:
        """Is the source address alone enough: anyone, or a network the installer listed?
        The registrar's address is not: anyone on the LAN can put it on a UDP packet."""
        return self.anyone or _within(host, self.networks)

    def is_registrar(self, host: str) -> bool:
        """Is ``host`` the registrar's or proxy's address (which alone proves nothing)?"""
        return _within(host, self.pbx)


def _within(host: str, networks: tuple[Network, ...]) -> bool:
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return any(address in network for network in networks)


def _network(text: str) -> Network | None:
    """``192.0.2.7``, ``10.0.0.0/8`` or ``2001:db8::/32``; None for a name not resolved."""
    try:
        return ipaddress.ip_network(text.strip("[]"), strict=False)
    except ValueError:
        return None
