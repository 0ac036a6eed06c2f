"""``sip-endpoint run`` as a real process, registering with a real Kamailio."""

import contextlib
import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.interop.door import ctl, wait_registered
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


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_registers_answers_options_and_unregisters_on_sigterm(
    kamailio: Kamailio, tmp_path: Path, transport: str
) -> None:
    config, port = write_config(tmp_path, kamailio, transport=transport)
    with running(config) as proc:
        assert wait_registered(kamailio), "never registered"
        contact = f"sip:door@127.0.0.1:{port}" + (";transport=tcp" if transport == "tcp" else "")
        (registered,) = kamailio.registrations("door")
        # Issue 13 rule 2: the Contact carries our unguessable line= token as its last param.
        assert registered.startswith(contact + ";line=") and len(registered) == len(contact) + 22
        status = json.loads(ctl(tmp_path / "ctl.sock", "status", "--json").stdout)
        (registration,) = status["registrations"]
        assert registration["state"] == "registered" and registration["last_response"] == "200 OK"
        assert sip_options_ping(port, timeout=5).startswith("SIP/2.0 200 OK")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        assert kamailio.registrations("door") == []  # Expires: 0 reached the registrar
    log = read_log(proc)
    assert "registered account=account" in log and "unregistered" in log
    assert "secret" not in log


def test_wrong_password_is_reported_with_the_fix_and_keeps_running(
    kamailio: Kamailio, tmp_path: Path
) -> None:
    config, _ = write_config(tmp_path, kamailio, password="wrong-pw-123")
    with running(config) as proc:
        assert wait_for(
            lambda: '"waiting to retry"' in ctl(tmp_path / "ctl.sock", "status", "--json").stdout
        )
        assert proc.poll() is None  # still serving
        status = json.loads(ctl(tmp_path / "ctl.sock", "status", "--json").stdout)
        assert status["registrations"][0]["state"] == "waiting to retry"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    log = read_log(proc)
    assert "registration-failed" in log and "fix=check [account]" in log
    assert "wrong-pw-123" not in log and kamailio.registrations("door") == []


@contextlib.contextmanager
def running(config: Path) -> Iterator[subprocess.Popen[str]]:
    """``sip-endpoint run --config config``, its log on a pipe for ``read_log``; stopped with
    SIGTERM (killed if that hangs) unless the test stopped it."""
    proc = subprocess.Popen(
        [*CLI, "run", "--config", str(config)], stderr=subprocess.PIPE, text=True
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


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


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_registrar_down_at_start_then_registered_once_it_is_up(
    tmp_path: Path, transport: str
) -> None:
    """A box that boots before its PBX: over UDP the REGISTER retransmissions reach Kamailio once
    it listens; over TCP the refused connection fails at once and the retry (retry_interval,
    halved to doubled by the jitter and backoff) registers."""
    kamailio = Kamailio(tmp_path / "kamailio")  # a port is picked, nothing listens on it yet
    config, _ = write_config(tmp_path, kamailio, transport=transport)
    config.write_text(
        config.read_text().replace("expires = 60\n", "expires = 60\nretry_interval = 1\n")
    )
    with running(config) as proc:
        try:
            time.sleep(2.5)
            status = json.loads(ctl(tmp_path / "ctl.sock", "status", "--json").stdout)
            assert status["registrations"][0]["state"] in ("registering", "waiting to retry")
            kamailio.start()
            assert wait_registered(kamailio, timeout=15), "never registered"
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=10) == 0
        finally:
            kamailio.stop()
    log = read_log(proc)
    assert "registered account=account" in log
    if transport == "tcp":
        assert "registration-failed" in log and "reason=transport error" in log


def test_register_now_and_the_out_of_service_switch(kamailio: Kamailio, tmp_path: Path) -> None:
    """``ctl register`` re-registers at once (a fresh CSeq at Kamailio); ``--off`` removes the
    binding (an intercom switched out of service), ``--on`` brings it back."""
    config, port = write_config(tmp_path, kamailio)
    with running(config) as proc:
        assert wait_registered(kamailio), "never registered"
        (first,) = kamailio.binding_cseqs("door")
        assert ctl(tmp_path / "ctl.sock", "register").returncode == 0
        assert wait_for(lambda: kamailio.binding_cseqs("door")[0] > first), "no re-REGISTER"
        assert ctl(tmp_path / "ctl.sock", "register", "--off").returncode == 0
        assert wait_for(lambda: kamailio.registrations("door") == []), "still registered"
        assert ctl(tmp_path / "ctl.sock", "register", "--on").returncode == 0
        assert wait_registered(kamailio), "not back in service"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    log = read_log(proc)
    assert "out-of-service" in log and "in-service" in log
    assert f"sip:door@127.0.0.1:{port}" in log


def options_from(source: str, port: int, timeout: float = 1.0) -> bytes | None:
    """One OPTIONS from ``source`` (another loopback address: another host for us)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((source, 0))
        lport = s.getsockname()[1]
        s.sendto(
            (
                f"OPTIONS sip:door@127.0.0.1:{port} SIP/2.0\r\n"
                f"Via: SIP/2.0/UDP {source}:{lport};rport;branch=z9hG4bKscan{lport}\r\n"
                "Max-Forwards: 70\r\nFrom: <sip:100@scanner>;tag=1\r\nTo: <sip:door@127.0.0.1>\r\n"
                f"Call-ID: scan-{lport}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
            ).encode(),
            ("127.0.0.1", port),
        )
        s.settimeout(timeout)
        try:
            return s.recv(65535)
        except TimeoutError:
            return None


def test_requests_from_outside_the_pbx_get_no_answer(kamailio: Kamailio, tmp_path: Path) -> None:
    """Registered to Kamailio on 127.0.0.1, the door ignores a scanner on 127.0.0.2."""
    config, port = write_config(tmp_path, kamailio)
    with running(config) as proc:
        assert wait_registered(kamailio), "never registered"
        assert options_from("127.0.0.2", port) is None
        reply = options_from("127.0.0.1", port)
        assert reply is not None and reply.startswith(b"SIP/2.0 200")
        status = json.loads(ctl(tmp_path / "ctl.sock", "status", "--json").stdout)
        assert status["untrusted_dropped"] == 1
    log = read_log(proc)
    assert "WARNING" in log and "request-dropped method=OPTIONS source=127.0.0.2" in log
    assert "add its address to [sip] accept_from" in log
