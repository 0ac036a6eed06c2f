"""RFC 3262 with SIPp: as UAS we send a reliable 180 to a caller requiring 100rel, answer its
PRACK and only then the INVITE (the scenario checks RSeq, Require and the order)."""

from pathlib import Path

import pytest

from tests.interop.door import Door
from tests.interop.peers import LOOPBACK, Sipp

pytestmark = pytest.mark.interop


def test_sipp_requiring_100rel_gets_a_reliable_180_and_its_prack_answered(
    tmp_path: Path,
) -> None:
    door = Door(tmp_path / "door")
    try:
        keys = ["-key", "from_user", "sipp", "-d", "1000"]
        sipp = Sipp(
            tmp_path / "uac", "uac_100rel.xml", [f"{LOOPBACK}:{door.port}", "-s", "door", *keys]
        ).start()
        assert sipp.wait(20) == 0, sipp.report()
    finally:
        log = door.stop()
    assert "call-answered" in log and "reason=hung up by the caller" in log, log
