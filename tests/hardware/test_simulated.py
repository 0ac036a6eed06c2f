"""The simulated board: what the demo and the hardware-free tests stand on."""

from __future__ import annotations

import threading

import pytest

from endpoint.hardware.simulated import SimulatedBoard
from endpoint.ua.io import (
    BoardFault,
    BoardSpec,
    ButtonEvent,
    ButtonSpec,
    HardwareEvent,
    InputKind,
    IoBoard,
    LedPattern,
    LedSpec,
    RelaySpec,
    SensorEvent,
    SensorSpec,
)

SPEC = BoardSpec(
    buttons=(ButtonSpec("call", 17),),
    sensors=(SensorSpec("door", 27),),
    leds=(LedSpec("status", 22),),
    relays=(RelaySpec("door", 23, max_pulse_s=5.0),),
)


def started(manual: bool = True) -> tuple[SimulatedBoard, list[HardwareEvent]]:
    board = SimulatedBoard(SPEC, manual_clock=manual)
    events: list[HardwareEvent] = []
    board.start(events.append)
    return board, events


def test_is_an_ioboard() -> None:
    board: IoBoard = SimulatedBoard(SPEC)
    assert board.status()["board"] == "simulated"


def test_press_hold_release_emit_button_events_once_each() -> None:
    board, events = started()
    board.press("call")
    board.press("call")  # already down: nothing new
    board.hold("call")
    board.release("call")
    assert events == [
        ButtonEvent("call", InputKind.PRESSED),
        ButtonEvent("call", InputKind.HELD),
        ButtonEvent("call", InputKind.RELEASED),
    ]


def test_sensor_changes_only() -> None:
    board, events = started()
    board.set_sensor("door", True)
    board.set_sensor("door", True)
    board.set_sensor("door", False)
    assert events == [SensorEvent("door", True), SensorEvent("door", False)]
    assert board.sensor_states() == {"door": False}


def test_unknown_names() -> None:
    board, _ = started()
    with pytest.raises(KeyError):
        board.press("bell")
    with pytest.raises(KeyError):
        board.pulse_relay("gate", 1.0)
    board.set_led("nope", LedPattern.ON)  # like the GPIO board: an LED not wired is ignored
    assert board.status()["leds"] == {"status": "off"}


def test_led_patterns_are_recorded() -> None:
    board, _ = started()
    board.set_led("status", LedPattern.SLOW)
    board.set_led("status", LedPattern.DOUBLE)
    assert board.led("status") is LedPattern.DOUBLE
    assert board.led_log == [("status", LedPattern.SLOW), ("status", LedPattern.DOUBLE)]


def test_pulse_ends_by_itself_on_the_manual_clock() -> None:
    board, _ = started()
    board.pulse_relay("door", 3.0)
    board.advance(2.9)
    assert board.relay_energised("door")
    board.advance(0.1)
    assert not board.relay_energised("door")
    assert [(c.at, c.energised) for c in board.relay_log] == [(0.0, True), (3.0, False)]


def test_pulse_is_capped_at_max_pulse() -> None:
    board, _ = started()
    board.pulse_relay("door", 60.0)
    board.advance(5.0)
    assert not board.relay_energised("door")


def test_a_new_pulse_restarts_the_time() -> None:
    board, _ = started()
    board.pulse_relay("door", 3.0)
    board.advance(2.0)
    board.pulse_relay("door", 3.0)
    board.advance(2.0)
    assert board.relay_energised("door")
    board.advance(1.0)
    assert not board.relay_energised("door")
    assert len(board.relay_log) == 2


def test_release_all_and_close() -> None:
    board, events = started()
    board.set_led("status", LedPattern.ON)
    board.pulse_relay("door", 3.0)
    board.release_all()
    assert not board.relay_energised("door")
    board.pulse_relay("door", 3.0)
    board.close()
    assert not board.relay_energised("door")
    assert board.led("status") is LedPattern.OFF
    board.press("call")
    assert events == []


def test_real_time_pulse_ends_by_timer() -> None:
    board, _ = started(manual=False)
    released = threading.Event()
    board.pulse_relay("door", 0.05)
    assert board.relay_energised("door")

    def watch() -> None:
        while board.relay_energised("door"):
            released.wait(0.005)
        released.set()

    threading.Thread(target=watch, daemon=True).start()
    assert released.wait(5.0)
    with pytest.raises(RuntimeError):
        board.advance(1.0)


def test_fault_and_recover() -> None:
    board, events = started()
    board.fault("unplugged")
    board.recover()
    assert [type(e) for e in events] == [BoardFault, BoardFault]
    assert events[0] == BoardFault(ok=False, reason="unplugged")
