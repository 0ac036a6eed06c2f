"""The real ``sip-endpoint run`` process under a notify socket the test owns, as under systemd:
READY=1, STATUS=, WATCHDOG=1, reload on SIGHUP (broken file kept out, valid file applied),
STOPPING=1 and exit 0 on SIGTERM."""

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.interop.peers import free_port, sip_options_ping
from tests.service.harness import NotifySocket, Service


def write(path: Path, port: int, calls: str = "auto_answer = true", level: str = "info") -> None:
    path.write_text(
        f'[sip]\nlisten = "127.0.0.1:{port}"\n[calls]\n{calls}\n[audio]\nbackend = "null"\n'
        f'[control]\nsocket = "{path.parent / "ctl.sock"}"\n[log]\nlevel = "{level}"\n'
    )


@pytest.fixture
def notify(tmp_path: Path) -> Iterator[NotifySocket]:
    sock = NotifySocket(tmp_path / "notify")
    yield sock
    sock.close()


def started(config: Path, notify: NotifySocket) -> tuple[Service, int]:
    """A service on a fresh port with the default file, once it said READY=1."""
    port = free_port(both=True)
    write(config, port)
    service = Service(config, notify)
    try:
        notify.wait_for(lambda d: d.get("READY") == "1")
    except BaseException:
        service.stop()
        raise
    return service, port


def reload(service: Service, notify: NotifySocket) -> dict[str, str]:
    """SIGHUP, and wait for the READY=1 that ends the reload; the RELOADING=1 it sent first."""
    mark = len(notify.received)
    service.proc.send_signal(signal.SIGHUP)
    reloading = notify.wait_for(lambda d: d.get("RELOADING") == "1", since=mark)
    notify.wait_for(lambda d: d.get("READY") == "1", since=mark)
    return reloading


def test_ready_status_watchdog_and_stopping(tmp_path: Path, notify: NotifySocket) -> None:
    config = tmp_path / "door.toml"
    port = free_port(both=True)
    write(config, port)
    service = Service(config, notify, watchdog_usec=1_000_000)
    try:
        ready = notify.wait_for(lambda d: d.get("READY") == "1")
        assert ready["STATUS"] == "peer-to-peer; idle"  # what systemctl status shows
        assert sip_options_ping(port, timeout=5).startswith("SIP/2.0 200 OK")  # bound when READY
        before = len(notify.received)
        notify.collect(2.2)  # pings every 0.5 s: half of WATCHDOG_USEC
        assert notify.count("WATCHDOG", before) >= 3
        service.proc.send_signal(signal.SIGTERM)
        notify.wait_for(lambda d: d.get("STOPPING") == "1")
        assert service.proc.wait(timeout=10) == 0
    finally:
        service.stop()
    assert "watchdog:" not in service.log  # no loop ever stalled


def test_sighup_keeps_a_broken_file_out_and_applies_a_valid_one(
    tmp_path: Path, notify: NotifySocket
) -> None:
    config = tmp_path / "door.toml"
    service, port = started(config, notify)
    try:
        # 1. A broken file: one line per problem, the old configuration keeps serving.
        write(config, port, calls='auto_answer = "yes"\nallow = 7')
        assert int(reload(service, notify)["MONOTONIC_USEC"]) > 0
        service.wait_log("[calls] allow = 7")
        log = service.log
        assert "2 problem(s); still running on the previous configuration" in log
        assert '[calls] auto_answer = "yes": true or false' in log
        assert sip_options_ping(port, timeout=5).startswith("SIP/2.0 200 OK")
        assert service.proc.poll() is None
        # 2. A valid file with live changes and one that needs a restart.
        write(
            tmp_path / "door.toml", free_port(both=True), calls="auto_answer = false", level="debug"
        )
        reload(service, notify)
        service.wait_log("reload: needs restart: [sip] listen changed")
        log = service.log
        assert "reload: applied [calls] auto_answer" in log
        assert "reload: applied [log] level" in log
        assert sip_options_ping(port, timeout=5).startswith("SIP/2.0 200 OK")  # still the old port
        service.proc.send_signal(signal.SIGTERM)
        assert service.proc.wait(timeout=10) == 0
    finally:
        service.stop()
    assert "Traceback" not in service.log


def test_sighup_adding_an_mqtts_broker_to_a_service_without_tls_waits_for_a_restart(
    tmp_path: Path, notify: NotifySocket
) -> None:
    """Issue 19: started without TLS, the process has an asyncio without ssl; a reload that
    asks for TLS keeps the running value and says a restart applies it."""
    config = tmp_path / "door.toml"
    service, port = started(config, notify)
    try:
        write(config, port, calls="auto_answer = false")
        with config.open("a") as file:
            file.write('[mqtt]\nbroker = "mqtts://127.0.0.1:8883"\n')
        reload(service, notify)
        service.wait_log("reload: needs restart: [mqtt] broker changed")
        assert "reload: applied [calls] auto_answer" in service.log
        assert "restarting the integration" not in service.log
        assert sip_options_ping(port, timeout=5).startswith("SIP/2.0 200 OK")
    finally:
        service.stop()
    assert "Traceback" not in service.log
