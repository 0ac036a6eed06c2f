"""The systemd unit: systemd's own verifier accepts it, and it keeps its safety settings."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parents[1] / "systemd" / "sip-endpoint.service"


@pytest.mark.systemd_analyze
def test_systemd_analyze_verify_accepts_the_unit(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    assert analyze is not None, "systemd-analyze missing: ./setup.sh installs the systemd package"
    # verify checks that every Exec*= program exists; a slim container image may lack the
    # ExecReload= one (/bin/kill is procps's), which any real target has.
    for line in UNIT.read_text().splitlines():
        if line.startswith("ExecReload="):
            program = Path(line.split("=", 1)[1].split()[0])
            assert program.exists(), f"{program} missing: ./setup.sh installs procps"
    executable = Path(sys.executable).with_name("sip-endpoint")
    assert executable.exists()
    unit = tmp_path / "sip-endpoint.service"
    unit.write_text(
        UNIT.read_text().replace("/opt/sip-endpoint/venv/bin/sip-endpoint", str(executable))
    )
    result = subprocess.run(
        [analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "sip-endpoint.service" not in result.stderr  # no warning about our unit


def test_the_unit_keeps_its_safety_settings() -> None:
    text = UNIT.read_text()
    for line in (
        "Type=notify",
        "WatchdogSec=",
        "Restart=on-failure",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
        "SystemCallFilter=@system-service",
        "LimitRTPRIO=",
        "RuntimeDirectory=sip-endpoint",
        "After=network-online.target sound.target",
    ):
        assert line in text, line
    assert "CPUSchedulingPolicy" not in text  # real-time for the media thread only
