"""Our early media as UAS (``[calls] early_media``, RFC 3262 + RFC 3960): SIPp requiring
100rel gets a reliable 183 with our SDP answer and PRACKs it; the RTP the door sends while the
call still rings is the ring-back tone (425 Hz), never the door's microphone (a 440 Hz tone
here), and after the 200 (same SDP) the microphone is heard."""

import json
import socket
from pathlib import Path

import numpy as np
import pytest

from endpoint.media.g711 import ulaw_decode
from tests.interop.door import Door, tone_frames, tone_share
from tests.interop.peers import LOOPBACK, Sipp

pytestmark = pytest.mark.interop


def receive(sock: socket.socket, count: int) -> list[bytes]:
    """Up to ``count`` RTP payloads (PCMU, 12-byte header), until the sender goes quiet."""
    out: list[bytes] = []
    while len(out) < count:
        try:
            data = sock.recv(2048)
        except TimeoutError:
            break
        out.append(data[12:])
    return out


def audio(payloads: list[bytes]) -> np.ndarray:
    pcm = b"".join(ulaw_decode(p) for p in payloads)  # frames are int16 bytes
    return np.frombuffer(pcm, dtype=np.int16).astype(float)


def test_a_caller_requiring_100rel_hears_ring_back_in_a_reliable_183_then_the_door(
    tmp_path: Path,
) -> None:
    rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rtp.bind((LOOPBACK, 0))
    rtp.settimeout(1.0)
    door = Door(tmp_path / "door", calls="answer_delay = 4\nearly_media = true")
    try:
        keys = ["-key", "from_user", "sipp", "-key", "rtp_port", str(rtp.getsockname()[1])]
        sipp = Sipp(
            tmp_path / "uac",
            "uac_100rel_early.xml",
            [f"{LOOPBACK}:{door.port}", "-s", "door", *keys, "-d", "2000"],
        ).start()
        early = receive(rtp, 40)  # the first 0.8 s: inside the tone's first 1 s burst
        ringing = json.loads(door.ctl("status", "--json").stdout)["calls"]
        later = receive(rtp, 100_000)  # everything until the BYE stops the stream
        assert sipp.wait(20) == 0, sipp.report()
    finally:
        log = door.stop()
        rtp.close()
    assert len(early) == 40 and [c["state"] for c in ringing] == ["ringing"]
    before = audio(early)
    assert tone_frames(before, 425) > 0.8 and tone_share(before, 440) < 0.2
    assert len(later) > 150, len(later)  # ~3 s more ringing, then 2 s of the answered call
    after = audio(later[-60:-10])
    assert tone_frames(after, 440) > 0.8  # the door's microphone, once answered
    assert "call-answered" in log and "reason=hung up by the caller" in log, log
