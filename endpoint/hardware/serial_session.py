"""The host's protocol state machine for the serial board: handshake, CONFIG, heartbeats.

Sans-IO in the aioquic manner: ``connected(now)``, ``receive_line(raw, now)``,
``data_to_send(now)``, ``get_timer()`` and ``handle_timer(now)``. It never touches the port or
the clock; ``serial_board.py`` does, and closes and reopens the port whenever ``reset_reason``
is set. Desired LED patterns live here so they survive a reconnect and are re-applied once the
board is configured again.
"""

from __future__ import annotations

import enum
import logging
from collections import deque

from endpoint.hardware import serial_codec as codec
from endpoint.ua.io import (
    BoardFault,
    BoardSpec,
    ButtonEvent,
    HardwareEvent,
    LedPattern,
    SensorEvent,
)

log = logging.getLogger("endpoint.hardware.serial")

PING_EVERY_S = 1.0
BOARD_SILENCE_S = 3.0
HELLO_TIMEOUT_S = 2.0


class LinkState(enum.Enum):
    CLOSED = "closed"
    HELLO = "hello"
    """HELLO sent, waiting for its OK."""
    CONFIG = "config"
    """CONFIG sent, waiting for the OK of CONFIG END."""
    READY = "ready"


class SerialSession:
    """One board link; survives reconnects (``connected`` starts each new one)."""

    def __init__(self, spec: BoardSpec, port: str) -> None:
        self.spec = spec
        self.port = port
        self.state = LinkState.CLOSED
        self.firmware = ""
        self.reset_reason: str | None = None
        """Set when the link must be dropped and reopened; the I/O layer clears it."""
        self._seq = 0
        self._out: deque[bytes] = deque()
        self._last_sent = 0.0
        self._last_heard = 0.0
        self._hello_at = 0.0
        self._hello_seq = -1
        self._config_end_seq = -1
        self._board_seq: int | None = None
        self._faulted = False
        self._leds: dict[str, LedPattern] = {led.name: LedPattern.OFF for led in spec.leds}
        self._relays: dict[str, bool] = {relay.name: False for relay in spec.relays}
        self._sensors: dict[str, bool] = {}
        self.counters = {"bad_lines": 0, "errors": 0, "lost_lines": 0, "reconnects": 0}

    # -- link lifecycle ---------------------------------------------------------------------
    def connected(self, now: float) -> None:
        """The port is open: start a fresh session with HELLO."""
        self._out.clear()
        self._seq = 0
        self._board_seq = None
        self.reset_reason = None
        self.state = LinkState.HELLO
        self._last_heard = now
        self._hello_at = now
        self._hello_seq = self._queue(now, "HELLO", str(codec.PROTOCOL_VERSION))

    def disconnected(self, reason: str) -> list[HardwareEvent]:
        """The port is gone or being reset; a fault is reported once per outage."""
        self.state = LinkState.CLOSED
        self._out.clear()
        self._relays = dict.fromkeys(self._relays, False)
        return self.fault(reason)

    def fault(self, reason: str) -> list[HardwareEvent]:
        if self._faulted:
            return []
        self._faulted = True
        log.warning("serial board fault: %s", reason)
        return [BoardFault(ok=False, reason=reason)]

    # -- commands from the runtime ----------------------------------------------------------
    def set_led(self, name: str, pattern: LedPattern, now: float) -> None:
        if name not in self._leds:
            log.debug("no LED named %s on the serial board; ignored", name)
            return
        self._leds[name] = pattern
        if self.state is LinkState.READY:
            self._queue(now, "LED", *codec.led_args(name, pattern))

    def pulse_relay(self, name: str, seconds: float, now: float) -> None:
        if name not in self._relays:
            raise KeyError(f"no relay named {name!r} on this board")
        if seconds <= 0:
            return
        if self.state is not LinkState.READY:
            # A door that opens seconds late, after a reconnect, surprises whoever stands there.
            log.warning(
                "relay %s pulse dropped: serial board not ready (%s)", name, self.state.value
            )
            return
        self._queue(now, "PULSE", name, str(codec.pulse_ms(seconds)))

    def release_all(self, now: float) -> None:
        if self.state in (LinkState.CONFIG, LinkState.READY):
            self._queue(now, "RELEASE")

    # -- wire -------------------------------------------------------------------------------
    def _queue(self, now: float, verb: str, *args: str) -> int:
        seq = self._seq
        self._out.append(codec.encode_line(seq, verb, *args))
        self._seq = (seq + 1) % codec.SEQ_MOD
        self._last_sent = now
        return seq

    def data_to_send(self, now: float) -> list[bytes]:
        out = list(self._out)
        self._out.clear()
        return out

    def receive_line(self, raw: bytes, now: float) -> list[HardwareEvent]:
        """One line from the board (newline removed); returns the events for ``emit``."""
        try:
            frame = codec.decode_line(raw)
            message = codec.parse_message(frame)
        except codec.CodecError as exc:
            self.counters["bad_lines"] += 1
            log.warning("serial board sent a bad line (%s): %r", exc, raw[:80])
            return []
        self._last_heard = now
        self._track_seq(frame.seq)
        return self._handle(message, now)

    def _track_seq(self, seq: int) -> None:
        expected = self._board_seq
        self._board_seq = (seq + 1) % codec.SEQ_MOD
        if expected is not None and seq != expected:
            gap = (seq - expected) % codec.SEQ_MOD
            self.counters["lost_lines"] += gap
            log.warning("serial board lines lost: expected #%d, got #%d", expected, seq)

    def _handle(self, message: codec.BoardMessage, now: float) -> list[HardwareEvent]:
        match message:
            case codec.Ping():
                return []
            case codec.Boot(proto=proto, firmware=firmware):
                if self.state is not LinkState.HELLO:
                    self.reset_reason = (
                        f"serial board on {self.port} restarted ({firmware}, protocol {proto})"
                    )
                    log.warning("%s; configuring it again", self.reset_reason)
                return []
            case codec.Ok():
                return self._on_ok(message, now)
            case codec.Err():
                return self._on_err(message)
            case codec.ButtonLine(name=name, kind=kind):
                return [ButtonEvent(name, kind)] if self.state is LinkState.READY else []
            case codec.SensorLine(name=name, active=active):
                return self._on_sensor(name, active)
            case codec.RelayLine(name=name, on=on):
                if name in self._relays:
                    self._relays[name] = on
                    log.info("relay %s %s", name, "energised" if on else "released")
                return []

    def _on_ok(self, message: codec.Ok, now: float) -> list[HardwareEvent]:
        if self.state is LinkState.HELLO and message.ack == self._hello_seq:
            self.firmware = message.info.get("fw", "unknown")
            log.info(
                "serial board on %s: firmware %s, protocol %s",
                self.port,
                self.firmware,
                message.info.get("proto", "?"),
            )
            self.state = LinkState.CONFIG
            for item in codec.config_items(self.spec):
                self._config_end_seq = self._queue(now, "CONFIG", *item)
            return []
        if self.state is LinkState.CONFIG and message.ack == self._config_end_seq:
            self.state = LinkState.READY
            for name, pattern in self._leds.items():
                if pattern is not LedPattern.OFF:
                    self._queue(now, "LED", *codec.led_args(name, pattern))
            log.info(
                "serial board on %s configured: %s",
                self.port,
                " ".join(f"{k}={v}" for k, v in message.info.items()),
            )
            if self._faulted:
                self._faulted = False
                return [BoardFault(ok=True, reason=f"serial board on {self.port} ready again")]
            return []
        if message.info.get("capped") == "1":
            log.warning("relay pulse capped by the board to %s ms", message.info.get("ms"))
        return []

    def _on_err(self, message: codec.Err) -> list[HardwareEvent]:
        self.counters["errors"] += 1
        text = f"{message.code}: {message.text}"
        if message.code == "version":
            self.reset_reason = f"serial board on {self.port} refused the handshake: {message.text}"
            return self.fault(self.reset_reason)
        if message.code == "watchdog":
            log.warning("serial board watchdog fired (%s); its relays were released", message.text)
            self._relays = dict.fromkeys(self._relays, False)
            return []
        if self.state is LinkState.CONFIG:
            self.reset_reason = f"serial board on {self.port} refused the wiring: {message.text}"
            return self.fault(self.reset_reason + " (check the [hardware] pins)")
        if message.code == "state" and self.state is LinkState.READY:
            self.reset_reason = f"serial board on {self.port} lost its session ({message.text})"
            return []
        log.warning("serial board answered ERR %s", text)
        return []

    def _on_sensor(self, name: str, active: bool) -> list[HardwareEvent]:
        previous = self._sensors.get(name)
        self._sensors[name] = active
        if previous is None or previous == active:
            # The first report (after the first CONFIG) is a fact, not a change; after a
            # reconnect only a contact that moved while we were away is news.
            return []
        return [SensorEvent(name, active)]

    # -- time -------------------------------------------------------------------------------
    def get_timer(self) -> float | None:
        if self.state is LinkState.CLOSED:
            return None
        deadlines = [self._last_sent + PING_EVERY_S, self._last_heard + BOARD_SILENCE_S]
        if self.state is LinkState.HELLO:
            deadlines.append(self._hello_at + HELLO_TIMEOUT_S)
        return min(deadlines)

    def handle_timer(self, now: float) -> list[HardwareEvent]:
        if self.state is LinkState.CLOSED:
            return []
        if now - self._last_heard > BOARD_SILENCE_S:
            self.reset_reason = (
                f"serial board on {self.port} silent for {now - self._last_heard:.1f} s: "
                "firmware not running or cable faulty; reconnecting"
            )
            return []
        if self.state is LinkState.HELLO and now - self._hello_at >= HELLO_TIMEOUT_S:
            self.reset_reason = (
                f"serial board on {self.port} does not answer HELLO: is the intercom firmware "
                "on it (board/firmware)?"
            )
            return []
        if now - self._last_sent >= PING_EVERY_S:
            self._queue(now, "PING")
        return []

    def status(self) -> dict[str, object]:
        return {
            "board": "serial",
            "port": self.port,
            "link": self.state.value,
            "firmware": self.firmware,
            "leds": {name: pattern.value for name, pattern in self._leds.items()},
            "relays": {name: ("energised" if on else "idle") for name, on in self._relays.items()},
            "sensors": dict(self._sensors),
            **self.counters,
        }

    def sensor_states(self) -> dict[str, bool]:
        return dict(self._sensors)
