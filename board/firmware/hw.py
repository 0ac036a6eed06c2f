"""The thin hardware layer: ``machine.Pin``, a millisecond clock, and USB CDC via stdin/stdout.

This is all the firmware knows of the RP2040. Tests run the same file under the MicroPython
unix port with a fake ``machine`` module first on the path, so everything above it is the
shipped code.
"""

import select
import sys
import time

import machine

SERVICE_PIN = 22
"""A jumper from GP22 to GND at power-up keeps the firmware off the port (REPL for updates)."""

_READ_CHUNK = 256


class PinBank:
    """The configured pins by GPIO number."""

    def __init__(self) -> None:
        self._pins: dict[int, machine.Pin] = {}

    def setup_input(self, gpio: int, pull: str) -> None:
        if pull == "up":
            self._pins[gpio] = machine.Pin(gpio, machine.Pin.IN, machine.Pin.PULL_UP)
        elif pull == "down":
            self._pins[gpio] = machine.Pin(gpio, machine.Pin.IN, machine.Pin.PULL_DOWN)
        else:
            # On the rp2 port a Pin made without ``pull`` has none (the pull is always set).
            self._pins[gpio] = machine.Pin(gpio, machine.Pin.IN)

    def setup_output(self, gpio: int, level: int) -> None:
        self._pins[gpio] = machine.Pin(gpio, machine.Pin.OUT, value=level)

    def read(self, gpio: int) -> int:
        return self._pins[gpio].value()

    def write(self, gpio: int, level: int) -> None:
        self._pins[gpio].value(level)

    def release(self, gpio: int) -> None:
        """Back to a floating input, so an unconfigured output drives nothing."""
        if gpio in self._pins:
            del self._pins[gpio]
            machine.Pin(gpio, machine.Pin.IN)


def service_jumper() -> bool:
    return machine.Pin(SERVICE_PIN, machine.Pin.IN, machine.Pin.PULL_UP).value() == 0


class Clock:
    """Milliseconds since start-up that never wrap.

    ``time.ticks_ms`` wraps (at 2**30 on the RP2040, about 12 days); the controller wants plain
    subtraction, so the wrapped deltas are summed into an unbounded int.
    """

    def __init__(self) -> None:
        self._last = time.ticks_ms()
        self._total = 0

    def now(self) -> int:
        tick = time.ticks_ms()
        self._total += time.ticks_diff(tick, self._last)
        self._last = tick
        return self._total


class SerialPort:
    """The USB CDC serial port, which MicroPython presents as stdin/stdout."""

    def __init__(self) -> None:
        self._in = sys.stdin.buffer
        self._out = sys.stdout.buffer
        self._poll = select.poll()
        self._poll.register(sys.stdin, select.POLLIN)

    def read(self, wait_ms: int) -> bytes:
        """What arrived within ``wait_ms``, without blocking longer (and never on a hang-up)."""
        data = bytearray()
        ready = self._poll.poll(wait_ms)
        while ready and len(data) < _READ_CHUNK:
            if ready[0][1] & (select.POLLHUP | select.POLLERR):
                # Nobody on the other end (cable out, host port closed): idle, do not spin.
                time.sleep_ms(wait_ms if wait_ms > 0 else 1)
                break
            try:
                byte = self._in.read(1)
            except OSError:
                time.sleep_ms(wait_ms if wait_ms > 0 else 1)
                break
            if not byte:
                break
            data.extend(byte)
            ready = self._poll.poll(0)
        return bytes(data)

    def write(self, line: bytes) -> None:
        try:
            self._out.write(line)
        except OSError:
            return  # host gone; the line is lost like any line on an unplugged cable
