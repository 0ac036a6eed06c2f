"""Attended transfer from our side (RFC 5589 §7) with two real PJSIP phones: the visitor calls
the door, the door holds the visitor and consults the flat, then hands the visitor over
(REFER with Replaces): the visitor's INVITE with Replaces reaches the flat, which swaps its
call with the door for the visitor's, and audio flows between visitor and flat."""

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.interop.door import Door
from tests.interop.pjsua import Pjsua, caller_and_flat

pytestmark = pytest.mark.interop


@pytest.fixture
def phones(tmp_path: Path) -> Iterator[tuple[Pjsua, Pjsua]]:
    with caller_and_flat(tmp_path, "visitor") as pair:
        yield pair


def consult(door: Door, visitor: Pjsua, flat: Pjsua) -> tuple[dict[str, Any], dict[str, Any]]:
    """The visitor's call answered, then ``ctl transfer --attended``: the flat's call and
    ``ctl status`` while both exist."""
    visitor.command("call", uri=door.uri)
    visitor.wait_state("CONFIRMED")
    started = door.ctl("transfer", "--attended", flat.uri)
    assert started.returncode == 0, started.stderr
    first = flat.wait_event("state", state="CONFIRMED")
    time.sleep(0.5)
    return first, json.loads(door.ctl("status", "--json").stdout)


def back_with_the_visitor(door: Door, visitor: Pjsua) -> tuple[int, int, list[dict[str, Any]]]:
    """Once the consultation has ended: the visitor's received packet count one second apart
    (it grows when the door sends audio to the visitor again), the door's calls then, and the
    visitor hangs up."""
    time.sleep(1.0)
    before = visitor.command("stats")["rx_packets"]
    time.sleep(1.0)
    after = visitor.command("stats")["rx_packets"]
    calls = json.loads(door.ctl("status", "--json").stdout)["calls"]
    visitor.command("hangup")
    time.sleep(0.5)
    return before, after, calls


def test_attended_transfer_hands_the_visitor_to_the_flat(
    tmp_path: Path, phones: tuple[Pjsua, Pjsua]
) -> None:
    visitor, flat = phones
    door = Door(tmp_path / "door", calls='allow = ["*@127.0.0.1"]')
    try:
        first, both = consult(door, visitor, flat)
        done = door.ctl("transfer", "--complete")
        replaced = flat.wait_event("replaced", call=first["call"], timeout=10)
        time.sleep(1.5)
        heard = flat.command("stats", call=replaced["new"])
        calls = json.loads(door.ctl("status", "--json").stdout)["calls"]
        flat.command("hangup", call=replaced["new"])
        time.sleep(0.5)
    finally:
        log = door.stop()
    assert done.returncode == 0, done.stderr
    assert {c["direction"] for c in both["calls"]} == {"in", "out"}
    assert both["consultation"]["target"] == flat.uri
    assert "consultation-started" in log and "transfer-succeeded" in log
    assert "outcome=transferred" in log
    assert heard["rx_packets"] > 0  # the visitor's audio reaches the flat, not through us
    assert calls == []  # both of the door's calls ended


def test_cancel_ends_the_consultation_and_resumes_the_visitor(
    tmp_path: Path, phones: tuple[Pjsua, Pjsua]
) -> None:
    visitor, flat = phones
    door = Door(tmp_path / "door", calls='allow = ["*@127.0.0.1"]')
    try:
        first, _ = consult(door, visitor, flat)
        cancelled = door.ctl("transfer", "--cancel")
        flat.wait_event("state", call=first["call"], state="DISCONNECTED")
        before, after, calls = back_with_the_visitor(door, visitor)
    finally:
        log = door.stop()
    assert cancelled.returncode == 0, cancelled.stderr
    assert "outcome=cancelled" in log and "call-resumed" in log
    assert after > before  # the door sends audio to the visitor again
    assert [c["direction"] for c in calls] == ["in"]


def test_during_the_consultation_ctl_acts_on_the_flats_call(
    tmp_path: Path, phones: tuple[Pjsua, Pjsua]
) -> None:
    """A desk phone's rule: ``ctl hold`` and ``ctl hangup`` act on the call being talked on
    (the flat's), not on the held visitor; hanging up the consultation resumes the visitor."""
    visitor, flat = phones
    door = Door(tmp_path / "door", calls='allow = ["*@127.0.0.1"]')
    try:
        first, both = consult(door, visitor, flat)
        held = door.ctl("hold")
        flat.wait_event("media", call=first["call"], status="remote_hold")
        hung_up = door.ctl("hangup")
        flat.wait_event("state", call=first["call"], state="DISCONNECTED")
        before, after, calls = back_with_the_visitor(door, visitor)
    finally:
        log = door.stop()
    assert held.returncode == 0, held.stderr
    assert hung_up.returncode == 0, hung_up.stderr
    rows = {c["direction"]: c for c in both["calls"]}
    assert both["active_call_id"] == rows["out"]["call_id"]  # the flat's call is the active one
    assert (rows["out"]["active"], rows["in"]["active"], rows["in"]["held"]) == (True, False, True)
    assert "outcome=cancelled" in log and "call-resumed" in log
    assert after > before  # the visitor hears the door again
    assert [c["direction"] for c in calls] == ["in"]  # the visitor's call went on
