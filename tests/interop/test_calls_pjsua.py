"""PJSIP (PJSUA2) as a peer outside the matrix: what the matrix does not cover."""

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.interop.door import Door
from tests.interop.pjsua import MISSING, Pjsua, pjsua_python

pytestmark = pytest.mark.interop


@pytest.fixture
def pjsua(tmp_path: Path) -> Iterator[Pjsua]:
    if pjsua_python() is None:
        if os.environ.get("CI") == "true":
            pytest.fail(MISSING)
        pytest.skip(MISSING)
    peer = Pjsua(tmp_path / "pjsua").start()
    try:
        yield peer
    finally:
        peer.stop()


def test_a_transfer_to_an_unnamed_host_is_refused_and_the_call_goes_on(
    tmp_path: Path, pjsua: Pjsua
) -> None:
    """A REFER to a host the configuration does not name (toll fraud) gets 403 and the call
    stays up (RFC 3515 §2.4.2: a refused REFER does not end the dialog)."""
    door = Door(tmp_path / "door")
    try:
        pjsua.command("call", uri=door.uri)
        pjsua.wait_state("CONFIRMED")
        pjsua.command("transfer", uri=f"sip:elsewhere@127.0.0.1:{door.port}")
        status = pjsua.wait_event("transfer")
        time.sleep(0.5)
        still = pjsua.command("stats")
        pjsua.command("hangup")
        pjsua.wait_state("DISCONNECTED")
        time.sleep(0.5)
    finally:
        log = door.stop()
    assert status["code"] == 403
    assert still["rx_packets"] > 0
    assert "reason=hung up by the caller" in log
