"""RFC 3263 against a real DNS server: dnsmasq on 127.0.0.1 serves NAPTR and SRV records for
``pbx.test`` pointing at two Kamailio instances; the door registers at the first (priority 10),
the first is stopped mid-test, and the door re-registers through the second (priority 20)."""

import time
from pathlib import Path

import pytest

from endpoint.config import HostPort
from endpoint.runtime.resolver import Lookup, Resolver, Target
from tests.interop.door import Door
from tests.interop.peers import Dnsmasq, Kamailio

pytestmark = pytest.mark.interop


def wait_for(check: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return True
        time.sleep(0.1)
    return False


@pytest.mark.parametrize("naptr", [True, False], ids=["naptr", "srv-only"])
def test_srv_failover_to_the_second_registrar(tmp_path: Path, naptr: bool) -> None:
    first = Kamailio(tmp_path / "first").start()
    second = Kamailio(tmp_path / "second").start()
    dns = Dnsmasq(
        tmp_path / "dns",
        srv=(
            ("_sip._tcp.pbx.test", "kam1.pbx.test", first.port, 10, 0),
            ("_sip._tcp.pbx.test", "kam2.pbx.test", second.port, 20, 0),
        ),
        hosts=(("kam1.pbx.test", "127.0.0.1"), ("kam2.pbx.test", "127.0.0.1")),
        naptr=(("pbx.test", 10, 10, "s", "SIP+D2T", "_sip._tcp.pbx.test"),) if naptr else (),
    ).start()
    door = None
    try:
        door = Door(
            tmp_path / "door",
            sip=f'transport = "tcp"\ndns_servers = ["127.0.0.1:{dns.port}"]',
            extra=(
                '[account]\nregistrar = "sip:pbx.test"\nuser = "door"\npassword = "secret"\n'
                "expires = 60\n"
            ),
        )
        assert wait_for(lambda: first.registrations("door"), 10), "never registered at first"
        assert not second.registrations("door")
        first.stop()
        assert wait_for(lambda: second.registrations("door"), 15), "no failover to second"
    finally:
        log = door.stop() if door is not None else ""
        second.stop()
        first.stop()
        dns.stop()
    queries = dns.log.read_text()
    if naptr:
        assert "query[NAPTR] pbx.test" in queries, queries
    assert "query[SRV] _sip._tcp.pbx.test" in queries, queries
    assert "registered account=account aor=sip:door@pbx.test" in log, log
    assert f"trying 127.0.0.1:{second.port}" in log, log


def lookup_count(dns: Dnsmasq, kind: str, name: str) -> int:
    return dns.log.read_text().count(f"query[{kind}] {name} ")


async def test_resolver_orders_caches_by_ttl_and_fails_over(tmp_path: Path) -> None:
    """The resolver itself against dnsmasq: priority order, the cache held for the TTL (no
    second query), every target tried once, then a fresh lookup; an explicit port skips SRV."""
    dns = Dnsmasq(
        tmp_path / "dns",
        srv=(
            ("_sip._udp.pbx.test", "b.pbx.test", 5080, 20, 0),
            ("_sip._udp.pbx.test", "a.pbx.test", 5070, 10, 0),
        ),
        hosts=(("a.pbx.test", "127.0.0.2"), ("b.pbx.test", "::1"), ("pbx.test", "127.0.0.9")),
        ttl=600,
    ).start()
    try:
        clock = [100.0]
        resolver = Resolver(servers=(HostPort("127.0.0.1", dns.port),), clock=lambda: clock[0])
        wanted = Lookup("pbx.test", explicit_port=False, transport="udp")
        assert await resolver.target(wanted) == Target("127.0.0.2", 5070)
        assert await resolver.target(wanted) == Target("127.0.0.2", 5070)
        assert lookup_count(dns, "SRV", "_sip._udp.pbx.test") == 1  # cached
        assert resolver.failed("pbx.test")
        assert await resolver.target(wanted) == Target("::1", 5080)
        assert not resolver.failed("pbx.test")  # both failed: start again from DNS
        assert await resolver.target(wanted) == Target("127.0.0.2", 5070)
        assert lookup_count(dns, "SRV", "_sip._udp.pbx.test") == 2
        clock[0] += 601  # past the TTL
        await resolver.target(wanted)
        assert lookup_count(dns, "SRV", "_sip._udp.pbx.test") == 3
        fixed = Lookup("pbx.test", explicit_port=True, transport="udp")
        assert await Resolver(servers=resolver.servers).target(fixed) == Target("127.0.0.9")
        assert await resolver.target(Lookup("nothing.test", False, "udp")) is None
    finally:
        dns.stop()
