"""The one resolver of configured names: literals as they are, names through the system's
resolver (here only ``localhost``, from /etc/hosts: tests send nothing off the machine)."""

from endpoint.config import parse_config
from endpoint.runtime.resolver import Resolver, configured_hosts

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
