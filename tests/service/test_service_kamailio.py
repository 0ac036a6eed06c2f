"""The service against real peers: SIGTERM in a call (baresip sees the BYE, Kamailio the
un-register, exit 0) and SIGHUP with a changed account (the old binding goes, the new comes)."""

import json
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.interop.door import ctl
from tests.interop.peers import Baresip, Kamailio, free_port
from tests.service.harness import NotifySocket, Service

pytestmark = pytest.mark.interop


def door_config(path: Path, kamailio: Kamailio, port: int, user: str, password: str) -> None:
    path.write_text(
        f'[sip]\nlisten = "127.0.0.1:{port}"\n'
        f'[account]\nregistrar = "sip:127.0.0.1:{kamailio.port}"\nuser = "{user}"\n'
        f'password = "{password}"\nexpires = 60\n'
        f'[audio]\nbackend = "tone"\n[control]\nsocket = "{path.parent / "ctl.sock"}"\n'
    )


def wait_for(check: Callable[[], object], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition never became true"
        time.sleep(0.05)


def test_sigterm_in_a_call_sends_bye_unregisters_and_exits_0(
    tmp_path: Path, kamailio: Kamailio
) -> None:
    flat = Baresip(tmp_path / "flat", user="flat", registrar=f"127.0.0.1:{kamailio.port}").start()
    notify = NotifySocket(tmp_path / "notify")
    config = tmp_path / "door.toml"
    door_config(config, kamailio, free_port(both=True), "door", "secret")
    service = Service(config, notify)
    try:
        notify.wait_for(lambda d: d.get("READY") == "1")
        status = notify.wait_for(lambda d: d.get("STATUS", "").startswith("registered"))
        assert status["STATUS"] == "registered door@127.0.0.1; idle"
        assert kamailio.registrations("door")
        answer = ctl(tmp_path / "ctl.sock", "call", "flat")
        assert answer.returncode == 0, answer.stderr
        flat.ctrl.wait_event("CALL_ESTABLISHED", 10)
        in_call = notify.wait_for(lambda d: "in call with" in d.get("STATUS", ""))
        assert in_call["STATUS"].startswith("registered door@127.0.0.1; in call with sip:flat@")
        mark = len(notify.received)
        service.proc.send_signal(signal.SIGTERM)
        closed = flat.ctrl.wait_event("CALL_CLOSED", 10)  # our BYE reached baresip
        assert service.proc.wait(timeout=10) == 0  # within the unit's TimeoutStopSec=10
        notify.wait_for(lambda d: d.get("STOPPING") == "1", since=mark)
    finally:
        service.stop()
        flat.stop()
        notify.close()
    # libre (baresip's SIP stack) closes a session whose peer sent BYE with ECONNRESET.
    assert closed.get("param") == "Connection reset by peer"
    assert kamailio.registrations("door") == []  # Expires: 0 reached the registrar
    log = service.log
    assert "call-ended" in log and "reason=hung up locally" in log
    assert "unregistered" in log and "secret" not in log
    for line in log.splitlines():
        if line.split()[2:3] == ["endpoint:"] and " call-" in line:
            assert "call_id=" in line, line  # every call line names its call


def test_sighup_with_a_changed_account_moves_the_binding(
    tmp_path: Path, kamailio: Kamailio
) -> None:
    notify = NotifySocket(tmp_path / "notify")
    config = tmp_path / "door.toml"
    port = free_port(both=True)
    door_config(config, kamailio, port, "door", "secret")
    service = Service(config, notify)
    try:
        wait_for(lambda: kamailio.registrations("door"))
        door_config(config, kamailio, port, "alice", "alicepw")
        mark = len(notify.received)
        service.proc.send_signal(signal.SIGHUP)
        notify.wait_for(lambda d: d.get("READY") == "1", since=mark)
        wait_for(lambda: kamailio.registrations("alice"))
        wait_for(lambda: not kamailio.registrations("door"))
        notify.wait_for(lambda d: d.get("STATUS") == "registered alice@127.0.0.1; idle", since=mark)
        status = json.loads(ctl(tmp_path / "ctl.sock", "status", "--json").stdout)
        assert [r["aor"] for r in status["registrations"]] == ["sip:alice@127.0.0.1"]
        service.proc.send_signal(signal.SIGTERM)
        assert service.proc.wait(timeout=10) == 0
    finally:
        service.stop()
        notify.close()
    assert kamailio.registrations("alice") == []
    log = service.log
    assert "reload: re-registering [account] user" in log
    assert "alicepw" not in log and "secret" not in log
