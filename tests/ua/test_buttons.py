"""ButtonLogic: each configured action turns button events into UA commands."""

from __future__ import annotations

import pytest

from endpoint.config import ButtonSettings
from endpoint.ua.buttons import (
    AnswerCall,
    AttendedTransferStep,
    ButtonLogic,
    CancelConsultation,
    HangupCall,
    OpenDoorCommand,
    PlaceCall,
    Reregister,
    SetRegistered,
    TransferCall,
)
from endpoint.ua.io import ButtonEvent, InputKind

PRESSED, RELEASED, HELD = InputKind.PRESSED, InputKind.RELEASED, InputKind.HELD


def logic(action: str, **kw: object) -> ButtonLogic:
    return ButtonLogic([ButtonSettings("b", 17, action=action, **kw)])


def ev(kind: InputKind, name: str = "b") -> ButtonEvent:
    return ButtonEvent(name, kind)


def test_call_parallel_and_sequential() -> None:
    b = logic("call", targets=("flat12", "sip:c@pbx"), mode="parallel", target_timeout=15.0)
    assert b.handle(ev(PRESSED), call_active=False) == [
        PlaceCall("b", ("flat12", "sip:c@pbx"), True, 15.0)
    ]
    assert b.handle(ev(RELEASED), call_active=True) == []
    assert b.handle(ev(PRESSED), call_active=True) == []  # a call is on: pressing again waits
    seq = logic("call", targets=("a", "b"), mode="sequential")
    assert seq.handle(ev(PRESSED), call_active=False) == [PlaceCall("b", ("a", "b"), False, 20.0)]


def test_call_or_hangup() -> None:
    b = logic("call-or-hangup", targets=("flat12",))
    assert b.handle(ev(PRESSED), call_active=False) == [PlaceCall("b", ("flat12",), True, 20.0)]
    assert b.handle(ev(PRESSED), call_active=True) == [HangupCall("b")]


def test_transfer_moves_the_answered_call_to_its_one_target() -> None:
    b = logic("transfer", targets=("flat12",))
    assert b.handle(ev(PRESSED), call_active=True) == [TransferCall("b", "flat12")]
    assert b.handle(ev(PRESSED), call_active=False) == []  # nothing to transfer


def test_attended_transfer_short_press_steps_and_long_press_cancels() -> None:
    """A short press (known at RELEASED) starts or completes; a long press (HELD) cancels,
    and its release does nothing more."""
    b = logic("attended-transfer", targets=("flat12",))
    assert b.handle(ev(PRESSED), call_active=True) == []
    assert b.handle(ev(RELEASED), call_active=True) == [AttendedTransferStep("b", "flat12")]
    assert b.handle(ev(PRESSED), call_active=True) == []
    assert b.handle(ev(HELD), call_active=True) == [CancelConsultation("b")]
    assert b.handle(ev(RELEASED), call_active=True) == []
    b.handle(ev(PRESSED), call_active=False)
    assert b.handle(ev(RELEASED), call_active=False) == []  # no call: nothing to transfer


@pytest.mark.parametrize(
    ("action", "active", "expected"),
    [
        ("hangup", True, [HangupCall("b")]),
        ("hangup", False, []),
        ("answer", True, [AnswerCall("b")]),
        ("answer", False, []),
        ("open-door", False, [OpenDoorCommand("b")]),
        ("open-door", True, [OpenDoorCommand("b")]),
    ],
)
def test_simple_actions(action: str, active: bool, expected: list[object]) -> None:
    b = logic(action)
    assert b.handle(ev(PRESSED), call_active=active) == expected
    assert b.handle(ev(HELD), call_active=active) == []
    assert b.handle(ev(RELEASED), call_active=active) == []


def test_register_short_press_and_hold_toggle() -> None:
    b = logic("register")
    assert b.handle(ev(PRESSED), call_active=False) == []
    assert b.handle(ev(RELEASED), call_active=False) == [Reregister("b")]
    assert b.handle(ev(PRESSED), call_active=False) == []
    assert b.handle(ev(HELD), call_active=False) == [SetRegistered("b", False)]
    assert b.handle(ev(RELEASED), call_active=False) == []  # the hold was the whole press
    assert not b.registration_enabled
    b.handle(ev(PRESSED), call_active=False)
    assert b.handle(ev(RELEASED), call_active=False) == []  # out of service: no re-register
    b.handle(ev(PRESSED), call_active=False)
    assert b.handle(ev(HELD), call_active=False) == [SetRegistered("b", True)]


def test_unknown_button_does_nothing() -> None:
    assert logic("call", targets=("x",)).handle(ev(PRESSED, "other"), call_active=False) == []
