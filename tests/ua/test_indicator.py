"""Indicator: device state from the UA's notices, LED patterns from each LED's show table."""

from __future__ import annotations

from endpoint.config import DEFAULT_LED_SHOW, LedSettings
from endpoint.hardware.board import LedPattern
from endpoint.ua.actions import Notice
from endpoint.ua.indicator import DeviceState, Indicator, SetLed

STATUS = LedSettings("status", 23)
DOOR_LED = LedSettings(  # lit only while the door is open
    "door", 24, show=tuple((s, "on" if s == "door_open" else "off") for s in DEFAULT_LED_SHOW)
)


def feed(indicator: Indicator, *notices: Notice) -> list[SetLed]:
    for n in notices:
        indicator.notice(n)
    return indicator.actions()


REGISTERED = Notice("registered", {"account": "account", "aor": "sip:door@x"})


def test_every_state_shows_its_default_pattern() -> None:
    ind = Indicator([STATUS])
    ind.start()
    assert ind.actions() == [SetLed("status", LedPattern.FAST)]
    assert ind.state is DeviceState.UNREGISTERED
    steps = [
        (REGISTERED, DeviceState.IDLE, LedPattern.ON),
        (Notice("call-outgoing", {"call_id": "o1"}), DeviceState.CALLING, LedPattern.SLOW),
        (Notice("call-failed", {"call_id": "o1"}), DeviceState.IDLE, LedPattern.ON),
        (Notice("call-incoming", {"call_id": "i1"}), DeviceState.RINGING, LedPattern.SLOW),
        (Notice("call-answered", {"call_id": "i1"}), DeviceState.IN_CALL, LedPattern.ON),
        (Notice("door-opened", {"via": "dtmf"}), DeviceState.DOOR_OPEN, LedPattern.DOUBLE),
        (Notice("door-pulse-ended"), DeviceState.IN_CALL, LedPattern.ON),
        (Notice("call-ended", {"call_id": "i1"}), DeviceState.IDLE, LedPattern.ON),
        (
            Notice("registration-failed", {"account": "account"}),
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
    assert feed(ind, Notice("registration-refreshed", {"account": "account"})) == []
    assert feed(ind, Notice("message", {"text": "hi"})) == []


def test_peer_to_peer_ready_is_idle() -> None:
    ind = Indicator([STATUS])
    assert feed(ind, Notice("ready", {"mode": "peer-to-peer"})) == [SetLed("status", LedPattern.ON)]
    assert ind.state is DeviceState.IDLE


def test_backup_account_keeps_idle_while_primary_fails() -> None:
    ind = Indicator([STATUS])
    feed(ind, REGISTERED, Notice("registered", {"account": "backup"}))
    feed(ind, Notice("registration-failed", {"account": "account"}))
    assert ind.state is DeviceState.IDLE
    feed(ind, Notice("unregistered", {"account": "backup"}))
    assert ind.state is DeviceState.UNREGISTERED


def test_hardware_fault_shows_as_unregistered() -> None:
    ind = Indicator([STATUS])
    feed(ind, REGISTERED)
    assert feed(ind, Notice("hardware-fault", {"reason": "unplugged"})) == [
        SetLed("status", LedPattern.FAST)
    ]
    assert feed(ind, Notice("hardware-ok", {"reason": ""})) == [SetLed("status", LedPattern.ON)]


def test_calls_win_over_idle_and_door_open_wins_over_all() -> None:
    ind = Indicator([STATUS, DOOR_LED])
    ind.start()
    assert ind.actions() == [SetLed("status", LedPattern.FAST), SetLed("door", LedPattern.OFF)]
    # A parallel group: two outgoing calls; one answers, the other is cancelled.
    feed(ind, REGISTERED, Notice("call-outgoing", {"call_id": "a"}))
    feed(ind, Notice("call-outgoing", {"call_id": "b"}))
    feed(ind, Notice("call-ringing", {"call_id": "a"}))
    assert ind.state is DeviceState.CALLING
    feed(ind, Notice("call-answered", {"call_id": "b"}), Notice("call-failed", {"call_id": "a"}))
    assert ind.state is DeviceState.IN_CALL
    assert feed(ind, Notice("door-opened", {"via": "ctl"})) == [
        SetLed("status", LedPattern.DOUBLE),
        SetLed("door", LedPattern.ON),
    ]


def test_custom_show_and_unshown_states() -> None:
    led = LedSettings("l", 5, show=tuple({**DEFAULT_LED_SHOW, "ringing": "fast"}.items()))
    ind = Indicator([led])
    feed(ind, REGISTERED)
    assert feed(ind, Notice("call-incoming", {"call_id": "i"})) == [SetLed("l", LedPattern.FAST)]
    assert LedSettings("x", 1, show=()).pattern("idle") == "off"
