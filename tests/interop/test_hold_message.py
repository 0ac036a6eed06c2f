"""Holding from our side against a real baresip: ``ctl hold`` re-INVITEs with a=sendonly and
stops our audio, ``ctl resume`` re-INVITEs with sendrecv and the audio flows again."""

import re
import time
from pathlib import Path

import pytest

from tests.interop.door import Door, read_wav, tone_share
from tests.interop.peers import Baresip

pytestmark = pytest.mark.interop


def test_ctl_hold_and_resume_with_baresip(tmp_path: Path) -> None:
    flat = Baresip(tmp_path / "flat", user="flat").start()
    door = Door(tmp_path / "door")
    try:
        assert door.ctl("call", flat.uri).returncode == 0
        flat.ctrl.wait_event("CALL_ESTABLISHED", 10)
        time.sleep(1)
        held = door.ctl("hold")
        assert held.returncode == 0, held.stdout + held.stderr
        time.sleep(3)
        again = door.ctl("hold")
        assert again.returncode != 0 and "already held" in again.stdout + again.stderr
        assert door.ctl("resume").returncode == 0
        time.sleep(2)
        assert door.ctl("hangup").returncode == 0
        flat.ctrl.wait_event("CALL_CLOSED", 10)
        time.sleep(0.5)
    finally:
        log = door.stop()
        flat.stop()
    assert re.search(r"call-held .*by=us", log) and re.search(r"call-resumed .*by=us", log), log
    offers = [e for e in flat.ctrl.events if e.get("type") == "CALL_REMOTE_SDP"]
    assert [e.get("param") for e in offers] == ["offer"] * 3  # the INVITE and two re-INVITEs
    report = re.search(r"call-ended .*duration=([\d.]+)", log)
    sent = re.search(r"call-report .* sent (\d+) recv (\d+)", log)
    assert report and sent, log
    talking = float(report.group(1)) - 3  # 3 s of the call were on hold
    # 50 packets a second while not held, none while held (a few in flight at each switch)
    assert int(sent.group(1)) < 50 * (talking + 1.5), (sent.group(0), report.group(0))
    heard = read_wav(tmp_path / "door" / "heard.wav")
    assert tone_share(heard[-8000:-2000], 1000) > 0.9  # baresip's tone again after resume
