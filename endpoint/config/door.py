"""``[door]``: the relay, its DTMF code and lockout, the door sensor; and the wiring check.

Read after ``[hardware]`` because a pin's numbering depends on the board; the checks that span
both sections (a board for what is wired, one device per pin) run here, once both are known.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any

from endpoint.config.hardware import HARDWARE, HardwareSettings, device_tables
from endpoint.config.pins import read_pin
from endpoint.config.reader import Document, Section, choice, int_in, number_in


@dataclass(frozen=True, slots=True)
class DoorSettings:
    """The door relay, its DTMF code and the door sensor. ``code`` never reaches a log."""

    relay_pin: int | None = None
    relay_active: str = "high"
    pulse_s: float = 3.0
    code: str = field(default="", repr=False)
    code_timeout_s: float = 5.0
    max_wrong: int = 3
    lockout_minutes: float = 5.0
    hangup_after_open_s: float = 0.0
    sensor_pin: int | None = None
    sensor_active: str = "low"
    sensor_pull: str = "up"
    left_open_s: float = 60.0


@functools.cache
def _code_re() -> re.Pattern[str]:
    """Compiled at first use: only a configured door code needs it (issue 19)."""
    return re.compile(r"^[0-9*#]{4,16}$")


def _code(value: Any) -> str | None:
    return value if isinstance(value, str) and (value == "" or _code_re().match(value)) else None


def read(doc: Document) -> DoorSettings:
    wiring = doc.get(HARDWARE)
    board = wiring.board
    r = doc.reader("door")
    code = r.get(
        "code",
        "",
        _code,
        '4 to 16 DTMF keys (0-9, * and #) in quotes, e.g. code = "4711" (empty: no DTMF '
        "opening; fewer than 4 keys are guessed in minutes)",
    )
    door = DoorSettings(
        relay_pin=read_pin(r, "relay_pin", board, None),
        relay_active=r.get("relay_active", "high", choice("low", "high"), '"high" or "low"'),
        pulse_s=r.get("pulse_s", 3.0, number_in(0.1, 30), "seconds between 0.1 and 30, e.g. 3"),
        code=code,
        code_timeout_s=r.get(
            "code_timeout_s", 5.0, number_in(1, 60), "seconds between 1 and 60, e.g. 5"
        ),
        max_wrong=r.get("max_wrong", 3, int_in(1, 100), "a count between 1 and 100, e.g. 3"),
        lockout_minutes=r.get(
            "lockout_minutes",
            5.0,
            number_in(1, 1440),
            "minutes between 1 and 1440, e.g. 5 (without a lockout a code is guessed at last)",
        ),
        hangup_after_open_s=r.get(
            "hangup_after_open_s",
            0.0,
            number_in(0, 600),
            "seconds between 0 (stay in the call) and 600, e.g. 2",
        ),
        sensor_pin=read_pin(r, "sensor_pin", board, None),
        sensor_active=r.get("sensor_active", "low", choice("low", "high"), '"low" or "high"'),
        sensor_pull=r.get(
            "sensor_pull", "up", choice("up", "down", "none"), 'one of "up", "down", "none"'
        ),
        left_open_s=r.get(
            "left_open_s", 60.0, number_in(0, 86400), "seconds (0 = no alarm), e.g. 60"
        ),
    )
    _check_board(doc, door)
    _check_wiring(wiring, door, doc.problems)
    return door


def _check_board(doc: Document, door: DoorSettings) -> None:
    """Wired devices need a board to drive them; board = "none" would silently drop them."""
    tables = device_tables(doc.table("hardware"))
    wired = bool(tables["button"] or tables["led"]) or door.relay_pin is not None
    if doc.get(HARDWARE).board == "none" and (wired or door.sensor_pin is not None):
        doc.problems.append(
            '[hardware] board = "none" but buttons, LEDs or a door relay/sensor are configured: '
            'set board = "gpio", "serial" or "simulated"'
        )


def _check_wiring(wiring: HardwareSettings, door: DoorSettings, problems: list[str]) -> None:
    """Pins and names must be unique: two devices on one pin is a wiring error, not a choice."""
    users: dict[int, list[str]] = {}
    for kind, items in (("button", wiring.buttons), ("led", wiring.leds)):
        names: dict[str, int] = {}
        for item in items:
            users.setdefault(item.pin, []).append(f'{kind} "{item.name}"')
            names[item.name] = names.get(item.name, 0) + 1
        for name, count in names.items():
            if count > 1:
                problems.append(
                    f'[hardware.{kind}] name = "{name}" is used {count} times: give each '
                    f"{kind} its own name"
                )
    if door.relay_pin is not None:
        users.setdefault(door.relay_pin, []).append("[door] relay_pin")
    if door.sensor_pin is not None:
        users.setdefault(door.sensor_pin, []).append("[door] sensor_pin")
    for pin, who in sorted(users.items()):
        if len(who) > 1:
            problems.append(f"GPIO{pin} is used by {' and '.join(who)}: give each its own pin")
    if door.relay_pin is None:
        _check_no_relay(wiring, door, problems)


def _check_no_relay(wiring: HardwareSettings, door: DoorSettings, problems: list[str]) -> None:
    """Without a relay nothing can open the door: a button or code for it is a mistake."""
    for button in wiring.buttons:
        if button.action == "open-door":
            problems.append(
                f'[hardware.button] "{button.name}" has action = "open-door" but [door] has '
                "no relay_pin: set [door] relay_pin = 27 (the relay's GPIO)"
            )
    if door.code:
        problems.append(
            "[door] code is set but there is no relay_pin to open: set relay_pin = 27 (the "
            "relay's GPIO) or remove code"
        )


DOOR = Section(
    "door",
    (
        "relay_pin",
        "relay_active",
        "pulse_s",
        "code",
        "code_timeout_s",
        "max_wrong",
        "lockout_minutes",
        "hangup_after_open_s",
        "sensor_pin",
        "sensor_active",
        "sensor_pull",
        "left_open_s",
    ),
    DoorSettings(),
    read,
)
