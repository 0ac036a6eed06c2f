"""``[nat] stun_server`` against a real STUN server (coturn): the door learns the address of its
SIP socket and of each call's RTP socket and puts them in Via, Contact and SDP; a STUN server
that never answers costs a call ``stun_timeout``, not the call.

Behind a real NAT (``natlab``: network namespaces and an nftables masquerade, root only) the
INVITE carries the router's public address. On loopback (coturn on 127.0.0.2) the address
coturn reports is the local one; those tests show the path and the fallback."""

import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.interop import door as door_module
from tests.interop import peers
from tests.interop.door import Door, call_sipp, read_wav, sipp_calls, tone_frames
from tests.interop.natlab import NatLab, NatLabUnavailableError
from tests.interop.peers import LOOPBACK, Sipp, running
from tests.interop.stun_server import Coturn

pytestmark = pytest.mark.interop


def answered_call(tmp: Path, door: Door) -> str:
    """SIPp calls the door and hangs up; our 200 OK to its INVITE, as SIPp received it."""
    keys = ["-key", "from_user", "sipp", "-d", "1000"]
    sipp_calls(tmp / "sipp", "uac_pcmu.xml", f"{LOOPBACK}:{door.port}", *keys)
    messages = (tmp / "sipp" / "uac_pcmu.messages").read_text()
    ok = re.search(r"SIP/2\.0 200 OK.*?CSeq: 1 INVITE.*?(?=\n-{10,}|\Z)", messages, re.S)
    assert ok, messages
    return ok.group(0)


def test_contact_and_sdp_carry_the_addresses_coturn_reported(tmp_path: Path) -> None:
    stun = Coturn(tmp_path / "coturn").start()
    door = Door(tmp_path / "door", extra=f'[nat]\nstun_server = "{stun.host}:{stun.port}"\n')
    try:
        ok = answered_call(tmp_path, door)
    finally:
        log = door.stop()
        stun.stop()
    sip = re.search(r"stun: SIP socket [\d.]+:(\d+) is ([\d.]+):(\d+) outside", log)
    rtp = re.search(r"stun: RTP port (\d+) is ([\d.]+):(\d+) outside", log)
    assert sip and rtp, log
    assert int(sip.group(1)) == door.port
    assert f"@{sip.group(2)}:{sip.group(3)}" in re.search(r"Contact:.*", ok).group(0), ok
    assert f"c=IN IP4 {sip.group(2)}" in ok and f"m=audio {rtp.group(3)} " in ok, ok
    assert "call-answered" in log


