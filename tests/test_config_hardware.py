"""[hardware] and [door]: buttons, LEDs, relay, sensor; every mistake named with its fix."""

from __future__ import annotations

import pytest

from endpoint.config import (
    DEFAULT_LED_SHOW,
    ButtonSettings,
    ConfigError,
    DoorSettings,
    LedSettings,
    parse_config,
)
from endpoint.runtime.wiring import board_spec
from endpoint.ua.io import ButtonSpec, LedSpec, Pull, RelaySpec, SensorSpec

FULL = """
[hardware]
board = "gpio"
[[hardware.button]]
name = "call"
pin = 17
pull = "up"
active = "low"
bounce_ms = 40
hold_s = 1.5
action = "call"
targets = ["flat12", "sip:concierge@pbx.example.com"]
mode = "sequential"
target_timeout = 15
[[hardware.button]]
name = "privacy"
pin = 5
action = "register"
[[hardware.led]]
name = "status"
pin = 23
active = "high"
show = { ringing = "fast", door_open = "on" }
[door]
relay_pin = 27
relay_active = "low"
pulse_s = 4
code = "0815"
max_wrong = 5
lockout_minutes = 10
hangup_after_open_s = 2
sensor_pin = 22
sensor_active = "high"
left_open_s = 90
"""


def problems_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, source="door.toml")
    return info.value.problems


def test_defaults_have_no_hardware() -> None:
    config = parse_config("")
    assert config.hardware.board == "none"
    assert config.hardware.buttons == () and config.hardware.leds == ()
    assert config.door == DoorSettings()
    assert board_spec(config.hardware, config.door).relays == ()


def test_full_example_reads_and_becomes_a_board_spec() -> None:
    config = parse_config(FULL)
    hw, door = config.hardware, config.door
    assert hw.buttons[0] == ButtonSettings(
        "call",
        17,
        "up",
        "low",
        40,
        1.5,
        "call",
        ("flat12", "sip:concierge@pbx.example.com"),
        "sequential",
        15.0,
    )
    assert hw.buttons[1].action == "register" and hw.buttons[1].active == "low"
    assert dict(hw.leds[0].show) == {**DEFAULT_LED_SHOW, "ringing": "fast", "door_open": "on"}
    assert (door.relay_pin, door.relay_active, door.pulse_s, door.code) == (27, "low", 4.0, "0815")
    assert (door.max_wrong, door.lockout_minutes, door.hangup_after_open_s) == (5, 10.0, 2.0)
    assert (door.sensor_pin, door.sensor_active, door.left_open_s) == (22, "high", 90.0)
    assert "0815" not in repr(config)
    spec = board_spec(hw, door)
    assert spec.buttons == (
        ButtonSpec("call", 17, Pull.UP, active_high=False, bounce_ms=40, hold_s=1.5),
        ButtonSpec("privacy", 5, Pull.UP, active_high=False, bounce_ms=30, hold_s=2.0),
    )
    assert spec.leds == (LedSpec("status", 23, active_high=True),)
    assert spec.relays == (RelaySpec("door", 27, active_high=False, max_pulse_s=30.0),)
    assert spec.sensors == (SensorSpec("door", 22, Pull.UP, active_high=True),)


