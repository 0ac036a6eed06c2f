"""``[hardware]``: the I/O board, its ``[[hardware.button]]`` and ``[[hardware.led]]`` tables."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from endpoint.config.pins import pin_fix, read_pin
from endpoint.config.reader import (
    Document,
    Reader,
    Section,
    check_keys,
    choice,
    int_in,
    nonempty_str,
    number_in,
)

#: What a ``[[hardware.led]]`` shows in each device state unless its ``show`` says otherwise.
DEFAULT_LED_SHOW: dict[str, str] = {
    "unregistered": "fast",
    "idle": "on",
    "calling": "slow",
    "ringing": "slow",
    "in_call": "on",
    "door_open": "double",
}
LED_PATTERNS = ("off", "on", "slow", "fast", "double")
BUTTON_ACTIONS = (
    "call", "hangup", "call-or-hangup", "answer", "open-door", "register", "transfer",
    "attended-transfer",
)  # fmt: skip
#: The actions that move the answered call to exactly one target.
TRANSFER_ACTIONS = ("transfer", "attended-transfer")


@dataclass(frozen=True, slots=True)
class ButtonSettings:
    """One ``[[hardware.button]]``: its wiring and what a press does."""

    name: str
    pin: int
    pull: str = "up"
    active: str = "low"
    bounce_ms: int = 30
    hold_s: float = 2.0
    action: str = "call"
    #: Whom ``call`` / ``call-or-hangup`` rings: user names at our domain or SIP URIs.
    targets: tuple[str, ...] = ()
    mode: str = "parallel"
    target_timeout: float = 20.0


@dataclass(frozen=True, slots=True)
class LedSettings:
    """One ``[[hardware.led]]``; ``show`` maps every device state to a pattern name."""

    name: str
    pin: int
    active: str = "high"
    show: tuple[tuple[str, str], ...] = tuple(DEFAULT_LED_SHOW.items())

    def pattern(self, state: str) -> str:
        return dict(self.show).get(state, "off")


@dataclass(frozen=True, slots=True)
class HardwareSettings:
    board: str = "none"
    serial_port: str = "/dev/ttyACM0"
    #: A gpiozero pin factory name; None leaves the choice to gpiozero (GPIOZERO_PIN_FACTORY).
    pin_factory: str | None = None
    buttons: tuple[ButtonSettings, ...] = ()
    leds: tuple[LedSettings, ...] = ()


_BUTTON_KEYS = (
    "name",
    "pin",
    "pull",
    "active",
    "bounce_ms",
    "hold_s",
    "action",
    "targets",
    "mode",
    "target_timeout",
)
_LED_KEYS = ("name", "pin", "active", "show")
_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_PIN_FACTORIES = ("lgpio", "rpigpio", "pigpio", "native", "mock")
_LISTS = (("button", "[[hardware.button]]"), ("led", "[[hardware.led]]"))


def _name(value: Any) -> str | None:
    return value if isinstance(value, str) and _NAME_RE.match(value) else None


def _targets(value: Any) -> tuple[str, ...] | None:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        return None
    if not all(isinstance(v, str) and v.strip() and not any(c.isspace() for c in v) for v in value):
        return None
    return tuple(value)


def _show_map(value: Any) -> tuple[tuple[str, str], ...] | None:
    if not isinstance(value, dict):
        return None
    merged = dict(DEFAULT_LED_SHOW)
    for state, pattern in value.items():
        if state not in DEFAULT_LED_SHOW or not isinstance(pattern, str):
            return None
        if pattern.lower() not in LED_PATTERNS:
            return None
        merged[state] = pattern.lower()
    return tuple(merged.items())


def _read_contact(r: Reader, board: str) -> tuple[str, str]:
    """A button's ``pull`` and ``active``, which must agree on the Pi header."""
    pull = r.get("pull", "up", choice("up", "down", "none"), 'one of "up", "down", "none"')
    active = r.get(
        "active", "high" if pull == "down" else "low", choice("low", "high"), '"low" or "high"'
    )
    if board == "gpio" and pull != "none" and (pull == "up") == (active == "high"):
        r.problems.append(
            f'[{r.section}] pull = "{pull}" with active = "{active}": on the Pi header a '
            f"pull-{pull} button is active {'low' if pull == 'up' else 'high'} (wire it to "
            f'{"GND" if pull == "up" else "3V3"}), or use pull = "none" with an external resistor'
        )
    return pull, active


def _read_targets(r: Reader, action: str) -> tuple[str, ...]:
    """Whom a button calls: required for the calling actions, a mistake for the others."""
    no_targets: tuple[str, ...] = ()
    targets = r.get(
        "targets",
        no_targets,
        _targets,
        'a list of user names or SIP URIs, e.g. targets = ["flat12", "sip:concierge@example.com"]',
    )
    calls = action in ("call", "call-or-hangup", *TRANSFER_ACTIONS)
    if action in TRANSFER_ACTIONS and len(targets) > 1:
        r.problems.append(
            f'[{r.section}] targets = {list(targets)}: action = "{action}" moves the call to one '
            'target, e.g. targets = ["flat12"]'
        )
    if calls and not targets and "targets" not in r.table:
        r.problems.append(
            f'[{r.section}] targets is missing: action = "{action}" needs whom to call, e.g. '
            'targets = ["flat12"]'
        )
    if not calls and "targets" in r.table:
        r.problems.append(
            f'[{r.section}] targets is set but action = "{action}" calls no one: remove targets '
            'or use action = "call"'
        )
    return targets


