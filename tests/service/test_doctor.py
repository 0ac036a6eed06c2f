"""``sip-endpoint doctor`` on good and bad setups: a real Kamailio for the registrar, real
PortAudio/ALSA (the test card of tests/audio) for the sound devices, real sockets for the port."""

import io
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from endpoint.config import parse_config
from endpoint.service.doctor import Level, check_clock, check_hardware
from tests.interop.peers import Kamailio, free_port
from tests.service.harness import NotifySocket, Service

ASOUND = Path(__file__).resolve().parents[1] / "audio" / "asound-file.conf"
CLI = [sys.executable, "-m", "endpoint"]


def doctor(tmp: Path, config: str, timeout: float = 2) -> subprocess.CompletedProcess[str]:
    """The doctor as a process: PortAudio reads the ALSA configuration once, at start."""
    (tmp / "in.raw").write_bytes(bytes(16000))  # the test card captures from this file
    path = tmp / "door.toml"
    path.write_text(config)
    env = {
        **os.environ,
        "ALSA_CONFIG_PATH": str(ASOUND),
        "AUDIO_TEST_DIR": str(tmp),
        "HOME": str(tmp),
        "JACK_NO_START_SERVER": "1",
        "PULSE_SERVER": f"unix:{tmp}/no-pulse.sock",
    }
    return subprocess.run(
        [*CLI, "doctor", "--config", str(path), "--timeout", str(timeout)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )


def config_text(
    port: int, registrar_port: int, *, password: str = "secret", capture: str = "testcard"
) -> str:
    return (
        f'[sip]\nlisten = "127.0.0.1:{port}"\n'
        f'[account]\nregistrar = "sip:127.0.0.1:{registrar_port}"\nuser = "door"\n'
        f'password = "{password}"\n'
        f'[audio]\nbackend = "alsa"\ncapture_device = "{capture}"\nplayback_device = "testcard"\n'
    )


def lines(result: subprocess.CompletedProcess[str], prefix: str) -> list[str]:
    return [line for line in result.stdout.splitlines() if line.startswith(prefix)]


@pytest.mark.interop
def test_a_good_setup_passes(tmp_path: Path, kamailio: Kamailio) -> None:
    result = doctor(tmp_path, config_text(free_port(both=True), kamailio.port))
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert lines(result, "FAIL") == []
    assert "OK   audio devices: " in out and "'testcard'" in out
    assert "OK   audio capture: 'testcard' -> 'testcard' opens at 8000 Hz" in out
    assert "OK   audio playback: 'testcard'" in out
    assert "answers OPTIONS: 200 " in out, out
    assert "door@127.0.0.1: credentials accepted (200 OK)" in out
    assert "doctor: all checks passed" in out
    assert kamailio.registrations("door") == []  # a query: no binding was added
    assert "secret" not in out + result.stderr


@pytest.mark.interop
def test_wrong_password_is_named(tmp_path: Path, kamailio: Kamailio) -> None:
    config = config_text(free_port(both=True), kamailio.port, password="not-the-pw")
    result = doctor(tmp_path, config)
    assert result.returncode == 1
    (line,) = lines(result, "FAIL")
    assert line.startswith("FAIL registrar [account]: wrong password: door was refused (401")
    assert "fix: check [account] user, auth_user and password" in line
    assert "not-the-pw" not in result.stdout + result.stderr


def test_a_missing_audio_device_is_named_with_the_choices(tmp_path: Path) -> None:
    registrar = free_port(both=True)  # nothing listens there: the registrar check fails too
    result = doctor(tmp_path, config_text(free_port(both=True), registrar, capture="NoSuchCard"))
    assert result.returncode == 1
    (audio,) = lines(result, "FAIL audio capture")
    assert "'NoSuchCard': no capture device whose name contains 'NoSuchCard'" in audio
    assert "fix: set [audio] capture_device to one of" in audio and "'testcard'" in audio
    (registrar_line,) = lines(result, "FAIL registrar")
    assert f"nothing listens at 127.0.0.1:{registrar} (udp: port unreachable)" in registrar_line


def test_a_registrar_that_never_answers(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        port = silent.getsockname()[1]
        config = config_text(free_port(both=True), port)
        result = doctor(tmp_path, config.replace('backend = "alsa"', 'backend = "null"'), 0.5)
        assert silent.recv(65535).startswith(f"OPTIONS sip:127.0.0.1:{port} SIP/2.0\r\n".encode())
    assert result.returncode == 1
    (line,) = lines(result, "FAIL")
    assert line.startswith("FAIL registrar [account]: no answer from sip:127.0.0.1:")
    assert "within 0.5 s -- fix: check [account] registrar (host, port, transport)" in line


def test_a_port_in_use_is_reported_with_the_fix(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as holder:
        holder.bind(("127.0.0.1", 0))
        port = holder.getsockname()[1]
        result = doctor(
            tmp_path, f'[sip]\nlisten = "127.0.0.1:{port}"\n[audio]\nbackend = "null"\n'
        )
    assert result.returncode == 1
    (line,) = lines(result, "FAIL")
    assert line.startswith(f"FAIL sip port: udp 127.0.0.1:{port} is in use -- fix: ")
    assert "change [sip] listen" in line


def test_the_port_held_by_our_running_service_is_fine(tmp_path: Path) -> None:
    port = free_port(both=True)
    config = (
        f'[sip]\nlisten = "127.0.0.1:{port}"\n[audio]\nbackend = "null"\n'
        f'[control]\nsocket = "{tmp_path / "ctl.sock"}"\n'
    )
    (tmp_path / "door.toml").write_text(config)
    notify = NotifySocket(tmp_path / "notify")
    service = Service(tmp_path / "door.toml", notify)
    try:
        notify.wait_for(lambda d: d.get("READY") == "1")
        result = doctor(tmp_path, config)
    finally:
        service.stop()
        notify.close()
    assert result.returncode == 0, result.stdout
    assert f"OK   sip port: 127.0.0.1:{port} is held by the running sip-endpoint" in result.stdout


def test_a_broken_config_fails_with_every_problem(tmp_path: Path) -> None:
    result = doctor(tmp_path, '[sip]\nlisten = "nowhere:99999"\n[calls]\nauto_anwser = true\n')
    assert result.returncode == 1
    fails = lines(result, "FAIL config")
    assert len(fails) == 2
    assert any("[calls] auto_anwser: unknown key; did you mean auto_answer?" in f for f in fails)
    assert any('[sip] listen = "nowhere:99999": host:port to listen on' in f for f in fails)
    assert "Traceback" not in result.stderr


def test_clock_sources_in_order(tmp_path: Path) -> None:
    marker = tmp_path / "synchronized"
    assert check_clock(lambda _: "yes", marker)[0].level is Level.OK
    assert check_clock(lambda _: "no", marker)[0].detail == "not synchronised"
    assert check_clock(lambda _: None, marker)[0].detail == "synchronisation unknown"
    marker.touch()
    assert check_clock(lambda _: None, marker)[0].level is Level.OK


def test_hardware_serial_port_missing(tmp_path: Path) -> None:
    config = parse_config(f'[hardware]\nboard = "serial"\nserial_port = "{tmp_path / "ttyACM9"}"\n')
    (finding,) = check_hardware(config)
    assert finding.level is Level.FAIL and "does not exist" in finding.detail
    (tmp_path / "ttyACM9").touch()
    (finding,) = check_hardware(config)
    assert finding.level is Level.OK
    out = io.StringIO()
    print(finding, file=out)
    assert out.getvalue().startswith("OK   hardware: serial board at ")
