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
from dataclasses import dataclass, field

#: The ``accept_from`` entry that stands for the registrar(s) and outbound proxy.
REGISTRAR = "registrar"
ANYONE = "*"
#: Source hosts whose place in the filter is remembered at once.
MEMO_HOSTS = 1024

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class SourceFilter:
    """``accept_from`` resolved: ``anyone``, or a set of networks (a host is a /32 or /128)."""

    anyone: bool
    networks: tuple[Network, ...]
    #: The registrar's and proxy's addresses: trusted only with proof (``proven_by_source``).
    registrar: tuple[Network, ...] = ()
    #: Addresses of the parties the configuration names (``configured.peer_hosts``): not
    #: admitted by this, only given the larger transaction budget (``generous``).
    peers: tuple[Network, ...] = ()
    #: The registrar's and proxy's addresses whatever ``accept_from`` says: what a request
    #: that claims the PBX's authority (paging, ``[calls] pbx_auto_answer``) must come from.
    pbx: tuple[Network, ...] = ()
    #: host -> (in ``networks``, in ``registrar``, in ``peers``): under a flood the same few
    #: hosts are asked about for every datagram, and parsing an address each time was a good
    #: part of what a stranger's datagram cost the SIP loop. Bounded by MEMO_HOSTS.
    _memo: dict[str, tuple[bool, bool, bool]] = field(
        default_factory=dict, compare=False, hash=False, repr=False
    )

    @classmethod
    def build(
        cls,
        entries: Iterable[str],
        registrar_addresses: Iterable[str],
        peer_addresses: Iterable[str] = (),
    ) -> SourceFilter:
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
        peers = tuple(n for n in map(_network, peer_addresses) if n is not None)
        return cls(anyone, tuple(networks), tuple(registrar), peers, tuple(pbx))

    def allows(self, host: str) -> bool:
        """May ``host`` send us new requests at all (maybe subject to proof)?"""
        if self.anyone:
            return True  # peer-to-peer mode: no address to look up for every datagram
        listed, registrar, _ = self._where(host)
        return listed or registrar

    def proven_by_source(self, host: str) -> bool:
        """Is the source address alone enough: anyone, or a network the installer listed?
        The registrar's address is not: anyone on the LAN can put it on a UDP packet."""
        return self.anyone or self._where(host)[0]

    def generous(self, host: str) -> bool:
        """Does ``host`` get the larger per-source transaction budget and rate (issue 13 rule
        9): a network the installer listed, the registrar or proxy, or a configured peer? A PBX
        placing more than a call a second must not get 503, while "anyone" (peer-to-peer
        mode) stays a stranger with the small budget, so one flooder cannot fill the table."""
        return any(self._where(host))

    def _where(self, host: str) -> tuple[bool, bool, bool]:
        found = self._memo.get(host)
        if found is None:
            if len(self._memo) >= MEMO_HOSTS:
                self._memo.clear()  # a sweep from many addresses: start over, stay bounded
            found = self._memo[host] = (
                _within(host, self.networks),
                _within(host, self.registrar),
                _within(host, self.peers),
            )
        return found

    def is_registrar(self, host: str) -> bool:
        """Is ``host`` the registrar's or proxy's address (which alone proves nothing)?"""
        return _within(host, self.pbx)


def _within(host: str, networks: tuple[Network, ...]) -> bool:
    if not networks:
        return False
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
