"""Issue 13 rule 8: brute force does not pay.

Wrong codes lock the caller out, and the lockout survives a restart (systemd's
``StateDirectory``): killing the process does not buy new tries. check-config refuses codes
shorter than 4 keys and ``lockout_minutes = 0``.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from tests.interop.peers import free_port
from tests.security.attacker import (
    CLI,
    UdpAttacker,
    in_dialog,
    p2p_config,
    place_call,
    running_door,
    status_of,
)

DOOR = '[hardware]\nboard = "gpio"\n[door]\nrelay_pin = 27\npulse_s = 1\ncode = "4711"\n'


def type_code(caller: UdpAttacker, code: str) -> None:
    leg = place_call(caller)
    for n, digit in enumerate(code):
        info = in_dialog(
            "INFO",
            caller,
            leg,
            cseq=2 + n,
            headers=("Content-Type: application/dtmf-relay",),
            body=f"Signal={digit}\r\nDuration=160\r\n".encode(),
        )
        answer = caller.final(info)
        assert answer is not None and status_of(answer) == 200
        time.sleep(0.15)  # a person's pace: faster digits are ignored (rule 8)
    answer = caller.final(in_dialog("BYE", caller, leg, cseq=20))
    assert answer is not None and status_of(answer) == 200
    leg.close()


def test_the_lockout_survives_a_restart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "mock")
    state = tmp_path / "state"
    state.mkdir()
    monkeypatch.setenv("STATE_DIRECTORY", str(state))
    port = free_port(both=True)
    config = tmp_path / "door.toml"
    p2p_config(config, port, DOOR)
    caller = UdpAttacker("127.0.0.3", port)
    try:
        with running_door(tmp_path, port, config) as door:
            for _ in range(3):
                type_code(caller, "0000")
            door.wait_until(lambda: "door-locked-out" in door.log)
        assert (state / "door-lockout.json").exists()
        with running_door(tmp_path, port, config) as door:  # killed and started again
            type_code(caller, "4711")
            door.wait_until(lambda: "call-ended" in door.log.split("ready mode=")[-1])
            log = door.log.split("ready mode=")[-1]  # the second run's part of the log
    finally:
        caller.close()
    assert "door-opened" not in log


@pytest.mark.parametrize(
    ("door", "problem"),
    [
        ('relay_pin = 27\ncode = "123"\n', '[door] code = "123": 4 to 16 DTMF keys'),
        ('relay_pin = 27\ncode = "4711"\nlockout_minutes = 0\n', "lockout_minutes = 0"),
    ],
)
def test_check_config_refuses_weak_door_settings(tmp_path: Path, door: str, problem: str) -> None:
    config = tmp_path / "door.toml"
    p2p_config(config, free_port(both=True), '[hardware]\nboard = "gpio"\n[door]\n' + door)
    out = subprocess.run(
        [*CLI, "check-config", str(config)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert out.returncode != 0 and problem in out.stdout + out.stderr
