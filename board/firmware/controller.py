"""The board's protocol logic (board/PROTOCOL.md): session, wiring, events, watchdog.

Sans-IO in the project's sense: it never reads a clock or a port. ``receive`` takes one line
and ``tick`` the time; both append lines to send, which ``take_output`` hands to the caller.
Pins are touched only through the injected ``PinBank`` (hw.py), so the same logic runs on the
Pico and under the MicroPython unix port with a fake ``machine`` module.
"""

import framing
import inputs
import leds

TYPE_CHECKING = False
if TYPE_CHECKING:
    from hw import PinBank

PROTO = 1
FIRMWARE = "intercom-io/1.0.0"
HOST_SILENCE_MS = 3000
PING_EVERY_MS = 1000
PULSE_LIMIT_MS = 600000
"""No relay pulse or ``max`` may exceed 10 minutes, whatever the host says."""

VALID_PINS = tuple(range(22)) + (25, 26, 27, 28)
"""Pico GPIOs on the header (0-21, 26-28) plus 25, the on-board LED. 23/24/29 are internal
and 22 is the service jumper (hw.py)."""

_NAME_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-"
_MAX_NAME = 32

# The keys each CONFIG kind takes; all of them are required (the host always sends every one).
_KEYS = {
    "BUTTON": ("pin", "pull", "active", "bounce", "hold"),
    "SENSOR": ("pin", "pull", "active", "bounce"),
    "LED": ("pin", "active"),
    "RELAY": ("pin", "active", "max"),
}


class ArgError(Exception):
    """A command the board understood but refuses; ``code`` goes into the ERR line."""

    def __init__(self, code: str, text: str) -> None:
        super().__init__(text)
        self.code = code
        self.text = text


class Item:
    """One configured input or output (a plain class: MicroPython has no dataclasses)."""

    def __init__(self, kind: str, name: str, values: dict[str, object]) -> None:
        self.kind = kind
        self.name = name
        pin = values["pin"]
        assert isinstance(pin, int)
        self.pin = pin
        self.active_level = 1 if values["active"] == "high" else 0
        self.pull = str(values.get("pull", "none"))
        self.bounce = _int(values.get("bounce", 0))
        self.hold = _int(values.get("hold", 0))
        self.max = _int(values.get("max", 0))
        self.input: inputs.Debounced | None = None
        self.pattern = "off"
        self.pattern_since = 0
        self.lit = False
        self.deadline = -1
        """Relay: tick at which the pulse ends; -1 while released."""


def _int(value: object) -> int:
    return value if isinstance(value, int) else 0


def _parse_int(key: str, text: str, low: int, high: int) -> int:
    if not text.isdigit() or len(text) > 7:
        raise ArgError("args", "%s=%s is not a whole number" % (key, text))
    value = int(text)
    if value < low or value > high:
        raise ArgError("args", "%s=%d is outside %d..%d" % (key, value, low, high))
    return value


def _check_name(name: str) -> None:
    if not name or len(name) > _MAX_NAME:
        raise ArgError("args", "name must be 1..%d characters" % _MAX_NAME)
    for ch in name:
        if ch not in _NAME_CHARS:
            raise ArgError("args", "name %s may hold only letters, digits, _ . -" % name)


def parse_item(args: list[str]) -> Item:
    """``CONFIG <KIND> <name> key=value...`` (without the CONFIG) into an ``Item``."""
    if len(args) < 2:
        raise ArgError("args", "want CONFIG BUTTON|SENSOR|LED|RELAY <name> key=value...")
    kind = args[0]
    if kind not in _KEYS:
        raise ArgError("args", "unknown CONFIG kind %s (BUTTON, SENSOR, LED, RELAY)" % kind)
    name = args[1]
    _check_name(name)
    allowed = _KEYS[kind]
    values: dict[str, object] = {}
    for pair in args[2:]:
        key, eq, text = pair.partition("=")
        if not eq or key not in allowed:
            raise ArgError("args", "%s takes %s, not %s" % (kind, " ".join(allowed), pair))
        if key in values:
            raise ArgError("args", "%s given twice" % key)
        if key == "pin":
            pin = _parse_int(key, text, 0, 28)
            if pin not in VALID_PINS:
                raise ArgError(
                    "pin", "GPIO %d is not for wiring (22 service, 23 24 internal)" % pin
                )
            values[key] = pin
        elif key == "pull":
            if text not in ("up", "down", "none"):
                raise ArgError("args", "pull=%s: want up, down or none" % text)
            values[key] = text
        elif key == "active":
            if text not in ("high", "low"):
                raise ArgError("args", "active=%s: want high or low" % text)
            values[key] = text
        elif key == "bounce":
            values[key] = _parse_int(key, text, 0, 1000)
        elif key == "hold":
            values[key] = _parse_int(key, text, 0, 600000)
        else:
            values[key] = _parse_int(key, text, 1, PULSE_LIMIT_MS)
    for key in allowed:
        if key not in values:
            raise ArgError("args", "%s %s needs %s=" % (kind, name, key))
    return Item(kind, name, values)


