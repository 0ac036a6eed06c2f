"""Call transfer with real baresip peers (RFC 3515 REFER, RFC 5589 blind transfer).

The concierge's phone transfers the door to a flat and the door follows; the door transfers a
flat to another flat; a REFER to a host the configuration does not name is refused and the
call goes on; and the same transfer through Kamailio as registrar and proxy.
"""

import time
import wave
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.interop.door import (
    Door,
    dial,
    hang_up,
    read_wav,
    registered_door,
    sipp_calls,
    talk_then_hang_up,
    tone_frames,
)
from tests.interop.peers import LOOPBACK, Baresip, Kamailio, running

pytestmark = pytest.mark.interop

#: The transfer targets are on loopback: the configuration must name the host (toll fraud).
NAMES_LOOPBACK = 'allow = ["*@127.0.0.1"]'


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[Baresip, Baresip]]:
    with (
        running(Baresip(tmp_path / "concierge", user="concierge", tone_hz=1000)) as concierge,
        running(Baresip(tmp_path / "flat", user="flat", tone_hz=1000)) as flat,
    ):
        yield concierge, flat


def events_of(log: str, name: str) -> list[str]:
    return [line for line in log.splitlines() if f" {name} " in f"{line} "]


def test_baresip_transfers_the_door_to_a_flat_and_the_door_follows(
    tmp_path: Path, pair: tuple[Baresip, Baresip]
) -> None:
    concierge, flat = pair
    door = Door(tmp_path / "door", calls=NAMES_LOOPBACK)
    try:
        dial(concierge, door.uri)
        time.sleep(1)
        concierge.ctrl.command("transfer", flat.uri)
        flat.ctrl.wait_event("CALL_ESTABLISHED", 10)
        concierge.ctrl.wait_event("CALL_CLOSED", 10)
        time.sleep(2)
        status = door.ctl("status", "--json")
        hang_up(flat)
    finally:
        log = door.stop()
    assert events_of(log, "transfer-requested") and events_of(log, "transfer-succeeded")
    assert "transfer-failed" not in log
    assert f"flat@127.0.0.1:{flat.sip_port}" in status.stdout
    assert "concierge" not in status.stdout  # the old call is over
    (dump,) = flat.received_wavs()
    with wave.open(str(dump)) as w:
        rate = w.getframerate()
    got = read_wav(dump)
    assert len(got) > rate and tone_frames(got[rate // 2 :], 440, rate) > 0.8  # the door's mic


def test_a_refer_to_an_unnamed_host_is_refused(
    tmp_path: Path, pair: tuple[Baresip, Baresip]
) -> None:
    """403 with the reason; nothing rings at the flat. baresip 1.0 then hangs up its own call
    (its choice: PJSIP keeps the call, see test_calls_pjsua.py)."""
    concierge, flat = pair
    door = Door(tmp_path / "door")  # allow = ["*"] names no host
    try:
        dial(concierge, door.uri)
        concierge.ctrl.command("transfer", flat.uri)
        failed = concierge.ctrl.wait_event("TRANSFER_FAILED", 5)
        time.sleep(1)
    finally:
        log = door.stop()
    assert "403" in str(failed) and "not a configured domain or peer" in str(failed)
    assert "CALL_INCOMING" not in [e.get("type") for e in flat.ctrl.events]
    assert "transfer-failed" in log and "call-outgoing" not in log


def test_the_door_transfers_a_flat_to_another_flat(
    tmp_path: Path, pair: tuple[Baresip, Baresip]
) -> None:
    first, second = pair
    door = Door(tmp_path / "door")
    try:
        door.call(first.uri)
        first.ctrl.wait_event("CALL_ESTABLISHED", 10)
        time.sleep(1)
        answer = door.ctl("transfer", second.uri)
        assert answer.returncode == 0, answer.stderr
        second.ctrl.wait_event("CALL_ESTABLISHED", 10)
        time.sleep(1.5)
        status = door.ctl("status", "--json")
        hang_up(second)
    finally:
        log = door.stop()
    assert events_of(log, "transfer-requested") and events_of(log, "transfer-succeeded")
    assert "reason=transferred" in log
    assert '"calls":[]' in status.stdout.replace(" ", "")


def test_transfer_through_kamailio(tmp_path: Path, kamailio: Kamailio) -> None:
    """Everyone registered at Kamailio: the concierge calls the door's account and transfers
    it to the flat's address-of-record; the door's INVITE goes through Kamailio (407 answered)."""
    registrar = f"127.0.0.1:{kamailio.port}"
    concierge = Baresip(
        tmp_path / "concierge", user="alice", password="alicepw", registrar=registrar
    ).start()
    flat = Baresip(tmp_path / "flat", user="flat", registrar=registrar).start()
    door = registered_door(tmp_path / "door", kamailio)
    try:
        dial(concierge, f"sip:door@{registrar}")
        time.sleep(1)
        concierge.ctrl.command("transfer", f"sip:flat@{registrar}")
        flat.ctrl.wait_event("CALL_ESTABLISHED", 10)
        concierge.ctrl.wait_event("CALL_CLOSED", 10)
        time.sleep(1)
        hang_up(flat)
    finally:
        log = door.stop()
        concierge.stop()
        flat.stop()
    assert events_of(log, "transfer-succeeded") and "transfer-failed" not in log


def test_sipp_transferor_sees_the_rfc_3515_flow(tmp_path: Path) -> None:
    """SIPp's scenario checks the 202, both sipfrag NOTIFYs and our BYE of the old call (it
    never hangs up itself); baresip is the target and gets the door."""
    flat = Baresip(tmp_path / "flat", user="flat").start()
    door = Door(tmp_path / "door", calls=NAMES_LOOPBACK)
    try:
        target = ["-key", "target", flat.uri]
        sipp_calls(tmp_path / "sipp", "uac_refer.xml", f"{LOOPBACK}:{door.port}", *target)
        talk_then_hang_up(flat, 0)
    finally:
        log = door.stop()
        flat.stop()
    assert "transfer-succeeded" in log and "reason=transferred" in log
