"""PJSIP (PJSUA2) as a peer outside the matrix: what the matrix does not cover."""

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.interop.door import Door
from tests.interop.peers import running
from tests.interop.pjsua import Pjsua, caller_and_flat, require_pjsua

pytestmark = pytest.mark.interop


@pytest.fixture
def pjsua(tmp_path: Path) -> Iterator[Pjsua]:
    require_pjsua()
    with running(Pjsua(tmp_path / "pjsua")) as peer:
        yield peer


@pytest.fixture
def concierge_and_flat(tmp_path: Path) -> Iterator[tuple[Pjsua, Pjsua]]:
    with caller_and_flat(tmp_path, "concierge") as phones:
        yield phones


def two_calls(concierge: Pjsua, door: Door, flat: Pjsua) -> tuple[int, int]:
    """The concierge calls the door, then the flat; both answered: the calls' ids."""
    to_door = concierge.command("call", uri=door.uri)["call"]
    concierge.wait_event("state", call=to_door, state="CONFIRMED")
    to_flat = concierge.command("call", uri=flat.uri)["call"]
    concierge.wait_event("state", call=to_flat, state="CONFIRMED")
    return to_door, to_flat


def test_a_transfer_to_an_unnamed_host_is_refused_and_the_call_goes_on(
    tmp_path: Path, pjsua: Pjsua
) -> None:
    """A REFER to a host the configuration does not name (toll fraud) gets 403 and the call
    stays up (RFC 3515 §2.4.2: a refused REFER does not end the dialog)."""
    door = Door(tmp_path / "door")
    try:
        pjsua.command("call", uri=door.uri)
        pjsua.wait_state("CONFIRMED")
        pjsua.command("transfer", uri=f"sip:elsewhere@127.0.0.1:{door.port}")
        status = pjsua.wait_event("transfer")
        time.sleep(0.5)
        still = pjsua.command("stats")
        pjsua.command("hangup")
        pjsua.wait_state("DISCONNECTED")
        time.sleep(0.5)
    finally:
        log = door.stop()
    assert status["code"] == 403
    assert still["rx_packets"] > 0
    assert "reason=hung up by the caller" in log


def test_attended_transfer_replaces_the_concierges_call_to_the_flat(
    tmp_path: Path, concierge_and_flat: tuple[Pjsua, Pjsua]
) -> None:
    """RFC 5589 §7.1: the concierge (PJSIP) has the door and a flat (PJSIP) on two calls and
    transfers with Replaces; the door's INVITE carries it and the flat swaps its call with
    the concierge for the call with the door."""
    concierge, flat = concierge_and_flat
    door = Door(tmp_path / "door", calls='allow = ["*@127.0.0.1"]')
    try:
        to_door, to_flat = two_calls(concierge, door, flat)
        first = flat.wait_event("state", state="CONFIRMED")
        concierge.command("transfer_replaces", call=to_door, dest=to_flat)
        status = concierge.wait_event("transfer", call=to_door, code=200, timeout=10)
        replaced = flat.wait_event("replaced", call=first["call"], timeout=10)
        time.sleep(1.5)
        states = [(e["call"], e["state"]) for e in flat.events if e.get("event") == "state"]
        swapped = {"call": replaced["new"]}
        heard = flat.command("stats", call=swapped["call"])
        flat.command("hangup", call=swapped["call"])
        flat.wait_event("state", call=swapped["call"], state="DISCONNECTED")
        time.sleep(0.5)
        calls = door.ctl("status", "--json").stdout
    finally:
        log = door.stop()
    assert status["code"] == 200
    assert (first["call"], "DISCONNECTED") in states  # the concierge's call was replaced
    assert (replaced["new"], "CONFIRMED") in states  # by the door's
    assert "transfer-succeeded" in log and heard["rx_packets"] > 0
    assert '"calls":[]' in calls.replace(" ", "")


def test_an_invite_with_replaces_takes_over_the_doors_call(
    tmp_path: Path, concierge_and_flat: tuple[Pjsua, Pjsua]
) -> None:
    """RFC 3891 towards us: the concierge (PJSIP) has the door and a flat (PJSIP) on two calls
    and transfers the *flat* with Replaces naming its call with the door; the flat's INVITE
    with Replaces reaches the door, which answers it and ends the concierge's call."""
    concierge, flat = concierge_and_flat
    door = Door(tmp_path / "door", calls='allow = ["*@127.0.0.1"]')
    try:
        to_door, to_flat = two_calls(concierge, door, flat)
        concierge.command("transfer_replaces", call=to_flat, dest=to_door)
        status = concierge.wait_event("transfer", call=to_flat, code=200, timeout=10)
        time.sleep(1.5)
        calls = door.ctl("status", "--json").stdout
        flat.command("hangup")  # the call it made by following the REFER: with the door
        time.sleep(0.5)
    finally:
        log = door.stop()
    assert status["code"] == 200
    assert "reason=replaced (RFC 3891)" in log
    assert "flat@127.0.0.1" in calls and "concierge" not in calls
    assert log.count("call-answered") == 2  # the concierge's call, then the flat's
    assert "from=sip:flat@127.0.0.1 reason=hung up by the caller" in log
