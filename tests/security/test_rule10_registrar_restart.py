"""Issue 13 rule 10: a restarted registrar is noticed.

Registered over TCP at a real Kamailio (expires = 600: the next refresh is ~8 minutes away),
the Kamailio is restarted with an empty location table. Its restart closes our flow; the door
must register again within seconds, not at the next refresh.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.interop.peers import Kamailio, free_port
from tests.security.attacker import door_config, running_door

pytestmark = pytest.mark.interop


def test_a_registrar_restart_is_followed_by_a_new_registration(tmp_path: Path) -> None:
    kamailio = Kamailio(tmp_path / "kamailio").start()
    try:
        port = free_port(both=True)
        config = tmp_path / "door.toml"
        door_config(
            config,
            port,
            registrar=f"sip:127.0.0.1:{kamailio.port};transport=tcp",
            sip='transport = "tcp"\n',
            account="expires = 600\n",
        )
        with running_door(tmp_path, port, config) as door:
            door.wait_until(lambda: bool(kamailio.registrations("door")), timeout=20)
            kamailio.stop()
            kamailio = Kamailio(tmp_path / "kamailio", port=kamailio.port).start()
            assert kamailio.registrations("door") == []  # the binding is gone
            start = time.monotonic()
            door.wait_until(lambda: bool(kamailio.registrations("door")), timeout=20)
            print(f"re-registered {time.monotonic() - start:.1f} s after the restart")
            assert "registration-flow-lost" in door.log
    finally:
        kamailio.stop()