def test_pull_down_defaults_to_active_high() -> None:
    config = parse_config(
        '[hardware]\nboard = "serial"\n[[hardware.button]]\nname = "b"\npin = 4\n'
        'pull = "down"\naction = "answer"\n'
    )
    assert config.hardware.buttons[0].active == "high"
    assert config.hardware.serial_port == "/dev/ttyACM0"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '[hardware]\nboard = "gpoi"\n',
            '[hardware] board = "gpoi": one of "none", "gpio", "serial", "simulated"',
        ),
        (
            '[hardware]\nboard = "gpio"\n[[hardware.button]]\nname = "b"\npin = 40\n'
            'targets = ["x"]\n',
            "[hardware.button #1] pin = 40: a BCM GPIO number 0-27",
        ),
        (
            '[hardware]\nboard = "gpio"\n[[hardware.button]]\nname = "b"\ntargets = ["x"]\n',
            "[hardware.button #1] pin is missing: a BCM GPIO number 0-27",
        ),
        (
            '[hardware]\nboard = "gpio"\n[[hardware.button]]\npin = 4\ntargets = ["x"]\n',
            "[hardware.button #1] name is missing",
        ),
        (
            '[hardware]\nboard = "gpio"\n[[hardware.button]]\nname = "b"\npin = 4\n',
            '[hardware.button #1] targets is missing: action = "call" needs whom to call',
        ),
        (
            '[hardware]\nboard = "gpio"\n[[hardware.button]]\nname = "b"\npin = 4\n'
            'action = "hangup"\ntargets = ["x"]\n',
            '[hardware.button #1] targets is set but action = "hangup" calls no one',
        ),
        (
            '[hardware]\nboard = "gpio"\n[[hardware.button]]\nname = "b"\npin = 4\n'
            'action = "transfer"\ntargets = ["a", "b"]\n',
            "[hardware.button #1] targets = ['a', 'b']: action = \"transfer\" moves the call "
            "to one target",
        ),
        (
            '[hardware]\nboard = "gpio"\n[[hardware.button]]\nname = "b"\npin = 4\n'
            'action = "attended-transfer"\ntargets = ["a", "b"]\n',
            "[hardware.button #1] targets = ['a', 'b']: action = \"attended-transfer\" moves "
            "the call to one target",
        ),
        (
            '[hardware]\nboard = "gpio"\n[[hardware.button]]\nname = "b"\npin = 4\n'
            'action = "attended-transfer"\n',
            '[hardware.button #1] targets is missing: action = "attended-transfer" needs whom',
        ),
        (
            '[hardware]\nboard = "gpio"\n[[hardware.button]]\nname = "b"\npin = 4\n'
            'action = "dial"\n',
            '[hardware.button #1] action = "dial": one of "call", "hangup"',
        ),
        (
            '[hardware]\nboard = "gpio"\n[[hardware.button]]\nname = "b"\npin = 4\n'
            'targets = ["x"]\nacton = "call"\n',
            "[hardware.button #1] acton: unknown key; did you mean action?",
        ),
        (
            '[hardware]\nboard = "gpio"\n[[hardware.button]]\nname = "b"\npin = 4\n'
            'targets = ["x"]\npull = "up"\nactive = "high"\n',
            '[hardware.button #1] pull = "up" with active = "high": on the Pi header',
        ),
        (
            '[hardware]\nboard = "gpio"\n[[hardware.led]]\nname = "s"\npin = 4\n'
            'show = { idle = "blink" }\n',
            "[hardware.led #1] show = {'idle': 'blink'}: a table of state = pattern",
        ),
        (
            '[hardware]\nboard = "gpio"\n[[hardware.led]]\nname = "s"\npin = 4\n'
            'show = { sleeping = "on" }\n',
            "[hardware.led #1] show = {'sleeping': 'on'}: a table of state = pattern",
        ),
        (
            '[hardware]\nboard = "gpio"\nbutton = 3\n',
            "[hardware] button = 3: write each one as its own [[hardware.button]] table",
        ),
        (
            '[hardware]\nboard = "gpio"\n[door]\nrelay_pin = 27\ncode = 1234\n',
            "[door] code = 1234: 4 to 16 DTMF keys (0-9, * and #) in quotes",
        ),
        (
            '[hardware]\nboard = "gpio"\n[door]\nrelay_pin = 27\ncode = "12a4"\n',
            '[door] code = "12a4": 4 to 16 DTMF keys',
        ),
        (
            '[hardware]\nboard = "gpio"\n[door]\nrelay_pin = 27\npulse_s = 60\n',
            "[door] pulse_s = 60: seconds between 0.1 and 30",
        ),
        (
            '[hardware]\nboard = "gpio"\n[door]\nrelay_pin = 27\nrelay_active = "hi"\n',
            '[door] relay_active = "hi": "high" or "low"',
        ),
        (
            '[hardware]\nboard = "gpio"\n[door]\ncode = "1234"\n',
            "[door] code is set but there is no relay_pin to open",
        ),
        (  # issue 13 rule 8: a short code or no lockout is a door anyone opens in time
            '[hardware]\nboard = "gpio"\n[door]\nrelay_pin = 27\ncode = "123"\n',
            '[door] code = "123": 4 to 16 DTMF keys',
        ),
        (
            '[hardware]\nboard = "gpio"\n[door]\nrelay_pin = 27\nlockout_minutes = 0\n',
            "[door] lockout_minutes = 0: minutes between 1 and 1440",
        ),
        (
            '[hardware]\nboard = "gpio"\n[door]\nrelay_pin = 27\nmax_wrong = 0\n',
            "[door] max_wrong = 0: a count between 1 and 100",
        ),
        (
            "[door]\nrelay_pin = 27\n",
            '[hardware] board = "none" but buttons, LEDs or a door relay/sensor are configured',
        ),
        (
            '[hardware]\nboard = "serial"\npin_factory = "mock"\n',
            '[hardware] pin_factory = "mock" is only used with board = "gpio"',
        ),
        (
            '[hardware]\nboard = "gpio"\npin_factory = "wiringpi"\n',
            '[hardware] pin_factory = "wiringpi": a gpiozero pin factory: "lgpio"',
        ),
        (
            '[hardware]\nboard = "gpio"\n[[hardware.button]]\nname = "o"\npin = 4\n'
            'action = "open-door"\n',
            '[hardware.button] "o" has action = "open-door" but [door] has no relay_pin',
        ),
        (
            '[hardware]\nboard = "gpio"\nboard_type = 1\n',
            "[hardware] board_type: unknown key",
        ),
        ("[door]\nrelay_pn = 3\n", "[door] relay_pn: unknown key; did you mean relay_pin?"),
    ],
)
def test_each_mistake_names_key_value_and_fix(text: str, expected: str) -> None:
    problems = problems_of(text)
    assert any(p.startswith(expected) for p in problems), problems


