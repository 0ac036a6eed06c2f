"""Indicator: device state from the UA's events, LED patterns from each LED's show table."""

from __future__ import annotations

from endpoint.config import DEFAULT_LED_SHOW, LedSettings
from endpoint.ua.events import (
    CallAnswered,
    CallEnded,
    CallFailed,
    CallIncoming,
    CallOutgoing,
    CallRinging,
    DoorOpened,
    DoorPulseEnded,
    HardwareFault,
    HardwareOk,
    MessageReceived,
    Notice,
    Ready,
    Registered,
    RegistrationFailed,
    RegistrationRefreshed,
    Unregistered,
)
from endpoint.ua.indicator import DeviceState, Indicator, SetLed
from endpoint.ua.io import LedPattern

STATUS = LedSettings("status", 23)
DOOR_LED = LedSettings(  # lit only while the door is open
    "door", 24, show=tuple((s, "on" if s == "door_open" else "off") for s in DEFAULT_LED_SHOW)
)


def feed(indicator: Indicator, *notices: Notice) -> list[SetLed]:
    for n in notices:
        indicator.notice(n)
    return indicator.actions()


def answered(call_id: str) -> CallAnswered:
    return CallAnswered(call_id=call_id, caller="sip:v@x", codec="PCMU", encryption="none")


def failed(account: str) -> RegistrationFailed:
    return RegistrationFailed(account=account, aor="sip:door@x", reason="timeout", retry_in=30.0)


REFRESHED = RegistrationRefreshed(account="account", aor="sip:door@x", expires=600, contact="c")
RINGING = CallIncoming(call_id="i", caller="sip:v@x", allowed=False)
REGISTERED = Registered(account="account", aor="sip:door@x", expires=600, contact="sip:door@h")


def test_every_state_shows_its_default_pattern() -> None:
    ind = Indicator([STATUS])
    ind.start()
    assert ind.actions() == [SetLed("status", LedPattern.FAST)]
    assert ind.state is DeviceState.UNREGISTERED
    steps = [
        (REGISTERED, DeviceState.IDLE, LedPattern.ON),
        (CallOutgoing(call_id="o1", callee="sip:f@x"), DeviceState.CALLING, LedPattern.SLOW),
        (
            CallFailed(call_id="o1", callee="sip:f@x", reason="486 Busy", duration=0.0),
            DeviceState.IDLE,
            LedPattern.ON,
        ),
        (
            CallIncoming(call_id="i1", caller="sip:v@x", allowed=True),
            DeviceState.RINGING,
            LedPattern.SLOW,
        ),
        (answered("i1"), DeviceState.IN_CALL, LedPattern.ON),
        (
            DoorOpened(via="dtmf", call_id="i1", seconds=3.0),
            DeviceState.DOOR_OPEN,
            LedPattern.DOUBLE,
        ),
        (DoorPulseEnded(), DeviceState.IN_CALL, LedPattern.ON),
        (
            CallEnded(call_id="i1", caller="sip:v@x", reason="bye", duration=1.0),
            DeviceState.IDLE,
            LedPattern.ON,
        ),
        (
            failed("account"),
            DeviceState.UNREGISTERED,
            LedPattern.FAST,
        ),
    ]
    shown = LedPattern.FAST
    for notice, state, pattern in steps:
        actions = feed(ind, notice)
        assert ind.state is state, notice
        # Only changes are sent: ON -> ON (in call -> idle) sends nothing.
        assert actions == ([] if pattern is shown else [SetLed("status", pattern)]), notice
        shown = pattern


def test_set_led_only_on_change() -> None:
    ind = Indicator([STATUS])
    ind.start()
    ind.actions()
    assert feed(ind, REGISTERED) == [SetLed("status", LedPattern.ON)]
    assert (
        feed(
            ind,
            REFRESHED,
        )
        == []
    )
    assert feed(ind, MessageReceived(caller="sip:v@x", text="hi")) == []


def test_peer_to_peer_ready_is_idle() -> None:
    ind = Indicator([STATUS])
    assert feed(ind, Ready()) == [SetLed("status", LedPattern.ON)]
    assert ind.state is DeviceState.IDLE


def test_backup_account_keeps_idle_while_primary_fails() -> None:
    ind = Indicator([STATUS])
    feed(ind, REGISTERED, Registered(account="backup", aor="sip:door@y", expires=600, contact="c"))
    feed(ind, failed("account"))
    assert ind.state is DeviceState.IDLE
    feed(ind, Unregistered(account="backup", aor="sip:door@y"))
    assert ind.state is DeviceState.UNREGISTERED


def test_hardware_fault_shows_as_unregistered() -> None:
    ind = Indicator([STATUS])
    feed(ind, REGISTERED)
    assert feed(ind, HardwareFault(reason="unplugged")) == [SetLed("status", LedPattern.FAST)]
    assert feed(ind, HardwareOk(reason="")) == [SetLed("status", LedPattern.ON)]


def test_calls_win_over_idle_and_door_open_wins_over_all() -> None:
    ind = Indicator([STATUS, DOOR_LED])
    ind.start()
    assert ind.actions() == [SetLed("status", LedPattern.FAST), SetLed("door", LedPattern.OFF)]
    # A parallel group: two outgoing calls; one answers, the other is cancelled.
    feed(ind, REGISTERED, CallOutgoing(call_id="a", callee="sip:a@x"))
    feed(ind, CallOutgoing(call_id="b", callee="sip:b@x"))
    feed(ind, CallRinging(call_id="a"))
    assert ind.state is DeviceState.CALLING
    feed(
        ind,
        answered("b"),
        CallFailed(call_id="a", callee="sip:a@x", reason="cancelled", duration=0.0),
    )
    assert ind.state is DeviceState.IN_CALL
    assert feed(ind, DoorOpened(via="ctl", call_id=None, seconds=3.0)) == [
        SetLed("status", LedPattern.DOUBLE),
        SetLed("door", LedPattern.ON),
    ]


def test_custom_show_and_unshown_states() -> None:
    led = LedSettings("l", 5, show=tuple({**DEFAULT_LED_SHOW, "ringing": "fast"}.items()))
    ind = Indicator([led])
    feed(ind, REGISTERED)
    assert feed(ind, RINGING) == [SetLed("l", LedPattern.FAST)]
    assert LedSettings("x", 1, show=()).pattern("idle") == "off"
