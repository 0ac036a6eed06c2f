"""Typed events: one class per wire name, and ``as_dict()`` is the payload the log and
``ctl events`` have always shown (other tools parse it)."""

from __future__ import annotations

import typing

from endpoint.ua import events
from endpoint.ua.events import (
    CallAnswered,
    CallEnded,
    CallFailed,
    CallOver,
    CallRejected,
    CallReport,
    DoorLockedOut,
    DoorLockoutEnded,
    DoorOpened,
    Event,
    Notice,
    RegistrationFailed,
    RequestFailed,
    Unregistered,
)


def _concrete() -> list[type[Notice]]:
    """Every event class with a name (a slotted dataclass replaces the class it decorates:
    only the one the module holds counts)."""
    found: list[type[Notice]] = []
    todo = [Notice]
    while todo:
        cls = todo.pop()
        for sub in cls.__subclasses__():
            if getattr(events, sub.__name__, None) is not sub:
                continue
            todo.append(sub)
            if sub.name:
                found.append(sub)
    return found


def test_every_event_is_in_the_union_once_with_its_own_name() -> None:
    concrete = _concrete()
    assert set(typing.get_args(Event)) == set(concrete)
    names = [cls.name for cls in concrete]
    assert len(names) == len(set(names))


def test_payloads_keep_the_wire_keys_and_their_order() -> None:
    incoming = CallAnswered(call_id="c1", caller="sip:v@x", codec="PCMU", encryption="none")
    assert list(incoming.as_dict().items()) == [
        ("event", "call-answered"),
        ("call_id", "c1"),
        ("from", "sip:v@x"),
        ("codec", "PCMU"),
        ("encryption", "none"),
    ]
    outgoing = CallAnswered(call_id="c2", callee="sip:f@x", codec="PCMA", encryption="sdes-srtp")
    assert list(outgoing.as_dict()) == ["event", "call_id", "to", "codec", "encryption"]
    ended = CallEnded(call_id="c1", caller="sip:v@x", reason="bye", duration=2.5)
    assert list(ended.as_dict().items()) == [
        ("event", "call-ended"),
        ("call_id", "c1"),
        ("from", "sip:v@x"),
        ("reason", "bye"),
        ("duration", 2.5),
    ]
    failed = CallFailed(call_id="c2", callee="sip:f@x", reason="486 Busy Here", duration=0.0)
    assert list(failed.as_dict()) == ["event", "call_id", "to", "reason", "duration"]
    rejected = CallRejected(call_id="c3", caller="sip:s@x", reason="not allowed")
    assert list(rejected.as_dict()) == ["event", "call_id", "from", "reason"]


def test_optional_fields_are_left_out_and_a_door_without_call_keeps_its_none() -> None:
    assert RegistrationFailed(account="a", aor="sip:d@x", reason="t", retry_in=3.0).as_dict() == {
        "event": "registration-failed",
        "account": "a",
        "aor": "sip:d@x",
        "reason": "t",
        "retry_in": 3.0,
    }
    assert Unregistered(account="a", aor="sip:d@x").detail == {"account": "a", "aor": "sip:d@x"}
    assert DoorLockoutEnded().as_dict() == {"event": "door-lockout-ended"}
    assert DoorLockoutEnded(scope="caller").detail == {"scope": "caller"}
    assert DoorOpened(via="button", call_id=None, seconds=3.0).detail == {
        "via": "button",
        "call_id": None,
        "seconds": 3.0,
    }
    assert DoorLockedOut(call_id="c", minutes=5, wrong=3, scope="caller").detail["alarm"] is True
    assert RequestFailed(error="KeyError", detail_text="x").detail == {
        "error": "KeyError",
        "detail": "x",
    }
    report = CallReport(call_id="c", reason="bye", stats={"packets_lost": 0, "jitter_ms": 1.5})
    assert report.as_dict() == {
        "event": "call-report",
        "call_id": "c",
        "reason": "bye",
        "packets_lost": 0,
        "jitter_ms": 1.5,
    }


def test_the_call_is_over_is_defined_once() -> None:
    over = {cls.name for cls in _concrete() if issubclass(cls, CallOver)}
    assert over == {"call-ended", "call-failed", "call-rejected"}


def test_warnings_are_marked_on_the_class() -> None:
    warned = {cls.name for cls in _concrete() if cls.warning}
    assert {"registration-failed", "call-failed", "request-dropped", "door-locked-out"} <= warned
    assert "call-ended" not in warned and "registered" not in warned
