"""The host's side of the board line protocol (board/PROTOCOL.md): framing and messages.

Sans-IO: bytes in, typed messages out, and command lines built from a ``BoardSpec``. The
firmware has its own implementation in MicroPython (board/firmware/framing.py) because it
cannot import this package; tests run the two against each other over a pty.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from endpoint.pico_pins import PICO_PINS
from endpoint.ua.io import BoardSpec, InputKind, LedPattern, Pull

PROTOCOL_VERSION = 1
MAX_LINE = 160
"""Longest line, newline included, that either side sends or accepts."""
SEQ_MOD = 65536

NAME_RE = re.compile(r"[A-Za-z0-9_.-]{1,32}")
PULSE_LIMIT_MS = 600_000


class CodecError(ValueError):
    """A line from the board that cannot be trusted; ``code`` names what was wrong."""

    def __init__(self, code: str, text: str) -> None:
        super().__init__(text)
        self.code = code


def crc16(data: bytes) -> int:
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection): 0x29B1 for b"123456789"."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return crc


def encode_line(seq: int, verb: str, *args: str) -> bytes:
    body = " ".join((str(seq % SEQ_MOD), verb, *args)).encode("ascii")
    line = body + b" *%04X\n" % crc16(body)
    if len(line) > MAX_LINE:
        raise ValueError(f"{verb} line of {len(line)} bytes exceeds the {MAX_LINE}-byte limit")
    return line


@dataclass(frozen=True, slots=True)
class Frame:
    """One line of the serial board's protocol, split into sequence number, verb and arguments."""

    seq: int
    verb: str
    args: tuple[str, ...]


_PRINTABLE = re.compile(rb"[\x20-\x7e]*")
_SEQ = re.compile(r"0|[1-9][0-9]{0,4}")
_VERB = re.compile(r"[A-Z]+")


def decode_line(raw: bytes) -> Frame:
    """One line (without its newline) into a ``Frame``; the checksum is checked first."""
    raw = raw.removesuffix(b"\r")
    if len(raw) + 1 > MAX_LINE:
        raise CodecError("toolong", f"line of {len(raw)} bytes is longer than {MAX_LINE}")
    if not _PRINTABLE.fullmatch(raw):
        raise CodecError("frame", "line holds bytes outside printable ASCII")
    body, sep, crc_text = raw.rpartition(b" *")
    if not sep or len(crc_text) != 4:
        raise CodecError("frame", "line does not end in ' *' and 4 hex digits")
    try:
        got = int(crc_text, 16)
    except ValueError:
        raise CodecError("frame", "checksum is not 4 hex digits") from None
    if got != crc16(body):
        raise CodecError("crc", f"checksum {got:04X} does not match (want {crc16(body):04X})")
    fields = body.decode("ascii").split(" ")
    if len(fields) < 2 or "" in fields:
        raise CodecError("frame", "want '<seq> <VERB> [args]' separated by single spaces")
    if not _SEQ.fullmatch(fields[0]) or int(fields[0]) >= SEQ_MOD:
        raise CodecError("frame", f"sequence number {fields[0]!r} is not 0..65535")
    if not _VERB.fullmatch(fields[1]):
        raise CodecError("frame", f"verb {fields[1]!r} is not upper-case letters")
    return Frame(int(fields[0]), fields[1], tuple(fields[2:]))


# -- what the board says --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Boot:
    """The firmware (re)started: every wiring and pattern it had is gone."""

    proto: int
    firmware: str


@dataclass(frozen=True, slots=True)
class Ok:
    """The board acknowledged our command ``ack``, with what it reported."""

    ack: int
    info: dict[str, str]


@dataclass(frozen=True, slots=True)
class Err:
    """``ack`` is None when the board could not trust the line's sequence number."""

    ack: int | None
    code: str
    text: str


@dataclass(frozen=True, slots=True)
class ButtonLine:
    """The board saw a button input change."""

    name: str
    kind: InputKind


@dataclass(frozen=True, slots=True)
class SensorLine:
    """The board saw a sensor input (door contact) change."""

    name: str
    active: bool


@dataclass(frozen=True, slots=True)
class RelayLine:
    """The board reports a relay's state, so that we know what the door lock really does."""

    name: str
    on: bool


@dataclass(frozen=True, slots=True)
class Ping:
    """The board's heartbeat, how long it has been up: proof the serial line is alive."""

    uptime_ms: int


BoardMessage = Boot | Ok | Err | ButtonLine | SensorLine | RelayLine | Ping

_BUTTON_WORDS = {"down": InputKind.PRESSED, "up": InputKind.RELEASED, "held": InputKind.HELD}