def test_pins_and_names_must_be_unique() -> None:
    text = (
        '[hardware]\nboard = "gpio"\n'
        '[[hardware.button]]\nname = "a"\npin = 17\naction = "answer"\n'
        '[[hardware.button]]\nname = "a"\npin = 18\naction = "hangup"\n'
        '[[hardware.led]]\nname = "s"\npin = 17\n'
        "[door]\nrelay_pin = 18\nsensor_pin = 27\n"
    )
    problems = problems_of(text)
    assert '[hardware.button] name = "a" is used 2 times: give each button its own name' in (
        problems
    )
    assert 'GPIO17 is used by button "a" and led "s": give each its own pin' in problems
    assert 'GPIO18 is used by button "a" and [door] relay_pin: give each its own pin' in problems
    assert not any("GPIO27" in p for p in problems)


def test_all_problems_at_once() -> None:
    text = (
        '[hardware]\nboard = "gpio"\n[[hardware.button]]\nname = "a b"\npin = -1\n'
        'action = "answer"\nhold_s = 0\n[door]\nrelay_pin = 99\nleft_open_s = -1\n'
    )
    problems = problems_of(text)
    assert len(problems) == 5, problems


def test_led_show_defaults_and_lookup() -> None:
    config = parse_config(
        '[hardware]\nboard = "simulated"\n[[hardware.led]]\nname = "s"\npin = 4\n'
    )
    (led,) = config.hardware.leds
    assert led == LedSettings("s", 4)
    assert [led.pattern(s) for s in DEFAULT_LED_SHOW] == [
        "fast",
        "on",
        "slow",
        "slow",
        "on",
        "double",
    ]


