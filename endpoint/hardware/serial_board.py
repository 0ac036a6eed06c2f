"""``IoBoard`` for the Raspberry Pi Pico on USB serial (board/PROTOCOL.md), with pyserial.

One thread owns the port: it opens it, lets ``SerialSession`` handshake and configure, reads
board lines, writes queued commands and heartbeats, and on any port error (cable out, Pico
reset, silence) reports ``BoardFault(ok=False)``, retries with capped backoff, and configures
the board again when it is back (``BoardFault(ok=True)``). Callers never wait on the port: a
command is queued under a lock and the thread is woken with pyserial's ``cancel_read``.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import random
import threading
import time
from collections.abc import Callable

import serial

from endpoint.backoff import Backoff
from endpoint.hardware import serial_codec as codec
from endpoint.hardware.serial_session import LinkState, SerialSession
from endpoint.ua.io import BoardSpec, HardwareEvent, LedPattern

log = logging.getLogger("endpoint.hardware.serial")

READ_SLICE_S = 0.25
"""Longest the thread sleeps in ``read`` before looking at its timers again."""
CLOSE_WAIT_S = 2.0
DEFAULT_BACKOFF = Backoff(base=0.5, cap=10.0)
"""Reopen attempts: 0.25-0.5 s after the first failure, growing to 5-10 s while it stays away."""


class SerialBoardError(ValueError):
    """The wiring cannot work on a serial board; the message names the entry and the fix."""


def _port_problem(port: str, exc: BaseException) -> str:
    """Installer words for why ``port`` cannot be used."""
    cause = exc.__cause__ or exc.__context__ or exc
    code = getattr(cause, "errno", None) or getattr(exc, "errno", None)
    if code == errno.ENOENT or "No such file" in str(exc):
        return (
            f"serial board port {port} does not exist: plug the Pico in (USB) or set "
            "[hardware] serial_port; retrying"
        )
    if code in (errno.EACCES, errno.EPERM) or "Permission denied" in str(exc):
        return (
            f"serial board port {port}: permission denied; add the service user to the "
            "'dialout' group; retrying"
        )
    if code == errno.EBUSY or "exclusively lock" in str(exc):
        return f"serial board port {port} is in use by another program (close it); retrying"
    return f"serial board on {port} failed ({exc}): check the USB cable; retrying"


class _LinkResetError(Exception):
    """The session asked for the link to be dropped and reopened."""


class SerialBoard:
    """The Pico I/O board on ``port`` (e.g. ``/dev/ttyACM0`` or a ``/dev/serial/by-id`` link)."""

    def __init__(
        self,
        spec: BoardSpec,
        port: str,
        *,
        baudrate: int = 115200,
        backoff: Backoff = DEFAULT_BACKOFF,
        rng: random.Random | None = None,
    ) -> None:
        problems = codec.spec_problems(spec)
        if problems:
            raise SerialBoardError("; ".join(problems))
        self.spec = spec
        self.port = port
        self._baudrate = baudrate
        self._backoff = backoff
        self._rng = rng or random.Random()
        self._session = SerialSession(spec, port)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._serial: serial.Serial | None = None
        self._thread: threading.Thread | None = None
        self._emit: Callable[[HardwareEvent], None] | None = None
        self._link_was_ready = False

    # -- IoBoard ----------------------------------------------------------------------------
    def start(self, emit: Callable[[HardwareEvent], None]) -> None:
        if self._thread is not None:
            raise RuntimeError("SerialBoard.start called twice")
        self._emit = emit
        self._thread = threading.Thread(target=self._run, name="serial-board", daemon=True)
        self._thread.start()

    def set_led(self, name: str, pattern: LedPattern) -> None:
        with self._lock:
            self._session.set_led(name, pattern, time.monotonic())
        self._wake()

    def pulse_relay(self, name: str, seconds: float) -> None:
        with self._lock:
            self._session.pulse_relay(name, seconds, time.monotonic())
        self._wake()

    def release_all(self) -> None:
        with self._lock:
            self._session.release_all(time.monotonic())
        self._wake()

    def close(self) -> None:
        """Release relays and turn LEDs off on the board (if it is there), then free the port."""
        if self._stop.is_set():
            return
        with self._lock:
            now = time.monotonic()
            self._session.release_all(now)
            for led in self.spec.leds:
                self._session.set_led(led.name, LedPattern.OFF, now)
        self._stop.set()
        self._wake()
        if self._thread is not None:
            self._thread.join(CLOSE_WAIT_S)

    def status(self) -> dict[str, object]:
        with self._lock:
            return self._session.status()

    def sensor_states(self) -> dict[str, bool]:
        """Each sensor's last reported state (True = open/active); empty until the board spoke."""
        with self._lock:
            return self._session.sensor_states()

    @property
    def link(self) -> LinkState:
        with self._lock:
            return self._session.state

    # -- the port thread --------------------------------------------------------------------
    def _wake(self) -> None:
        port = self._serial
        if port is not None:
            with contextlib.suppress(Exception):
                port.cancel_read()

    def _deliver(self, events: list[HardwareEvent]) -> None:
        emit = self._emit
        for event in events:
            if emit is None:
                return
            try:
                emit(event)
            except Exception:  # the runtime's problem must not kill the port thread
                log.exception("serial board: emit(%r) failed", event)

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                port = serial.Serial(
                    self.port,
                    self._baudrate,
                    timeout=READ_SLICE_S,
                    write_timeout=1.0,
                    exclusive=True,
                )
            except (serial.SerialException, OSError, ValueError) as exc:
                reason = _port_problem(self.port, exc)
                with self._lock:
                    events = self._session.disconnected(reason)
                self._deliver(events)
                self._stop.wait(self._backoff.delay(failures, self._rng))
                failures += 1
                continue
            log.info("serial board port %s open", self.port)
            self._serial = port
            reason = self._serve(port)
            self._serial = None
            with contextlib.suppress(Exception):
                port.close()
            if self._stop.is_set():
                with self._lock:
                    self._session.state = LinkState.CLOSED
                break
            with self._lock:
                events = self._session.disconnected(reason)
                self._session.counters["reconnects"] += 1
            self._deliver(events)
            failures = 0 if self._link_was_ready else failures + 1
            self._stop.wait(self._backoff.delay(failures, self._rng))
        log.info("serial board on %s closed", self.port)

    def _serve(self, port: serial.Serial) -> str:
        """Run one link until it fails; returns the reason it ended."""
        self._link_was_ready = False
        buffer = bytearray()
        with self._lock:
            self._session.connected(time.monotonic())
        try:
            while True:
                now = time.monotonic()
                with self._lock:
                    events: list[HardwareEvent] = []
                    timer = self._session.get_timer()
                    if timer is not None and now >= timer:
                        events += self._session.handle_timer(now)
                    out = self._session.data_to_send(now)
                    reason = self._session.reset_reason
                    ready = self._session.state is LinkState.READY
                self._link_was_ready = self._link_was_ready or ready
                self._deliver(events)
                for line in out:
                    port.write(line)
                if self._stop.is_set():
                    port.flush()
                    return "closed"
                if reason is not None:
                    raise _LinkResetError(reason)
                data = port.read(1)
                if data:
                    data += port.read(port.in_waiting)
                now = time.monotonic()
                buffer += data
                events = []
                with self._lock:
                    while (end := buffer.find(b"\n")) >= 0:
                        line = bytes(buffer[:end])
                        del buffer[: end + 1]
                        events += self._session.receive_line(line, now)
                    if len(buffer) >= codec.MAX_LINE:
                        log.warning("serial board sent %d bytes without a newline", len(buffer))
                        buffer.clear()
                self._deliver(events)
        except _LinkResetError as exc:
            return str(exc)
        except (serial.SerialException, OSError) as exc:
            return _port_problem(self.port, exc)
