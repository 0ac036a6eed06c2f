"""SRTP with SDES keys against a real baresip (its ``srtp`` module), through Kamailio with TLS:
our signalling runs over TLS (keys never leave us in the clear), baresip's reaches Kamailio
over UDP on loopback. Audio both ways is checked by tone analysis, a DTMF door code opens the
door over SRTP, plain RTP is refused with 488 when encryption is mandatory, and a raw-socket
injector of plain RTP can neither latch nor slip in a digit."""

import re
import time
import wave
from pathlib import Path

import pytest

from tests.certs import Authority
from tests.interop.door import (
    Door,
    account,
    dial,
    hang_up,
    hold_resume_then_hang_up,
    inject_plain_code,
    read_wav,
    rtp_port_of,
    talk_then_hang_up,
    tone_frames,
    wait_registered,
)
from tests.interop.peers import Baresip, Kamailio

pytestmark = pytest.mark.interop


def secure_door(tmp: Path, proxy: Kamailio, ca_file: Path, encryption: str) -> Door:
    extra = account(f"sip:localhost:{proxy.tls_port};transport=tls") + (
        f'[tls]\nca_file = "{ca_file}"\n'
        '[hardware]\nboard = "simulated"\n[door]\nrelay_pin = 27\ncode = "1234"\n'
    )
    door = Door(tmp, sip=f'transport = "tls"\n[media]\nencryption = "{encryption}"', extra=extra)
    assert wait_registered(proxy), "the door never registered over TLS"
    return door


def tls_proxy(tmp: Path) -> tuple[Kamailio, Path]:
    ca = Authority(tmp / "pki")
    server = ca.issue("kamailio", ("localhost",))
    proxy = Kamailio(tmp / "proxy", tls=(server.cert, server.key)).start()
    return proxy, ca.files.cert


def parties(tmp: Path, mediaenc: str, encryption: str) -> tuple[Kamailio, Baresip, Door]:
    """Kamailio with TLS, the flat's baresip registered there over UDP (``mediaenc``: its SRTP
    wish, "" for plain RTP) and the door registered over TLS with ``[media] encryption``."""
    proxy, ca = tls_proxy(tmp)
    flat = Baresip(
        tmp / "flat", user="flat", registrar=f"127.0.0.1:{proxy.port}", mediaenc=mediaenc
    ).start()
    return proxy, flat, secure_door(tmp / "door", proxy, ca, encryption)


