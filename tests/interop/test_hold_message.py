"""Holding and messaging from our side against real peers: ``ctl hold`` re-INVITEs with
a=sendonly and stops our audio, ``ctl resume`` re-INVITEs with sendrecv and the audio flows
again; ``ctl message`` sends a SIP MESSAGE in the call's dialog or out of dialog (SIPp checks the
text), answering Kamailio's 407 for the configured realm."""

import re
import time
from pathlib import Path

import pytest

from tests.interop.door import Door, read_wav, registered_door, tone_frames
from tests.interop.peers import Baresip, Kamailio, Sipp

pytestmark = pytest.mark.interop


def test_ctl_hold_and_resume_with_baresip(tmp_path: Path) -> None:
    flat = Baresip(tmp_path / "flat", user="flat").start()
    door = Door(tmp_path / "door")
    try:
        door.call(flat.uri)
        flat.ctrl.wait_event("CALL_ESTABLISHED", 10)
        time.sleep(1)
        held = door.ctl("hold")
        assert held.returncode == 0, held.stdout + held.stderr
        time.sleep(3)
        again = door.ctl("hold")
        assert again.returncode != 0 and "already held" in again.stdout + again.stderr
        assert door.ctl("resume").returncode == 0
        time.sleep(2)
        door.hang_up(flat)
    finally:
        log = door.stop()
        flat.stop()
    assert re.search(r"call-held .*by=us", log) and re.search(r"call-resumed .*by=us", log), log
    offers = [e for e in flat.ctrl.events if e.get("type") == "CALL_REMOTE_SDP"]
    assert [e.get("param") for e in offers] == ["offer"] * 3  # the INVITE and two re-INVITEs
    report = re.search(r"call-ended .*duration=([\d.]+)", log)
    sent = re.search(r"call-report .* sent (\d+) recv (\d+)", log)
    assert report and sent, log
    talking = float(report.group(1)) - 3  # 3 s of the call were on hold
    # 50 packets a second while not held, none while held (a few in flight at each switch)
    assert int(sent.group(1)) < 50 * (talking + 1.5), (sent.group(0), report.group(0))
    heard = read_wav(tmp_path / "door" / "heard.wav")
    assert tone_frames(heard[-8000:-2000], 1000) > 0.8  # baresip's tone again after resume


def test_ctl_message_out_of_dialog_to_sipp(tmp_path: Path) -> None:
    """Peer to peer: the MESSAGE goes straight to SIPp, which checks the text and answers."""
    sipp = Sipp(tmp_path / "sipp", "uas_message.xml", ["-trace_logs"])
    sipp.start()
    door = Door(tmp_path / "door")
    try:
        time.sleep(0.5)
        sent = door.ctl("message", f"sip:sipp@127.0.0.1:{sipp.port}", "Visitor at the door")
        assert sent.returncode == 0 and '"in_dialog": false' in sent.stdout, sent
        assert sipp.wait(10) == 0, sipp.report()
        time.sleep(0.3)
    finally:
        log = door.stop()
        sipp.stop()
    assert re.search(r"text-message-sent to=sip:sipp@127\.0\.0\.1:\d+ status=200", log), log


def test_ctl_message_through_kamailio_answers_its_407(tmp_path: Path) -> None:
    """Registered at Kamailio, which challenges every request of its users with 407: the
    MESSAGE is sent again with credentials for the configured realm and reaches baresip."""
    proxy = Kamailio(tmp_path / "proxy", defines=("DEBUG_LOG",)).start()
    flat = Baresip(tmp_path / "flat", user="flat", registrar=f"127.0.0.1:{proxy.port}").start()
    door = registered_door(tmp_path / "door", proxy)
    try:
        sent = door.ctl("message", "flat", "Visitor at the door")
        assert sent.returncode == 0, sent
        deadline = time.monotonic() + 5
        while "text-message" not in door.ctl("status").stdout and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1)
    finally:
        log = door.stop()
        flat.stop()
        proxy.stop()
    assert re.search(r"text-message-sent to=sip:flat@127\.0\.0\.1:\d+ status=200", log), log
    assert len(re.findall(r"REQ MESSAGE sip:flat", proxy.log.read_text())) == 2  # 407, then ok


def test_ctl_message_refuses_empty_and_oversized_texts(tmp_path: Path) -> None:
    door = Door(tmp_path / "door")
    try:
        empty = door.ctl("message", "sip:flat@127.0.0.1:9", " ")
        huge = door.ctl("message", "sip:flat@127.0.0.1:9", "x" * 1301)
        bad = door.ctl("message", "sip:flat@[bad", "hello")
    finally:
        door.stop()
    assert empty.returncode != 0 and "empty" in empty.stdout + empty.stderr
    assert huge.returncode != 0 and "1300" in huge.stdout + huge.stderr
    assert bad.returncode != 0


def test_ctl_message_in_the_call_goes_in_its_dialog(tmp_path: Path) -> None:
    """During a call to baresip a MESSAGE to it travels in the call's dialog, and is taken."""
    flat = Baresip(tmp_path / "flat", user="flat").start()
    door = Door(tmp_path / "door")
    try:
        door.call(flat.uri)
        flat.ctrl.wait_event("CALL_ESTABLISHED", 10)
        sent = door.ctl("message", flat.uri, "Visitor at the door")
        assert sent.returncode == 0 and '"in_dialog": true' in sent.stdout, sent
        time.sleep(1)
        door.hang_up(flat, settle=0)
    finally:
        log = door.stop()
        flat.stop()
    assert re.search(r"text-message-sent to=sip:flat@127\.0\.0\.1:\d+ status=200", log), log


def test_a_491_to_ctl_hold_is_retried_with_the_hold_offer(tmp_path: Path) -> None:
    """Hold glare (RFC 3261 §14.1) with SIPp: it answers our first hold re-INVITE 491 and
    fails unless the next re-INVITE offers a=sendonly again. We placed the call (we own the
    Call-ID), so the retry comes 2.1-4 s later; ``ctl hold`` said only "sent", the event
    stream says the hold took."""
    sipp = Sipp(tmp_path / "sipp", "uas_hold_glare.xml", [])
    sipp.start()
    door = Door(tmp_path / "door")
    try:
        door.call(f"sip:flat@127.0.0.1:{sipp.port}")
        time.sleep(1.5)
        held = door.ctl("hold")
        assert held.returncode == 0 and '"status": "sent"' in held.stdout, held
        time.sleep(5)
        assert door.ctl("hangup").returncode == 0
        assert sipp.wait(15) == 0, sipp.report()
    finally:
        log = door.stop()
        sipp.stop()
    assert re.search(r"call-held .*by=us", log), log
    assert "call-hold-failed" not in log, log
