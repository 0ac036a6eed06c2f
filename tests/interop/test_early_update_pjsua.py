"""PJSIP (PJSUA2, 100rel mandatory) as the flat we call sends an UPDATE inside our call's early
dialog (RFC 3311 §5.1): it rings with a reliable 183 carrying its SDP answer, we PRACK it, and
its UPDATE with a new offer gets our 200 with an answer (481 before), then it answers."""

import re
import time
from pathlib import Path

import pytest

from tests.interop.door import Door
from tests.interop.pjsua import Pjsua, require_pjsua

pytestmark = pytest.mark.interop


def test_pjsuas_update_before_it_answers_is_answered(tmp_path: Path) -> None:
    require_pjsua()
    pjsua = Pjsua(tmp_path / "pjsua", autoanswer=False, require_100rel=True).start()
    door = Door(tmp_path / "door")
    try:
        called = door.ctl("call", f"sip:alice@127.0.0.1:{pjsua.sip_port}")
        assert called.returncode == 0, called.stderr
        pjsua.wait_event("incoming")
        pjsua.command("answer", code=183)  # reliable, with its SDP answer
        time.sleep(1)  # our PRACK and its 200
        pjsua.command("update")
        time.sleep(1)
        pjsua.command("answer")
        pjsua.wait_state("CONFIRMED")
        time.sleep(1)
        stats = pjsua.command("stats")
        assert door.ctl("hangup").returncode == 0
        pjsua.wait_state("DISCONNECTED")
        time.sleep(0.5)
    finally:
        log = door.stop()
        pjsua.stop()
    wire = "\n".join(pjsua.sip_log)
    assert re.search(r"^UPDATE sip:", wire, re.M), wire[-3000:]
    answers = re.findall(r"^SIP/2.0 (\d+) [^\n]*\n(?:[^\n]+\n)*?CSeq: *\d+ UPDATE", wire, re.M)
    assert answers == ["200"], (answers, wire[-3000:])
    assert stats["rx_packets"] > 0
    assert "call-early-media" in log and "call-answered" in log, log
