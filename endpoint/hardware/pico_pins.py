"""The Pico pin table, kept under its old name for code that imports it from here.

The table moved to ``endpoint.pico_pins``: the configuration check reads it, and the
configuration sits below the adapters, so the table must sit below both; this module only
re-exports it.
"""

from endpoint.pico_pins import PICO_GPIO_MAX, PICO_PIN_RANGES, PICO_PINS, PICO_RESERVED

__all__ = ["PICO_GPIO_MAX", "PICO_PINS", "PICO_PIN_RANGES", "PICO_RESERVED"]
