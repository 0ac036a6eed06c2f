"""The host's Pico pin table (endpoint/pico_pins.py) against the firmware's own copy.

The firmware cannot import the host package, so it keeps its own list of wireable GPIOs. The
config check and the codec trust the host's table; this asks the real firmware (MicroPython
unix port over a pty) about every GPIO number, so the two copies cannot drift apart unseen.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from endpoint.pico_pins import PICO_GPIO_MAX, PICO_PIN_RANGES, PICO_PINS, PICO_RESERVED
from tests.hardware.serial_rig import FirmwareRig, RawHost


@pytest.fixture
def host(tmp_path: Path) -> Iterator[RawHost]:
    rig = FirmwareRig(tmp_path)
    rig.start()
    host = RawHost(rig.port)
    yield host
    host.close()
    rig.stop()


def test_the_table_reads_as_documented() -> None:
    assert sorted(PICO_RESERVED) == [22, 23, 24]
    assert isinstance(PICO_PINS, frozenset)  # immutable: both checks share this one object
    assert frozenset((*range(22), 25, 26, 27, 28)) == PICO_PINS
    assert PICO_PIN_RANGES == "0-21, 25-28"


@pytest.mark.micropython
def test_firmware_accepts_exactly_the_hosts_pico_pins(host: RawHost) -> None:
    assert host.reply_to(host.send("HELLO", "1")).verb == "OK"
    assert host.reply_to(host.send("CONFIG", "BEGIN")).verb == "OK"
    accepted: set[int] = set()
    for pin in range(PICO_GPIO_MAX + 2):  # one past the end: GP29 is internal too
        reply = host.reply_to(host.send("CONFIG", "LED", f"l{pin}", f"pin={pin}", "active=high"))
        if reply.verb == "OK":
            accepted.add(pin)
        else:
            # Reserved pins are refused as pins; 29 as a number outside the range.
            assert reply.args[1] == ("pin" if pin in PICO_RESERVED else "args"), (pin, reply)
    assert accepted == PICO_PINS
