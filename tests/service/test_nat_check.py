"""``doctor``'s NAT line: a private address in SDP/Contact towards a public registrar."""

import pytest

from endpoint.service.findings import Level
from endpoint.service.nat_check import is_private, nat_finding


@pytest.mark.parametrize(
    "address", ["192.168.1.20", "10.0.0.7", "172.16.5.1", "100.64.3.2", "fd00::20", "fe80::1"]
)
def test_private_cgnat_and_ula_addresses_are_private(address: str) -> None:
    assert is_private(address)


@pytest.mark.parametrize("address", ["8.8.8.8", "2a00:1450:4001::1", "127.0.0.1", "pbx.example"])
def test_public_loopback_and_names_are_not(address: str) -> None:
    assert not is_private(address)


def test_private_towards_public_registrar_warns_with_the_fix() -> None:
    finding = nat_finding("192.168.1.20", "8.8.8.8", stun=False)
    assert finding.level is Level.WARN and "192.168.1.20" in finding.detail
    assert "[nat] stun_server" in finding.fix and "[sip] advertise" in finding.fix
    assert "fix:" in str(finding)


def test_same_network_or_stun_is_fine() -> None:
    assert nat_finding("192.168.1.20", "192.168.1.1", stun=False).level is Level.OK
    assert nat_finding("8.8.4.4", "8.8.8.8", stun=False).level is Level.OK
    assert nat_finding("192.168.1.20", "8.8.8.8", stun=True).level is Level.OK
