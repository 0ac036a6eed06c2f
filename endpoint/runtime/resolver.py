"""Configured host names (registrar, outbound proxy) to addresses: the one resolver.

DESIGN "The network is hostile": only names from our own configuration are ever resolved,
never names from the wire. Lookups are asynchronous with a time limit, so a DNS outage at boot
delays nothing else, and the last answer is kept so that a resolver that stops answering later
leaves the endpoint on the address it had. Start-up, reload and failover all use this one, so
they cannot disagree about what a name means.

RFC 3263 §4 decides what is asked: an IP literal is its own address; a name with an explicit
port gets A/AAAA only; otherwise NAPTR picks the SRV name for our transport (``SIP+D2U``,
``SIP+D2T``, ``SIPS+D2T``), else the SRV name is built (``_sip._udp.<name>``), else A/AAAA with
the default port. SRV targets are ordered by priority and, within one priority, by weighted
random choice (RFC 2782). The ordered list is cached for the shortest TTL of the records behind
it; ``failed`` moves a name on to its next target (RFC 3263 §4.3: a timeout, a transport error
or a 503 tries the next one) and, once all have failed or the list has expired, resolves again.

DNS queries go through dnspython's asyncio resolver: to ``[sip] dns_servers`` when configured,
else to the system's servers. Without configured servers, A/AAAA use the system's
``getaddrinfo`` as before (so /etc/hosts still counts), and single-label names such as
``localhost`` are never sent to DNS for NAPTR/SRV (RFC 6761 §6.3). dnspython itself
is loaded (``dns_records``) only when a name needs records.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import random
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from endpoint.config import Config, HostPort
from endpoint.sip.uri import SipURI, hop_transport, parse_uri

if TYPE_CHECKING:
    from endpoint.runtime.dns_records import DnsRecords

log = logging.getLogger("endpoint")

#: Seconds one lookup may take before we go on without it.
LOOKUP_TIMEOUT_S = 3.0
#: How long an answer without a TTL (the system's getaddrinfo) is kept before asking again.
DEFAULT_TTL_S = 60.0
#: At most this many SRV targets per name (a hostile zone cannot grow our lists).
MAX_TARGETS = 16


@dataclass(frozen=True, slots=True)
class Target:
    """One place a configured name leads to; ``port`` None: the URI's own (or default) port."""

    address: str
    port: int | None = None


@dataclass(frozen=True, slots=True)
class Lookup:
    """A configured hop as RFC 3263 sees it: the name, whether its URI fixed the port, and the
    transport the request will use."""

    host: str
    explicit_port: bool
    transport: str


@dataclass
class _Plan:
    """The targets one lookup found, kept until they expire, and which one is in use."""

    targets: list[Target]
    expires: float
    index: int = 0
    #: How the targets were found, for the log ("SRV _sip._tcp.pbx.example.com").
    via: str = "A/AAAA"

    @property
    def current(self) -> Target | None:
        return self.targets[self.index] if self.index < len(self.targets) else None


def configured_lookups(config: Config) -> list[Lookup]:
    """Every account's registrar and outbound proxy, in order, once each (by host)."""
    seen: list[Lookup] = []
    for account in (config.account, config.backup_account):
        if account is None:
            continue
        for text in (account.registrar, account.outbound_proxy):
            uri = parse_uri(text) if text else None
            if not isinstance(uri, SipURI) or any(s.host == uri.bare_host for s in seen):
                continue
            _, transport = hop_transport(uri, config.sip.transport)
            seen.append(Lookup(uri.bare_host, uri.port is not None, transport))
    return seen


def configured_hosts(config: Config) -> list[str]:
    """The host names of the accounts' registrars and outbound proxies, in order, once each."""
    return [lookup.host for lookup in configured_lookups(config)]


def _is_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def srv_order(
    records: list[tuple[int, int, str, int]], rng: random.Random
) -> list[tuple[str, int]]:
    """(priority, weight, target, port) records in the order to try them (RFC 2782): lowest
    priority first; within a priority, repeatedly a random pick weighted by ``weight``, where
    weight-0 records get a small chance of going first."""
    out: list[tuple[str, int]] = []
    for priority in sorted({r[0] for r in records}):
        group = sorted((r for r in records if r[0] == priority), key=lambda r: r[1])
        while group:
            total = sum(r[1] for r in group)
            pick = rng.uniform(0, total) if total else 0.0
            running = 0
            chosen = group[-1]
            for record in group:
                running += record[1]
                if running >= pick:
                    chosen = record
                    break
            group.remove(chosen)
            out.append((chosen[2], chosen[3]))
    return out