def test_a_silent_stun_server_does_not_stop_the_door_answering(tmp_path: Path) -> None:
    """The STUN server's address swallows every request: the door starts with its local
    address and each call is answered after ``stun_timeout`` with the RTP port as it is."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as black_hole:
        black_hole.bind(("127.0.0.2", 0))
        server = black_hole.getsockname()
        door = Door(
            tmp_path / "door",
            extra=f'[nat]\nstun_server = "{server[0]}:{server[1]}"\nstun_timeout = 0.3\n',
        )
        try:
            ok = answered_call(tmp_path, door)
        finally:
            log = door.stop()
        assert black_hole.recv(2048)[:2] == b"\x00\x01"  # our Binding requests did arrive
    assert "did not answer: advertising 127.0.0.1" in log
    unanswered = re.search(r"no answer for RTP port (\d+) in time", log)
    assert unanswered and f"m=audio {unanswered.group(1)} " in ok, log
    assert "call-answered" in log


@pytest.fixture
def natlab() -> Iterator[NatLab]:
    try:
        lab = NatLab.create()
    except NatLabUnavailableError as exc:
        if os.environ.get("CI"):
            raise  # CI runs as root with namespaces: there the NAT test must run
        pytest.skip(f"no NAT lab on this machine: {exc}")
    try:
        yield lab
    finally:
        lab.destroy()


@pytest.fixture
def outside(tmp_path: Path, natlab: NatLab, monkeypatch: pytest.MonkeyPatch) -> Iterator[Coturn]:
    """coturn on the router's outside link, where SIPp goes too; the door runs in the
    namespace behind the router."""
    monkeypatch.setattr(peers, "LOOPBACK", natlab.internet)  # SIPp and coturn outside
    monkeypatch.setattr(door_module, "CLI", [*natlab.exec_prefix(), *door_module.CLI])
    with running(Coturn(tmp_path / "coturn", host=natlab.internet)) as stun:
        yield stun


def sent_invite(tmp: Path, scenario: str) -> str:
    """The INVITE SIPp (run in ``tmp / "sipp"``) received from the door."""
    messages = (tmp / "sipp" / f"{Path(scenario).stem}.messages").read_text()
    invite = re.search(r"INVITE sip:.*?(?=\n-{10,}|\Z)", messages, re.S)
    assert invite, messages
    return invite.group(0)


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_behind_a_real_nat_contact_and_sdp_carry_the_routers_address(
    tmp_path: Path, natlab: NatLab, outside: Coturn, transport: str
) -> None:
    """The door sits in a namespace behind a masquerading router; coturn and SIPp are on the
    router's outside link. The INVITE SIPp receives names the router's public address in Via,
    Contact and c=, never the door's private one, and the call goes through the NAT (over TCP
    the host is asked from a UDP socket on the same address, and the port is our own)."""
    sipp = Sipp(tmp_path / "sipp", "uas_pcmu.xml", ["-t", "t1"] if transport == "tcp" else [])
    sipp.start()
    door = Door(
        tmp_path / "door",
        host=natlab.private,
        sip=f'transport = "{transport}"',
        extra=f'[nat]\nstun_server = "{natlab.internet}:{outside.port}"\n',
    )
    try:
        call_sipp(door, sipp, 2, natlab.internet)
    finally:
        log = door.stop()
        sipp.stop()
    text = sent_invite(tmp_path, "uas_pcmu.xml")
    assert f"SIP/2.0/{transport.upper()} {natlab.public}:" in text, text
    assert re.search(rf"Contact: <sip:[^@]+@{re.escape(natlab.public)}:\d+", text), text
    assert f"c=IN IP4 {natlab.public}" in text, text
    assert natlab.private not in text, text
    assert f"is {natlab.public}:" in log and "call-answered" in log, log
    # RFC 3605: the RTCP socket's own mapping, as the router made it, is offered in a=rtcp.
    rtcp = re.search(rf"stun: RTCP port \d+ is {re.escape(natlab.public)}:(\d+) outside", log)
    assert rtcp, log
    assert f"a=rtcp:{rtcp.group(1)} IN IP4 {natlab.public}" in text, text


def doctor(tmp: Path, nat: str) -> str:
    config = tmp / "door.toml"
    config.write_text(
        f'[sip]\nlisten = "127.0.0.1:{peers.free_port(both=True)}"\n[audio]\nbackend = "null"\n'
        f"[nat]\n{nat}\n"
    )
    result = subprocess.run(
        [*door_module.CLI, "doctor", "--config", str(config), "--timeout", "2"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return result.stdout


def test_doctor_says_what_the_stun_server_sees_or_that_it_is_silent(tmp_path: Path) -> None:
    stun = Coturn(tmp_path / "coturn").start()
    try:
        answered = doctor(tmp_path, f'stun_server = "{stun.host}:{stun.port}"')
    finally:
        stun.stop()
    assert re.search(rf"OK   stun: {stun.host}:{stun.port} sees us as 127\.0\.0\.1:\d+", answered)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as black_hole:
        black_hole.bind(("127.0.0.2", 0))
        port = black_hole.getsockname()[1]
        silent = doctor(tmp_path, f'stun_server = "127.0.0.2:{port}"')
    assert f"WARN stun: 127.0.0.2:{port} did not answer within 2 s" in silent, silent
    assert "fix: check [nat] stun_server" in silent


def watch_mapping(lab: NatLab, dport: int, seconds: float) -> list[tuple[int, int] | None]:
    """The router's mapping for the RTP flow to ``dport``, sampled every 0.5 s."""
    samples = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        samples.append(lab.udp_mapping(dport))
        time.sleep(0.5)
    return samples


