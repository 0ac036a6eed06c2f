"""The DNS side of RFC 3263 through dnspython: NAPTR, SRV, A and AAAA queries.

Kept apart from ``resolver`` so that dnspython (about 0.1 s and several MB to import) is loaded
only when a configured name needs DNS records: IP literals, and names with an explicit port on
the system's resolver, never get here (issue 19: a lean start). Failures leave this module as
``DnsFailedError`` (an ``OSError``), so the caller needs no dnspython names to catch them.
"""

from __future__ import annotations

import dns.asyncresolver
import dns.exception
import dns.nameserver
import dns.resolver
from dns.rdtypes.IN.NAPTR import NAPTR
from dns.rdtypes.IN.SRV import SRV

from endpoint.config import HostPort

#: How long an answer without records (NXDOMAIN, no data) is remembered.
NEGATIVE_TTL_S = 60.0
_NAPTR_SERVICE = {"udp": "SIP+D2U", "tcp": "SIP+D2T", "tls": "SIPS+D2T"}
_SRV_PREFIX = {"udp": "_sip._udp", "tcp": "_sip._tcp", "tls": "_sips._tcp"}


class DnsFailedError(OSError):
    """No usable answer: servers refusing, timing out, or a malformed reply."""


class DnsRecords:
    """One dnspython resolver for ``servers`` (the system's when empty)."""

    def __init__(self, servers: tuple[HostPort, ...], timeout: float) -> None:
        if servers:
            resolver = dns.asyncresolver.Resolver(configure=False)
            resolver.nameservers = [
                dns.nameserver.Do53Nameserver(s.host, port=s.port) for s in servers
            ]
        else:
            resolver = dns.asyncresolver.Resolver()
        resolver.lifetime = timeout
        resolver.timeout = min(1.0, timeout)
        self._resolver = resolver

    async def _query(self, name: str, rdtype: str) -> tuple[list[object], float]:
        """Records of ``rdtype`` for ``name`` and their TTL; none for NXDOMAIN or no data."""
        try:
            answer = await self._resolver.resolve(
                name, rdtype, raise_on_no_answer=False, search=False
            )
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return [], NEGATIVE_TTL_S
        if answer.rrset is None:
            return [], NEGATIVE_TTL_S
        return list(answer.rrset), float(answer.rrset.ttl)

    async def addresses(self, host: str) -> tuple[list[str], float]:
        """A then AAAA (RFC 3263 §4.2): one family failing (a server that refuses AAAA)
        leaves the other's answer."""
        found: list[str] = []
        ttl = NEGATIVE_TTL_S
        error: dns.exception.DNSException | None = None
        for rdtype in ("A", "AAAA"):
            try:
                records, rd_ttl = await self._query(host, rdtype)
            except dns.resolver.NoNameservers as exc:
                error = exc
                continue
            except dns.exception.DNSException as exc:
                raise DnsFailedError(str(exc)) from exc
            found += [str(r) for r in records]
            ttl = min(ttl, rd_ttl)
        if not found and error is not None:
            raise DnsFailedError(str(error)) from error
        return found, ttl

    async def srv_name(self, host: str, transport: str) -> tuple[str, float, str]:
        """The SRV name to ask (§4.1): from a NAPTR record for our transport, else built;
        with the TTL and how it was found ("NAPTR+" or "")."""
        try:
            records, ttl = await self._query(host, "NAPTR")
        except dns.resolver.NoNameservers:
            records, ttl = [], NEGATIVE_TTL_S  # a server refusing NAPTR: SRV is asked directly
        except dns.exception.DNSException as exc:
            raise DnsFailedError(str(exc)) from exc
        wanted = _NAPTR_SERVICE[transport].lower()
        naptrs = sorted(
            (r for r in records if isinstance(r, NAPTR)), key=lambda r: (r.order, r.preference)
        )
        for r in naptrs:
            if r.flags.decode("ascii", "replace").lower() == "s" and (
                r.service.decode("ascii", "replace").lower() == wanted
            ):
                return str(r.replacement).rstrip("."), ttl, "NAPTR+"
        return f"{_SRV_PREFIX[transport]}.{host.rstrip('.')}", NEGATIVE_TTL_S, ""

    async def srv(self, name: str) -> tuple[list[tuple[int, int, str, int]], float]:
        """(priority, weight, target, port) of ``name``'s SRV records, and their TTL; none
        when the only record is the "." that says the service is not offered (RFC 2782)."""
        try:
            records, ttl = await self._query(name, "SRV")
        except dns.exception.DNSException as exc:
            raise DnsFailedError(str(exc)) from exc
        srvs = [r for r in records if isinstance(r, SRV)]
        if len(srvs) == 1 and str(srvs[0].target) == ".":
            return [], ttl
        return [(r.priority, r.weight, str(r.target).rstrip("."), r.port) for r in srvs], ttl