class Controller:
    """Everything the board decides. ``now`` is a millisecond count that never wraps."""

    def __init__(self, pins: "PinBank", now: int) -> None:
        self._pins = pins
        self._seq = 0
        self._out: list[bytes] = []
        self._session = False
        self._lost = False
        self._last_host = now
        self._next_ping = now + PING_EVERY_MS
        self._booted = now
        self._items: dict[str, Item] = {}
        self._staged: dict[str, Item] | None = None
        self._staged_ok = True
        self._send("BOOT", ["proto=%d" % PROTO, "fw=" + FIRMWARE])

    # -- output ---------------------------------------------------------------------------
    def _send(self, verb: str, args: list[str]) -> None:
        self._out.append(framing.encode(self._seq, verb, args))
        self._seq = (self._seq + 1) % framing.SEQ_MOD

    def _ok(self, ack: int, args: list[str]) -> None:
        self._send("OK", [str(ack)] + args)

    def _err(self, ack: str, code: str, text: str) -> None:
        # Cut so that the line stays inside MAX_LINE; no "*" may appear before the checksum.
        self._send("ERR", [ack, code] + text.replace("*", "")[:100].split())

    def take_output(self) -> list[bytes]:
        out = self._out
        self._out = []
        return out

    # -- input ----------------------------------------------------------------------------
    def receive(self, raw: bytes | None, now: int) -> None:
        """One line from the host (``None`` for an over-long one). Never raises."""
        if raw is None:
            self._err("-", "toolong", "line longer than %d bytes dropped" % framing.MAX_LINE)
            return
        if not raw or raw == b"\r":
            return
        try:
            seq, verb, args = framing.decode(raw)
        except framing.FrameError as exc:
            self._err("-", exc.code, exc.text)
            return
        self._last_host = now
        if self._lost:
            self._lost = False
            for item in self._items.values():
                item.pattern_since = now
        try:
            self._dispatch(seq, verb, args, now)
        except ArgError as exc:
            self._err(str(seq), exc.code, exc.text)
        except Exception as exc:  # a bug must cost one command, never the board
            self._err(str(seq), "internal", "%s: %s" % (type(exc).__name__, exc))

    def _dispatch(self, seq: int, verb: str, args: list[str], now: int) -> None:
        if verb == "PING":
            return
        if verb == "HELLO":
            self._hello(seq, args, now)
            return
        if verb not in ("CONFIG", "LED", "PULSE", "RELEASE"):
            raise ArgError("verb", "unknown verb %s (HELLO CONFIG LED PULSE RELEASE PING)" % verb)
        if not self._session:
            raise ArgError("state", "no session: send HELLO first")
        if verb == "CONFIG":
            self._config(seq, args, now)
        elif verb == "LED":
            self._led(seq, args, now)
        elif verb == "PULSE":
            self._pulse(seq, args, now)
        else:
            if args:
                raise ArgError("args", "RELEASE takes no arguments")
            self._release_all()
            self._ok(seq, [])

    def _hello(self, seq: int, args: list[str], now: int) -> None:
        if not args or not args[0].isdigit():
            raise ArgError("args", "want HELLO <protocol version>")
        asked = int(args[0])
        if asked != PROTO:
            self._session = False
            self._unconfigure()
            raise ArgError(
                "version",
                "board speaks protocol %d, host asked for %d: flash the firmware that comes"
                " with this endpoint (board/firmware)" % (PROTO, asked),
            )
        self._unconfigure()
        self._session = True
        self._lost = False
        self._last_host = now
        self._ok(seq, ["proto=%d" % PROTO, "fw=" + FIRMWARE])

    def _config(self, seq: int, args: list[str], now: int) -> None:
        step = args[0] if args else ""
        if step == "BEGIN":
            self._staged = {}
            self._staged_ok = True
            self._ok(seq, [])
            return
        if self._staged is None:
            raise ArgError("state", "CONFIG BEGIN first")
        if step == "END":
            staged = self._staged
            self._staged = None
            if not self._staged_ok:
                raise ArgError(
                    "state", "an item was refused: nothing applied, send the CONFIG again"
                )
            self._apply(seq, staged, now)
            return
        try:
            item = parse_item(args)
            key = item.kind + " " + item.name
            if key in self._staged:
                raise ArgError("args", "%s %s configured twice" % (item.kind, item.name))
            for other in self._staged.values():
                if other.pin == item.pin:
                    raise ArgError(
                        "pin",
                        "GPIO %d is already used by %s %s" % (item.pin, other.kind, other.name),
                    )
        except ArgError:
            self._staged_ok = False
            raise
        self._staged[key] = item
        self._ok(seq, [])

    def _apply(self, seq: int, staged: dict[str, Item], now: int) -> None:
        self._unconfigure()
        for item in staged.values():
            if item.kind in ("BUTTON", "SENSOR"):
                self._pins.setup_input(item.pin, item.pull)
                level = self._pins.read(item.pin)
                hold = item.hold if item.kind == "BUTTON" else 0
                item.input = inputs.Debounced(item.active_level, item.bounce, hold, level, now)
            else:
                self._pins.setup_output(item.pin, 1 - item.active_level)
            item.pattern_since = now
        self._items = staged
        counts = []
        for kind in ("BUTTON", "SENSOR", "LED", "RELAY"):
            n = 0
            for item in staged.values():
                if item.kind == kind:
                    n += 1
            counts.append("%ss=%d" % (kind.lower(), n))
        self._ok(seq, counts)
        for item in staged.values():
            if item.kind == "SENSOR" and item.input is not None:
                self._send("SENSOR", [item.name, "open" if item.input.active else "closed"])

    def _unconfigure(self) -> None:
        """Back to no wiring: relays released first, then every pin left floating."""
        self._release_all()
        for item in self._items.values():
            self._pins.release(item.pin)
        self._items = {}
        self._staged = None

    def _find(self, kind: str, name: str) -> Item:
        item = self._items.get(kind + " " + name)
        if item is None:
            raise ArgError("name", "no %s named %s in the CONFIG" % (kind, name))
        return item

    def _led(self, seq: int, args: list[str], now: int) -> None:
        if len(args) != 2:
            raise ArgError("args", "want LED <name> off|on|slow|fast|double")
        item = self._find("LED", args[0])
        pattern = args[1]
        if pattern not in leds.HOST_PATTERNS:
            raise ArgError("args", "pattern %s: want off, on, slow, fast or double" % pattern)
        if pattern != item.pattern:
            # The same pattern again keeps its phase, so a host re-applying state causes no glitch.
            item.pattern = pattern
            item.pattern_since = now
        self._ok(seq, [])
        self._drive_leds(now)

    def _pulse(self, seq: int, args: list[str], now: int) -> None:
        if len(args) != 2:
            raise ArgError("args", "want PULSE <name> <milliseconds>")
        item = self._find("RELAY", args[0])
        asked = _parse_int("ms", args[1], 1, PULSE_LIMIT_MS)
        applied = asked if asked < item.max else item.max
        was_on = item.deadline >= 0
        item.deadline = now + applied
        self._pins.write(item.pin, item.active_level)
        reply = ["ms=%d" % applied]
        if applied < asked:
            reply.append("capped=1")
        self._ok(seq, reply)
        if not was_on:
            self._send("RELAY", [item.name, "on"])

    def _release(self, item: Item) -> None:
        self._pins.write(item.pin, 1 - item.active_level)
        if item.deadline >= 0:
            item.deadline = -1
            self._send("RELAY", [item.name, "off"])

    def _release_all(self) -> None:
        for item in self._items.values():
            if item.kind == "RELAY":
                self._release(item)

    # -- time -----------------------------------------------------------------------------
    def tick(self, now: int) -> None:
        """Sample inputs, end pulses, run LED patterns, heartbeat and watchdog."""
        for item in self._items.values():
            debounced = item.input
            if debounced is not None:
                for change in debounced.update(self._pins.read(item.pin), now):
                    if item.kind == "BUTTON":
                        word = "down" if change == "on" else "up" if change == "off" else change
                        self._send("BUTTON", [item.name, word])
                    elif change != "held":
                        self._send("SENSOR", [item.name, "open" if change == "on" else "closed"])
            elif item.kind == "RELAY" and item.deadline >= 0 and now >= item.deadline:
                self._release(item)
        if self._session and not self._lost and now - self._last_host > HOST_SILENCE_MS:
            self._lost = True
            self._release_all()
            for item in self._items.values():
                item.pattern_since = now
            self._err(
                "-", "watchdog", "host silent for over %d ms: relays released" % HOST_SILENCE_MS
            )
        self._drive_leds(now)
        if now >= self._next_ping:
            self._next_ping = now + PING_EVERY_MS
            self._send("PING", ["up=%d" % (now - self._booted)])

    def fail_safe(self, what: str) -> None:
        """Release every relay and say so: the main loop's answer to an unforeseen error."""
        self._release_all()
        self._err("-", "internal", what + ": relays released")

    def _drive_leds(self, now: int) -> None:
        for item in self._items.values():
            if item.kind == "LED":
                pattern = leds.ERROR if self._lost else item.pattern
                lit = leds.lit(pattern, now - item.pattern_since)
                if lit != item.lit:
                    item.lit = lit
                    self._pins.write(item.pin, item.active_level if lit else 1 - item.active_level)

    def deadline(self, now: int) -> int:
        """Milliseconds the caller may wait for input before ``tick`` is due again."""
        wait = self._next_ping - now
        for item in self._items.values():
            if item.kind in ("BUTTON", "SENSOR", "LED"):
                return 1
            if item.deadline >= 0 and item.deadline - now < wait:
                wait = item.deadline - now
        return wait if wait > 0 else 0
