"""Issue 17: the echo delay ``doctor --audio`` measures (a real PulseAudio echo path) is kept
in the state directory, and a call's canceller takes it when ``[audio] echo_delay_ms`` is not
set, saying so once in the log; a configured value wins, a broken file counts as none."""

import datetime
import logging
from pathlib import Path

import pytest

from endpoint.audio import echo_state
from endpoint.config import parse_config
from endpoint.runtime.call_media import voice_processor
from tests.service.test_doctor_audio import acoustic_line, doctor_audio

CONFIG = '[sip]\nlisten = "127.0.0.1:5070"\n[audio]\nbackend = "null"\necho_cancellation = true\n'


@pytest.mark.pulseaudio
def test_the_delay_doctor_measured_is_kept_and_used_by_the_next_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    result = doctor_audio(tmp_path, "pulse", "pulse")
    line = acoustic_line(result)
    assert line.startswith("OK"), line
    advised = int(line.rsplit("echo_delay_ms = ", 1)[1].split()[0])
    assert f"echo delay: {advised} ms kept in {tmp_path / 'state'}" in result.stdout
    kept = echo_state.load(tmp_path / "state" / echo_state.FILE_NAME)
    assert kept is not None and kept.delay_ms == advised

    monkeypatch.setenv("STATE_DIRECTORY", str(tmp_path / "state"))
    caplog.set_level(logging.INFO, logger="endpoint")
    processor = voice_processor(parse_config(CONFIG))
    assert processor.settings.echo_delay_ms == advised
    (logged,) = [r.getMessage() for r in caplog.records if "measured by doctor" in r.getMessage()]
    assert logged.startswith(f"echo delay {advised} ms, measured by doctor --audio at ")

    configured = voice_processor(parse_config(CONFIG + "echo_delay_ms = 40\n"))
    assert configured.settings.echo_delay_ms == 40


def test_no_or_a_broken_measurement_is_no_delay(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STATE_DIRECTORY", str(tmp_path))
    assert voice_processor(parse_config(CONFIG)).settings.echo_delay_ms == 0
    for broken in ("{", '{"delay_ms": 5000, "measured_at": "2026-12-02T20:00:00+00:00"}', "[]"):
        (tmp_path / echo_state.FILE_NAME).write_text(broken)
        assert voice_processor(parse_config(CONFIG)).settings.echo_delay_ms == 0
    when = datetime.datetime(2026, 12, 2, 20, 0, tzinfo=datetime.UTC)
    echo_state.save(tmp_path / echo_state.FILE_NAME, 120, when)
    assert voice_processor(parse_config(CONFIG)).settings.echo_delay_ms == 120
