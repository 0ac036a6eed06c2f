"""A fake ``machine`` module for the MicroPython unix port: pins over a side channel.

Only ``machine.Pin`` is replaced; the firmware above it is the shipped code. The test passes
one end of a socket pair as file descriptor ``$FAKEPINS_FD``. It writes ``<gpio> <0|1|->``
lines to drive an input (``-`` lets the pull decide); the shim writes ``<gpio> <mode> <level>``
whenever the firmware sets a pin up or changes an output, so the test sees every edge.
"""

import os
import select

_fd = int(os.getenv("FAKEPINS_FD") or "-1")
# Open for the life of the process (MicroPython's open() takes a file descriptor).
_rx = open(_fd, "rb")  # noqa: SIM115
_tx = open(_fd, "wb")  # noqa: SIM115
_poll = select.poll()
_poll.register(_rx, select.POLLIN)
_buf = bytearray()
_driven = {}


def _drain():
    global _buf
    while _poll.poll(0):
        byte = _rx.read(1)
        if not byte:
            return
        if byte == b"\n":
            gpio, _, level = bytes(_buf).decode().partition(" ")
            _driven[int(gpio)] = None if level == "-" else int(level)
            _buf = bytearray()
        else:
            _buf.extend(byte)


def _report(gpio, mode, level):
    _tx.write(f"{gpio} {mode} {level}\n".encode())


class Pin:
    IN = 0
    OUT = 1
    OPEN_DRAIN = 2
    PULL_UP = 1
    PULL_DOWN = 2

    def __init__(self, gpio, mode=-1, pull=None, value=None):
        self._gpio = gpio
        self._mode = mode
        self._pull = pull
        self._level = 0 if value is None else value
        if mode == Pin.OUT:
            _report(gpio, "out", self._level)
        else:
            _report(gpio, "in", 1 if pull == Pin.PULL_UP else 0)

    def value(self, level=None):
        if level is None:
            if self._mode == Pin.OUT:
                return self._level
            _drain()
            driven = _driven.get(self._gpio)
            if driven is not None:
                return driven
            return 1 if self._pull == Pin.PULL_UP else 0
        level = 1 if level else 0
        if level != self._level:
            self._level = level
            _report(self._gpio, "out", level)
        return None
