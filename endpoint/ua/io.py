"""The I/O vocabulary of the intercom core: ``IoBoard``, its events, LED patterns, wiring.

It lives on the core's side (``endpoint.ua``) because the core speaks it (a ``ButtonEvent``
comes in, a ``LedPattern`` goes out) and every adapter in ``endpoint.hardware`` implements it:
imports point inward, from the adapters to the core, never back.

An intercom is a button, a light, a lock and a sensor. Whether they hang off the Pi's header
(gpiozero), a Pico on USB serial, or a simulation in the demo, the runtime drives them the same
way: it starts the board with a callback that receives ``HardwareEvent`` records, and sends it
LED patterns and relay pulses by *name* (the names come from the configuration). Patterns are
named, not timed by the host, because a serial board runs them itself and blinking must not need
host traffic. A relay pulse carries its length so the board can release the relay on its own
even if the host dies mid-pulse (a door must never stay unlocked).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

DOOR = "door"
"""The name of the door relay and of the door sensor on every board."""


class InputKind(enum.Enum):
    PRESSED = "pressed"
    RELEASED = "released"
    HELD = "held"
    """Pressed for the input's configured hold time (sent once per press, after PRESSED)."""


class LedPattern(enum.Enum):
    """What an LED shows; the timings are fixed so every board blinks alike."""

    OFF = "off"
    ON = "on"
    SLOW = "slow"
    """1 Hz, 50 % duty: 500 ms on, 500 ms off."""
    FAST = "fast"
    """4 Hz, 50 % duty: 125 ms on, 125 ms off."""
    DOUBLE = "double"
    """Two 100 ms flashes 100 ms apart, then dark until the 1 s period ends."""


PATTERN_STEPS: dict[LedPattern, tuple[tuple[bool, float], ...]] = {
    LedPattern.SLOW: ((True, 0.5), (False, 0.5)),
    LedPattern.FAST: ((True, 0.125), (False, 0.125)),
    LedPattern.DOUBLE: ((True, 0.1), (False, 0.1), (True, 0.1), (False, 0.7)),
}
"""One period of each blinking pattern as (lit, seconds) steps, so every adapter blinks alike."""


@dataclass(frozen=True, slots=True)
class ButtonEvent:
    """A button or sensor input changed, from any hardware adapter."""

    name: str
    kind: InputKind


@dataclass(frozen=True, slots=True)
class SensorEvent:
    """A door (or other) contact changed; ``active`` True means open/triggered."""

    name: str
    active: bool


@dataclass(frozen=True, slots=True)
class BoardFault:
    """The board went away or came back (``ok``); ``reason`` is a line for the installer."""

    ok: bool
    reason: str


HardwareEvent = ButtonEvent | SensorEvent | BoardFault


class Pull(enum.Enum):
    UP = "up"
    DOWN = "down"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class ButtonSpec:
    """An input wired to ``pin`` (BCM number on the Pi header, GPIO number on a Pico)."""

    name: str
    pin: int
    pull: Pull = Pull.UP
    active_high: bool = False
    bounce_ms: int = 30
    hold_s: float = 2.0


@dataclass(frozen=True, slots=True)
class SensorSpec:
    """A contact (door sensor); ``active`` (open) when the pin is at its active level."""

    name: str
    pin: int
    pull: Pull = Pull.UP
    active_high: bool = False
    bounce_ms: int = 50


@dataclass(frozen=True, slots=True)
class LedSpec:
    """Which pin drives an LED and its polarity."""

    name: str
    pin: int
    active_high: bool = True


@dataclass(frozen=True, slots=True)
class RelaySpec:
    """A relay output; ``max_pulse_s`` is the board-side cap on any pulse (safety timeout)."""

    name: str
    pin: int
    active_high: bool = True
    max_pulse_s: float = 30.0


@dataclass(frozen=True, slots=True)
class BoardSpec:
    """Everything wired to one board, built from the configuration's ``[[hardware.*]]`` tables."""

    buttons: tuple[ButtonSpec, ...] = ()
    sensors: tuple[SensorSpec, ...] = ()
    leds: tuple[LedSpec, ...] = ()
    relays: tuple[RelaySpec, ...] = ()


class IoBoard(Protocol):
    """What every hardware adapter offers the runtime.

    ``start`` may call ``emit`` from any thread (gpiozero and pyserial use their own); the
    runtime hands events over to its loop itself. Commands never block for long: a serial
    board queues them.
    """

    def start(self, emit: Callable[[HardwareEvent], None]) -> None: ...

    def set_led(self, name: str, pattern: LedPattern) -> None: ...

    def pulse_relay(self, name: str, seconds: float) -> None:
        """Energise relay ``name`` for ``seconds``, then release it (board-side timeout)."""
        ...

    def release_all(self) -> None:
        """De-energise every relay now (shutdown and crash paths)."""
        ...

    def close(self) -> None:
        """Release every relay, turn LEDs off, free the pins or the port."""
        ...

    def status(self) -> dict[str, object]:
        """A snapshot for ``ctl status`` and ``doctor``."""
        ...

    def sensor_states(self) -> dict[str, bool]:
        """Each sensor's last known state (True = active/open); unknown ones are left out.

        Edges only tell of changes: this is how a door already open at start-up is known.
        """
        ...
