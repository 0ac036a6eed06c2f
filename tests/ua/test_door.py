"""DoorControl with a fake clock: codes, lockout, sensor alarms, hang-up after opening."""

from __future__ import annotations

from dataclasses import replace

import pytest

from endpoint.config import DoorSettings
from endpoint.ua.door import DoorAction, DoorControl, HangUp, OpenDoor
from endpoint.ua.events import DoorLeftOpen, DoorLockedOut, DoorOpened, DoorSensor, Notice

DOOR = DoorSettings(relay_pin=27, pulse_s=3.0, code="1234", max_wrong=3, lockout_minutes=5)


def notices(actions: list[DoorAction]) -> list[str]:
    return [a.name for a in actions if isinstance(a, Notice)]


def answered(settings: DoorSettings = DOOR, allowed: bool = True) -> DoorControl:
    door = DoorControl(settings)
    door.call_answered("c1", allowed, 100.0)
    return door


def key(door: DoorControl, digits: str, now: float, call_id: str = "c1") -> list[DoorAction]:
    for i, digit in enumerate(digits):
        door.dtmf(call_id, digit, now + i * 0.3)
    return door.actions()


def test_right_code_pulses_the_relay_and_says_so() -> None:
    door = answered()
    actions = key(door, "1234", 100.0)
    assert actions == [
        OpenDoor(3.0),
        DoorOpened(via="dtmf", call_id="c1", seconds=3.0),
    ]
    assert door.get_timer() == pytest.approx(100.9 + 3.0)  # the end of the pulse
    door.handle_timer(103.9)
    assert notices(door.actions()) == ["door-pulse-ended"]
    assert door.get_timer() is None


def test_hash_terminates_and_star_clears() -> None:
    door = answered()
    assert notices(key(door, "12#", 100.0)) == ["door-code-wrong"]
    assert notices(key(door, "99*1234", 110.0)) == ["door-opened"]  # * forgot the 99


def test_a_wrong_code_of_full_length_counts() -> None:
    door = answered()
    actions = key(door, "4321", 100.0)
    assert [a.as_dict() for a in actions if isinstance(a, Notice)] == [
        {"event": "door-code-wrong", "call_id": "c1", "attempt": 1, "left": 2}
    ]
    assert notices(key(door, "1234", 105.0)) == ["door-opened"]


def test_a_pause_longer_than_the_digit_timeout_starts_over() -> None:
    door = answered()
    door.dtmf("c1", "1", 100.0)
    door.dtmf("c1", "2", 101.0)
    assert door.get_timer() == 106.0
    door.handle_timer(106.0)  # the entry is forgotten, nothing counted
    assert door.actions() == []
    assert notices(key(door, "1234", 107.0)) == ["door-opened"]
    door2 = answered()
    door2.dtmf("c1", "1", 100.0)
    door2.dtmf("c1", "2", 100.5)  # the timer was not handled, but the next digit is late
    assert notices(key(door2, "1234", 200.0)) == ["door-opened"]


def test_wrong_codes_lock_out_and_the_lockout_expires() -> None:
    door = answered()
    assert notices(key(door, "0000", 100.0)) == ["door-code-wrong"]
    assert notices(key(door, "0000", 110.0)) == ["door-code-wrong"]
    actions = key(door, "0000", 120.0)
    assert notices(actions) == ["door-code-wrong", "door-locked-out"]
    last = actions[-1]
    assert isinstance(last, DoorLockedOut)
    assert last.as_dict() == {
        "event": "door-locked-out",
        "call_id": "c1",
        "minutes": 5,
        "wrong": 3,
        "scope": "caller",
        "alarm": True,
    }
    assert door.locked_out
    assert key(door, "1234", 130.0) == []  # even the right code is ignored now
    lockout_end = 120.9 + 300
    assert door.get_timer() == pytest.approx(lockout_end)
    door.handle_timer(lockout_end - 0.01)
    assert door.actions() == [] and door.locked_out
    door.handle_timer(lockout_end)
    assert notices(door.actions()) == ["door-lockout-ended"]
    assert notices(key(door, "1234", lockout_end + 1)) == ["door-opened"]


def test_wrong_codes_count_across_calls() -> None:
    door = answered()
    key(door, "0000", 100.0)
    key(door, "0000", 105.0)
    door.call_ended("c1", 106.0)
    door.call_answered("c2", True, 110.0)
    assert notices(key(door, "0000", 111.0, "c2")) == ["door-code-wrong", "door-locked-out"]


def test_a_right_code_resets_the_count() -> None:
    door = answered()
    key(door, "0000", 100.0)
    key(door, "0000", 105.0)
    key(door, "1234", 110.0)
    assert notices(key(door, "0000", 120.0)) == ["door-code-wrong"]  # attempt 1 again


def test_lockout_zero_never_locks() -> None:
    door = answered(replace(DOOR, lockout_minutes=0, max_wrong=1))
    for t in (100.0, 110.0, 120.0):
        assert notices(key(door, "0000", t)) == ["door-code-wrong"]
    assert not door.locked_out


