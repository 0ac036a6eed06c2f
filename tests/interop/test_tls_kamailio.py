"""SIP over TLS against a real Kamailio with its tls module: certificates made here, register
with digest, a call in over the registration's own TLS connection (no listening port of ours is
used), a call out, and the three certificate mistakes an installer makes, each refused with one
clear log line while the process keeps serving."""

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.certs import Authority
from tests.interop.door import (
    Door,
    account,
    read_wav,
    talk_then_hang_up,
    tone_frames,
    wait_registered,
)
from tests.interop.peers import Baresip, Kamailio, free_port

CLI = [sys.executable, "-m", "endpoint"]

pytestmark = pytest.mark.interop


def tls_door(tmp: Path, proxy: Kamailio, ca_file: Path, host: str = "localhost") -> Door:
    registrar = f"sip:{host}:{proxy.tls_port};transport=tls"
    extra = account(registrar, more="retry_interval = 1\n") + f'[tls]\nca_file = "{ca_file}"\n'
    return Door(tmp, sip='transport = "tls"', extra=extra)


def test_register_call_in_and_call_out_over_tls(tmp_path: Path) -> None:
    ca = Authority(tmp_path / "pki")
    server = ca.issue("kamailio", ("localhost",))
    proxy = Kamailio(
        tmp_path / "proxy", defines=("DEBUG_LOG",), tls=(server.cert, server.key)
    ).start()
    flat = Baresip(tmp_path / "flat", user="flat", registrar=f"127.0.0.1:{proxy.port}").start()
    door = tls_door(tmp_path / "door", proxy, ca.files.cert)
    try:
        (binding,) = wait_registered(proxy)
        assert re.fullmatch(
            rf"sip:door@127\.0\.0\.1:{door.port};transport=tls;line=[0-9a-f]+", binding
        )
        flat.ctrl.command("dial", f"sip:door@127.0.0.1:{proxy.port}")
        talk_then_hang_up(flat)
        door.call("flat")
        talk_then_hang_up(flat)
    finally:
        log = door.stop()
        flat.stop()
        proxy.stop()
    seen = proxy.log.read_text()
    # Digest over TLS: the first REGISTER is challenged, the second carries credentials.
    assert re.search(r"REQ REGISTER \S+ from 127\.0\.0\.1:\d+/tls", seen), seen
    # The call in reached us over the TLS connection we opened (our UDP port is not in it),
    # and our answer came back over it.
    assert re.search(r"RPL 200 OK for INVITE from 127\.0\.0\.1:\d+/tls", seen), seen
    assert f"127.0.0.1:{door.port}/udp" not in seen
    # The call out went to Kamailio over TLS.
    assert re.search(r"REQ INVITE sip:flat@\S+ from 127\.0\.0\.1:\d+/tls", seen), seen
    assert log.count("call-answered") == 2
    assert "call-failed" not in log and "secret" not in log
    assert tone_frames(read_wav(tmp_path / "door" / "heard.wav")[4000:], 1000) > 0.8


@pytest.mark.parametrize(
    ("mistake", "expected"),
    [
        ("wrong CA", r"certificate refused \(.*\): .*put that CA in \[tls\] ca_file"),
        ("wrong name", r"certificate refused \(Hostname mismatch.*\): .*not for the name"),
        ("expired", r"certificate refused \(certificate has expired\): .*renew it"),
    ],
)
def test_a_bad_server_certificate_is_refused_with_a_clear_line(
    tmp_path: Path, mistake: str, expected: str
) -> None:
    ca = Authority(tmp_path / "pki")
    names = ("pbx.example.test",) if mistake == "wrong name" else ("localhost",)
    server = ca.issue("kamailio", names, expired=mistake == "expired")
    trusted = Authority(tmp_path / "other", "other-ca") if mistake == "wrong CA" else ca
    proxy = Kamailio(tmp_path / "proxy", tls=(server.cert, server.key)).start()
    door = tls_door(tmp_path / "door", proxy, trusted.files.cert)
    try:
        time.sleep(2.5)  # the first attempt and a retry (retry_interval = 1)
        assert proxy.registrations("door") == []
        assert door.proc.poll() is None  # still serving
        # Between two attempts it waits to retry (polled: an attempt may be in flight).
        deadline = time.monotonic() + 10
        status = door.ctl("status")
        while "waiting to retry" not in status.stdout and time.monotonic() < deadline:
            time.sleep(0.2)
            status = door.ctl("status")
        assert "waiting to retry" in status.stdout, status.stdout
    finally:
        log = door.stop()
        proxy.stop()
    lines = [line for line in log.splitlines() if "TLS to localhost" in line]
    assert lines and re.search(expected, lines[0]), log
    assert "Traceback" not in log and "secret" not in log


