"""The ``[hardware]`` and ``[door]`` tables of the configuration as the ``BoardSpec`` of a board.

It reads the configuration, so it lives with the runtime, above both the configuration and
the adapters (which know only ``BoardSpec``).

One place turns installer words ("pull = up", "active = low") into the wiring records every
adapter understands, so the GPIO, serial and simulated boards cannot disagree about what the
configuration meant. The door's relay and sensor are both named ``"door"``.
"""

from __future__ import annotations

from endpoint.config import DoorSettings, HardwareSettings
from endpoint.ua.io import DOOR, BoardSpec, ButtonSpec, LedSpec, Pull, RelaySpec, SensorSpec

RELAY_CAP_S = 30.0
"""Board-side cap on any relay pulse: the longest ``pulse_s`` the configuration allows."""


def board_spec(hardware: HardwareSettings, door: DoorSettings) -> BoardSpec:
    buttons = tuple(
        ButtonSpec(
            b.name,
            b.pin,
            Pull(b.pull),
            active_high=b.active == "high",
            bounce_ms=b.bounce_ms,
            hold_s=b.hold_s,
        )
        for b in hardware.buttons
    )
    leds = tuple(
        LedSpec(led.name, led.pin, active_high=led.active == "high") for led in hardware.leds
    )
    relays: tuple[RelaySpec, ...] = ()
    if door.relay_pin is not None:
        relays = (
            RelaySpec(
                DOOR,
                door.relay_pin,
                active_high=door.relay_active == "high",
                max_pulse_s=max(RELAY_CAP_S, door.pulse_s),
            ),
        )
    sensors: tuple[SensorSpec, ...] = ()
    if door.sensor_pin is not None:
        sensors = (
            SensorSpec(
                DOOR,
                door.sensor_pin,
                Pull(door.sensor_pull),
                active_high=door.sensor_active == "high",
            ),
        )
    return BoardSpec(buttons=buttons, sensors=sensors, leds=leds, relays=relays)
