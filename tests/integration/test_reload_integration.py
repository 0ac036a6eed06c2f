"""Issue 18: SIGHUP restarts the building integration with the reloaded configuration (a real
``sip-endpoint run`` process, a real HTTP client): the API moves to its new port and answers
with the new token there, the old port is closed, and nothing asks for a restart."""

import signal
import time
from pathlib import Path

import pytest

from tests.integration.web import api_door, request
from tests.interop.peers import free_port

pytestmark = pytest.mark.interop


def _answers(port: int, token: str) -> bool:
    try:
        return request(port, "GET", "/api/status", token)[0] == 200
    except OSError:
        return False


def test_sighup_restarts_the_http_api_on_its_new_port_with_its_new_token(tmp_path: Path) -> None:
    door, port, token = api_door(tmp_path / "door")
    try:
        assert _answers(port, token)
        new_port, new_token = free_port(both=True), "reloaded-token-0123456789abcdef"
        (tmp_path / "door" / "http-token").write_text(new_token + "\n")
        config = tmp_path / "door" / "door.toml"
        config.write_text(config.read_text().replace(f':{port}"', f':{new_port}"'))
        door.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while not _answers(new_port, new_token) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _answers(new_port, new_token)
        assert request(new_port, "GET", "/api/status", token)[0] == 401  # the old token
        assert not _answers(port, new_token)  # the old port is closed
    finally:
        log = door.stop()
    assert "reload: restarting the integration for [http] listen" in log
    assert "needs restart" not in log