def doctor(tmp: Path, proxy: Kamailio, ca_file: Path) -> subprocess.CompletedProcess[str]:
    path = tmp / "doctor.toml"
    path.write_text(
        f'[sip]\nlisten = "127.0.0.1:{free_port(both=True)}"\ntransport = "tls"\n'
        f'[account]\nregistrar = "sip:localhost:{proxy.tls_port};transport=tls"\n'
        f'user = "door"\npassword = "secret"\n[tls]\nca_file = "{ca_file}"\n'
        '[audio]\nbackend = "null"\n'
    )
    return subprocess.run(
        [*CLI, "doctor", "--config", str(path), "--timeout", "3"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_doctor_checks_the_certificate_as_the_service_does(tmp_path: Path) -> None:
    ca = Authority(tmp_path / "pki")
    server = ca.issue("kamailio", ("localhost",))
    stranger = Authority(tmp_path / "other", "other-ca")
    proxy = Kamailio(tmp_path / "proxy", tls=(server.cert, server.key)).start()
    try:
        good = doctor(tmp_path, proxy, ca.files.cert)
        bad = doctor(tmp_path, proxy, stranger.files.cert)
    finally:
        proxy.stop()
    assert "OK   registrar [account]: door@localhost: credentials accepted (200 OK)" in good.stdout
    assert "FAIL registrar" not in good.stdout, good.stdout
    (line,) = [x for x in bad.stdout.splitlines() if x.startswith("FAIL registrar")]
    assert line.startswith(
        f"FAIL registrar [account]: TLS to localhost (127.0.0.1:{proxy.tls_port})"
    )
    assert "certificate refused" in line and "put that CA in [tls] ca_file" in line
    assert bad.returncode == 1 and "Traceback" not in bad.stderr + bad.stdout
    assert "secret" not in good.stdout + bad.stdout


def test_a_lost_tls_flow_registers_again_over_a_new_connection(tmp_path: Path) -> None:
    """Kamailio restarts: the registration's TLS connection closes, the door re-registers at
    once and, while nothing listens, retries with its backoff (retry_interval = 1) until the
    new Kamailio has the binding, long before the 60 s registration would be refreshed."""
    ca = Authority(tmp_path / "pki")
    server = ca.issue("kamailio", ("localhost",))
    first = Kamailio(tmp_path / "first", tls=(server.cert, server.key)).start()
    door = tls_door(tmp_path / "door", first, ca.files.cert)
    second: Kamailio | None = None
    try:
        assert wait_registered(first), "never registered"
        first.stop()
        time.sleep(1.0)
        second = Kamailio(
            tmp_path / "second",
            port=first.port,
            tls=(server.cert, server.key),
            tls_port=first.tls_port,
        ).start()
        (binding,) = wait_registered(second, timeout=15)
        assert re.fullmatch(
            rf"sip:door@127\.0\.0\.1:{door.port};transport=tls;line=[0-9a-f]+", binding
        )
    finally:
        log = door.stop()
        first.stop()
        if second is not None:
            second.stop()
    assert "registration-flow-lost" in log
    assert log.count("registered account=account") >= 2
    assert "Traceback" not in log


def tls_contact(port: int) -> str:
    """Our registered TLS Contact, with the ``line=`` token a routed INVITE must bring back."""
    return rf"sip:door@127\.0\.0\.1:{port};transport=tls;line=[0-9a-f]+"
