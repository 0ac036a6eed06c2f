"""Issue 13 rule 11: after any end of the service, a crash or SIGKILL included, the unit's
``ExecStopPost=sip-endpoint relay-off`` drives the door relay inactive.

GPIO runs on gpiozero's MockFactory (real gpiozero devices, pins recorded like wires); the
serial board is the real firmware in the MicroPython unix port on a pty, left with its relay
energised by a ``sip-endpoint run`` that is then SIGKILLed.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from gpiozero import Device
from gpiozero.pins.mock import MockFactory

from endpoint.cli import main
from endpoint.service.install import exec_start, packaged_file, render_unit
from tests.hardware.serial_rig import FirmwareRig
from tests.interop.peers import free_port
from tests.security.attacker import CLI, p2p_config, running_door

RELAY = 27


@pytest.fixture
def factory() -> Iterator[MockFactory]:
    previous = Device.pin_factory
    Device.pin_factory = MockFactory()
    try:
        yield Device.pin_factory
    finally:
        Device.pin_factory.reset()
        Device.pin_factory = previous


def relay_off(config: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    status = main(["relay-off", "--config", str(config)])
    out, err = capsys.readouterr()
    return status, out, err


@pytest.mark.parametrize(("active", "energised"), [("high", True), ("low", False)])
def test_gpio_relay_left_energised_by_a_crash_is_driven_inactive(
    tmp_path: Path,
    factory: MockFactory,
    capsys: pytest.CaptureFixture[str],
    active: str,
    energised: bool,
) -> None:
    pin = factory.pin(RELAY)
    pin.function = "output"
    pin.state = energised  # what the killed process left on the wire: the door open
    config = tmp_path / "door.toml"
    config.write_text(
        f'[hardware]\nboard = "gpio"\n[door]\nrelay_pin = {RELAY}\nrelay_active = "{active}"\n'
        '[[hardware.button]]\nname = "call"\npin = 17\naction = "open-door"\n'
    )
    status, out, err = relay_off(config, capsys)
    assert status == 0, err
    assert out == (
        f"sip-endpoint relay-off: door relay on GPIO{RELAY} driven inactive (active {active})\n"
    )
    assert pin.states[-1].state is (not energised)
    # Only the relay was opened: the button's pin was never set up.
    assert factory.pin(17).function == "input"
    assert factory.pin(17).states == factory.pin(17).states[:1]


def test_no_relay_is_a_clear_line_and_success(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "door.toml"
    config.write_text('[sip]\nlisten = "127.0.0.1:5060"\n')
    assert relay_off(config, capsys) == (
        0,
        "sip-endpoint relay-off: no door relay to release (no board)\n",
        "",
    )
    config.write_text('[hardware]\nboard = "gpio"\n')
    assert relay_off(config, capsys) == (
        0,
        'sip-endpoint relay-off: no door relay to release (board = "gpio", no [door] relay_pin)\n',
        "",
    )


def test_unusable_pin_driver_and_bad_config_are_lines_not_tracebacks(tmp_path: Path) -> None:
    config = tmp_path / "door.toml"
    config.write_text(f'[hardware]\nboard = "gpio"\n[door]\nrelay_pin = {RELAY}\n')
    done = subprocess.run(
        [*CLI, "relay-off", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env={**os.environ, "GPIOZERO_PIN_FACTORY": "no-such-driver"},
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith(f"sip-endpoint relay-off: cannot open the relay on GPIO{RELAY}")
    assert "no-such-driver" in done.stderr
    config.write_text("[door]\nrelay_pin = -3\n")
    done = subprocess.run(
        [*CLI, "relay-off", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "relay_pin" in done.stderr


@pytest.mark.micropython
def test_serial_relay_left_on_by_a_killed_service_is_driven_inactive(tmp_path: Path) -> None:
    rig = FirmwareRig(tmp_path)
    rig.start()
    try:
        port = free_port(both=True)
        config = tmp_path / "door.toml"
        p2p_config(
            config,
            port,
            f'[hardware]\nboard = "serial"\nserial_port = "{rig.port}"\n'
            '[door]\nrelay_pin = 17\nrelay_active = "low"\npulse_s = 30\n',
        )
        with running_door(tmp_path, port, config) as door:
            door.wait_until(lambda: "'link': 'ready'" in str(door.status().get("hardware")))
            assert door.ctl("open-door").returncode == 0
            rig.wait_level(17, 0)  # active low: energised, the door open for 30 s
            door.service.proc.send_signal(signal.SIGKILL)
            door.service.proc.wait(10)
            killed = len(rig.changes)
            done = subprocess.run(
                [*CLI, "relay-off", "--config", str(config)],
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
        assert done.returncode == 0, done.stderr
        assert done.stdout == (
            f"sip-endpoint relay-off: door relay on {rig.port} pin 17 driven inactive "
            "(active low)\n"
        )
        # relay-off's own session: HELLO floats the pin, its wiring drives it inactive (high).
        # The board's watchdog alone would only write the inactive level, never float the pin.
        after = [(c.mode, c.level) for c in rig.changes[killed:] if c.gpio == 17]
        assert ("out", 1) in after
        floated = next(i for i, (mode, _) in enumerate(after) if mode != "out")
        assert ("out", 1) in after[floated:]
        assert rig.mode(17) == "out"
        assert rig.level(17) == 1
    finally:
        rig.stop()


def test_install_renders_exec_stop_post_with_the_venv(tmp_path: Path) -> None:
    prefix = tmp_path / "venv"
    (prefix / "bin").mkdir(parents=True)
    (prefix / "bin" / "sip-endpoint").touch()
    unit = render_unit(
        packaged_file("sip-endpoint.service").read_text(),
        exec_start(prefix),
        ["gpio"],
        stop_post=exec_start(prefix, command="relay-off"),
    )
    lines = unit.splitlines()
    config = "/etc/sip-endpoint/config.toml"
    assert f"ExecStart={prefix}/bin/sip-endpoint run --config {config}" in lines
    assert f"ExecStopPost=-{prefix}/bin/sip-endpoint relay-off --config {config}" in lines
    assert "/opt/sip-endpoint" not in unit
