"""``IoBoard`` on the Pi's own header, through gpiozero 2.x.

gpiozero already solves what a door needs from GPIO: debounced buttons with a hold time, LEDs
that blink in a background thread, outputs with a defined idle level, and a swappable pin
factory (``lgpio`` on a Pi, ``MockFactory`` in tests — DESIGN principle 9). This adapter only
maps our ``BoardSpec`` onto those devices and gpiozero's callbacks onto ``HardwareEvent``
records. The pin factory is gpiozero's choice (``GPIOZERO_PIN_FACTORY``) unless the
configuration names one.

The relay is the part that must never fail open: a pulse is capped at the relay's
``max_pulse_s``, each pulse is ended by its own timer, and ``release_all``/``close`` (also run
at interpreter exit through ``atexit``) de-energise every relay whatever else fails.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import logging
import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib.metadata import entry_points
from typing import Any, Protocol

from gpiozero import LED, Button, DigitalInputDevice, OutputDevice
from gpiozero.exc import GPIOZeroError, PinWarning

from endpoint.ua.io import (
    PATTERN_STEPS,
    BoardSpec,
    ButtonEvent,
    ButtonSpec,
    HardwareEvent,
    InputKind,
    LedPattern,
    Pull,
    SensorEvent,
    SensorSpec,
)

log = logging.getLogger("endpoint.hardware")


class GpioError(Exception):
    """The header cannot be set up as configured; the message names the pin and the fix."""


def load_pin_factory(name: str) -> Any:
    """A gpiozero pin factory by entry-point name: ``lgpio``, ``rpigpio``, ``native``, ``mock``.

    The same names ``GPIOZERO_PIN_FACTORY`` takes; looked up the way gpiozero does, so a
    factory installed as a plug-in works too.
    """
    for ep in entry_points(group="gpiozero_pin_factories"):
        if ep.name == name.lower():
            try:
                return ep.load()()
            except Exception as exc:  # a driver's own import or hardware error
                raise GpioError(f"pin factory {name!r} cannot start: {exc}") from exc
    known = sorted(ep.name for ep in entry_points(group="gpiozero_pin_factories"))
    raise GpioError(f"unknown pin factory {name!r}; gpiozero knows {', '.join(known)}")


def _pull_up(pull: Pull) -> bool | None:
    return {Pull.UP: True, Pull.DOWN: False, Pull.NONE: None}[pull]


def _stepped_source(steps: tuple[tuple[bool, float], ...]) -> tuple[float, Iterator[int]]:
    """A pattern of several steps as an endless value stream for gpiozero's ``source``.

    ``LED.blink`` knows one on and one off time; the double flash needs four steps, so it is
    spelled out in slots of the shortest step and fed through ``source``/``source_delay``.
    """
    slot = min(seconds for _, seconds in steps)
    values: list[int] = []
    for lit, seconds in steps:
        values += [int(lit)] * max(1, round(seconds / slot))
    return slot, itertools.cycle(values)


@contextmanager
def _pin_problem(kind: str, name: str, pin: int) -> Iterator[None]:
    """gpiozero's errors (pin in use, no such pin, no driver) as one line naming our wiring."""
    try:
        yield
    except GPIOZeroError as exc:
        raise GpioError(
            f"{kind} {name!r} on GPIO{pin}: {type(exc).__name__}: {exc} (check the pin number, "
            "that no other program uses it, and GPIOZERO_PIN_FACTORY / [hardware] pin_factory)"
        ) from exc


class RelayTimer(Protocol):
    """What ends a relay pulse: ``threading.Timer``'s start and cancel."""

    def start(self) -> None: ...

    def cancel(self) -> None: ...


#: Makes the timer that calls its function after the pulse's seconds.
TimerFactory = Callable[[float, Callable[[], None]], RelayTimer]


def daemon_timer(seconds: float, function: Callable[[], None]) -> RelayTimer:
    """A ``threading.Timer`` that does not hold the interpreter open at exit."""
    timer = threading.Timer(seconds, function)
    timer.daemon = True
    return timer


