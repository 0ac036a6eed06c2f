"""Which Raspberry Pi Pico GPIOs the serial board lets a configuration wire, and why not the rest.

One source of truth for the host: the config check (endpoint/config/pins.py) and the codec's spec
check (serial_codec.py) both read it, so an installer hears about a reserved pin when the file is
loaded instead of from an ERR line of the board later. The firmware keeps
its own copy (board/firmware/controller.py ``VALID_PINS``) because it cannot import this
package; tests/hardware/test_pico_pins.py holds the two together. Standard library only:
the config imports this without pulling in pyserial.
"""

from __future__ import annotations

PICO_GPIO_MAX = 28
"""The highest GPIO number a configuration may name (GP29 only measures VSYS, inside the Pico)."""

PICO_RESERVED: dict[int, str] = {
    22: "the board's service jumper (to GND at power-up: the firmware stays off the port)",
    23: "internal to the Pico (the regulator's power-save control)",
    24: "internal to the Pico (USB VBUS sense)",
}
"""GPIOs within 0..PICO_GPIO_MAX that the firmware refuses, each with the reason."""

PICO_PINS = frozenset(range(PICO_GPIO_MAX + 1)).difference(PICO_RESERVED)
"""GPIOs a CONFIG may use: the header's GP0-21 and GP26-28, plus GP25 (the on-board LED)."""


def _ranges(pins: frozenset[int]) -> str:
    """``{0, 1, 2, 5}`` -> ``"0-2, 5"``: how an installer reads a set of pin numbers."""
    spans: list[list[int]] = []
    for pin in sorted(pins):
        if spans and pin == spans[-1][1] + 1:
            spans[-1][1] = pin
        else:
            spans.append([pin, pin])
    return ", ".join(str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in spans)


PICO_PIN_RANGES = _ranges(PICO_PINS)
"""``PICO_PINS`` as an installer writes it: "0-21, 25-28"."""
