"""``SerialBoard`` (the endpoint's driver) against the real firmware in MicroPython over a pty."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from endpoint.backoff import Backoff
from endpoint.hardware.serial_board import SerialBoard
from endpoint.ua.io import (
    BoardFault,
    BoardSpec,
    ButtonEvent,
    ButtonSpec,
    InputKind,
    IoBoard,
    LedPattern,
    LedSpec,
    RelaySpec,
    SensorEvent,
    SensorSpec,
)
from tests.hardware.serial_rig import Events, FirmwareRig, wait_until

BUTTON, SENSOR, LED, RELAY, GATE = 15, 14, 16, 17, 18
SPEC = BoardSpec(
    buttons=(ButtonSpec("call", BUTTON, bounce_ms=5, hold_s=0.3),),
    sensors=(SensorSpec("door", SENSOR, bounce_ms=5),),
    leds=(LedSpec("status", LED),),
    relays=(RelaySpec("door", RELAY, max_pulse_s=0.5), RelaySpec("gate", GATE, max_pulse_s=60)),
)
FAST_RETRY = Backoff(base=0.1, cap=0.4)


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[FirmwareRig]:
    rig = FirmwareRig(tmp_path)
    rig.start()
    yield rig
    rig.stop()


@pytest.fixture
def events() -> Events:
    return Events()


@pytest.fixture
def board(rig: FirmwareRig, events: Events) -> Iterator[SerialBoard]:
    board = SerialBoard(SPEC, rig.port, backoff=FAST_RETRY)
    board.start(events)
    wait_until(lambda: board.status()["link"] == "ready", 5)
    yield board
    board.close()


@pytest.mark.micropython
def test_is_an_ioboard(rig: FirmwareRig) -> None:
    board: IoBoard = SerialBoard(SPEC, rig.port)
    assert board.status()["link"] == "closed"


@pytest.mark.micropython
def test_handshake_and_config(board: SerialBoard, rig: FirmwareRig, events: Events) -> None:
    status = board.status()
    assert status["firmware"] == "intercom-io/1.0.0"
    wait_until(
        lambda: (rig.mode(LED), rig.mode(RELAY), rig.mode(BUTTON)) == ("out", "out", "in"), 2
    )
    # The door's state at start-up is known, but it is not news.
    wait_until(lambda: board.sensor_states() == {"door": False}, 2)
    assert events.all() == []


@pytest.mark.micropython
def test_button_events_reach_emit(board: SerialBoard, rig: FirmwareRig, events: Events) -> None:
    rig.drive(BUTTON, 0)
    events.wait_for(ButtonEvent("call", InputKind.PRESSED))
    events.wait_for(ButtonEvent("call", InputKind.HELD))
    rig.drive(BUTTON, None)
    events.wait_for(ButtonEvent("call", InputKind.RELEASED))
    assert events.all() == [
        ButtonEvent("call", InputKind.PRESSED),
        ButtonEvent("call", InputKind.HELD),
        ButtonEvent("call", InputKind.RELEASED),
    ]


@pytest.mark.micropython
def test_sensor_events_reach_emit(board: SerialBoard, rig: FirmwareRig, events: Events) -> None:
    rig.drive(SENSOR, 0)
    events.wait_for(SensorEvent("door", True))
    rig.drive(SENSOR, 1)
    events.wait_for(SensorEvent("door", False))


@pytest.mark.micropython
def test_led_pattern_runs_on_the_board(board: SerialBoard, rig: FirmwareRig) -> None:
    board.set_led("status", LedPattern.DOUBLE)
    wait_until(lambda: len(rig.edges(LED)) >= 6, 5)
    assert [c.level for c in rig.edges(LED)][:6] == [0, 1, 0, 1, 0, 1]
    assert board.status()["leds"] == {"status": "double"}
    board.set_led("status", LedPattern.OFF)
    rig.wait_level(LED, 0)


@pytest.mark.micropython
def test_relay_pulse_releases_on_the_board_and_is_capped(
    board: SerialBoard, rig: FirmwareRig
) -> None:
    start = time.monotonic()
    board.pulse_relay("door", 0.1)
    rig.wait_edges(RELAY, [1, 0], since=start)
    # 60 s asked, the relay's max_pulse_s is 0.5 s: the board ends it, well inside the wait.
    start = time.monotonic()
    board.pulse_relay("door", 60.0)
    rig.wait_edges(RELAY, [1, 0], since=start, timeout=5)
    wait_until(lambda: board.status()["relays"] == {"door": "idle", "gate": "idle"}, 2)
    with pytest.raises(KeyError):
        board.pulse_relay("garage", 1.0)


@pytest.mark.micropython
def test_release_all_and_close(board: SerialBoard, rig: FirmwareRig) -> None:
    board.set_led("status", LedPattern.ON)
    rig.wait_level(LED, 1)
    # 60 s pulses: only RELEASE (and close) can end them within the waits.
    board.pulse_relay("gate", 60)
    rig.wait_level(GATE, 1)
    board.release_all()
    rig.wait_level(GATE, 0)
    board.pulse_relay("gate", 60)
    rig.wait_level(GATE, 1)
    board.close()
    rig.wait_level(GATE, 0)
    rig.wait_level(LED, 0)
    assert board.status()["link"] == "closed"


@pytest.mark.micropython
def test_board_silence_is_a_fault_then_recovers(
    board: SerialBoard, rig: FirmwareRig, events: Events, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "endpoint.hardware.serial")
    rig.pause()  # the firmware hangs: the port stays, the lines stop
    wait_until(lambda: any(isinstance(e, BoardFault) for e in events.all()), 8)
    fault = events.all()[0]
    assert isinstance(fault, BoardFault) and not fault.ok
    assert "silent for" in fault.reason and rig.port in fault.reason
    rig.resume()
    events.wait_for(BoardFault(ok=True, reason=f"serial board on {rig.port} ready again"), 10)
    assert "serial board fault" in caplog.text


@pytest.mark.micropython
def test_reconnect_after_unplug_reapplies_leds(
    board: SerialBoard, rig: FirmwareRig, events: Events
) -> None:
    board.set_led("status", LedPattern.FAST)
    wait_until(lambda: len(rig.edges(LED)) >= 3, 5)
    rig.stop()  # the Pico is unplugged: process gone, port gone
    wait_until(lambda: any(isinstance(e, BoardFault) for e in events.all()), 5)
    fault = events.all()[0]
    assert isinstance(fault, BoardFault) and not fault.ok
    assert "check the USB cable" in fault.reason or "plug the Pico in" in fault.reason
    wait_until(lambda: board.status()["link"] == "closed", 2)
    rig.start()  # plugged in again: a fresh firmware behind the same port path
    events.wait_for(BoardFault(ok=True, reason=f"serial board on {rig.port} ready again"), 10)
    # The pattern the runtime asked for before the unplug blinks again on the new board.
    wait_until(lambda: len(rig.edges(LED)) >= 4, 5)
    assert board.status()["reconnects"] == 1
    faults = [e for e in events.all() if isinstance(e, BoardFault)]
    assert [f.ok for f in faults] == [False, True]


def test_missing_port_is_reported_with_the_fix(tmp_path: Path, events: Events) -> None:
    board = SerialBoard(SPEC, str(tmp_path / "ttyNOPE"), backoff=FAST_RETRY)
    board.start(events)
    try:
        wait_until(events.all, 5)
        fault = events.all()[0]
        assert isinstance(fault, BoardFault) and not fault.ok
        assert "does not exist: plug the Pico in" in fault.reason
    finally:
        board.close()
