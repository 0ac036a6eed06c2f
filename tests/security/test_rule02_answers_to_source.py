"""Issue 13 rule 2: answers go back where the request came from.

A Via ``maddr`` (or a sent-by host) cannot send our answers to a third party; and in account
mode a UDP packet that merely carries the registrar's source address (127.0.0.1 here, which a
test may bind like any spoofer on the LAN) is not auto-answered: a call the registrar routes
carries the ``line=`` token of our registered Contact.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.interop.peers import Kamailio, free_port
from tests.security.attacker import (
    Door,
    UdpAttacker,
    account_config,
    request,
    running_door,
    sdp_offer,
    status_of,
)


def test_maddr_and_sent_by_cannot_redirect_answers(p2p_door: Door) -> None:
    attacker = UdpAttacker("127.0.0.2", p2p_door.port)
    victim = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    victim.bind(("127.0.0.9", attacker.address[1]))
    victim.settimeout(1.0)
    try:
        # No rport: RFC 3261 would answer maddr (or the sent-by host) at the sent-by port.
        for via_host in ("127.0.0.2;maddr=127.0.0.9", "127.0.0.9"):
            data = request("OPTIONS", p2p_door.port, source=attacker.address).replace(
                f"UDP 127.0.0.2:{attacker.address[1]};rport;".encode(),
                f"UDP {via_host.split(';')[0]}:{attacker.address[1]}".encode()
                + (b";maddr=127.0.0.9;" if "maddr" in via_host else b";"),
            )
            answer = attacker.final(data)
            assert answer is not None and status_of(answer) == 200, via_host
            with pytest.raises(TimeoutError):
                victim.recv(65535)
    finally:
        victim.close()
        attacker.close()


@pytest.mark.interop
def test_a_spoofed_registrar_invite_is_not_answered(tmp_path: Path, kamailio: Kamailio) -> None:
    port = free_port(both=True)
    config = tmp_path / "door.toml"
    account_config(config, port, kamailio.port)
    with running_door(tmp_path, port, config) as door:
        door.notify.wait_for(lambda d: d.get("STATUS", "").startswith("registered"), timeout=20)
        spoofer = UdpAttacker("127.0.0.1", port)  # the registrar's address, over UDP
        try:
            invite = request(
                "INVITE",
                port,
                source=spoofer.address,
                headers=("Content-Type: application/sdp",),
                body=sdp_offer("127.0.0.2", 40000),
            )
            spoofer.send(invite)
            assert spoofer.drain(1.5) == []
            assert door.status()["calls"] == []
            options = spoofer.final(request("OPTIONS", port, source=spoofer.address))
            assert options is not None and status_of(options) == 200  # harmless: answered
        finally:
            spoofer.close()