def _item_reader(
    kind: str, index: int, table: Any, keys: tuple[str, ...], problems: list[str]
) -> Reader | None:
    """The reader of the ``index``-th ``[[hardware.kind]]``, after its keys are checked."""
    label = f"hardware.{kind} #{index}"
    if not isinstance(table, dict):
        problems.append(f"[{label}]: must be a table, e.g. [[hardware.{kind}]] with name and pin")
        return None
    check_keys(label, table, keys, problems)
    return Reader(label, table, problems)


def _read_button(index: int, table: Any, board: str, problems: list[str]) -> ButtonSettings | None:
    r = _item_reader("button", index, table, _BUTTON_KEYS, problems)
    if r is None:
        return None
    before = len(problems)
    name = r.required("name", _name, 'letters, digits, "-" or "_", e.g. name = "call"')
    pin = read_pin(r, "pin", board, -1)
    if "pin" not in table:
        problems.append(f"[{r.section}] pin is missing: {pin_fix(board, 'pin')}")
    pull, active = _read_contact(r, board)
    action = r.get(
        "action",
        "call",
        choice(*BUTTON_ACTIONS),
        "one of " + ", ".join(f'"{a}"' for a in BUTTON_ACTIONS),
    )
    button = ButtonSettings(
        name=name,
        pin=pin,
        pull=pull,
        active=active,
        action=action,
        targets=_read_targets(r, action),
        bounce_ms=r.get(
            "bounce_ms", 30, int_in(0, 1000), "milliseconds between 0 and 1000, e.g. 30"
        ),
        hold_s=r.get("hold_s", 2.0, number_in(0.1, 60), "seconds between 0.1 and 60, e.g. 2"),
        mode=r.get(
            "mode", "parallel", choice("parallel", "sequential"), '"parallel" or "sequential"'
        ),
        target_timeout=r.get(
            "target_timeout", 20.0, number_in(1, 600), "seconds between 1 and 600, e.g. 20"
        ),
    )
    return button if len(problems) == before else None


def _read_led(index: int, table: Any, board: str, problems: list[str]) -> LedSettings | None:
    r = _item_reader("led", index, table, _LED_KEYS, problems)
    if r is None:
        return None
    before = len(problems)
    name = r.required("name", _name, 'letters, digits, "-" or "_", e.g. name = "status"')
    if "pin" not in table:
        problems.append(f"[{r.section}] pin is missing: {pin_fix(board, 'pin')}")
    led = LedSettings(
        name=name,
        pin=read_pin(r, "pin", board, -1),
        active=r.get("active", "high", choice("low", "high"), '"high" or "low"'),
        show=r.get(
            "show",
            tuple(DEFAULT_LED_SHOW.items()),
            _show_map,
            "a table of state = pattern; states: "
            + ", ".join(DEFAULT_LED_SHOW)
            + "; patterns: "
            + ", ".join(LED_PATTERNS)
            + ', e.g. show = { idle = "on", ringing = "fast" }',
        ),
    )
    return led if len(problems) == before else None


def device_tables(table: Mapping[str, Any]) -> dict[str, list[Any]]:
    """The raw ``button`` and ``led`` arrays of ``[hardware]`` (empty when written wrong)."""
    out: dict[str, list[Any]] = {}
    for key, _ in _LISTS:
        value = table.get(key, [])
        out[key] = value if isinstance(value, list) else []
    return out


def read(doc: Document) -> HardwareSettings:
    r = doc.reader("hardware")
    board = r.get(
        "board",
        "none",
        choice("none", "gpio", "serial", "simulated"),
        'one of "none", "gpio", "serial", "simulated"',
    )
    serial_port = r.get(
        "serial_port",
        "/dev/ttyACM0",
        nonempty_str,
        'the board\'s serial device, e.g. "/dev/ttyACM0"',
    )
    pin_factory = r.get(
        "pin_factory",
        None,
        choice(*_PIN_FACTORIES),
        "a gpiozero pin factory: " + ", ".join(f'"{f}"' for f in _PIN_FACTORIES),
    )
    if pin_factory is not None and board != "gpio":
        doc.problems.append(
            f'[hardware] pin_factory = "{pin_factory}" is only used with board = "gpio": remove '
            "it or set the board"
        )
    for key, example in _LISTS:
        if not isinstance(r.table.get(key, []), list):
            r.problem(key, r.table[key], f"write each one as its own {example} table")
    tables = device_tables(r.table)
    buttons = [_read_button(i, t, board, doc.problems) for i, t in enumerate(tables["button"], 1)]
    leds = [_read_led(i, t, board, doc.problems) for i, t in enumerate(tables["led"], 1)]
    return HardwareSettings(
        board=board,
        serial_port=serial_port,
        pin_factory=pin_factory,
        buttons=tuple(b for b in buttons if b is not None),
        leds=tuple(led for led in leds if led is not None),
    )


HARDWARE = Section(
    "hardware", ("board", "serial_port", "pin_factory", "button", "led"), HardwareSettings(), read
)