def _pairs(args: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for arg in args:
        key, eq, value = arg.partition("=")
        if not eq:
            raise CodecError("args", f"{arg!r} is not key=value")
        out[key] = value
    return out


def _ack(text: str) -> int:
    if not _SEQ.fullmatch(text) or int(text) >= SEQ_MOD:
        raise CodecError("args", f"ack {text!r} is not a sequence number")
    return int(text)


def parse_message(frame: Frame) -> BoardMessage:
    """A board frame as a typed message; ``CodecError`` for a verb or arguments we don't know."""
    verb, args = frame.verb, frame.args
    try:
        if verb == "PING":
            return Ping(int(_pairs(args).get("up", "0")))
        if verb == "OK" and args:
            return Ok(_ack(args[0]), _pairs(args[1:]))
        if verb == "ERR" and len(args) >= 2:
            ack = None if args[0] == "-" else _ack(args[0])
            return Err(ack, args[1], " ".join(args[2:]))
        if verb == "BUTTON" and len(args) == 2 and args[1] in _BUTTON_WORDS:
            return ButtonLine(args[0], _BUTTON_WORDS[args[1]])
        if verb == "SENSOR" and len(args) == 2 and args[1] in ("open", "closed"):
            return SensorLine(args[0], args[1] == "open")
        if verb == "RELAY" and len(args) == 2 and args[1] in ("on", "off"):
            return RelayLine(args[0], args[1] == "on")
        if verb == "BOOT":
            pairs = _pairs(args)
            return Boot(int(pairs.get("proto", "0")), pairs.get("fw", "unknown"))
    except ValueError as exc:
        raise CodecError("args", f"{verb}: {exc}") from None
    raise CodecError("verb", f"unexpected {verb} line with arguments {' '.join(args)!r}")


# -- what the host says ---------------------------------------------------------------------


def _level(active_high: bool) -> str:
    return "high" if active_high else "low"


def _pull(pull: Pull) -> str:
    return pull.value


def config_items(spec: BoardSpec) -> list[tuple[str, ...]]:
    """The ``CONFIG`` argument lists for ``spec``, BEGIN and END included."""
    items: list[tuple[str, ...]] = [("BEGIN",)]
    for b in spec.buttons:
        items.append(
            (
                "BUTTON",
                b.name,
                f"pin={b.pin}",
                f"pull={_pull(b.pull)}",
                f"active={_level(b.active_high)}",
                f"bounce={b.bounce_ms}",
                f"hold={round(b.hold_s * 1000)}",
            )
        )
    for s in spec.sensors:
        items.append(
            (
                "SENSOR",
                s.name,
                f"pin={s.pin}",
                f"pull={_pull(s.pull)}",
                f"active={_level(s.active_high)}",
                f"bounce={s.bounce_ms}",
            )
        )
    for led in spec.leds:
        items.append(("LED", led.name, f"pin={led.pin}", f"active={_level(led.active_high)}"))
    for r in spec.relays:
        max_ms = min(PULSE_LIMIT_MS, max(1, round(r.max_pulse_s * 1000)))
        items.append(
            ("RELAY", r.name, f"pin={r.pin}", f"active={_level(r.active_high)}", f"max={max_ms}")
        )
    items.append(("END",))
    return items


def spec_problems(spec: BoardSpec) -> list[str]:
    """What in ``spec`` the firmware would refuse, each with the fix (empty when fine)."""
    problems: list[str] = []
    used: dict[int, str] = {}
    entries: list[tuple[str, str, int]] = [
        *(("button", b.name, b.pin) for b in spec.buttons),
        *(("sensor", s.name, s.pin) for s in spec.sensors),
        *(("led", led.name, led.pin) for led in spec.leds),
        *(("relay", r.name, r.pin) for r in spec.relays),
    ]
    for kind, name, pin in entries:
        if not NAME_RE.fullmatch(name):
            problems.append(
                f"{kind} name {name!r}: use 1-32 letters, digits, '_', '.' or '-' on a serial board"
            )
        if pin not in PICO_PINS:
            problems.append(
                f"{kind} {name!r} pin = {pin}: a Pico offers GPIO 0-21 and 25-28 "
                "(22 is the service jumper, 23/24/29 are internal)"
            )
        elif pin in used:
            problems.append(f"{kind} {name!r} pin = {pin} is already used by {used[pin]}")
        else:
            used[pin] = f"{kind} {name!r}"
    for b in spec.buttons:
        if not 0 <= b.bounce_ms <= 1000 or not 0 <= b.hold_s <= 600:
            problems.append(f"button {b.name!r}: bounce_ms must be 0..1000 and hold_s 0..600")
    for s in spec.sensors:
        if not 0 <= s.bounce_ms <= 1000:
            problems.append(f"sensor {s.name!r}: bounce_ms must be 0..1000")
    return problems


def led_args(name: str, pattern: LedPattern) -> tuple[str, ...]:
    return (name, pattern.value)


def pulse_ms(seconds: float) -> int:
    """A pulse length on the wire: whole milliseconds, 1 ms..10 min (the board caps further)."""
    return min(PULSE_LIMIT_MS, max(1, round(seconds * 1000)))
