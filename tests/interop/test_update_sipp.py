"""A PBX holding the caller with UPDATE (RFC 3311), before and after the answer, with SIPp:
the door rings with early media in a reliable 183 (ring-back, 425 Hz); SIPp's UPDATE with
a=sendonly in the early dialog is answered a=recvonly and the ring-back stops; the answer
keeps the call on hold (no microphone yet); SIPp's UPDATE with a=sendrecv in the confirmed
dialog is answered a=sendrecv and the door's microphone (440 Hz) is heard."""

import socket
from pathlib import Path

import pytest

from tests.interop.door import Door, tone_frames
from tests.interop.peers import LOOPBACK, Sipp
from tests.interop.test_early_media_sipp import audio, receive

pytestmark = pytest.mark.interop


def test_update_holds_before_the_answer_and_resumes_after_it(tmp_path: Path) -> None:
    rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rtp.bind((LOOPBACK, 0))
    rtp.settimeout(1.0)
    door = Door(tmp_path / "door", calls="answer_delay = 3\nearly_media = true")
    try:
        keys = ["-key", "from_user", "sipp", "-key", "rtp_port", str(rtp.getsockname()[1])]
        sipp = Sipp(
            tmp_path / "uac",
            "uac_100rel_update.xml",
            [f"{LOOPBACK}:{door.port}", "-s", "door", *keys, "-d", "2000"],
        ).start()
        ringing = receive(rtp, 100_000)  # until the early hold silences the door for > 1 s
        rtp.settimeout(6.0)
        resumed = receive(rtp, 100_000)  # after the resume, until the BYE stops the stream
        assert sipp.wait(20) == 0, sipp.report()
    finally:
        log = door.stop()
        rtp.close()
    assert 10 <= len(ringing) <= 75, len(ringing)  # ~1 s of ring-back, not ~3 s and more
    assert tone_frames(audio(ringing), 425) > 0.8  # ring-back only, never the microphone
    assert len(resumed) > 60, len(resumed)
    assert tone_frames(audio(resumed[10:-10]), 440) > 0.8  # the door's microphone
    assert "call-held" in log and "call-resumed" in log, log
    assert "call-answered" in log and "reason=hung up by the caller" in log, log
