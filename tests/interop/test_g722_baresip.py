"""Wideband G.722 with a real baresip (its ``g722`` module), both ways, proven by a 6 kHz tone.

A tone at 6 kHz cannot cross a G.711 call (8 kHz sampling: nothing above 4 kHz), so finding it
in what each side received, at 16 kHz, shows the call really ran wideband end to end: our
SDP, the 8 kHz RTP clock of RFC 3551, the codec, the jitter buffer and the WAV files at 16 kHz.
A baresip without the module still gets PCMU from the same configuration.
"""

import time
import wave
from pathlib import Path

import numpy as np
import pytest

from tests.interop.door import Door, read_wav, talk_then_hang_up, tone_share, tone_wav
from tests.interop.peers import Baresip

pytestmark = pytest.mark.interop

WIDE = '[media]\ncodecs = ["PCMU", "G722"]\n'
HIGH_HZ = 6000


def wide_door(tmp: Path) -> Door:
    """A door that allows G.722 and speaks a 6 kHz tone (a 16 kHz WAV as its microphone)."""
    door = Door(tmp, extra=WIDE)
    tone_wav(tmp / "mic.wav", HIGH_HZ, 10, rate=16000)  # read when the call starts
    return door


def rate_and_audio(path: Path) -> tuple[int, np.ndarray]:
    with wave.open(str(path)) as w:
        rate = w.getframerate()
    return rate, read_wav(path)


def assert_wideband_both_ways(door_dir: Path, peer: Baresip, log: str) -> None:
    assert "call-report" in log and " G722 sent " in log
    rate, heard = rate_and_audio(door_dir / "heard.wav")
    assert rate == 16000
    assert len(heard) > rate and tone_share(heard[rate // 2 :], HIGH_HZ, rate) > 0.9
    (dump,) = peer.received_wavs()
    rate, got = rate_and_audio(dump)
    assert rate == 16000
    assert len(got) > rate and tone_share(got[rate // 2 :], HIGH_HZ, rate) > 0.9


def test_baresip_calls_us_in_g722_and_6_khz_arrives_both_ways(tmp_path: Path) -> None:
    peer = Baresip(tmp_path / "flat", tone_hz=HIGH_HZ, codecs="G722/16000/1,PCMU").start()
    door = wide_door(tmp_path / "door")
    try:
        peer.ctrl.command("dial", door.uri)
        talk_then_hang_up(peer, 3)
    finally:
        log = door.stop()
        peer.stop()
    assert "reason=hung up by the caller" in log
    assert_wideband_both_ways(tmp_path / "door", peer, log)


def test_we_call_baresip_in_g722_and_6_khz_arrives_both_ways(tmp_path: Path) -> None:
    # baresip prefers PCMU here: our offer lists G722 first and baresip answers with it.
    peer = Baresip(tmp_path / "flat", tone_hz=HIGH_HZ, codecs="PCMU,G722/16000/1").start()
    door = wide_door(tmp_path / "door")
    try:
        door.call(peer.uri)
        peer.ctrl.wait_event("CALL_ESTABLISHED", 10)
        time.sleep(3)
        status = door.ctl("status")
        assert status.returncode == 0 and "G722" in status.stdout  # ctl status names the codec
        door.hang_up(peer)
    finally:
        log = door.stop()
        peer.stop()
    assert "reason=hung up locally" in log
    assert_wideband_both_ways(tmp_path / "door", peer, log)


def test_a_peer_without_g722_still_gets_pcmu(tmp_path: Path) -> None:
    peer = Baresip(tmp_path / "flat", tone_hz=1000).start()  # no g722 module, PCMU only
    door = Door(tmp_path / "door", extra=WIDE)
    try:
        peer.ctrl.command("dial", door.uri)
        talk_then_hang_up(peer, 2)
    finally:
        log = door.stop()
        peer.stop()
    assert "call-report" in log and " PCMU sent " in log and "G722" not in log
    rate, heard = rate_and_audio(tmp_path / "door" / "heard.wav")
    assert rate == 8000 and tone_share(heard[4000:], 1000) > 0.9
