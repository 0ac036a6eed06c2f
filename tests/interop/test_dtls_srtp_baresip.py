"""DTLS-SRTP (RFC 5763/5764) against a real baresip (its ``dtls_srtp`` module), over plain UDP
signalling: no key is in the SDP, the handshakes run on the RTP and RTCP ports. Both directions
(baresip calls us, we call baresip); audio both ways by tone analysis; a DTMF door code opens
the door over SRTP; a raw-socket injector of plain RTP can neither latch nor slip in a digit;
hold and resume keep the association; a certificate that is not the SDP's fingerprint ends the
call with that reason (the peer there is OpenSSL driven from the test)."""

import datetime
import re
import socket
import time
import wave
from pathlib import Path

import pytest

from endpoint.config import load_config, needs_tls
from endpoint.media.dtls import DtlsIdentity, DtlsSrtp
from tests.interop.door import (
    Door,
    dial,
    hang_up,
    hold_resume_then_hang_up,
    inject_plain_code,
    read_wav,
    rtp_port_of,
    tone_frames,
)
from tests.interop.peers import Baresip
from tests.security.attacker import CallLeg, UdpAttacker, header, in_dialog, request, status_of

pytestmark = pytest.mark.interop

DOOR = '[hardware]\nboard = "simulated"\n[door]\nrelay_pin = 27\ncode = "1234"\n'
#: Refused packets a sound call may show: baresip 1.0's one clear RTCP APP packet at the start,
#: and what it sent in the instant between its keys and ours (nothing passes until ours exist).
#: A wrong key or a broken cipher refuses every packet: about 50 a second.
FEW_REFUSED = 5
REPORT = re.compile(
    r"call-report .*encryption dtls-srtp (AES_CM_128_HMAC_SHA1_\d+|AEAD_AES_128_GCM) refused (\d+)"
)


def dtls_door(tmp: Path, encryption: str = "mandatory") -> Door:
    return Door(tmp, sip=f'[media]\nencryption = "{encryption}"\nkeying = "dtls"\n', extra=DOOR)


