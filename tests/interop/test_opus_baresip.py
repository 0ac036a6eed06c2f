"""Wideband Opus with a real baresip (its ``opus`` module, libopus), both ways, proven by a
6 kHz tone.

A tone at 6 kHz cannot cross a G.711 call (nothing above 4 kHz), so finding it in what each
side received shows the call ran wideband Opus end to end: our RFC 7587 SDP (a dynamic
payload type, ``opus/48000/2``, our fmtp), the 48 kHz RTP clock, our libopus binding at 16 kHz,
the jitter buffer and the WAV files. baresip decodes at its own rate (48 kHz): its recording is
analysed at the rate its header says. A baresip without the module still gets PCMU or G.722.
"""

import time
from pathlib import Path

import pytest

from tests.interop.door import Door, talk_then_hang_up, tone_frames
from tests.interop.peers import Baresip
from tests.interop.wideband import (
    assert_wideband_both_ways,
    baresip_calls_the_door,
    rate_and_audio,
    the_door_calls_baresip,
)

pytestmark = pytest.mark.interop

OPUS = '[media]\ncodecs = ["opus", "G722", "PCMU"]\n'
BARESIP_OPUS = "opus/48000/2"


def test_baresip_calls_us_in_opus_and_6_khz_arrives_both_ways(tmp_path: Path) -> None:
    peer, log = baresip_calls_the_door(tmp_path, OPUS, f"{BARESIP_OPUS},PCMU")
    assert_wideband_both_ways(tmp_path / "door", peer, log, "OPUS", peer_exact=False)


def test_we_call_baresip_in_opus_and_6_khz_arrives_both_ways(tmp_path: Path) -> None:
    # baresip prefers PCMU here: our offer lists Opus first and baresip answers with it.
    peer, log = the_door_calls_baresip(tmp_path, OPUS, f"PCMU,{BARESIP_OPUS}", "OPUS")
    assert_wideband_both_ways(tmp_path / "door", peer, log, "OPUS", peer_exact=False)


def test_a_peer_without_opus_gets_g722_or_pcmu(tmp_path: Path) -> None:
    for codecs, expected, rate in (("G722/16000/1,PCMU", "G722", 16000), ("PCMU", "PCMU", 8000)):
        peer = Baresip(tmp_path / f"flat-{expected}", tone_hz=1000, codecs=codecs).start()
        door = Door(tmp_path / f"door-{expected}", extra=OPUS)
        try:
            peer.ctrl.command("dial", door.uri)
            talk_then_hang_up(peer, 2)
        finally:
            log = door.stop()
            peer.stop()
        assert "call-report" in log and f" {expected} sent " in log and "OPUS" not in log
        heard_rate, heard = rate_and_audio(tmp_path / f"door-{expected}" / "heard.wav")
        assert heard_rate == rate and tone_frames(heard[rate // 2 :], 1000, rate) > 0.8


def test_rfc_4733_keys_cross_an_opus_call_both_ways_and_open_the_door(tmp_path: Path) -> None:
    """telephone-event/8000 beside Opus: its events count in the 48 kHz clock (as baresip's
    do); baresip keys the door code, and hears the keys we send."""
    peer = Baresip(tmp_path / "flat", tone_hz=1000, codecs=BARESIP_OPUS).start()
    code = '[hardware]\nboard = "simulated"\n[door]\nrelay_pin = 27\ncode = "1234"\n'
    door = Door(tmp_path / "door", extra=OPUS + code)
    try:
        peer.ctrl.command("dial", door.uri)
        peer.ctrl.wait_event("CALL_ESTABLISHED", 10)
        time.sleep(1.0)
        peer.ctrl.command("sndcode", "1234")
        time.sleep(1.5)
        sent = door.ctl("dtmf", "5#")
        assert sent.returncode == 0 and "info" not in sent.stdout, sent  # RTP events, not INFO
        first = peer.ctrl.wait_event("CALL_DTMF_START", 5)
        second = peer.ctrl.wait_event("CALL_DTMF_START", 5)
        assert (first.get("param"), second.get("param")) == ("5", "#")
        peer.ctrl.command("hangup")
        peer.ctrl.wait_event("CALL_CLOSED", 10)
    finally:
        log = door.stop()
        peer.stop()
    assert " OPUS sent " in log and "duration_ms=" in log
    assert "door-opened" in log and "via=dtmf" in log, log
