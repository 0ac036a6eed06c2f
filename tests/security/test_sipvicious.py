"""SIPVicious (Debian ``sipvicious``: svmap, svwar, svcrack) against the running endpoint.

In account mode, scanned from 127.0.0.2, the door must stay invisible: svmap finds no device,
svwar no extension, svcrack no password, and the door keeps no state for any of it. In
peer-to-peer mode (anyone may call) the door must survive the scans and answer at once.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.interop.peers import Kamailio, free_port
from tests.security.attacker import (
    Door,
    UdpAttacker,
    account_config,
    request,
    running_door,
    status_of,
)

pytestmark = [
    pytest.mark.interop,
    pytest.mark.sipvicious,
]
SCANNER = "127.0.0.2"


def scan(tool: str, port: int, *args: str) -> str:
    """Run one SIPVicious tool from 127.0.0.2 against 127.0.0.1 only (never -R: it would
    report back over the internet)."""
    out = subprocess.run(
        [tool, "-b", SCANNER, "-x", SCANNER, "-p", str(port), *args, "127.0.0.1"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return out.stdout + out.stderr


def scans(port: int) -> dict[str, str]:
    return {
        "svmap": scan("svmap", port),
        "svwar": scan("svwar", port, "-e", "100-150", "-m", "INVITE"),
        "svcrack": scan("svcrack", port, "-u", "door", "-r", "1000-1200"),
    }


def answers_at_once(door: Door, host: str) -> None:
    probe = UdpAttacker(host, door.port)
    try:
        answer = probe.final(request("OPTIONS", door.port, source=probe.address), timeout=1.0)
        assert answer is not None and status_of(answer) == 200
    finally:
        probe.close()


def test_in_account_mode_the_door_is_invisible_to_sipvicious(
    tmp_path: Path, kamailio: Kamailio
) -> None:
    port = free_port(both=True)
    config = tmp_path / "door.toml"
    account_config(config, port, kamailio.port)
    with running_door(tmp_path, port, config) as door:
        door.notify.wait_for(lambda d: d.get("STATUS", "").startswith("registered"), timeout=20)
        found = scans(port)
        assert "sip-endpoint" not in found["svmap"] and "127.0.0.1:" not in found["svmap"]
        assert "found nothing" in found["svwar"], found["svwar"]
        assert "found nothing" in found["svcrack"], found["svcrack"]
        status = door.status()
        untrusted = status["untrusted_dropped"]
        assert isinstance(untrusted, int) and untrusted >= 3  # each tool reached it, unanswered
        assert status["transactions"] <= 2 and status["calls"] == []
        answers_at_once(door, "127.0.0.1")  # the registrar's side
        assert "Traceback" not in door.log
        assert sum(SCANNER in line for line in door.log.splitlines()) <= 3


def test_in_peer_to_peer_mode_the_door_survives_sipvicious(p2p_door: Door) -> None:
    found = scans(p2p_door.port)
    assert "sip-endpoint" in found["svmap"]  # anyone may call it: it is found
    assert p2p_door.alive()
    answers_at_once(p2p_door, "127.0.0.3")
    assert p2p_door.status()["calls"] == []
    assert "Traceback" not in p2p_door.log