def heard_both_ways(tmp: Path, flat: Baresip, *, door_from: int = 2000) -> None:
    heard = read_wav(tmp / "door" / "heard.wav")
    assert tone_frames(heard[door_from : door_from + 6000], 1000) > 0.8
    (dump,) = flat.received_wavs()
    with wave.open(str(dump)) as w:
        rate = w.getframerate()
    got = read_wav(dump)
    assert len(got) > rate and tone_frames(got[rate // 4 : rate], 440, rate) > 0.8  # our mic


def both_components_keyed(baresip_log: str) -> None:
    """baresip checked our fingerprint and keyed RTP and RTCP (no rtcp-mux: two handshakes)."""
    assert "verified sha-256 fingerprint OK" in baresip_log, baresip_log
    assert "DTLS-SRTP complete (audio/RTP)" in baresip_log, baresip_log
    assert "DTLS-SRTP complete (audio/RTCP)" in baresip_log, baresip_log
    assert "failed to decrypt" not in baresip_log.lower()


def test_baresip_calls_us_with_dtls_srtp_audio_both_ways_and_the_code_opens_the_door(
    tmp_path: Path,
) -> None:
    flat = Baresip(tmp_path / "flat", user="flat", mediaenc="dtls_srtp").start()
    door = dtls_door(tmp_path / "door")
    # Issue 19: a door that needs no TLS runs without Python's ssl; DTLS brings its own OpenSSL.
    assert not needs_tls(load_config(tmp_path / "door" / "door.toml"))
    try:
        dial(flat, door.uri)
        time.sleep(1.5)
        flat.ctrl.command("sndcode", "1234")
        time.sleep(1.0)
        status = door.ctl("status", "--json").stdout
        hang_up(flat)
    finally:
        log = door.stop()
        flat.stop()
    both_components_keyed(flat.log.read_text())
    assert "start DTLS server" in flat.log.read_text()  # it offered actpass, we were active
    assert re.search(r"call-answered .*encryption=dtls-srtp", log), log
    assert '"encryption": "dtls-srtp"' in status, status
    assert "door-opened" in log and "via=dtmf" in log, log
    report = REPORT.search(log)
    assert report and int(report.group(2)) <= FEW_REFUSED, log
    assert "Traceback" not in log, log
    heard_both_ways(tmp_path, flat)


def test_we_call_baresip_with_dtls_srtp_audio_and_dtmf_both_ways(tmp_path: Path) -> None:
    flat = Baresip(tmp_path / "flat", user="flat", mediaenc="dtls_srtp").start()
    door = dtls_door(tmp_path / "door")
    try:
        door.call(flat.uri)
        flat.ctrl.wait_event("CALL_ESTABLISHED", 10)
        time.sleep(1.5)
        assert door.ctl("dtmf", "5#").returncode == 0
        first = flat.ctrl.wait_event("CALL_DTMF_START", 5)
        second = flat.ctrl.wait_event("CALL_DTMF_START", 5)
        door.hang_up(flat)
    finally:
        log = door.stop()
        flat.stop()
    assert (first.get("param"), second.get("param")) == ("5", "#")
    both_components_keyed(flat.log.read_text())
    assert re.search(r"call-answered .*encryption=dtls-srtp", log), log
    report = REPORT.search(log)
    assert report and int(report.group(2)) <= FEW_REFUSED, log
    # We are the DTLS server here (baresip answered our actpass with active): our first
    # use_srtp profile, AEAD AES-GCM (RFC 7714), is the one baresip keyed with us.
    assert report.group(1) == "AEAD_AES_128_GCM", log
    heard_both_ways(tmp_path, flat, door_from=4000)


def test_a_plain_rtp_injector_cannot_latch_or_send_a_digit(tmp_path: Path) -> None:
    """Plain RTP key presses sprayed at the door's RTP port during a DTLS-SRTP call open
    nothing; the socket is connected to the latched peer, so the kernel drops them before
    SRTP: fewer refused than sprayed."""
    flat = Baresip(tmp_path / "flat", user="flat", mediaenc="dtls_srtp").start()
    door = dtls_door(tmp_path / "door")
    try:
        dial(flat, door.uri)
        port = rtp_port_of(flat)
        sent = inject_plain_code(port)
        time.sleep(0.5)
        hang_up(flat)
    finally:
        log = door.stop()
        flat.stop()
    assert "door-opened" not in log and "dtmf" not in log.replace("via=dtmf", "")
    report = REPORT.search(log)
    assert report and int(report.group(2)) < sent, log


def test_hold_and_resume_keep_the_dtls_association_and_audio_flows_after(tmp_path: Path) -> None:
    flat = Baresip(tmp_path / "flat", user="flat", mediaenc="dtls_srtp").start()
    door = dtls_door(tmp_path / "door")
    try:
        flat.ctrl.command("dial", door.uri)
        hold_resume_then_hang_up(flat)
    finally:
        log = door.stop()
        flat.stop()
    assert "call-held" in log and "call-resumed" in log, log
    assert "failed to decrypt" not in flat.log.read_text().lower()
    report = REPORT.search(log)
    assert report and int(report.group(2)) <= FEW_REFUSED, log
    heard = read_wav(tmp_path / "door" / "heard.wav")
    assert tone_frames(heard[-12000:-2000], 1000) > 0.8  # after the resume
    (dump,) = flat.received_wavs()
    with wave.open(str(dump)) as w:
        rate = w.getframerate()
    got = read_wav(dump)
    assert tone_frames(got[-int(1.5 * rate) : -rate // 4], 440, rate) > 0.8, "no audio after resume"


def test_a_certificate_that_is_not_the_sdp_fingerprint_ends_the_call(tmp_path: Path) -> None:
    """The caller's SDP names one certificate; the DTLS server on its RTP port (OpenSSL, driven
    here) presents another. The door, the DTLS client, refuses it and hangs up with the reason."""
    now = datetime.datetime.now(datetime.UTC)
    claimed, presented = DtlsIdentity(now), DtlsIdentity(now)
    door = dtls_door(tmp_path / "door")
    caller = UdpAttacker("127.0.0.1", door.port)
    rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rtp.bind(("127.0.0.1", 0))
    caller.owned.append(rtp)
    port = rtp.getsockname()[1]
    body = (
        f"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
        f"m=audio {port} UDP/TLS/RTP/SAVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n"
        f"a=rtcp-mux\r\na=setup:actpass\r\na=fingerprint:{claimed.fingerprint}\r\n"
    ).encode()
    try:
        invite = request(
            "INVITE",
            door.port,
            source=caller.address,
            call_id="dtls-mismatch@127.0.0.1",
            from_="<sip:caller@127.0.0.1>;tag=c1",
            headers=("Content-Type: application/sdp",),
            body=body,
        )
        ok = caller.final(invite, 5)
        assert ok is not None and status_of(ok) == 200, ok
        theirs = re.search(rb"a=fingerprint:([^\r]+)", ok)
        assert theirs is not None and b"a=setup:active" in ok
        to_tag = re.search(r";tag=([^;>\s]+)", header(ok, "To"))
        assert to_tag is not None
        leg = CallLeg("dtls-mismatch@127.0.0.1", "c1", to_tag.group(1), rtp)
        caller.send(in_dialog("ACK", caller, leg, cseq=1))
        server = DtlsSrtp(presented, client=False, remote_fingerprint=theirs.group(1).decode())
        rtp.settimeout(0.2)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not server.done:
            try:
                data, source = rtp.recvfrom(2048)
            except TimeoutError:
                continue
            if 20 <= data[0] <= 63:
                server.receive(data, time.monotonic())
                for out in server.datagrams_to_send():
                    rtp.sendto(out, source)
        assert server.done, server.failure  # the door's own certificate was the SDP's
        bye = [m for m in caller.drain(3.0) if m.startswith(b"BYE ")]
        assert bye, "the door did not hang up"
    finally:
        log = door.stop()
        caller.close()
    assert "does not match the a=fingerprint" in log, log
    assert re.search(r"call-ended .*a=fingerprint", log), log
    assert "Traceback" not in log, log