@pytest.mark.parametrize("keepalive_s", [1, 0])
def test_keepalives_keep_the_nat_mapping_of_a_held_call(
    tmp_path: Path, natlab: NatLab, outside: Coturn, keepalive_s: int
) -> None:
    """The router forgets idle UDP after 3 s. The door calls SIPp (outside) and holds
    (``ctl hold``); SIPp, held, sends nothing. With ``keepalive_s = 1`` the door's RTP
    keep-alives keep the router's mapping of the RTP flow through 8 s of hold, and after
    ``ctl resume`` audio crosses the router both ways on that same mapping. With
    ``keepalive_s = 0`` (the counter-test) the mapping is gone within the hold."""
    natlab.shorten_udp_timeouts(3)
    sipp = Sipp(tmp_path / "sipp", "uas_hold_pause.xml", [])
    sipp.start()
    door = Door(
        tmp_path / "door",
        host=natlab.private,
        extra=f'[nat]\nstun_server = "{natlab.internet}:{outside.port}"\n'
        f"keepalive_s = {keepalive_s}\n",
    )
    try:
        door.call(f"sip:flat@{natlab.internet}:{sipp.port}")
        time.sleep(3)
        talking = natlab.udp_mapping(sipp.media_port)
        assert talking is not None and min(talking) > 25, talking  # audio both ways
        held_sent = door.ctl("hold")
        assert held_sent.returncode == 0, held_sent
        held = watch_mapping(natlab, sipp.media_port, 8)
        assert door.ctl("resume").returncode == 0
        time.sleep(2)
        resumed = natlab.udp_mapping(sipp.media_port)
        assert door.ctl("hangup").returncode == 0
        assert sipp.wait(15) == 0, sipp.report()
    finally:
        log = door.stop()
        sipp.stop()
    assert re.search(r"call-held .*by=us", log) and re.search(r"call-resumed .*by=us", log), log
    if keepalive_s:
        assert all(s is not None for s in held), held
        last = held[-1]
        assert last is not None and resumed is not None
        # The same mapping (its counters only grew), and 2 s of audio each way since.
        assert resumed[0] - last[0] > 50 and resumed[1] - last[1] > 50, (last, resumed)
        heard = read_wav(tmp_path / "door" / "heard.wav")
        assert tone_frames(heard[-8000:-2000], 440) > 0.8  # SIPp's tone after the resume
    else:
        assert held[-1] is None, held  # no keep-alives: the router forgot the RTP port


def test_sighup_with_a_stun_server_advertises_the_routers_address_without_restart(
    tmp_path: Path, natlab: NatLab, outside: Coturn
) -> None:
    """The door starts behind the NAT with no ``[nat]`` and says its private address; the
    file gains ``stun_server`` and SIGHUP: STUN runs again for the SIP socket, and the next
    call's INVITE names the router's public address in Via, Contact and c= (the RTP port was
    asked too), with no restart."""
    sipp = Sipp(tmp_path / "sipp", "uas_pcmu.xml", [])
    sipp.start()
    door = Door(tmp_path / "door", host=natlab.private)
    try:
        config = tmp_path / "door" / "door.toml"
        config.write_text(
            config.read_text() + f'[nat]\nstun_server = "{natlab.internet}:{outside.port}"\n'
        )
        door.proc.send_signal(signal.SIGHUP)
        time.sleep(3)
        call_sipp(door, sipp, 2, natlab.internet)
    finally:
        log = door.stop()
        sipp.stop()
    assert "reload: re-running STUN for [nat] stun_server" in log, log
    assert f"reload: advertising {natlab.public}:" in log, log
    assert "needs restart" not in log, log
    text = sent_invite(tmp_path, "uas_pcmu.xml")
    assert f"SIP/2.0/UDP {natlab.public}:" in text, text
    assert re.search(rf"Contact: <sip:[^@]+@{re.escape(natlab.public)}:\d+", text), text
    assert f"c=IN IP4 {natlab.public}" in text and natlab.private not in text, text
