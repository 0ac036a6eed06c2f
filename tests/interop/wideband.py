"""What the wideband interop tests (G.722, Opus) share: a door whose microphone is a 6 kHz tone,
the two call directions with a real baresip, and the proof that the tone crossed both ways.

A tone at 6 kHz cannot cross a G.711 call (8 kHz sampling: nothing above 4 kHz), so finding it
in what each side received shows the call really ran wideband end to end.
"""

import re
import time
import wave
from pathlib import Path

import numpy as np

from tests.interop.door import Door, read_wav, talk_then_hang_up, tone_frames, tone_wav
from tests.interop.peers import Baresip

HIGH_HZ = 6000


def wide_door(tmp: Path, extra: str) -> Door:
    """A door with ``extra`` (its codecs) that speaks a 6 kHz tone (a 16 kHz WAV microphone)."""
    door = Door(tmp, extra=extra)
    tone_wav(tmp / "mic.wav", HIGH_HZ, 10, rate=16000)  # read when the call starts
    return door


def rate_and_audio(path: Path) -> tuple[int, np.ndarray]:
    """A WAV file's rate (its header's) and samples."""
    with wave.open(str(path)) as w:
        rate = w.getframerate()
    return rate, read_wav(path)


def report_mos(log: str) -> float:
    """The MOS of the door's end-of-call report (``... MOS 4.34 encryption ...``)."""
    (mos,) = re.findall(r" MOS (\d\.\d\d) ", log)
    return float(mos)


#: The best a wideband call can read: G.107.1 rates G.722's (and, by our choice, Opus's) own
#: coding impairment, Ie,wb 13 (a narrowband call on G.107 reads up to 4.41).
WIDEBAND_BEST_MOS = 4.34


def assert_wideband_both_ways(
    door_dir: Path, peer: Baresip, log: str, codec: str, *, peer_exact: bool = True
) -> None:
    """The call ran ``codec`` and the 6 kHz tone arrived on both sides: at the door at 16 kHz,
    at baresip at 16 kHz (``peer_exact``) or at least that (it decodes Opus at 48 kHz)."""
    assert "call-report" in log and f" {codec} sent " in log
    assert 4.0 < report_mos(log) <= WIDEBAND_BEST_MOS, log  # rated on the wideband E-model
    rate, heard = rate_and_audio(door_dir / "heard.wav")
    assert rate == 16000
    assert len(heard) > rate and tone_frames(heard[rate // 2 :], HIGH_HZ, rate) > 0.8
    (dump,) = peer.received_wavs()
    rate, got = rate_and_audio(dump)
    assert rate == 16000 if peer_exact else rate >= 16000
    assert len(got) > rate and tone_frames(got[rate // 2 :], HIGH_HZ, rate) > 0.8


def baresip_calls_the_door(tmp: Path, extra: str, peer_codecs: str) -> tuple[Baresip, str]:
    """baresip (``peer_codecs``) calls a wide door, talks 3 s and hangs up: the peer, the log."""
    peer = Baresip(tmp / "flat", tone_hz=HIGH_HZ, codecs=peer_codecs).start()
    door = wide_door(tmp / "door", extra)
    try:
        peer.ctrl.command("dial", door.uri)
        talk_then_hang_up(peer, 3)
    finally:
        log = door.stop()
        peer.stop()
    assert "reason=hung up by the caller" in log
    return peer, log


def the_door_calls_baresip(
    tmp: Path, extra: str, peer_codecs: str, codec: str
) -> tuple[Baresip, str]:
    """A wide door calls baresip (``peer_codecs``), checks that ``ctl status`` names ``codec``
    after 3 s, and hangs up: the peer, the log."""
    peer = Baresip(tmp / "flat", tone_hz=HIGH_HZ, codecs=peer_codecs).start()
    door = wide_door(tmp / "door", extra)
    try:
        door.call(peer.uri)
        peer.ctrl.wait_event("CALL_ESTABLISHED", 10)
        time.sleep(3)
        status = door.ctl("status")
        assert status.returncode == 0 and codec in status.stdout  # ctl status names the codec
        door.hang_up(peer)
    finally:
        log = door.stop()
        peer.stop()
    assert "reason=hung up locally" in log
    return peer, log
