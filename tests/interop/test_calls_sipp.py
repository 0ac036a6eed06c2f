"""Calls with SIPp 3.6 scenarios (``peers/*.xml``): each scenario checks our answers itself
(``check_it`` regexps, expected responses and requests) and exits 0 only if all came right.
"""

import re
import time
from pathlib import Path

import pytest

from tests.interop.door import (
    Door,
    call_sipp,
    dial,
    first_sound,
    read_wav,
    registered_door,
    sipp_calls,
    tone_frames,
)
from tests.interop.peers import LOOPBACK, Baresip, Kamailio, Sipp

pytestmark = pytest.mark.interop


def run_sipp(tmp: Path, scenario: str, door: Door, *extra: str, timeout: float = 30) -> Sipp:
    return sipp_calls(
        tmp / Path(scenario).stem, scenario, f"{LOOPBACK}:{door.port}", *extra, timeout=timeout
    )


def test_sipp_call_is_auto_answered_and_its_audio_heard(tmp_path: Path) -> None:
    door = Door(tmp_path / "door")
    try:
        run_sipp(tmp_path, "uac_pcmu.xml", door, "-key", "from_user", "sipp", "-d", "3000")
        time.sleep(0.5)
    finally:
        log = door.stop()
    assert "call-answered" in log and "reason=hung up by the caller" in log
    heard = read_wav(tmp_path / "door" / "heard.wav")
    assert len(heard) > 2 * 8000 and tone_frames(heard[4000:], 1000) > 0.8  # SIPp's tone


def test_sipp_cancels_while_we_ring(tmp_path: Path) -> None:
    door = Door(tmp_path / "door", calls="auto_answer = false")
    try:
        run_sipp(tmp_path, "uac_cancel.xml", door, "-key", "from_user", "sipp", "-d", "500")
    finally:
        log = door.stop()
    assert "reason=cancelled by the caller" in log and "call-answered" not in log


def test_sipp_puts_us_on_hold_and_resumes(tmp_path: Path) -> None:
    door = Door(tmp_path / "door")
    try:
        run_sipp(tmp_path, "uac_hold.xml", door)
        time.sleep(0.3)
    finally:
        log = door.stop()
    assert "call-held" in log and "call-resumed" in log and "hung up by the caller" in log


def test_second_caller_gets_486_busy(tmp_path: Path) -> None:
    flat = Baresip(tmp_path / "flat", user="flat").start()
    door = Door(tmp_path / "door")
    try:
        dial(flat, door.uri)
        run_sipp(tmp_path, "uac_busy.xml", door)
        flat.ctrl.command("hangup")
        flat.ctrl.wait_event("CALL_CLOSED", 10)
    finally:
        log = door.stop()
        flat.stop()
    assert "call-busy" in log


def test_redirect_is_followed_to_the_new_target(tmp_path: Path) -> None:
    flat = Baresip(tmp_path / "flat", user="flat").start()
    door = Door(tmp_path / "door")
    redirect = Sipp(
        tmp_path / "redirect",
        "uas_redirect.xml",
        ["-key", "target_port", str(flat.sip_port), "-key", "target_user", "flat"],
    ).start()
    try:
        door.call(f"sip:flat@{LOOPBACK}:{redirect.port}")
        assert redirect.wait(15) == 0, redirect.report()
        flat.ctrl.wait_event("CALL_ESTABLISHED", 10)
        time.sleep(1)
        door.hang_up(flat, settle=0)
    finally:
        log = door.stop()
        flat.stop()
        redirect.stop()
    assert "call-redirected" in log and f"to=sip:flat@127.0.0.1:{flat.sip_port}" in log
    assert "call-answered" in log


