"""Issue 13 rule 5: the code and the log stay clean.

The door has a DTMF code and a relay (gpiozero mock pins). The caller types the code by SIP INFO:
the door opens, but neither the log nor ``ctl events`` shows one digit. A MESSAGE whose text
holds CR LF and a journald priority cannot start a log line of its own.
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
    request,
    running_door,
    status_of,
)

CODE = "4711"
DOOR = '[door]\nrelay_pin = 27\npulse_s = 1\ncode = "4711"\n'


def test_door_code_digits_reach_no_log_and_no_event(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "mock")
    port = free_port(both=True)
    config = tmp_path / "door.toml"
    p2p_config(config, port, '[hardware]\nboard = "gpio"\n' + DOOR)
    with running_door(tmp_path, port, config) as door:
        events = subprocess.Popen(
            [*CLI, "ctl", "--socket", str(tmp_path / "ctl.sock"), "events"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        caller = UdpAttacker("127.0.0.3", port)
        try:
            time.sleep(0.5)  # the events subscriber is connected before the call
            leg = place_call(caller)
            for n, digit in enumerate(CODE):
                body = f"Signal={digit}\r\nDuration=160\r\n".encode()
                info = in_dialog(
                    "INFO",
                    caller,
                    leg,
                    cseq=2 + n,
                    headers=("Content-Type: application/dtmf-relay",),
                    body=body,
                )
                answer = caller.final(info)
                assert answer is not None and status_of(answer) == 200
                time.sleep(0.15)  # a person's pace (rule 8 ignores faster digits)
            door.wait_until(lambda: "door-opened" in door.log)
            answer = caller.final(in_dialog("BYE", caller, leg, cseq=9))
            assert answer is not None and status_of(answer) == 200
            leg.close()
        finally:
            caller.close()
            time.sleep(0.5)
            events.terminate()
            published, _ = events.communicate(timeout=5)
        log = door.log
    assert "door-opened via=dtmf" in log
    assert '"event": "dtmf"' in published and '"digit": "hidden"' in published
    for digit in set(CODE):
        assert f"digit={digit}" not in log
        assert f'"digit": "{digit}"' not in published
    assert "Signal=" not in log and CODE not in published


def test_a_remote_string_cannot_forge_a_log_line(tmp_path: Path) -> None:
    port = free_port(both=True)
    config = tmp_path / "door.toml"
    p2p_config(config, port)
    with running_door(tmp_path, port, config) as door:
        sender = UdpAttacker("127.0.0.2", port)
        try:
            forged = b"hello\r\n<0>endpoint: door-opened via=button\n\x1b[2Jwiped"
            message = request(
                "MESSAGE",
                port,
                source=sender.address,
                headers=("Content-Type: text/plain",),
                body=forged,
            )
            answer = sender.final(message)
            assert answer is not None and status_of(answer) == 200
            door.wait_until(lambda: "message from=" in door.log)
        finally:
            sender.close()
        lines = door.log.splitlines()
    line = next(x for x in lines if "message from=" in x)
    assert "\\x0d\\x0a<0>endpoint: door-opened" in line and "\\x1b[2J" in line
    assert not any(x.startswith(("<0>", "endpoint: door-opened", "wiped")) for x in lines)
    assert "\x1b" not in "".join(lines)
