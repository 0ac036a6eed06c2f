"""Sequential call groups with real baresip phones: a target that does not answer in time is
cancelled and the next one rings; a target that answers busy hands over to the next at once."""

import re
from pathlib import Path

import pytest

from tests.interop.door import Door, talk_then_hang_up
from tests.interop.peers import Baresip

pytestmark = pytest.mark.interop


def test_first_target_rings_out_then_the_next_answers(tmp_path: Path) -> None:
    """``ctl call --sequential --timeout 2 A B``: A rings for 2 s without answering, we CANCEL
    it (baresip sees its call closed before B rings) and B answers."""
    silent = Baresip(tmp_path / "concierge", user="concierge", answermode="manual").start()
    answers = Baresip(tmp_path / "flat", user="flat").start()
    door = Door(tmp_path / "door")
    try:
        door.call("--sequential", "--timeout", "2", silent.uri, answers.uri)
        silent.ctrl.wait_event("CALL_INCOMING", 10)
        silent.ctrl.wait_event("CALL_CLOSED", 10)  # our CANCEL after target_timeout
        talk_then_hang_up(answers, 1)
    finally:
        log = door.stop()
        silent.stop()
        answers.stop()
    assert "call-group " in log and "sequential" in log
    outgoing = re.findall(r"call-outgoing .*", log)
    assert len(outgoing) == 2 and "concierge" in outgoing[0] and "flat" in outgoing[1], outgoing
    assert log.count("call-answered") == 1
    assert "call-group-ended" in log and "answered=True" in log


def test_first_target_busy_then_the_next_answers(tmp_path: Path) -> None:
    """A rejects the call (baresip answers 486 Busy Here to a hang-up while it rings): B rings
    at once, long before A's 30 s would have run out, and answers."""
    busy = Baresip(tmp_path / "concierge", user="concierge", answermode="manual").start()
    answers = Baresip(tmp_path / "flat", user="flat").start()
    door = Door(tmp_path / "door")
    try:
        door.call("--sequential", "--timeout", "30", busy.uri, answers.uri)
        busy.ctrl.wait_event("CALL_INCOMING", 10)
        busy.ctrl.command("hangup")
        busy.ctrl.wait_event("CALL_CLOSED", 10)
        talk_then_hang_up(answers, 1)
    finally:
        log = door.stop()
        busy.stop()
        answers.stop()
    assert re.search(r"call-(failed|ended) .*486", log), log
    outgoing = re.findall(r"call-outgoing .*", log)
    assert len(outgoing) == 2 and "flat" in outgoing[1], outgoing
    assert "call-group-ended" in log and "answered=True" in log
