"""Log lines as journald and an installer see them: priorities, no doubled timestamps, and no
password or digest response/nonce ever, even in a debug dump of an Authorization header."""

import logging
import os
import random
import re
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from endpoint.logs import secrets, setup_logging
from endpoint.sip.digest import DigestClient
from tests.interop.peers import free_port
from tests.service.harness import NotifySocket, Service

CHALLENGE = (
    'Digest realm="127.0.0.1", nonce="Z0d8cWfXdmVRhS2vNcyEPNGxGUPlyS8Nd", qop="auth", algorithm=MD5'
)


@pytest.fixture
def root_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


def journal_env(monkeypatch: pytest.MonkeyPatch, stream: object) -> None:
    st = os.fstat(stream.fileno())  # type: ignore[attr-defined]
    monkeypatch.setenv("JOURNAL_STREAM", f"{st.st_dev}:{st.st_ino}")


def test_digest_response_and_nonce_never_reach_the_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, root_logging: None
) -> None:
    (field,) = DigestClient("door", "hunter2-pw", random.Random(1)).answer(
        [CHALLENGE], 401, "REGISTER", "sip:127.0.0.1"
    )
    name, value = field
    response = re.search(r'response="([0-9a-f]+)"', value)
    cnonce = re.search(r'cnonce="([^"]+)"', value)
    assert response is not None and cnonce is not None
    with (tmp_path / "journal").open("w") as stream:
        journal_env(monkeypatch, stream)
        setup_logging("debug", stream)
        secrets.add("hunter2-pw")
        log = logging.getLogger("endpoint.sip")
        log.debug("sent REGISTER with %s: %s", name, value)
        log.warning("registrar said nonce=%s; response=%s", "abc123nonce", response.group(1))
        log.info("password hunter2-pw in a message by mistake")
    text = (tmp_path / "journal").read_text()
    for secret in (response.group(1), cnonce.group(1), "Z0d8cWfXdmVRhS2vNc", "abc123nonce"):
        assert secret not in text
    assert "hunter2-pw" not in text
    assert 'response="********"' in text and 'nonce="********"' in text
    assert 'username="door"' in text  # the rest of the header stays readable


def test_under_journald_lines_carry_the_priority_and_no_timestamp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, root_logging: None
) -> None:
    with (tmp_path / "journal").open("w") as stream:
        journal_env(monkeypatch, stream)
        setup_logging("info", stream)
        logging.getLogger("endpoint").info("registered aor=sip:door@example.com")
        logging.getLogger("endpoint").warning("registration-failed reason=timeout")
        logging.getLogger("endpoint").error("media of call x failed")
    assert (tmp_path / "journal").read_text().splitlines() == [
        "<6>endpoint: registered aor=sip:door@example.com",
        "<4>endpoint: registration-failed reason=timeout",
        "<3>endpoint: media of call x failed",
    ]


def test_on_a_terminal_lines_have_a_time_and_a_level(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, root_logging: None
) -> None:
    monkeypatch.delenv("JOURNAL_STREAM", raising=False)
    with (tmp_path / "tty").open("w") as stream:
        setup_logging("info", stream)
        logging.getLogger("endpoint").info("registered")
    (line,) = (tmp_path / "tty").read_text().splitlines()
    assert re.fullmatch(r"\d\d:\d\d:\d\d INFO    endpoint: registered", line)


def test_the_service_process_logs_for_journald(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real ``run`` with stderr on "the journal" (a file whose dev:inode JOURNAL_STREAM
    names, as systemd sets it)."""
    config = tmp_path / "door.toml"
    config.write_text(
        f'[sip]\nlisten = "127.0.0.1:{free_port(both=True)}"\n[audio]\nbackend = "null"\n'
        f'[control]\nsocket = "{tmp_path / "ctl.sock"}"\n'
    )
    notify = NotifySocket(tmp_path / "notify")
    journal = config.with_suffix(".log")
    journal.touch()
    st = journal.stat()
    monkeypatch.setenv("JOURNAL_STREAM", f"{st.st_dev}:{st.st_ino}")
    service = Service(config, notify, journal_stream=True)
    try:
        notify.wait_for(lambda d: d.get("READY") == "1")
        service.proc.send_signal(signal.SIGTERM)
        assert service.proc.wait(timeout=10) == 0
    finally:
        service.stop()
        notify.close()
    lines = service.log.splitlines()
    assert lines and all(re.match(r"<[2-7]>endpoint", line) for line in lines), lines
    assert "<6>endpoint: listening on udp 127.0.0.1:" in service.log