@pytest.mark.parametrize(
    ("mediaenc", "encryption"), [("srtp-mand", "mandatory"), ("srtp", "optional")]
)
def test_srtp_call_audio_both_ways_and_the_code_opens_the_door(
    tmp_path: Path, mediaenc: str, encryption: str
) -> None:
    proxy, flat, door = parties(tmp_path, mediaenc, encryption)
    try:
        dial(flat, f"sip:door@127.0.0.1:{proxy.port}")
        time.sleep(1.0)
        flat.ctrl.command("sndcode", "1234")
        time.sleep(1.0)
        status = door.ctl("status", "--json").stdout
        hang_up(flat)
    finally:
        log = door.stop()
        flat.stop()
        proxy.stop()
    baresip_log = flat.log.read_text()
    assert re.search(
        r"srtp: \S+: SRTP is Enabled \(cryptosuite=AES_CM_128_HMAC_SHA1_\d+\)", baresip_log
    ), baresip_log
    assert "failed to decrypt" not in baresip_log
    assert re.search(r"call-answered .*encryption=SRTP AES_CM_128_HMAC_SHA1_\d+", log), log
    assert '"encryption": "SRTP AES_CM_128_HMAC_SHA1_' in status, status
    assert "door-opened" in log and "via=dtmf" in log, log
    # baresip 1.0 sends one 16-byte RTCP APP packet in the clear at the start: it is the only
    # thing refused (a stale key or a broken cipher would refuse everything).
    refused = re.search(
        r"call-report .*encryption SRTP AES_CM_128_HMAC_SHA1_\d+ refused (\d+)", log
    )
    assert refused and int(refused.group(1)) <= 2, log
    # The first second, before the code's events (played as silence) and baresip's own tones.
    assert tone_frames(read_wav(tmp_path / "door" / "heard.wav")[2000:8000], 1000) > 0.8
    (dump,) = flat.received_wavs()
    with wave.open(str(dump)) as w:
        rate = w.getframerate()
    got = read_wav(dump)
    assert len(got) > rate and tone_frames(got[rate // 4 : rate], 440, rate) > 0.8  # our mic
    assert "inline:" not in log and "secret" not in log


def test_mandatory_refuses_a_plain_rtp_caller_with_488(tmp_path: Path) -> None:
    proxy, flat, door = parties(tmp_path, "", "mandatory")
    try:
        flat.ctrl.command("dial", f"sip:door@127.0.0.1:{proxy.port}")
        closed = flat.ctrl.wait_event("CALL_CLOSED", 10)
    finally:
        log = door.stop()
        flat.stop()
        proxy.stop()
    assert "488" in str(closed.get("param", "")), closed
    assert "call-rejected" in log and "plain RTP offered; [media] encryption = mandatory" in log
    assert "call-answered" not in log


def test_a_plain_rtp_injector_cannot_latch_or_send_a_digit(tmp_path: Path) -> None:
    """While baresip talks SRTP to the door, a raw socket sprays plain RTP telephone-events
    for the door code at the door's RTP port; nothing opens. The door's RTP socket is connected
    to baresip's latched address, so the kernel drops them before SRTP even sees them: the
    report refuses fewer packets than were sprayed (all of them, were the socket open)."""
    proxy, flat, door = parties(tmp_path, "srtp-mand", "mandatory")
    try:
        dial(flat, f"sip:door@127.0.0.1:{proxy.port}")
        status = door.ctl("status", "--json").stdout
        port = rtp_port_of(flat)
        sent = inject_plain_code(port)
        time.sleep(0.5)
        hang_up(flat)
    finally:
        log = door.stop()
        flat.stop()
        proxy.stop()
    assert '"encryption": "SRTP' in status
    assert "door-opened" not in log and "dtmf" not in log.replace("via=dtmf", "")
    refused = re.search(r"call-report .*encryption SRTP \S+ refused (\d+)", log)
    assert refused and int(refused.group(1)) < sent, log


def test_hold_and_resume_keep_the_keys_and_audio_flows_after(tmp_path: Path) -> None:
    """baresip re-offers its own key on hold and resume; we answer keeping ours (RFC 4568
    §7.1.4: no rekey asked; a new key of ours would be ignored by baresip 1.0's receive
    context and every packet after would fail). Audio flows both ways after the resume."""
    proxy, flat, door = parties(tmp_path, "srtp-mand", "mandatory")
    try:
        flat.ctrl.command("dial", f"sip:door@127.0.0.1:{proxy.port}")
        hold_resume_then_hang_up(flat)
    finally:
        log = door.stop()
        flat.stop()
        proxy.stop()
    assert "call-held" in log and "call-resumed" in log
    assert "failed to decrypt RTP" not in flat.log.read_text()
    refused = re.search(r"call-report .*encryption SRTP \S+ refused (\d+)", log)
    assert refused and int(refused.group(1)) <= 2, log
    heard = read_wav(tmp_path / "door" / "heard.wav")
    assert tone_frames(heard[-12000:-2000], 1000) > 0.8  # after the resume
    (dump,) = flat.received_wavs()
    with wave.open(str(dump)) as w:
        rate = w.getframerate()
    got = read_wav(dump)
    assert tone_frames(got[-int(1.5 * rate) : -rate // 4], 440, rate) > 0.8, "no audio after resume"


def test_peer_to_peer_baresip_calls_our_tls_listener_with_srtp(tmp_path: Path) -> None:
    """No PBX: baresip dials the door's TLS listener (our certificate, made here) and both
    sides talk SRTP; audio both ways, and a clean shutdown with the connection still open."""
    ca = Authority(tmp_path / "pki")
    ours = ca.issue("door", ("127.0.0.1",))
    theirs = ca.issue("flat", ("127.0.0.1",))
    pem = tmp_path / "flat.pem"
    pem.write_text(theirs.cert.read_text() + theirs.key.read_text())
    flat = Baresip(
        tmp_path / "flat", user="flat", mediaenc="srtp-mand", tls_certificate=pem
    ).start()
    door = Door(
        tmp_path / "door",
        sip=(
            'transport = "tls"\n[media]\nencryption = "mandatory"\n[tls]\n'
            f'ca_file = "{ca.files.cert}"\ncert_file = "{ours.cert}"\nkey_file = "{ours.key}"'
        ),
    )
    try:
        flat.ctrl.command("dial", f"sip:door@127.0.0.1:{door.port};transport=tls")
        talk_then_hang_up(flat)
    finally:
        log = door.stop()
        flat.stop()
    assert f"Call established: sip:door@127.0.0.1:{door.port};transport=tls" in flat.log.read_text()
    assert re.search(r"call-answered .*encryption=SRTP AES_CM_128_HMAC_SHA1_80", log), log
    assert "Traceback" not in log and "ERROR" not in log, log
    assert tone_frames(read_wav(tmp_path / "door" / "heard.wav")[2000:8000], 1000) > 0.8
    (dump,) = flat.received_wavs()
    with wave.open(str(dump)) as w:
        rate = w.getframerate()
    assert tone_frames(read_wav(dump)[rate // 4 : rate], 440, rate) > 0.8
