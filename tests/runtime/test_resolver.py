"""The one resolver of configured names: literals as they are, names through the system's
resolver (here only ``localhost``, from /etc/hosts: tests send nothing off the machine)."""

import random

from endpoint.config import parse_config
from endpoint.runtime.resolver import (
    Lookup,
    Resolver,
    configured_hosts,
    configured_lookups,
    srv_order,
)

CONFIG = parse_config(
    """
[account]
registrar = "sip:localhost:5070"
outbound_proxy = "sip:127.0.0.2;lr"
user = "door"
password = "x"
[backup_account]
registrar = "sip:localhost"
user = "door"
password = "y"
"""
)


def test_configured_hosts_are_listed_once_in_order() -> None:
    assert configured_hosts(CONFIG) == ["localhost", "127.0.0.2"]
    assert configured_hosts(parse_config("")) == []


async def test_names_resolve_and_literals_stay_themselves() -> None:
    resolver = Resolver(timeout=2.0)
    assert await resolver.resolve("192.0.2.7") == "192.0.2.7"
    assert await resolver.resolve("::1") == "::1"
    found = await resolver.resolve_config(CONFIG)
    assert found["127.0.0.2"] == "127.0.0.2"
    assert found["localhost"] in ("127.0.0.1", "::1")


def test_srv_order_priority_first_then_weighted_choice() -> None:
    records = [(20, 0, "backup", 5060), (10, 90, "big", 5060), (10, 10, "small", 5061)]
    firsts: dict[str, int] = {}
    for seed in range(400):
        order = srv_order(records, random.Random(seed))
        assert order[-1] == ("backup", 5060) and len(order) == 3
        firsts[order[0][0]] = firsts.get(order[0][0], 0) + 1
    # RFC 2782: the weight-90 record goes first about nine times in ten.
    assert 300 < firsts["big"] < 395 and firsts["small"] == 400 - firsts["big"]


def test_lookups_know_fixed_ports_and_transports() -> None:
    config = parse_config(
        """
[sip]
transport = "tcp"
[account]
registrar = "sip:pbx.example.com"
outbound_proxy = "sip:proxy.example.com:5070;transport=tcp;lr"
user = "door"
password = "x"
"""
    )
    assert configured_lookups(config) == [
        Lookup("pbx.example.com", False, "tcp"),
        Lookup("proxy.example.com", True, "tcp"),
    ]


def test_dns_servers_key_takes_ip_literals_with_ports() -> None:
    config = parse_config('[sip]\ndns_servers = ["127.0.0.53:5353", "::1"]\n')
    assert [str(s) for s in config.sip.dns_servers] == ["127.0.0.53:5353", "[::1]:53"]