class GPIOBoard:
    """Buttons, LEDs, relays and sensors of one ``BoardSpec`` on gpiozero devices.

    ``timer`` makes the timers that end relay pulses: a test hands in one that records them, to
    fire an old timer late at will (the race the pulse logic guards against).
    """

    def __init__(
        self,
        spec: BoardSpec,
        *,
        pin_factory: str | None = None,
        timer: TimerFactory = daemon_timer,
    ) -> None:
        self.spec = spec
        factory = load_pin_factory(pin_factory) if pin_factory else None
        #: The pin factory the configuration named; None is gpiozero's own choice.
        self.pin_factory: Any = factory
        self._timer = timer
        self._lock = threading.Lock()
        self._emit: Callable[[HardwareEvent], None] | None = None
        self._timers: dict[str, RelayTimer] = {}
        self._patterns: dict[str, LedPattern] = {}
        self._closed = False
        self._buttons: dict[str, Button] = {}
        self._sensors: dict[str, tuple[DigitalInputDevice, bool]] = {}
        self._leds: dict[str, LED] = {}
        self._relays: dict[str, OutputDevice] = {}
        # gpiozero warns about each pin driver it could not load before it settles on one (or
        # on none): those lines are the installer's best clue, so they join our error or log.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                self._build(spec, factory)
            except GpioError as exc:
                self.close()
                tried = [str(w.message) for w in caught if issubclass(w.category, PinWarning)]
                if tried:
                    raise GpioError(f"{exc}; {'; '.join(tried)}") from exc
                raise
            except BaseException:
                self.close()
                raise
        for w in caught:
            log.info("gpiozero: %s", w.message)
        atexit.register(self.release_all)

    def _build(self, spec: BoardSpec, factory: Any) -> None:
        for relay in spec.relays:  # first: a relay pin must be driven idle before anything
            with _pin_problem("relay", relay.name, relay.pin):
                self._relays[relay.name] = OutputDevice(
                    relay.pin,
                    active_high=relay.active_high,
                    initial_value=False,
                    pin_factory=factory,
                )
        for b in spec.buttons:
            with _pin_problem("button", b.name, b.pin):
                self._buttons[b.name] = self._button(b, factory)
        for s in spec.sensors:
            with _pin_problem("sensor", s.name, s.pin):
                self._sensors[s.name] = self._sensor(s, factory)
        for led in spec.leds:
            with _pin_problem("led", led.name, led.pin):
                self._leds[led.name] = LED(
                    led.pin,
                    active_high=led.active_high,
                    initial_value=False,
                    pin_factory=factory,
                )

    @staticmethod
    def _button(spec: ButtonSpec, factory: Any) -> Button:
        pull_up = _pull_up(spec.pull)
        # gpiozero derives the active level from the pull; an explicit level only when floating.
        active = spec.active_high if pull_up is None else None
        if pull_up is not None and spec.active_high == pull_up:
            raise GpioError(
                f"button {spec.name!r} on GPIO{spec.pin}: pull = {spec.pull.value} makes the "
                f"button active {'low' if pull_up else 'high'}; wire it to "
                f"{'GND' if pull_up else '3V3'} or use pull = none with an external resistor"
            )
        return Button(
            spec.pin,
            pull_up=pull_up,
            active_state=active,
            bounce_time=spec.bounce_ms / 1000 if spec.bounce_ms > 0 else None,
            hold_time=spec.hold_s,
            hold_repeat=False,
            pin_factory=factory,
        )

    @staticmethod
    def _sensor(spec: SensorSpec, factory: Any) -> tuple[DigitalInputDevice, bool]:
        """A contact; returns the device and whether its active sense is inverted.

        A door contact with a pull-up is often *open* at the high level (reed switch to GND,
        closed while the door is shut); gpiozero ties the active level to the pull, so that
        case is built as a plain pull-up input and read inverted.
        """
        pull_up = _pull_up(spec.pull)
        active = spec.active_high if pull_up is None else None
        device = DigitalInputDevice(
            spec.pin,
            pull_up=pull_up,
            active_state=active,
            bounce_time=spec.bounce_ms / 1000 if spec.bounce_ms > 0 else None,
            pin_factory=factory,
        )
        inverted = pull_up is not None and spec.active_high == pull_up
        return device, inverted

    # -- IoBoard -------------------------------------------------------------------------

    def start(self, emit: Callable[[HardwareEvent], None]) -> None:
        """Connect gpiozero's callbacks (they run in gpiozero's threads) to ``emit``."""
        self._emit = emit
        for name, button in self._buttons.items():
            button.when_pressed = self._sender(ButtonEvent(name, InputKind.PRESSED))
            button.when_released = self._sender(ButtonEvent(name, InputKind.RELEASED))
            button.when_held = self._sender(ButtonEvent(name, InputKind.HELD))
        for name, (device, inverted) in self._sensors.items():
            device.when_activated = self._sender(SensorEvent(name, not inverted))
            device.when_deactivated = self._sender(SensorEvent(name, inverted))

    def _sender(self, event: HardwareEvent) -> Callable[[], None]:
        def send() -> None:
            emit = self._emit
            if emit is not None and not self._closed:
                emit(event)

        return send

    def sensor_states(self) -> dict[str, bool]:
        """Each sensor's current state (True = open/active), e.g. to report it at start."""
        return {
            name: bool(device.is_active) != inverted
            for name, (device, inverted) in self._sensors.items()
        }

    def set_led(self, name: str, pattern: LedPattern) -> None:
        led = self._leds.get(name)
        if led is None or self._closed:
            return
        self._patterns[name] = pattern
        led.source = None
        if pattern is LedPattern.OFF:
            led.off()
        elif pattern is LedPattern.ON:
            led.on()
        else:
            steps = PATTERN_STEPS[pattern]
            if len(steps) == 2 and steps[0][0] and not steps[1][0]:
                led.blink(on_time=steps[0][1], off_time=steps[1][1])
            else:
                slot, values = _stepped_source(steps)
                led.off()
                led.source_delay = slot
                led.source = values

    def pulse_relay(self, name: str, seconds: float) -> None:
        """Energise ``name`` for ``seconds`` (at most the relay's ``max_pulse_s``).

        A pulse while one runs restarts the timer: the door stays open for the newer pulse.
        """
        relay = self._relays.get(name)
        spec = next((r for r in self.spec.relays if r.name == name), None)
        if relay is None or spec is None:
            raise KeyError(f"no relay named {name!r} on this board")
        seconds = min(max(seconds, 0.0), spec.max_pulse_s)
        with self._lock:
            if self._closed:  # checked under the lock: close() cannot race a late pulse
                raise RuntimeError("the GPIO board is closed")
            old = self._timers.pop(name, None)
            if old is not None:
                old.cancel()
            if seconds <= 0:
                self._off(name, relay)
                return
            # Each pulse gets a fresh timer; a timer that fires after a newer pulse replaced
            # it finds itself no longer current and leaves the relay alone.
            timer = self._timer(seconds, lambda: self._release(name, timer))
            self._timers[name] = timer
            relay.on()
            timer.start()

    def _release(self, name: str, timer: RelayTimer) -> None:
        with self._lock:
            if self._timers.get(name) is not timer:
                return
            del self._timers[name]
            relay = self._relays.get(name)
            if relay is not None:
                self._off(name, relay)

    @staticmethod
    def _off(name: str, relay: OutputDevice) -> None:
        try:
            relay.off()
        except Exception:  # the one thing that must not be skipped: log loudly, go on
            log.exception("cannot release relay %s", name)

    def release_all(self) -> None:
        with self._lock:
            for timer in self._timers.values():
                timer.cancel()
            self._timers.clear()
            for name, relay in self._relays.items():
                if not relay.closed:
                    self._off(name, relay)

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True  # from here on no pulse starts
        self.release_all()
        atexit.unregister(self.release_all)
        devices: list[Any] = [
            *self._leds.values(),
            *self._buttons.values(),
            *(d for d, _ in self._sensors.values()),
            *self._relays.values(),
        ]
        for led in self._leds.values():
            with contextlib.suppress(Exception):
                led.source = None
                led.off()
        for device in devices:
            with contextlib.suppress(Exception):
                device.close()

    def status(self) -> dict[str, object]:
        relays = {
            name: ("closed" if relay.closed else "energised" if relay.is_active else "idle")
            for name, relay in self._relays.items()
        }
        return {
            "board": "gpio",
            "ok": not self._closed,
            "relays": relays,
            "leds": {name: self._patterns.get(name, LedPattern.OFF).value for name in self._leds},
            "buttons": {
                name: bool(button.is_active) if not button.closed else None
                for name, button in self._buttons.items()
            },
            "sensors": self.sensor_states() if not self._closed else {},
        }
