"""An offer inside a PRACK (RFC 3262 §5), with SIPp as a caller requiring 100rel: the door's
reliable 183 carries its answer (``[calls] early_media``), SIPp's PRACK offers a second media
port, and the PRACK's 200 must carry our answer (SIPp checks it). The door's ring-back (425 Hz)
then goes to the new port, and after the answer its microphone (440 Hz)."""

import socket
from pathlib import Path

import pytest

from tests.interop.door import Door, tone_frames
from tests.interop.peers import LOOPBACK, Sipp
from tests.interop.test_early_media_sipp import audio, receive

pytestmark = pytest.mark.interop


def test_an_offer_in_sipps_prack_is_answered_and_moves_the_ring_back(tmp_path: Path) -> None:
    first, moved = (socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(2))
    for sock in (first, moved):
        sock.bind((LOOPBACK, 0))
    moved.settimeout(10.0)  # until the door's first packet after the PRACK
    door = Door(tmp_path / "door", calls="answer_delay = 3\nearly_media = true")
    try:
        ports = [str(s.getsockname()[1]) for s in (first, moved)]
        keys = ["-key", "from_user", "sipp", "-key", "rtp_port", ports[0]]
        keys += ["-key", "rtp_port2", ports[1], "-d", "2000"]
        sipp = Sipp(
            tmp_path / "uac",
            "uac_100rel_prack_offer.xml",
            [f"{LOOPBACK}:{door.port}", "-s", "door", *keys],
        ).start()
        got = receive(moved, 1)
        moved.settimeout(1.0)
        got += receive(moved, 100_000)  # ~3 s ringing, then 2 s answered, until the BYE
        assert sipp.wait(20) == 0, sipp.report()
    finally:
        log = door.stop()
        first.close()
        moved.close()
    assert len(got) > 150, len(got)
    assert tone_frames(audio(got[5:45]), 425) > 0.8  # the ring-back, at the PRACK's port
    assert tone_frames(audio(got[-60:-10]), 440) > 0.8  # the door's microphone, once answered
    assert "call-answered" in log and "reason=hung up by the caller" in log, log
