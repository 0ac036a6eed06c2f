"""Wideband G.722 with a real baresip (its ``g722`` module), both ways, proven by a 6 kHz tone.

A tone at 6 kHz cannot cross a G.711 call (8 kHz sampling: nothing above 4 kHz), so finding it
in what each side received, at 16 kHz, shows the call really ran wideband end to end: our
SDP, the 8 kHz RTP clock of RFC 3551, the codec, the jitter buffer and the WAV files at 16 kHz.
A baresip without the module still gets PCMU from the same configuration.
"""

from pathlib import Path

import pytest

from tests.interop.door import Door, talk_then_hang_up, tone_frames
from tests.interop.peers import Baresip
from tests.interop.wideband import (
    WIDEBAND_BEST_MOS,
    assert_wideband_both_ways,
    baresip_calls_the_door,
    rate_and_audio,
    report_mos,
    the_door_calls_baresip,
)

pytestmark = pytest.mark.interop

WIDE = '[media]\ncodecs = ["PCMU", "G722"]\n'


def test_baresip_calls_us_in_g722_and_6_khz_arrives_both_ways(tmp_path: Path) -> None:
    peer, log = baresip_calls_the_door(tmp_path, WIDE, "G722/16000/1,PCMU")
    assert_wideband_both_ways(tmp_path / "door", peer, log, "G722")


def test_we_call_baresip_in_g722_and_6_khz_arrives_both_ways(tmp_path: Path) -> None:
    # baresip prefers PCMU here: our offer lists G722 first and baresip answers with it.
    peer, log = the_door_calls_baresip(tmp_path, WIDE, "PCMU,G722/16000/1", "G722")
    assert_wideband_both_ways(tmp_path / "door", peer, log, "G722")


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
    assert report_mos(log) > WIDEBAND_BEST_MOS, log  # G.107 narrowband: no wideband impairment
    rate, heard = rate_and_audio(tmp_path / "door" / "heard.wav")
    assert rate == 8000 and tone_frames(heard[4000:], 1000) > 0.8
