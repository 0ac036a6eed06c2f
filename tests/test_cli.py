"""The command line, called in-process through ``main(argv)``."""

from pathlib import Path

import pytest

from endpoint.cli import main


def test_check_config_ok(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "door.toml"
    cfg.write_text(
        '[account]\nregistrar = "sip:pbx.example.com"\nuser = "door"\npassword = "pw1"\n'
    )
    assert main(["check-config", str(cfg)]) == 0
    out = capsys.readouterr().out
    assert f"{cfg}: OK" in out
    assert "door@pbx.example.com via sip:pbx.example.com" in out
    assert "pw1" not in out


def test_check_config_reports_problems_without_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "door.toml"
    cfg.write_text('[calls]\nanswer_delay = "soon"\n')
    assert main(["check-config", str(cfg)]) == 1
    captured = capsys.readouterr()
    assert '[calls] answer_delay = "soon": seconds between 0 and 300' in captured.err
    assert "Traceback" not in captured.err


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "check-config" in capsys.readouterr().out


def test_demo_runs_over_loopback(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "flat: incoming call from sip:door@127.0.0.1:" in out
    assert "door: answered (PCMU)" in out
    assert "door: status LED on (idle)" in out and "status LED slow" in out
    assert "door: relay energised: True (door open for 1 s, opened via dtmf)" in out
    assert "door: relay released: True" in out
    assert "door report: PCMU" in out and "(hung up locally)" in out
    assert "flat report: PCMU" in out and "(hung up by the caller)" in out
