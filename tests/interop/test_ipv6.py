"""IPv6 end to end on loopback: the door listens on [::1] or on [::] (dual stack) and registers
at Kamailio over IPv6 or IPv4; baresip calls it over IPv6 through Kamailio and directly, and it
calls baresip. Kamailio's log (DEBUG_LOG) shows what the door wrote: bracketed Via and Contact,
``c=IN IP6`` in its SDP."""

import re
import time
import wave
from pathlib import Path

import pytest

from tests.interop.door import (
    Door,
    account,
    read_wav,
    registered_door,
    talk_then_hang_up,
    tone_frames,
    wait_registered,
)
from tests.interop.peers import Baresip, Kamailio

pytestmark = pytest.mark.interop


@pytest.mark.parametrize("listen", ["::1", "::"])
def test_register_and_be_called_over_ipv6_through_kamailio(tmp_path: Path, listen: str) -> None:
    proxy = Kamailio(tmp_path / "proxy", ipv6=True, defines=("DEBUG_LOG",)).start()
    flat = Baresip(
        tmp_path / "flat", user="flat", registrar=f"[::1]:{proxy.port}", ipv6=True
    ).start()
    door = registered_door(tmp_path / "door", proxy, host=listen, registrar="[::1]")
    try:
        (contact,) = proxy.registrations("door")
        assert re.fullmatch(rf"sip:door@\[::1\]:{door.port};line=[0-9a-f]+", contact)
        flat.ctrl.command("dial", f"sip:door@[::1]:{proxy.port}")
        talk_then_hang_up(flat)
    finally:
        log = door.stop()
        flat.stop()
        proxy.stop()
    assert "registered account=account aor=sip:door@[::1]" in log
    assert "call-answered" in log and "reason=hung up by the caller" in log
    assert tone_frames(read_wav(tmp_path / "door" / "heard.wav")[4000:], 1000) > 0.8
    seen = proxy.log.read_text()
    assert f"VIA REGISTER SIP/2.0/UDP [::1]:{door.port};" in seen, seen
    answer = seen[seen.index("SDP 200 from ::1:") :].split("NOTICE", 1)[0]  # the door's answer
    assert "c=IN IP6 ::1" in answer and "IP4" not in answer, answer
    (dump,) = flat.received_wavs()
    with wave.open(str(dump)) as w:
        rate = w.getframerate()
    got = read_wav(dump)
    assert len(got) > rate and tone_frames(got[rate // 2 :], 440, rate) > 0.8  # door's microphone


def test_dual_stack_listener_registers_over_ipv4_and_accept_from_matches_ipv4(
    tmp_path: Path,
) -> None:
    """Listening on [::] with an IPv4 registrar: REGISTER leaves over IPv4 and calls from
    IPv4 peers (arriving as ::ffff:127.0.0.1 on the dual-stack socket) match accept_from."""
    proxy = Kamailio(tmp_path / "proxy").start()
    flat = Baresip(tmp_path / "flat", user="flat", registrar=f"127.0.0.1:{proxy.port}").start()
    door = Door(
        tmp_path / "door",
        host="::",
        sip='accept_from = ["127.0.0.1/32"]',
        extra=account(f"sip:127.0.0.1:{proxy.port}"),
    )
    try:
        (contact,) = wait_registered(proxy)
        assert contact.startswith(f"sip:door@127.0.0.1:{door.port};")
        flat.ctrl.command("dial", f"sip:door@127.0.0.1:{proxy.port}")
        talk_then_hang_up(flat)
    finally:
        log = door.stop()
        flat.stop()
        proxy.stop()
    assert "call-answered" in log and "::ffff:" not in log


def test_we_call_baresip_over_ipv6_peer_to_peer(tmp_path: Path) -> None:
    flat = Baresip(tmp_path / "flat", user="flat", ipv6=True).start()
    door = Door(tmp_path / "door", host="::1")
    try:
        door.call(flat.uri)
        flat.ctrl.wait_event("CALL_ESTABLISHED", 10)
        time.sleep(1.5)
        door.hang_up(flat)
    finally:
        log = door.stop()
        flat.stop()
    assert "call-answered" in log and "reason=hung up locally" in log
    assert tone_frames(read_wav(tmp_path / "door" / "heard.wav")[4000:], 1000) > 0.8