def test_session_timers_against_sipp(tmp_path: Path) -> None:
    """RFC 4028 both ways at once (the interval cannot go below 90 s, so this test takes 60 s):
    we refresh a call whose caller asked us to (after 45 s), and we hang up a call whose caller
    promised refreshes and went silent (after 60 s)."""
    no_rtp_timeout = "[media]\nrtp_timeout = 0\n"  # SIPp sends no RTP here: timers only
    refreshed = Door(tmp_path / "refreshed", extra=no_rtp_timeout)
    silent = Door(tmp_path / "silent", extra=no_rtp_timeout)
    try:
        first = Sipp(
            tmp_path / "refresh",
            "uac_timer_refresh.xml",
            [f"{LOOPBACK}:{refreshed.port}", "-s", "door"],
        ).start()
        second = Sipp(
            tmp_path / "silent",
            "uac_timer_silent.xml",
            [f"{LOOPBACK}:{silent.port}", "-s", "door"],
        ).start()
        codes = first.wait(80), second.wait(80)
        time.sleep(0.3)
    finally:
        refreshed_log = refreshed.stop()
        silent_log = silent.stop()
    # Both sides' words on a failure (a 500 was once seen here and never again in 24 runs, 4 at
    # a time, 8 beside one CPU hog and 8 beside two): SIPp's message trace and the door's log,
    # which names any request it failed to handle.
    assert codes[0] == 0, first.report() + "\n--- door\n" + refreshed_log
    assert codes[1] == 0, second.report() + "\n--- door\n" + silent_log
    assert "reason=hung up by the caller" in refreshed_log
    assert "reason=session expired (no refresh from the peer)" in silent_log


def test_early_media_from_a_183_is_heard_before_the_answer(tmp_path: Path) -> None:
    door = Door(tmp_path / "door")
    pbx = Sipp(tmp_path / "pbx", "uas_early_media.xml", []).start()
    try:
        time.sleep(0.3)  # SIPp binds its port
        call_sipp(door, pbx, 5)
        time.sleep(0.3)
    finally:
        log = door.stop()
        pbx.stop()
    assert log.index("call-early-media") < log.index("call-answered")
    heard = read_wav(tmp_path / "door" / "heard.wav")
    # SIPp's rtp_stream starts with one packet, a pause of ~85 ms and a burst of four
    # (captured on lo), which our jitter buffer conceals and then drops as late, and on a
    # loaded host it starts late. The 200 comes 2.5 s after the 183: a stream heard within 1 s
    # of it and measured for 1.4 s from 0.1 s in is the announcement, before the 200.
    start = first_sound(heard)
    assert start < 8000, start
    assert tone_frames(heard[start + 800 : start + 12000], 1000) > 0.8
    assert tone_frames(heard[24000:32000], 1000) > 0.8  # and on after the answer


def test_a_caller_that_went_silent_is_hung_up_after_rtp_timeout(tmp_path: Path) -> None:
    door = Door(tmp_path / "door", extra="[media]\nrtp_timeout = 5\n")
    try:
        run_sipp(tmp_path, "uac_no_media.xml", door, timeout=20)
        time.sleep(0.3)
    finally:
        log = door.stop()
    assert "reason=no audio from the peer for 5 s" in log


def test_a_challenged_bye_is_sent_again_with_credentials(
    tmp_path: Path, kamailio: Kamailio
) -> None:
    """RFC 3261 §22.2 inside a dialog: the callee (behind Kamailio) answers our BYE with 401;
    the BYE goes again with credentials SIPp verifies, a new CSeq and the same dialog."""
    door = registered_door(tmp_path / "door", kamailio)
    callee = Sipp(tmp_path / "callee", "uas_bye_auth.xml", []).start()
    try:
        time.sleep(0.3)  # SIPp binds its port
        call_sipp(door, callee, 1.5)
    finally:
        door.stop()
        callee.stop()
    messages = (tmp_path / "callee" / "uas_bye_auth.messages").read_text(errors="replace")
    byes = re.findall(r"^BYE .*?^CSeq: *(\d+) BYE", messages, re.M | re.S)
    assert len(byes) == 2, messages
    assert int(byes[1]) == int(byes[0]) + 1
