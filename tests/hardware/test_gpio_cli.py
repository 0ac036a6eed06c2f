"""``sip-endpoint run`` with GPIO that cannot start: one clear line, exit 1, no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.interop.peers import free_port


def test_unusable_pin_driver_is_reported_not_a_traceback(tmp_path: Path) -> None:
    config = tmp_path / "door.toml"
    config.write_text(
        f'[sip]\nlisten = "127.0.0.1:{free_port(both=True)}"\n'
        f'[control]\nsocket = "{tmp_path / "ctl.sock"}"\n'
        '[hardware]\nboard = "gpio"\n[door]\nrelay_pin = 27\n'
    )
    env = {**os.environ, "GPIOZERO_PIN_FACTORY": "no-such-driver"}
    done = subprocess.run(
        [sys.executable, "-m", "endpoint", "run", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
        check=False,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert (
        "sip-endpoint: cannot start the hardware: [hardware] board = \"gpio\": relay 'door' on "
        "GPIO27: BadPinFactory: Unable to find pin factory 'no-such-driver'"
    ) in done.stderr
    assert not (tmp_path / "ctl.sock").exists()
