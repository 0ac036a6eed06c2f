"""A PBX that moves our call's early media with UPDATE before it answers (RFC 3311 §5.1), with
SIPp as the PBX: its reliable 183 carries the answer, we PRACK it, and its UPDATE offers a new
media address (this test's socket). SIPp checks that our 200 carries an SDP answer; the door's
microphone (440 Hz) then reaches the new address, before the 200 to the INVITE and after it
(the 200 repeats the 183's SDP, which must not move the media back). Directly, and with the
door registered at Kamailio, which record-routes the early dialog (the UPDATE comes through it)."""

import socket
from pathlib import Path

import pytest

from tests.interop.door import Door, registered_door, tone_frames
from tests.interop.peers import LOOPBACK, Kamailio, Sipp
from tests.interop.test_early_media_sipp import audio, receive

pytestmark = pytest.mark.interop


def test_an_update_in_our_calls_early_dialog_moves_the_early_media(tmp_path: Path) -> None:
    early_update_moves_media(tmp_path, Door(tmp_path / "door"))


def test_the_same_through_kamailio(tmp_path: Path, kamailio: Kamailio) -> None:
    early_update_moves_media(tmp_path, registered_door(tmp_path / "door", kamailio))


def early_update_moves_media(tmp_path: Path, door: Door) -> None:
    rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rtp.bind((LOOPBACK, 0))
    rtp.settimeout(10.0)  # nothing comes here until the UPDATE, ~1 s after the PRACK
    keys = ["-key", "rtp_port", str(rtp.getsockname()[1])]
    pbx = Sipp(tmp_path / "pbx", "uas_100rel_early_update.xml", keys).start()
    try:
        door.call(f"sip:flat@{LOOPBACK}:{pbx.port}")
        first = receive(rtp, 1)
        rtp.settimeout(1.0)
        # ~2 s early (UPDATE to 200), then 1 s answered: a stream that went back to SIPp's
        # port at the 200 would fall silent here after ~100 packets.
        moved = first + receive(rtp, 149)
        assert door.ctl("hangup").returncode == 0
        assert pbx.wait(15) == 0, pbx.report()
    finally:
        log = door.stop()
        pbx.stop()
        rtp.close()
    assert len(moved) == 150, len(moved)
    assert tone_frames(audio(moved[5:]), 440) > 0.8  # the door's microphone
    assert log.index("call-early-media") < log.index("call-answered"), log
    assert "reason=hung up locally" in log, log