@dataclass
class Resolver:
    """Turns a configured name into addresses (RFC 3263), cached for the records' TTL."""

    timeout: float = LOOKUP_TIMEOUT_S
    servers: tuple[HostPort, ...] = ()
    rng: random.Random = field(default_factory=random.SystemRandom)
    clock: Callable[[], float] = time.monotonic
    _plans: dict[str, _Plan] = field(default_factory=dict)
    _dns: DnsRecords | None = None

    def _records(self) -> DnsRecords:
        # Imported here, not at the top: dnspython is loaded only once a name needs records.
        from endpoint.runtime.dns_records import DnsRecords

        if self._dns is None:
            self._dns = DnsRecords(self.servers, self.timeout)
        return self._dns

    def use_servers(self, servers: tuple[HostPort, ...]) -> None:
        """New ``[sip] dns_servers`` (a reload): what was cached stays until it expires."""
        if servers != self.servers:
            self.servers = servers
            self._dns = None

    # -- the RFC 3263 procedure --------------------------------------------------------------

    async def _addresses(self, host: str) -> tuple[list[str], float]:
        """A then AAAA (RFC 3263 §4.2), or the system's getaddrinfo without configured servers."""
        if _is_literal(host):
            return [host], float("inf")
        if not self.servers:
            loop = asyncio.get_running_loop()
            infos = await loop.getaddrinfo(host, None, type=socket.SOCK_DGRAM)
            return list(dict.fromkeys(str(info[4][0]) for info in infos)), DEFAULT_TTL_S
        return await self._records().addresses(host)

    async def _plan(self, lookup: Lookup) -> _Plan:
        host = lookup.host
        now = self.clock()
        if _is_literal(host):
            return _Plan([Target(host)], float("inf"), via="literal")
        use_srv = not lookup.explicit_port and "." in host.rstrip(".")
        use_srv = use_srv and not host.rstrip(".").endswith(".localhost")
        if use_srv:
            records = self._records()
            srv_name, ttl, via = await records.srv_name(host, lookup.transport)
            srvs, srv_ttl = await records.srv(srv_name)
            if srvs:
                targets: list[Target] = []
                for name, port in srv_order(srvs[:MAX_TARGETS], self.rng):
                    addresses, a_ttl = await self._addresses(name)
                    ttl = min(ttl, srv_ttl, a_ttl)
                    targets += [Target(a, port) for a in addresses[:1]]
                if targets:
                    return _Plan(targets, now + ttl, via=f"{via}SRV {srv_name}")
        addresses, a_ttl = await self._addresses(host)
        return _Plan([Target(a) for a in addresses[:1]], now + a_ttl)

    # -- what the runtime uses ---------------------------------------------------------------

    async def target(self, lookup: Lookup) -> Target | None:
        """Where ``lookup`` leads now: the cached plan's current target while it is fresh and
        not exhausted, else a new lookup; on a DNS failure the last target found, or None."""
        plan = self._plans.get(lookup.host)
        if plan is not None and plan.current is not None and self.clock() < plan.expires:
            return plan.current
        try:
            fresh = await asyncio.wait_for(self._plan(lookup), self.timeout * 3)
        except (OSError, TimeoutError) as exc:  # DnsFailedError is an OSError
            reason = str(exc) or f"no answer within {self.timeout:g} s"
            known = plan.targets[0] if plan is not None and plan.targets else None
            if known is not None:
                log.warning(
                    "cannot resolve %s (%s); keeping %s", lookup.host, reason, known.address
                )
            else:
                log.warning("cannot resolve %s (%s); will keep trying by name", lookup.host, reason)
            return known
        if not fresh.targets:
            log.warning("%s has no address; will keep trying by name", lookup.host)
            return plan.current if plan is not None else None
        self._plans[lookup.host] = fresh
        if fresh.via not in ("A/AAAA", "literal"):
            shown = ", ".join(f"{t.address}:{t.port}" for t in fresh.targets)
            log.info("resolved %s by %s: %s", lookup.host, fresh.via, shown)
        return fresh.current

    def failed(self, host: str) -> bool:
        """The current target of ``host`` did not answer: move on to the next one. Returns
        True if there is a next one now; False when all have failed (the next ``target``
        call resolves the name again)."""
        plan = self._plans.get(host)
        if plan is None or len(plan.targets) < 2:
            return False
        plan.index += 1
        if plan.current is None:
            plan.index = 0
            plan.expires = 0.0  # every target failed: ask DNS again before trying them anew
            return False
        return True

    async def resolve(self, host: str) -> str | None:
        """The address of ``host`` (an IP literal is its own); None if it cannot be found and
        was never found before."""
        found = await self.target(Lookup(host, True, "udp"))
        return found.address if found is not None else None

    async def resolve_config(self, config: Config) -> dict[str, str]:
        """name -> address for every configured host that resolves (the UA's ``resolved``)."""
        self.use_servers(config.sip.dns_servers)
        return {name: address for name, (address, _) in (await self.hops(config)).items()}

    async def hops(self, config: Config) -> dict[str, tuple[str, int | None]]:
        """name -> (address, SRV port or None) for every configured host that resolves."""
        self.use_servers(config.sip.dns_servers)
        found: dict[str, tuple[str, int | None]] = {}
        for lookup in configured_lookups(config):
            target = await self.target(lookup)
            if target is not None:
                found[lookup.host] = (target.address, target.port)
        return found
