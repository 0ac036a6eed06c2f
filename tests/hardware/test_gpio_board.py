"""GPIOBoard on gpiozero's MockFactory: real gpiozero devices, pins driven like wires."""

from __future__ import annotations

import queue
import time
from collections.abc import Callable, Iterator

import pytest
from gpiozero import Device
from gpiozero.pins.mock import MockFactory, MockPin

from endpoint.hardware.gpio import (
    GPIOBoard,
    GpioError,
    RelayTimer,
    _stepped_source,
    daemon_timer,
)
from endpoint.ua.io import (
    PATTERN_STEPS,
    BoardSpec,
    ButtonEvent,
    ButtonSpec,
    HardwareEvent,
    InputKind,
    LedPattern,
    LedSpec,
    Pull,
    RelaySpec,
    SensorEvent,
    SensorSpec,
)


@pytest.fixture
def factory() -> Iterator[MockFactory]:
    previous = Device.pin_factory
    Device.pin_factory = MockFactory()
    try:
        yield Device.pin_factory
    finally:
        Device.pin_factory.reset()
        Device.pin_factory = previous


def pin(factory: MockFactory, number: int) -> MockPin:
    return factory.pin(number)


def wait_until(check: Callable[[], bool], timeout: float = 3.0) -> bool:
    """Bounded wait for something a gpiozero thread does (not a timing assertion)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.005)
    return check()


SPEC = BoardSpec(
    buttons=(ButtonSpec("call", 17, hold_s=0.05),),
    sensors=(SensorSpec("door", 22),),
    leds=(LedSpec("status", 23),),
    relays=(RelaySpec("door", 27, max_pulse_s=30.0),),
)


@pytest.fixture
def board(factory: MockFactory) -> Iterator[tuple[GPIOBoard, queue.Queue[HardwareEvent]]]:
    events: queue.Queue[HardwareEvent] = queue.Queue()
    b = GPIOBoard(SPEC)
    b.start(events.put)
    try:
        yield b, events
    finally:
        b.close()


def drain(events: queue.Queue[HardwareEvent]) -> list[HardwareEvent]:
    out = []
    while not events.empty():
        out.append(events.get_nowait())
    return out


def test_button_press_hold_release(
    factory: MockFactory, board: tuple[GPIOBoard, queue.Queue[HardwareEvent]]
) -> None:
    _, events = board
    button = pin(factory, 17)
    assert button.state is True  # pull-up: idle high
    button.drive_low()
    assert events.get(timeout=1) == ButtonEvent("call", InputKind.PRESSED)
    assert events.get(timeout=3) == ButtonEvent("call", InputKind.HELD)  # after hold_s
    button.drive_high()
    assert events.get(timeout=1) == ButtonEvent("call", InputKind.RELEASED)
    assert drain(events) == []


def test_short_press_is_not_held(
    factory: MockFactory, board: tuple[GPIOBoard, queue.Queue[HardwareEvent]]
) -> None:
    _, events = board
    b = GPIOBoard(BoardSpec(buttons=(ButtonSpec("other", 5, hold_s=60),)))
    try:
        b.start(events.put)
        pin(factory, 5).drive_low()
        pin(factory, 5).drive_high()
        assert drain(events) == [
            ButtonEvent("other", InputKind.PRESSED),
            ButtonEvent("other", InputKind.RELEASED),
        ]
    finally:
        b.close()


def test_button_pulls_and_bounce_reach_the_pin(factory: MockFactory) -> None:
    events: queue.Queue[HardwareEvent] = queue.Queue()
    spec = BoardSpec(
        buttons=(
            ButtonSpec("up", 5, Pull.UP, active_high=False, bounce_ms=30),
            ButtonSpec("down", 6, Pull.DOWN, active_high=True, bounce_ms=0),
            ButtonSpec("ext-low", 13, Pull.NONE, active_high=False),
            ButtonSpec("ext-high", 19, Pull.NONE, active_high=True),
        )
    )
    b = GPIOBoard(spec)
    try:
        b.start(events.put)
        assert (pin(factory, 5).pull, pin(factory, 5).bounce) == ("up", 0.03)
        assert (pin(factory, 6).pull, pin(factory, 6).bounce) == ("down", None)
        assert pin(factory, 13).pull == pin(factory, 19).pull == "floating"
        pin(factory, 6).drive_high()
        pin(factory, 13).drive_high()  # floating, active low: high is "not pressed"
        pin(factory, 13).drive_low()
        pin(factory, 19).drive_high()
        assert drain(events) == [
            ButtonEvent("down", InputKind.PRESSED),
            ButtonEvent("ext-low", InputKind.RELEASED),  # a floating mock pin starts low
            ButtonEvent("ext-low", InputKind.PRESSED),
            ButtonEvent("ext-high", InputKind.PRESSED),
        ]
        for number in (6, 19):  # released: gpiozero's hold thread would delay close()
            pin(factory, number).drive_low()
        pin(factory, 13).drive_high()
    finally:
        b.close()


def test_pull_up_button_cannot_be_active_high(factory: MockFactory) -> None:
    with pytest.raises(GpioError, match=r"button 'x' on GPIO5: pull = up.*active low"):
        GPIOBoard(BoardSpec(buttons=(ButtonSpec("x", 5, Pull.UP, active_high=True),)))
    GPIOBoard(BoardSpec(buttons=(ButtonSpec("x", 5),))).close()  # the pin was freed


def test_sensor_open_and_closed_both_senses(factory: MockFactory) -> None:
    events: queue.Queue[HardwareEvent] = queue.Queue()
    spec = BoardSpec(
        sensors=(
            SensorSpec("low", 22, Pull.UP, active_high=False),
            SensorSpec("high", 24, Pull.UP, active_high=True),  # reed switch to GND
        )
    )
    b = GPIOBoard(spec)
    try:
        b.start(events.put)
        assert b.sensor_states() == {"low": False, "high": True}  # both idle high
        pin(factory, 22).drive_low()
        pin(factory, 24).drive_low()
        pin(factory, 24).drive_high()
        assert drain(events) == [
            SensorEvent("low", True),
            SensorEvent("high", False),
            SensorEvent("high", True),
        ]
        assert b.sensor_states() == {"low": True, "high": True}
    finally:
        b.close()


def test_led_patterns(
    factory: MockFactory, board: tuple[GPIOBoard, queue.Queue[HardwareEvent]]
) -> None:
    b, _ = board
    led = pin(factory, 23)
    assert led.state is False
    b.set_led("status", LedPattern.ON)
    assert led.state is True
    b.set_led("status", LedPattern.OFF)
    assert led.state is False
    for pattern in (LedPattern.SLOW, LedPattern.FAST, LedPattern.DOUBLE):
        b.set_led("status", pattern)
        led.clear_states()
        assert wait_until(lambda: len(led.states) >= 4), pattern
        states = [s.state for s in led.states[:4]]
        assert states in ([False, True, False, True], [True, False, True, False]), pattern
        assert b.status()["leds"] == {"status": pattern.value}
    b.set_led("status", LedPattern.ON)  # a steady pattern stops the blinking thread
    led.clear_states()
    assert led.state is True
    b.set_led("nonexistent", LedPattern.ON)  # names not wired are ignored


def test_double_flash_is_spelled_out_in_100ms_slots() -> None:
    slot, values = _stepped_source(PATTERN_STEPS[LedPattern.DOUBLE])
    assert slot == pytest.approx(0.1)
    assert [next(values) for _ in range(20)] == [1, 0, 1, 0, 0, 0, 0, 0, 0, 0] * 2


def test_active_low_led(factory: MockFactory) -> None:
    b = GPIOBoard(BoardSpec(leds=(LedSpec("l", 12, active_high=False),)))
    try:
        assert pin(factory, 12).state is True  # off = high
        b.set_led("l", LedPattern.ON)
        assert pin(factory, 12).state is False
    finally:
        b.close()


def test_relay_pulse_releases_itself(
    factory: MockFactory, board: tuple[GPIOBoard, queue.Queue[HardwareEvent]]
) -> None:
    b, _ = board
    relay = pin(factory, 27)
    relay.clear_states()
    b.pulse_relay("door", 0.05)
    assert relay.state is True
    assert b.status()["relays"] == {"door": "energised"}
    assert wait_until(lambda: relay.state is False)
    assert [s.state for s in relay.states] == [False, True, False]
    assert b.status()["relays"] == {"door": "idle"}


def test_relay_pulse_is_capped(factory: MockFactory) -> None:
    b = GPIOBoard(BoardSpec(relays=(RelaySpec("door", 27, max_pulse_s=0.05),)))
    try:
        b.pulse_relay("door", 3600)
        assert pin(factory, 27).state is True
        assert wait_until(lambda: pin(factory, 27).state is False)
    finally:
        b.close()


def test_a_newer_pulse_is_not_cut_short_by_the_older_timer(factory: MockFactory) -> None:
    fired: list[Callable[[], None]] = []

    def recorded(seconds: float, function: Callable[[], None]) -> RelayTimer:
        fired.append(function)
        return daemon_timer(seconds, function)

    b = GPIOBoard(SPEC, timer=recorded)
    try:
        b.pulse_relay("door", 10)
        b.pulse_relay("door", 20)
        older = fired[0]
        older()  # the older timer firing late (it was cancelled, but may have raced)
        assert pin(factory, 27).state is True
        fired[1]()  # the newer one ends the pulse
        assert pin(factory, 27).state is False
        with pytest.raises(KeyError):
            b.pulse_relay("gate", 1)
    finally:
        b.close()


def test_active_low_relay_idles_high_and_close_releases_it(factory: MockFactory) -> None:
    b = GPIOBoard(BoardSpec(relays=(RelaySpec("door", 27, active_high=False),)))
    relay = pin(factory, 27)
    assert relay.state is True  # de-energised
    b.pulse_relay("door", 10)
    assert relay.state is False
    b.close()
    assert relay.state is True
    b.close()  # idempotent
    assert b.status()["relays"] == {"door": "closed"}
    with pytest.raises(RuntimeError, match="closed"):
        b.pulse_relay("door", 1)  # a closed board never energises again


def test_close_releases_the_relay_and_frees_every_pin(factory: MockFactory) -> None:
    events: queue.Queue[HardwareEvent] = queue.Queue()
    b = GPIOBoard(SPEC)
    b.start(events.put)
    b.pulse_relay("door", 10)
    b.set_led("status", LedPattern.FAST)
    b.close()
    assert pin(factory, 27).state is False
    assert drain(events) == []
    GPIOBoard(SPEC).close()  # every pin is free again


def test_pin_in_use_and_bad_factory_are_clear_errors(factory: MockFactory) -> None:
    first = GPIOBoard(BoardSpec(relays=(RelaySpec("door", 27),)))
    try:
        with pytest.raises(GpioError, match=r"button 'call' on GPIO27: GPIOPinInUse"):
            GPIOBoard(BoardSpec(buttons=(ButtonSpec("call", 27),)))
        with pytest.raises(GpioError, match=r"unknown pin factory 'nope'.*mock"):
            GPIOBoard(BoardSpec(), pin_factory="nope")
    finally:
        first.close()


def test_pin_factory_named_in_the_config(factory: MockFactory) -> None:
    b = GPIOBoard(BoardSpec(leds=(LedSpec("l", 4),)), pin_factory="mock")
    try:
        b.set_led("l", LedPattern.ON)
        assert b.pin_factory is not factory  # its own MockFactory
        assert b.pin_factory.pin(4).state is True
        assert pin(factory, 4).state is False
    finally:
        b.close()