@pytest.mark.parametrize(
    ("settings", "allowed", "call_id"),
    [
        (DOOR, False, "c1"),  # caller outside the allowlist
        (DOOR, True, "other"),  # digits of another call
        (replace(DOOR, code=""), True, "c1"),  # no code configured
        (replace(DOOR, relay_pin=None), True, "c1"),  # nothing to open
    ],
)
def test_digits_that_must_not_open(settings: DoorSettings, allowed: bool, call_id: str) -> None:
    door = answered(settings, allowed)
    assert key(door, "1234", 100.0, call_id) == []


def test_no_call_no_code() -> None:
    door = DoorControl(DOOR)
    assert key(door, "1234", 100.0) == []
    door.call_answered("c1", True, 100.0)
    door.call_ended("c1", 101.0)
    assert key(door, "1234", 102.0) == []


def test_code_with_hash_and_star_is_typed_literally() -> None:
    door = answered(replace(DOOR, code="*12#"))
    assert notices(key(door, "*12#", 100.0)) == ["door-opened"]


def test_hang_up_after_opening() -> None:
    door = answered(replace(DOOR, hangup_after_open_s=2.0))
    key(door, "1234", 100.0)
    assert door.get_timer() == pytest.approx(102.9)
    door.handle_timer(102.9)
    assert door.actions() == [HangUp("c1")]
    door.handle_timer(103.9)
    assert notices(door.actions()) == ["door-pulse-ended"]


def test_no_hang_up_if_the_call_ended_first() -> None:
    door = answered(replace(DOOR, hangup_after_open_s=2.0))
    key(door, "1234", 100.0)
    door.call_ended("c1", 101.0)
    door.handle_timer(102.9)
    assert door.actions() == []


def test_button_and_ctl_open_without_a_code() -> None:
    door = DoorControl(DOOR)
    assert door.open("button", 50.0)
    assert door.actions() == [
        OpenDoor(3.0),
        DoorOpened(via="button", call_id=None, seconds=3.0),
    ]
    door.call_answered("c9", True, 60.0)
    assert door.open("ctl", 61.0)
    assert door.actions()[1] == DoorOpened(via="ctl", call_id="c9", seconds=3.0)
    assert not DoorControl(replace(DOOR, relay_pin=None)).open("ctl", 1.0)


def test_sensor_and_left_open_alarm() -> None:
    door = DoorControl(DOOR)
    door.sensor(False, 10.0)
    assert door.actions() == [DoorSensor(state="closed")]
    door.sensor(False, 11.0)  # no change, no notice
    assert door.actions() == []
    door.sensor(True, 20.0)
    assert door.actions() == [DoorSensor(state="open")]
    assert door.get_timer() == 80.0
    door.handle_timer(80.0)
    assert door.actions() == [DoorLeftOpen(seconds=60.0)]
    assert door.get_timer() is None
    door.sensor(False, 90.0)
    door.sensor(True, 100.0)
    door.sensor(False, 120.0)  # closed in time: no alarm
    door.actions()
    assert door.get_timer() is None


def test_status_never_shows_the_code() -> None:
    door = answered()
    assert "1234" not in repr(door.status()) and "1234" not in repr(DOOR)


def test_digits_faster_than_a_person_can_press_are_ignored() -> None:
    """Issue 13 rule 8: a script typing 1000 digits a second gets no more tries than a hand."""
    door = answered()
    for i, digit in enumerate("12341234"):
        door.dtmf("c1", digit, 100.0 + i * 0.01)
    assert door.actions() == [] and door.fast_digits == 7


def test_a_caller_is_locked_out_alone_and_many_callers_lock_everyone_out() -> None:
    door = DoorControl(DOOR)
    for n in range(3):  # three callers, three wrong codes each: 9 = 3 x max_wrong
        door.call_answered(f"c{n}", True, 100.0 * n, caller=f"sip:guess{n}@x")
        events = [
            e for t in range(3) for e in notices(key(door, "0000", 100.0 * n + 10 * t, f"c{n}"))
        ]
        assert events.count("door-locked-out") == 1
        if n < 2:
            assert door.locked_out  # this caller is
            door.call_answered(f"friend{n}", True, 100.0 * n + 50, caller="sip:friend@x")
            assert not door.locked_out  # another caller is not
            door.call_ended(f"friend{n}", 100.0 * n + 51)
    assert door.lockouts(300.0)["*"] == pytest.approx(220.9 + 300 - 300.0)
    door.call_answered("late", True, 301.0, caller="sip:friend@x")
    assert door.locked_out and key(door, "1234", 302.0, "late") == []


def test_lockouts_survive_a_restart() -> None:
    door = answered()
    for t in (100.0, 110.0, 120.0):
        key(door, "0000", t)
    saved = door.lockouts(200.0)
    assert saved == {"": pytest.approx(120.9 + 300 - 200.0)}
    restarted = DoorControl(DOOR)
    restarted.restore(saved, 5.0)  # a new process: another monotonic clock
    restarted.call_answered("c9", True, 6.0)
    assert restarted.locked_out and key(restarted, "1234", 7.0, "c9") == []
    restarted.restore({"": 10**9, "*": -1.0}, 8.0)  # not ours: longer than a lockout, expired
    assert restarted.lockouts(8.0).keys() == {""}
