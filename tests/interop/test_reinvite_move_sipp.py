"""A caller that moves its media with a re-INVITE while its old stream plays on, with SIPp:
the door latches to SIPp's own media port, the re-INVITE names this test's socket, and the
door's microphone (440 Hz) must reach the new address for the rest of the call although the
1 kHz stream from SIPp's old port never stops (before the fix, the old port re-latched within
two packets and the door's audio went back to it)."""

import socket
from pathlib import Path

import pytest

from tests.interop.door import Door, tone_frames
from tests.interop.peers import LOOPBACK, Sipp
from tests.interop.test_early_media_sipp import audio, receive

pytestmark = pytest.mark.interop


def test_a_re_invite_moves_our_audio_away_from_a_port_that_keeps_sending(
    tmp_path: Path,
) -> None:
    rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rtp.bind((LOOPBACK, 0))
    rtp.settimeout(10.0)  # nothing comes here until the re-INVITE, ~1 s into the call
    door = Door(tmp_path / "door")
    try:
        keys = ["-key", "rtp_port", str(rtp.getsockname()[1])]
        sipp = Sipp(
            tmp_path / "uac",
            "uac_move_reinvite.xml",
            [f"{LOOPBACK}:{door.port}", "-s", "door", *keys],
        ).start()
        first = receive(rtp, 1)
        rtp.settimeout(1.0)
        moved = first + receive(rtp, 100_000)  # until the BYE stops the stream
        assert sipp.wait(20) == 0, sipp.report()
    finally:
        log = door.stop()
        rtp.close()
    # 2 s from the re-INVITE to the BYE: ~100 packets; going back to SIPp's port would leave
    # a few at most.
    assert len(moved) > 80, len(moved)
    assert tone_frames(audio(moved[5:-5]), 440) > 0.8  # the door's microphone
    assert "reason=hung up by the caller" in log, log