def _wired(board: str, pin: int) -> str:
    """A button, an LED and the door's relay and sensor, each on ``pin`` of ``board``."""
    return (
        f'[hardware]\nboard = "{board}"\n'
        f'[[hardware.button]]\nname = "b"\npin = {pin}\naction = "answer"\n'
        f'[[hardware.led]]\nname = "s"\npin = {pin}\n'
        f"[door]\nrelay_pin = {pin}\nsensor_pin = {pin}\n"
    )


def _pin_problems(board: str, pin: int) -> list[str]:
    """Only the per-key pin problems (the four share one pin, so leave the "used by" ones out)."""
    try:
        parse_config(_wired(board, pin))
    except ConfigError as exc:
        return [p for p in exc.problems if " is used by " not in p]
    return []


PIN_KEYS = (
    "[hardware.button #1] pin",
    "[hardware.led #1] pin",
    "[door] relay_pin",
    "[door] sensor_pin",
)


@pytest.mark.parametrize("board", ["gpio", "simulated", "none"])
def test_header_boards_take_bcm_0_to_27(board: str) -> None:
    none_problem = '[hardware] board = "none" but buttons'
    for pin in range(28):
        assert [p for p in _pin_problems(board, pin) if not p.startswith(none_problem)] == []
    for pin in (28, -1, 40):
        problems = _pin_problems(board, pin)
        for key in PIN_KEYS:
            fix = f"a BCM GPIO number 0-27 (the Pi header's GPIOn), e.g. {key.split()[-1]} = 17"
            assert f"{key} = {pin}: {fix}" in problems, problems


def test_serial_board_takes_the_pico_gpios_the_firmware_accepts() -> None:
    for pin in (*range(22), 25, 26, 27, 28):
        assert _pin_problems("serial", pin) == [], pin
    config = parse_config(
        '[hardware]\nboard = "serial"\n[[hardware.led]]\nname = "onboard"\npin = 25\n'
        '[[hardware.led]]\nname = "porch"\npin = 28\n'
    )
    assert [led.pin for led in config.hardware.leds] == [25, 28]


@pytest.mark.parametrize(
    ("pin", "why"),
    [
        (
            22,
            "GP22 is the board's service jumper (to GND at power-up: the firmware stays off "
            "the port)",
        ),
        (23, "GP23 is internal to the Pico (the regulator's power-save control)"),
        (24, "GP24 is internal to the Pico (USB VBUS sense)"),
    ],
)
def test_serial_board_refuses_reserved_pico_pins_with_the_reason(pin: int, why: str) -> None:
    problems = _pin_problems("serial", pin)
    assert problems == [f"{key} = {pin}: {why}; use 0-21, 25-28" for key in PIN_KEYS]


@pytest.mark.parametrize("value", ["29", "-1", "40", '"GP15"', "true", "15.0"])
def test_serial_board_refuses_what_is_no_pico_gpio(value: str) -> None:
    text = (
        '[hardware]\nboard = "serial"\n[[hardware.button]]\nname = "b"\n'
        f'pin = {value}\naction = "answer"\n[door]\nsensor_pin = {value}\n'
    )
    fix = "a Pico GPIO number 0-21, 25-28 (GPn on the board's silk screen), e.g."
    assert problems_of(text) == [
        f"[hardware.button #1] pin = {value}: {fix} pin = 15",
        f"[door] sensor_pin = {value}: {fix} sensor_pin = 15",
    ]


def test_missing_pin_names_the_boards_numbering() -> None:
    assert problems_of('[hardware]\nboard = "serial"\n[[hardware.led]]\nname = "s"\n') == [
        "[hardware.led #1] pin is missing: a Pico GPIO number 0-21, 25-28 (GPn on the board's "
        "silk screen), e.g. pin = 15"
    ]


def test_pins_a_pi_takes_but_a_pico_does_not_and_back() -> None:
    # BCM 22-24 are ordinary header pins on a Pi; GP28 is a header pin on a Pico only.
    assert _pin_problems("gpio", 22) == [] and _pin_problems("gpio", 24) == []
    assert _pin_problems("serial", 28) == []
    assert _pin_problems("gpio", 28) != [] and _pin_problems("serial", 22) != []
