"""Incoming calls from a real baresip: auto-answer, audio both ways, CANCEL, allowlist, hang-up."""

import re
import time
import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.interop.door import (
    Door,
    dial,
    hang_up,
    hold_resume_then_hang_up,
    read_wav,
    registered_door,
    talk_then_hang_up,
    tone_frames,
    tone_share,
)
from tests.interop.peers import Baresip, Kamailio, running

pytestmark = pytest.mark.interop


@pytest.fixture
def flat(tmp_path: Path) -> Iterator[Baresip]:
    with running(Baresip(tmp_path / "flat", user="flat", tone_hz=1000)) as peer:
        yield peer


def test_auto_answer_with_audio_both_ways(tmp_path: Path, flat: Baresip) -> None:
    door = Door(tmp_path / "door")
    try:
        flat.ctrl.command("dial", door.uri)
        talk_then_hang_up(flat, 3)
    finally:
        log = door.stop()
    assert "call-answered" in log and "reason=hung up by the caller" in log
    assert "call-report" in log and "PCMU" in log
    heard = read_wav(tmp_path / "door" / "heard.wav")
    assert len(heard) > 2 * 8000 and tone_frames(heard[4000:], 1000) > 0.8  # baresip's tone
    (dump,) = flat.received_wavs()
    with wave.open(str(dump)) as w:
        rate = w.getframerate()
    got = read_wav(dump)
    assert len(got) > rate and tone_frames(got[rate // 2 :], 440, rate) > 0.8  # our microphone


def test_caller_cancels_while_it_rings(tmp_path: Path, flat: Baresip) -> None:
    door = Door(tmp_path / "door", calls="auto_answer = false")
    try:
        flat.ctrl.command("dial", door.uri)
        flat.ctrl.wait_event("CALL_RINGING", 10)
        hang_up(flat)
    finally:
        log = door.stop()
    assert "call-incoming" in log and "reason=cancelled by the caller" in log
    assert "call-answered" not in log


def test_caller_outside_the_allowlist_is_rejected(tmp_path: Path, flat: Baresip) -> None:
    door = Door(tmp_path / "door", calls='allow = ["concierge@*"]\nnot_allowed = "reject"')
    try:
        flat.ctrl.command("dial", door.uri)
        closed = flat.ctrl.wait_event("CALL_CLOSED", 10)
    finally:
        log = door.stop()
    assert "403" in str(closed)
    assert "call-rejected" in log and "call-answered" not in log


def test_we_hang_up_with_bye(tmp_path: Path, flat: Baresip) -> None:
    door = Door(tmp_path / "door")
    try:
        dial(flat, door.uri)
        time.sleep(1)
        door.hang_up(flat, settle=0)
    finally:
        log = door.stop()
    assert "reason=hung up locally" in log


def test_we_call_baresip_send_dtmf_and_hang_up(tmp_path: Path, flat: Baresip) -> None:
    door = Door(tmp_path / "door")
    try:
        door.call(flat.uri)
        flat.ctrl.wait_event("CALL_ESTABLISHED", 10)
        time.sleep(1.5)
        assert door.ctl("dtmf", "5#").returncode == 0
        first = flat.ctrl.wait_event("CALL_DTMF_START", 5)
        second = flat.ctrl.wait_event("CALL_DTMF_START", 5)
        assert (first.get("param"), second.get("param")) == ("5", "#")
        door.hang_up(flat)
    finally:
        log = door.stop()
    assert "call-outgoing" in log and "call-answered" in log and "reason=hung up locally" in log
    heard = read_wav(tmp_path / "door" / "heard.wav")
    assert tone_frames(heard[4000:], 1000) > 0.8


def test_we_cancel_while_baresip_rings(tmp_path: Path) -> None:
    peer = Baresip(tmp_path / "man", user="man", answermode="manual").start()
    door = Door(tmp_path / "door")
    try:
        door.call(peer.uri)
        peer.ctrl.wait_event("CALL_INCOMING", 10)
        door.hang_up(peer)
    finally:
        log = door.stop()
        peer.stop()
    ended = [line for line in log.splitlines() if "call-ended" in line]
    assert len(ended) == 1 and "reason=cancelled" in ended[0]
    assert " INFO " in ended[0] and "call-failed" not in log  # cancelling is not a failure


def test_call_after_call_through_kamailio_with_proxy_auth(
    tmp_path: Path, kamailio: Kamailio
) -> None:
    """Kamailio challenges every INVITE of a local user with 407. Each call's first 407
    answers an INVITE without credentials: an ordinary challenge, not a refusal (RFC 3261
    §22.2), so the third call in the same process gets through like the first."""
    flat = Baresip(tmp_path / "flat", user="flat", registrar=f"127.0.0.1:{kamailio.port}").start()
    door = registered_door(tmp_path / "door", kamailio)
    try:
        for _ in range(3):
            door.call("flat")  # a user name at our domain, via the registrar
            talk_then_hang_up(flat)
    finally:
        log = door.stop()
        flat.stop()
    assert log.count("call-answered") == 3
    assert len(re.findall(r"call-ended .*reason=hung up by the callee", log)) == 3
    assert "rejected" not in log and "call-failed" not in log
    received = [int(n) for n in re.findall(r"call-report .* recv (\d+) lost 0 ", log)]
    assert len(received) == 3 and min(received) >= 40, received  # each call heard baresip
    assert tone_frames(read_wav(tmp_path / "door" / "heard.wav")[4000:], 1000) > 0.8


def test_max_duration_warns_then_hangs_up_and_hash_extends(tmp_path: Path) -> None:
    """Two calls limited to 30 s side by side. At 20 s both callers hear three 1 kHz beeps over
    our 440 Hz microphone; the first does nothing and gets our BYE at 30 s, the second presses
    ``#`` and is still talking at 32 s."""
    first = Baresip(tmp_path / "flat1", user="flat1").start()
    second = Baresip(tmp_path / "flat2", user="flat2").start()
    door1 = Door(tmp_path / "door1", calls="max_duration = 30")
    door2 = Door(tmp_path / "door2", calls="max_duration = 30")
    try:
        first.ctrl.command("dial", door1.uri)
        second.ctrl.command("dial", door2.uri)
        first.ctrl.wait_event("CALL_ESTABLISHED", 10)
        second.ctrl.wait_event("CALL_ESTABLISHED", 10)
        started = time.monotonic()
        time.sleep(22)
        second.ctrl.command("sndcode", "#")
        first.ctrl.wait_event("CALL_CLOSED", 12)
        ended = time.monotonic() - started
        time.sleep(max(0.0, 32 - (time.monotonic() - started)))
        assert "CALL_CLOSED" not in [e.get("type") for e in second.ctrl.events]
        hang_up(second)
    finally:
        log1, log2 = door1.stop(), door2.stop()
        first.stop()
        second.stop()
    assert 27 < ended < 35  # the limit, not an early hang-up
    assert "call-time-warning" in log1 and "reason=maximum call duration reached" in log1
    assert "call-time-warning" in log2 and "call-extended" in log2
    assert "reason=hung up by the caller" in log2
    (dump,) = first.received_wavs()
    with wave.open(str(dump)) as w:
        rate = w.getframerate()
    got = read_wav(dump)
    assert tone_share(got[5 * rate : 15 * rate], 1000, rate) < 0.1  # before: our 440 Hz only
    assert tone_share(got[int(19.8 * rate) : int(21.4 * rate)], 1000, rate) > 0.3  # the beeps


def test_parallel_call_group_first_answer_wins_the_other_is_cancelled(tmp_path: Path) -> None:
    """``ctl call A B``: both flats ring; the first to answer gets the door, the other stops."""
    answers = Baresip(tmp_path / "kitchen", user="kitchen").start()
    rings = Baresip(tmp_path / "bedroom", user="bedroom", answermode="manual").start()
    door = Door(tmp_path / "door")
    try:
        door.call(rings.uri, answers.uri)
        rings.ctrl.wait_event("CALL_INCOMING", 10)
        answers.ctrl.wait_event("CALL_ESTABLISHED", 10)
        rings.ctrl.wait_event("CALL_CLOSED", 10)  # our CANCEL
        time.sleep(1)
        hang_up(answers)
    finally:
        log = door.stop()
        answers.stop()
        rings.stop()
    assert "call-group " in log and "reason=answered elsewhere" in log
    assert "call-group-ended" in log and "answered=True" in log


def test_baresip_calls_us_through_kamailio_call_after_call(tmp_path: Path) -> None:
    """The concierge's phone calls the door by its address-of-record; Kamailio finds our
    registered Contact and we answer, three times. Kamailio record-routes the INVITE: our
    180/200 copy the Record-Route (RFC 3261 §12.1.1), so the caller's ACK and BYE go
    through the proxy as our requests do (Kamailio logs each request it handles)."""
    proxy = Kamailio(tmp_path / "proxy", defines=("DEBUG_LOG",)).start()
    concierge = Baresip(
        tmp_path / "concierge", user="flat", registrar=f"127.0.0.1:{proxy.port}"
    ).start()
    door = registered_door(tmp_path / "door", proxy)
    try:
        for _ in range(3):
            concierge.ctrl.command("dial", f"sip:door@127.0.0.1:{proxy.port}")
            talk_then_hang_up(concierge)
    finally:
        log = door.stop()
        concierge.stop()
        proxy.stop()
    assert log.count("call-answered") == 3
    assert len(re.findall(r"call-ended .*reason=hung up by the caller", log)) == 3
    assert tone_frames(read_wav(tmp_path / "door" / "heard.wav")[4000:], 1000) > 0.8
    seen = proxy.log.read_text()
    assert len(re.findall(r"REQ ACK sip:door", seen)) == 3, seen
    assert len(re.findall(r"REQ BYE sip:door", seen)) == 3, seen


def test_hold_and_resume_keep_the_call_report_whole(tmp_path: Path) -> None:
    """baresip holds and resumes the call; the door's end-of-call report still counts the
    packets of the whole call, not only those since the last re-INVITE."""
    flat = Baresip(tmp_path / "flat", user="flat").start()
    door = Door(tmp_path / "door")
    try:
        flat.ctrl.command("dial", door.uri)
        hold_resume_then_hang_up(flat, before=2.0)
    finally:
        log = door.stop()
        flat.stop()
    assert "call-held" in log and "call-resumed" in log
    (report,) = re.findall(r"call-report .* recv (\d+) lost (-?\d+)", log)
    received, lost = int(report[0]), int(report[1])
    # 4 s of talking at 50 packets/s (the held second may or may not carry audio)
    assert received >= 180 and lost == 0, report


def test_a_call_whose_audio_fails_ends_and_the_next_call_works(
    tmp_path: Path, flat: Baresip
) -> None:
    """Principle 5: the microphone file is broken for the first call, which is hung up with the
    reason; the endpoint keeps serving and answers the next call with audio."""
    door = Door(tmp_path / "door")
    mic = tmp_path / "door" / "mic.wav"
    good = mic.read_bytes()
    try:
        mic.write_text("this is not a WAV file")
        flat.ctrl.command("dial", door.uri)
        flat.ctrl.wait_event("CALL_CLOSED", 10)
        mic.write_bytes(good)
        flat.ctrl.command("dial", door.uri)
        talk_then_hang_up(flat)
    finally:
        log = door.stop()
    assert "cannot open the audio" in log and "reason=audio failed" in log
    assert "reason=hung up by the caller" in log and "Traceback" not in log
    assert tone_frames(read_wav(tmp_path / "door" / "heard.wav")[4000:], 1000) > 0.8


def test_ctl_volume_turns_the_speaker_down_mid_call(tmp_path: Path, flat: Baresip) -> None:
    """`ctl volume --speaker -12` during a call from baresip: what the door's speaker plays
    (its output file) drops by 12 dB from then on; a value out of range is refused by name."""
    door = Door(tmp_path / "door")
    try:
        dial(flat, door.uri)
        time.sleep(2.5)
        bad = door.ctl("volume", "--speaker", "99")
        assert bad.returncode == 1 and "outside -60 to 12 dB" in bad.stderr
        good = door.ctl("volume", "--speaker", "-12")
        assert good.returncode == 0, good.stderr
        assert '"speaker": -12.0' in good.stdout
        time.sleep(2.5)
        hang_up(flat)
    finally:
        door.stop()
    heard = read_wav(tmp_path / "door" / "heard.wav")
    before, after = heard[8000 : 8000 + 8000], heard[-8000 * 2 : -4000]
    assert tone_frames(before, 1000) > 0.8 and tone_frames(after, 1000) > 0.8
    ratio_db = 10 * np.log10(np.mean(after**2) / np.mean(before**2))
    assert -13.5 < ratio_db < -10.5, ratio_db


def test_without_telephone_event_ctl_dtmf_goes_as_sip_info(tmp_path: Path, flat: Baresip) -> None:
    """The call negotiated no RFC 4733: ``ctl dtmf`` sends one INFO per key, in order."""
    door = Door(tmp_path / "door", sip="[media]\ntelephone_event = false")
    try:
        door.call(flat.uri)
        flat.ctrl.wait_event("CALL_ESTABLISHED", 10)
        sent = door.ctl("dtmf", "5#9")
        assert sent.returncode == 0 and "info" in sent.stdout, sent
        got = [flat.ctrl.wait_event("CALL_DTMF_START", 5).get("param") for _ in range(3)]
        assert got == ["5", "#", "9"]
        refused = door.ctl("dtmf", "5x")
        assert refused.returncode != 0 and "DTMF keys are" in refused.stdout + refused.stderr
        door.hang_up(flat, settle=0)
    finally:
        log = door.stop()
    assert "dtmf-failed" not in log
