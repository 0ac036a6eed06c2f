"""Configured host names (registrar, outbound proxy) to addresses: the one resolver.

DESIGN "The network is hostile": only names from our own configuration are ever resolved,
never names from the wire; they are resolved on the asyncio loop's executor with a time limit,
so a DNS outage at boot delays nothing else, and the last answer is kept so that a resolver
that stops answering later leaves the endpoint on the address it had. Start-up and reload both
use this one, so they cannot disagree about what a name means.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket

from endpoint.config import Config
from endpoint.sip.uri import SipURI, parse_uri

log = logging.getLogger("endpoint")

#: Seconds one lookup may take before we go on without it.
LOOKUP_TIMEOUT_S = 3.0


def configured_hosts(config: Config) -> list[str]:
    """The host names of the accounts' registrars and outbound proxies, in order, once each."""
    hosts: list[str] = []
    for account in (config.account, config.backup_account):
        if account is None:
            continue
        for text in (account.registrar, account.outbound_proxy):
            uri = parse_uri(text) if text else None
            if isinstance(uri, SipURI) and uri.bare_host not in hosts:
                hosts.append(uri.bare_host)
    return hosts


class Resolver:
    def __init__(self, timeout: float = LOOKUP_TIMEOUT_S) -> None:
        self.timeout = timeout
        self._known: dict[str, str] = {}

    async def resolve(self, host: str) -> str | None:
        """The address of ``host`` (an IP literal is its own); None if it cannot be found and
        was never found before."""
        try:
            return str(ipaddress.ip_address(host))
        except ValueError:
            pass
        loop = asyncio.get_running_loop()
        try:
            infos = await asyncio.wait_for(
                loop.getaddrinfo(host, None, type=socket.SOCK_DGRAM), self.timeout
            )
        except (OSError, TimeoutError) as exc:
            reason = str(exc) or f"no answer within {self.timeout:g} s"
            known = self._known.get(host)
            if known is not None:
                log.warning("cannot resolve %s (%s); keeping %s", host, reason, known)
            else:
                log.warning("cannot resolve %s (%s); will keep trying by name", host, reason)
            return known
        self._known[host] = str(infos[0][4][0])
        return self._known[host]

    async def resolve_config(self, config: Config) -> dict[str, str]:
        """name -> address for every configured host that resolves (the UA's ``resolved``)."""
        found: dict[str, str] = {}
        for host in configured_hosts(config):
            address = await self.resolve(host)
            if address is not None:
                found[host] = address
        return found
