"""RFC 3262 with SIPp in both roles: as UAS we send a reliable 180 to a caller requiring
100rel, answer its PRACK and only then the INVITE (the scenario checks RSeq, Require and the
order); as UAC we PRACK a PBX's reliable 183 and play its early media."""

import time
from pathlib import Path

import pytest

from tests.interop.door import (
    Door,
    call_sipp,
    first_sound,
    read_wav,
    registered_door,
    sipp_calls,
    tone_frames,
)
from tests.interop.peers import LOOPBACK, Kamailio, Sipp

pytestmark = pytest.mark.interop


def test_sipp_requiring_100rel_gets_a_reliable_180_and_its_prack_answered(
    tmp_path: Path,
) -> None:
    door = Door(tmp_path / "door")
    try:
        keys = ["-key", "from_user", "sipp", "-d", "1000"]
        sipp_calls(tmp_path / "uac", "uac_100rel.xml", f"{LOOPBACK}:{door.port}", *keys, timeout=20)
    finally:
        log = door.stop()
    assert "call-answered" in log and "reason=hung up by the caller" in log, log


def test_we_prack_a_reliable_183_and_play_its_early_media(tmp_path: Path) -> None:
    """SIPp as a PBX sending its announcement in a reliable 183: we PRACK it (the scenario
    checks RAck and fails without a PRACK), hear the tone before the answer and after it."""
    door = Door(tmp_path / "door")
    pbx = Sipp(tmp_path / "pbx", "uas_100rel.xml", []).start()
    try:
        time.sleep(0.3)  # SIPp binds its port
        call_sipp(door, pbx, 6)  # the 200 comes 2 s after the PRACK; room for a slow media start
        time.sleep(0.3)
    finally:
        log = door.stop()
        pbx.stop()
    assert log.index("call-early-media") < log.index("call-answered"), log
    assert "reason=hung up locally" in log, log
    heard = read_wav(tmp_path / "door" / "heard.wav")
    assert len(heard) >= 32000, len(heard)
    # SIPp starts its stream on the PRACK and answers 2 s later: a stream heard within 1 s of
    # the 183 and measured for 0.9 s from 0.1 s in is the announcement, before the 200. (Its
    # first packets come irregularly: see test_calls_sipp's early media test.)
    start = first_sound(heard)
    assert start < 8000, start
    assert tone_frames(heard[start + 800 : start + 8000], 1000) > 0.8
    assert tone_frames(heard[24000:32000], 1000) > 0.8  # and on after the answer


def test_reliable_180_and_prack_through_kamailio(tmp_path: Path, kamailio: Kamailio) -> None:
    """The same caller through the registrar: our reliable 180 and its PRACK travel the
    record-routed early dialog (the PRACK reaches our registered Contact, ``line=`` and all)."""
    door = registered_door(tmp_path / "door", kamailio)
    try:
        keys = ["-key", "from_user", "pbx", "-d", "1000"]
        sipp_calls(
            tmp_path / "uac", "uac_100rel.xml", f"{LOOPBACK}:{kamailio.port}", *keys, timeout=20
        )
    finally:
        log = door.stop()
    assert "call-answered" in log and "reason=hung up by the caller" in log, log
