"""The firmware as a hand-driven host sees it: the real MicroPython unix port over a pty.

These send what the endpoint's driver never would (wrong versions, broken checksums,
garbage, silence) and check the board answers each with an ERR line and keeps serving, and
that its watchdog releases the relay when the host goes quiet.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from endpoint.hardware import serial_codec as codec
from tests.hardware.serial_rig import FirmwareRig, RawHost, wait_until

pytestmark = pytest.mark.micropython

BUTTON, SENSOR, LED, RELAY = 15, 14, 16, 17


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[FirmwareRig]:
    rig = FirmwareRig(tmp_path)
    rig.start()
    yield rig
    rig.stop()


@pytest.fixture
def host(rig: FirmwareRig) -> Iterator[RawHost]:
    host = RawHost(rig.port)
    yield host
    host.close()


def ok(frame: codec.Frame) -> codec.Frame:
    assert frame.verb == "OK", frame
    return frame


def err(frame: codec.Frame, code: str) -> str:
    assert frame.verb == "ERR" and frame.args[1] == code, frame
    return " ".join(frame.args[2:])


def configure(host: RawHost, relay_max: int = 30000) -> None:
    assert ok(host.reply_to(host.send("HELLO", "1"))).args[1:] == (
        "proto=1",
        "fw=intercom-io/1.0.0",
    )
    lines = [
        ("BEGIN",),
        ("BUTTON", "call", f"pin={BUTTON}", "pull=up", "active=low", "bounce=0", "hold=300"),
        ("SENSOR", "door", f"pin={SENSOR}", "pull=up", "active=low", "bounce=0"),
        ("LED", "status", f"pin={LED}", "active=high"),
        ("RELAY", "door", f"pin={RELAY}", "active=high", f"max={relay_max}"),
    ]
    for line in lines:
        ok(host.reply_to(host.send("CONFIG", *line)))
    end = ok(host.reply_to(host.send("CONFIG", "END")))
    assert end.args[1:] == ("buttons=1", "sensors=1", "leds=1", "relays=1")


def test_hello_answers_version_and_firmware(rig: FirmwareRig, host: RawHost) -> None:
    configure(host)
    # Pin reports travel on their own channel: wait for them, bounded.
    wait_until(lambda: rig.mode(LED) == "out" and rig.mode(RELAY) == "out", 2)
    wait_until(lambda: rig.mode(BUTTON) == "in", 2)
    assert rig.level(LED) == 0 and rig.level(RELAY) == 0


def test_version_mismatch_is_a_clear_error(host: RawHost) -> None:
    text = err(host.reply_to(host.send("HELLO", "2")), "version")
    assert "board speaks protocol 1, host asked for 2" in text
    # Without a session nothing else is accepted.
    assert "HELLO first" in err(host.reply_to(host.send("LED", "status", "on")), "state")


def test_bad_lines_get_errors_and_the_board_keeps_serving(rig: FirmwareRig, host: RawHost) -> None:
    configure(host)
    host.send_raw(b"5 PING *0000\n")
    assert "does not match" in err(host.expect(lambda f: f.verb == "ERR"), "crc")
    host.send_raw(b"\x00\xff\x03\x1b[A garbage\n")
    err(host.expect(lambda f: f.verb == "ERR"), "frame")
    host.send_raw(b"9" * 400 + b"\n")
    err(host.expect(lambda f: f.verb == "ERR"), "toolong")
    assert "unknown verb" in err(host.reply_to(host.send("OPEN", "sesame")), "verb")
    err(host.reply_to(host.send("LED", "status", "purple")), "args")
    err(host.reply_to(host.send("LED", "porch", "on")), "name")
    err(host.reply_to(host.send("PULSE", "door", "-5")), "args")
    err(host.reply_to(host.send("CONFIG", "BUTTON", "x", "pin=23", "pull=up")), "state")
    # Still alive and still obeying:
    ok(host.reply_to(host.send("LED", "status", "on")))
    rig.wait_level(LED, 1)


def test_config_errors_apply_nothing(rig: FirmwareRig, host: RawHost) -> None:
    configure(host)
    ok(host.reply_to(host.send("CONFIG", "BEGIN")))
    assert "GPIO 23" in err(
        host.reply_to(host.send("CONFIG", "LED", "x", "pin=23", "active=high")), "pin"
    )
    ok(host.reply_to(host.send("CONFIG", "LED", "y", "pin=3", "active=high")))
    err(host.reply_to(host.send("CONFIG", "RELAY", "z", "pin=3", "active=high", "max=5")), "pin")
    assert "nothing applied" in err(host.reply_to(host.send("CONFIG", "END")), "state")
    ok(host.reply_to(host.send("LED", "status", "on")))  # the old wiring is still in force


def test_button_and_sensor_lines(rig: FirmwareRig, host: RawHost) -> None:
    configure(host)
    assert host.expect(lambda f: f.verb == "SENSOR").args == ("door", "closed")
    rig.drive(BUTTON, 0)
    assert host.expect(lambda f: f.verb == "BUTTON").args == ("call", "down")
    assert host.expect(lambda f: f.verb == "BUTTON").args == ("call", "held")
    rig.drive(BUTTON, None)
    assert host.expect(lambda f: f.verb == "BUTTON").args == ("call", "up")
    rig.drive(SENSOR, 0)
    assert host.expect(lambda f: f.verb == "SENSOR").args == ("door", "open")


def test_pulse_ends_on_the_board_and_is_capped(rig: FirmwareRig, host: RawHost) -> None:
    configure(host, relay_max=400)
    start = time.monotonic()
    assert ok(host.reply_to(host.send("PULSE", "door", "100"))).args[1:] == ("ms=100",)
    assert host.expect(lambda f: f.verb == "RELAY").args == ("door", "on")
    assert host.expect(lambda f: f.verb == "RELAY").args == ("door", "off")
    rig.wait_edges(RELAY, [1, 0], since=start)  # pin reports travel on their own channel
    # 10 minutes asked, 400 ms allowed: the board releases on its own, well inside the wait.
    start = time.monotonic()
    capped = ok(host.reply_to(host.send("PULSE", "door", "600000")))
    assert capped.args[1:] == ("ms=400", "capped=1")
    assert host.expect(lambda f: f.verb == "RELAY", timeout=5).args == ("door", "on")
    assert host.expect(lambda f: f.verb == "RELAY", timeout=5).args == ("door", "off")
    rig.wait_edges(RELAY, [1, 0], since=start)


def test_release_all(rig: FirmwareRig, host: RawHost) -> None:
    configure(host)
    ok(host.reply_to(host.send("PULSE", "door", "60000")))
    rig.wait_level(RELAY, 1)
    ok(host.reply_to(host.send("RELEASE")))
    rig.wait_level(RELAY, 0)


def test_leds_blink_without_host_traffic(rig: FirmwareRig, host: RawHost) -> None:
    configure(host)
    ok(host.reply_to(host.send("LED", "status", "fast")))
    # Nothing more is sent; the board keeps blinking by itself.
    wait_until(lambda: len(rig.edges(LED)) >= 7, 5)
    levels = [c.level for c in rig.edges(LED)]
    assert levels[:7] == [0, 1, 0, 1, 0, 1, 0]
    ok(host.reply_to(host.send("LED", "status", "off")))
    rig.wait_level(LED, 0)


def test_host_silence_releases_the_relay_and_shows_the_error_pattern(
    rig: FirmwareRig, host: RawHost
) -> None:
    configure(host)
    ok(host.reply_to(host.send("LED", "status", "on")))
    ok(host.reply_to(host.send("PULSE", "door", "60000")))
    rig.wait_level(RELAY, 1)
    # The host falls silent: after 3 s the board releases the door on its own.
    assert host.expect(lambda f: f.verb == "RELAY").args == ("door", "on")
    assert host.expect(lambda f: f.verb == "RELAY", timeout=8).args == ("door", "off")
    text = err(host.expect(lambda f: f.verb == "ERR"), "watchdog")
    assert "relays released" in text
    rig.wait_level(RELAY, 0, timeout=1)
    # "on" became the error flicker: the LED goes dark and lit repeatedly.
    lost_at = rig.edges(RELAY)[-1].at
    wait_until(lambda: len(rig.edges(LED, since=lost_at)) >= 4, 5)
    # The host is back: its pattern returns (steady on) and the flicker stops.
    host.send("PING")
    rig.wait_level(LED, 1)
    ok(host.reply_to(host.send("LED", "status", "on")))
