"""GPIO numbers as the installer writes them: the Pi header's BCM numbers or the Pico's GPn.

Shared by ``[[hardware.button]]``, ``[[hardware.led]]`` and ``[door]``: the same number means a
different pin on each board, so every fix names the numbering of the board configured.
"""

from __future__ import annotations

from typing import TypeVar

from endpoint.config.reader import Reader, int_in
from endpoint.hardware.pico_pins import PICO_GPIO_MAX, PICO_PIN_RANGES, PICO_RESERVED

T = TypeVar("T")

_PIN_FIX = "a BCM GPIO number 0-27 (the Pi header's GPIOn), e.g. pin = 17"
_PICO_PIN_FIX = (
    f"a Pico GPIO number {PICO_PIN_RANGES} (GPn on the board's silk screen), e.g. pin = 15"
)


def pin_fix(board: str, key: str) -> str:
    """How to write ``key`` right on ``board``: the Pi header's BCM numbers or the Pico's GPn."""
    fix = _PICO_PIN_FIX if board == "serial" else _PIN_FIX
    return fix.replace("pin =", f"{key} =")


def read_pin(r: Reader, key: str, board: str, default: T) -> int | T:
    """``key`` as a pin of ``board``: the Pi header's BCM 0-27 (gpio, and simulated/none as
    if it were one) or a Pico GPIO the firmware accepts (serial), reserved ones with why."""
    value = r.table.get(key)
    fallback: int | T = default
    if board == "serial" and isinstance(value, int) and value in PICO_RESERVED:
        r.problem(key, value, f"GP{value} is {PICO_RESERVED[value]}; use {PICO_PIN_RANGES}")
        return fallback
    highest = PICO_GPIO_MAX if board == "serial" else 27
    return r.get(key, fallback, int_in(0, highest), pin_fix(board, key))
