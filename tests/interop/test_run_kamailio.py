"""``sip-endpoint run`` as a real process, registering with a real Kamailio."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.interop.peers import Kamailio, free_port, sip_options_ping

pytestmark = pytest.mark.interop
CLI = [sys.executable, "-m", "endpoint"]


def write_config(
    tmp: Path, kamailio: Kamailio, *, password: str = "secret", transport: str = "udp"
) -> tuple[Path, int]:
    port = free_port(both=True)
    config = tmp / "door.toml"
    config.write_text(
        f'[sip]\nlisten = "127.0.0.1:{port}"\ntransport = "{transport}"\n'
        f'[account]\nregistrar = "sip:127.0.0.1:{kamailio.port};transport={transport}"\n'
        f'user = "door"\npassword = "{password}"\nexpires = 60\n'
        f'[control]\nsocket = "{tmp / "ctl.sock"}"\n[audio]\nbackend = "null"\n'
    )
    return config, port


def wait_for(check, timeout: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


def ctl(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, "ctl", "--socket", str(tmp / "ctl.sock"), *args],
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_registers_answers_options_and_unregisters_on_sigterm(
    kamailio: Kamailio, tmp_path: Path, transport: str
) -> None:
    config, port = write_config(tmp_path, kamailio, transport=transport)
    proc = subprocess.Popen(
        [*CLI, "run", "--config", str(config)], stderr=subprocess.PIPE, text=True
    )
    try:
        assert wait_for(lambda: kamailio.registrations("door")), "never registered"
        contact = f"sip:door@127.0.0.1:{port}" + (";transport=tcp" if transport == "tcp" else "")
        assert kamailio.registrations("door") == [contact]
        status = json.loads(ctl(tmp_path, "status", "--json").stdout)
        (registration,) = status["registrations"]
        assert registration["state"] == "registered" and registration["last_response"] == "200 OK"
        assert sip_options_ping(port, timeout=5).startswith("SIP/2.0 200 OK")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        assert kamailio.registrations("door") == []  # Expires: 0 reached the registrar
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    log = read_log(proc)
    assert "registered account=account" in log and "unregistered" in log
    assert "secret" not in log


def test_wrong_password_is_reported_with_the_fix_and_keeps_running(
    kamailio: Kamailio, tmp_path: Path
) -> None:
    config, _ = write_config(tmp_path, kamailio, password="wrong-pw-123")
    proc = subprocess.Popen(
        [*CLI, "run", "--config", str(config)], stderr=subprocess.PIPE, text=True
    )
    try:
        assert wait_for(lambda: '"waiting to retry"' in ctl(tmp_path, "status", "--json").stdout)
        assert proc.poll() is None  # still serving
        status = json.loads(ctl(tmp_path, "status", "--json").stdout)
        assert status["registrations"][0]["state"] == "waiting to retry"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    log = read_log(proc)
    assert "registration-failed" in log and "fix=check [account]" in log
    assert "wrong-pw-123" not in log and kamailio.registrations("door") == []


def read_log(proc: subprocess.Popen[str]) -> str:
    assert proc.stderr is not None
    with proc.stderr:
        return proc.stderr.read()


def test_bad_config_exits_with_a_message(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('[sip]\nlisten = "nowhere:99999"\n')
    result = subprocess.run(
        [*CLI, "run", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    assert result.returncode == 2
    assert '[sip] listen = "nowhere:99999"' in result.stderr and "Traceback" not in result.stderr
