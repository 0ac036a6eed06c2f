"""``doctor`` finds the registrar as the runtime does (RFC 3263): dnsmasq serves only an SRV
record for ``pbx.test`` pointing at Kamailio's port, so a plain A lookup of the name (port 5060)
would find no registrar there."""

import subprocess
from pathlib import Path

import pytest

from tests.interop.door import CLI
from tests.interop.peers import Dnsmasq, Kamailio, free_port

pytestmark = pytest.mark.interop


def test_doctor_reaches_the_registrar_by_srv(tmp_path: Path, kamailio: Kamailio) -> None:
    dns = Dnsmasq(
        tmp_path / "dns",
        srv=(("_sip._udp.pbx.test", "kam.pbx.test", kamailio.port, 10, 0),),
        hosts=(("kam.pbx.test", "127.0.0.1"),),
    ).start()
    config = tmp_path / "door.toml"
    config.write_text(
        f'[sip]\nlisten = "127.0.0.1:{free_port(both=True)}"\n'
        f'dns_servers = ["127.0.0.1:{dns.port}"]\n'
        '[account]\nregistrar = "sip:pbx.test"\nuser = "door"\npassword = "secret"\n'
        '[audio]\nbackend = "null"\n'
    )
    try:
        result = subprocess.run(
            [*CLI, "doctor", "--config", str(config), "--timeout", "3"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        dns.stop()
    out = result.stdout
    assert "OK   registrar [account]: door@pbx.test: credentials accepted" in out, out
    assert "query[SRV] _sip._udp.pbx.test" in dns.log.read_text()
    assert "OK   nat: SDP and Contact carry 127.0.0.1 (registrar 127.0.0.1)" in out, out
