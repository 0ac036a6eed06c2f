"""A simulated ``IoBoard`` for the demo and for tests of everything above the hardware.

It behaves like the serial board seen from the runtime: names from the ``BoardSpec``, LED
patterns recorded (not blinked), relay pulses capped at the relay's ``max_pulse_s`` and ended
by the board itself. Code "wires" it with ``press``/``release``/``hold``/``set_sensor``.

How a pulse ends depends on who owns time:
- ``SimulatedBoard(spec)`` (the demo): a ``threading.Timer`` per pulse. Nothing in the demo
  ticks the board, and a simulated door must lock again by itself like the real one does.
- ``SimulatedBoard(spec, manual_clock=True)`` (tests): time stands still until ``advance``,
  so a test states "after 2.9 s still open, after 3.0 s closed" without sleeping.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from endpoint.ua.io import (
    BoardFault,
    BoardSpec,
    ButtonEvent,
    HardwareEvent,
    InputKind,
    LedPattern,
    SensorEvent,
)


@dataclass(frozen=True, slots=True)
class RelayChange:
    """A relay switching on the simulated board, recorded with its time for tests and the demo."""

    at: float
    name: str
    energised: bool


class SimulatedBoard:
    def __init__(self, spec: BoardSpec, *, manual_clock: bool = False) -> None:
        self.spec = spec
        self._manual = manual_clock
        self._now = 0.0
        self._lock = threading.RLock()
        self._emit: Callable[[HardwareEvent], None] | None = None
        self._closed = False
        self._leds = {led.name: LedPattern.OFF for led in spec.leds}
        self._max_pulse = {relay.name: relay.max_pulse_s for relay in spec.relays}
        self._relay_until: dict[str, float | None] = dict.fromkeys(self._max_pulse)
        self._timers: dict[str, threading.Timer] = {}
        self._pressed = dict.fromkeys((b.name for b in spec.buttons), False)
        self._sensors = dict.fromkeys((s.name for s in spec.sensors), False)
        self.relay_log: list[RelayChange] = []
        """Every energise/release, in order, with the board's time."""
        self.led_log: list[tuple[str, LedPattern]] = []

    # -- time -------------------------------------------------------------------------------
    def now(self) -> float:
        return self._now if self._manual else time.monotonic()

    def advance(self, seconds: float) -> None:
        """Manual clock only: move time on and end every pulse that is due."""
        if not self._manual:
            raise RuntimeError("advance() needs SimulatedBoard(..., manual_clock=True)")
        with self._lock:
            self._now += seconds
            for name, until in self._relay_until.items():
                if until is not None and until <= self._now:
                    self._set_relay(name, None)

    # -- IoBoard ----------------------------------------------------------------------------
    def start(self, emit: Callable[[HardwareEvent], None]) -> None:
        self._emit = emit

    def set_led(self, name: str, pattern: LedPattern) -> None:
        with self._lock:
            if name in self._leds and not self._closed:
                self._leds[name] = pattern
                self.led_log.append((name, pattern))

    def pulse_relay(self, name: str, seconds: float) -> None:
        with self._lock:
            if name not in self._max_pulse or self._closed:
                raise KeyError(f"no relay named {name!r} on this board")
            seconds = min(max(seconds, 0.0), self._max_pulse[name])
            if seconds <= 0:
                self._set_relay(name, None)
                return
            until = self.now() + seconds
            self._set_relay(name, until)
            if not self._manual:
                timer = threading.Timer(seconds, self._expire, (name, until))
                timer.daemon = True
                old = self._timers.pop(name, None)
                if old is not None:
                    old.cancel()
                self._timers[name] = timer
                timer.start()

    def release_all(self) -> None:
        with self._lock:
            for name in self._relay_until:
                self._set_relay(name, None)

    def close(self) -> None:
        with self._lock:
            self.release_all()
            for name in self._leds:
                self._leds[name] = LedPattern.OFF
            self._closed = True

    def status(self) -> dict[str, object]:
        with self._lock:
            return {
                "board": "simulated",
                "leds": {name: p.value for name, p in self._leds.items()},
                "relays": {
                    name: "energised" if until is not None else "idle"
                    for name, until in self._relay_until.items()
                },
                "sensors": dict(self._sensors),
                "buttons": {
                    name: "pressed" if p else "released" for name, p in self._pressed.items()
                },
            }

    def sensor_states(self) -> dict[str, bool]:
        with self._lock:
            return dict(self._sensors)

    # -- what a test or the demo does to the "hardware" -------------------------------------
    def press(self, name: str) -> None:
        self._button(name, True)

    def release(self, name: str) -> None:
        self._button(name, False)

    def hold(self, name: str) -> None:
        """Press (if not yet pressed) and keep it down past the hold time: PRESSED, HELD."""
        self._button(name, True)
        self._send(ButtonEvent(name, InputKind.HELD))

    def set_sensor(self, name: str, active: bool) -> None:
        with self._lock:
            if name not in self._sensors:
                raise KeyError(f"no sensor named {name!r} on this board")
            changed = self._sensors[name] != active
            self._sensors[name] = active
        if changed:
            self._send(SensorEvent(name, active))

    def fault(self, reason: str) -> None:
        """Pretend the board went away (``ok=False``)."""
        self._send(BoardFault(ok=False, reason=reason))

    def recover(self) -> None:
        self._send(BoardFault(ok=True, reason="simulated board back"))

    def led(self, name: str) -> LedPattern:
        with self._lock:
            return self._leds[name]

    def relay_energised(self, name: str) -> bool:
        with self._lock:
            return self._relay_until[name] is not None

    # -- inside -----------------------------------------------------------------------------
    def _button(self, name: str, down: bool) -> None:
        with self._lock:
            if name not in self._pressed:
                raise KeyError(f"no button named {name!r} on this board")
            changed = self._pressed[name] != down
            self._pressed[name] = down
        if changed:
            self._send(ButtonEvent(name, InputKind.PRESSED if down else InputKind.RELEASED))

    def _send(self, event: HardwareEvent) -> None:
        emit = self._emit
        if emit is not None and not self._closed:
            emit(event)

    def _expire(self, name: str, until: float) -> None:
        with self._lock:
            if self._relay_until.get(name) == until:  # not replaced by a newer pulse
                self._set_relay(name, None)

    def _set_relay(self, name: str, until: float | None) -> None:
        was = self._relay_until[name] is not None
        self._relay_until[name] = until
        if until is None:
            timer = self._timers.pop(name, None)
            if timer is not None:
                timer.cancel()
        if was != (until is not None):
            self.relay_log.append(RelayChange(self.now(), name, until is not None))
