"""RFC 3262 with PJSIP (PJSUA2 with 100rel mandatory) in both roles: it calls us requiring
100rel (our reliable 180, its PRACK, then our 200), and we call it while it rings with a
reliable 180 that we PRACK before it answers."""

import time
from pathlib import Path

import pytest

from tests.interop.door import Door
from tests.interop.pjsua import Pjsua, require_pjsua

pytestmark = pytest.mark.interop


def prack_pjsua(tmp: Path, *, autoanswer: bool) -> Pjsua:
    require_pjsua()
    return Pjsua(tmp, autoanswer=autoanswer, require_100rel=True).start()


def test_pjsua_requiring_100rel_calls_us(tmp_path: Path) -> None:
    pjsua = prack_pjsua(tmp_path / "pjsua", autoanswer=True)
    door = Door(tmp_path / "door")
    try:
        pjsua.command("call", uri=door.uri)
        pjsua.wait_state("EARLY")  # our 180 reached it: PJSIP PRACKs it (100rel mandatory)
        pjsua.wait_state("CONFIRMED")
        time.sleep(1)
        stats = pjsua.command("stats")
        pjsua.command("hangup")
        pjsua.wait_state("DISCONNECTED")
        time.sleep(0.5)
    finally:
        log = door.stop()
        pjsua.stop()
    assert stats["rx_packets"] > 0
    wire = list(pjsua.sip_log)
    assert any(line.startswith("RSeq: ") for line in wire)  # our 180 was reliable
    assert any(line.startswith("PRACK sip:") for line in wire)
    assert "call-answered" in log and "reason=hung up by the caller" in log, log


def test_we_prack_pjsuas_reliable_180(tmp_path: Path) -> None:
    pjsua = prack_pjsua(tmp_path / "pjsua", autoanswer=False)
    door = Door(tmp_path / "door")
    try:
        answer = door.ctl("call", f"sip:alice@127.0.0.1:{pjsua.sip_port}")
        assert answer.returncode == 0, answer.stderr
        pjsua.wait_event("incoming")
        time.sleep(1)  # it rings; PJSIP holds its 200 until our PRACK of its reliable 180
        pjsua.command("answer")
        pjsua.wait_state("CONFIRMED")
        time.sleep(1)
        assert door.ctl("hangup").returncode == 0
        pjsua.wait_state("DISCONNECTED")
        time.sleep(0.5)
    finally:
        log = door.stop()
        pjsua.stop()
    wire = list(pjsua.sip_log)
    assert any(line.startswith("RAck: ") and line.endswith(" 1 INVITE") for line in wire)
    assert "call-ringing" in log and "call-answered" in log, log
    assert "reason=hung up locally" in log, log
