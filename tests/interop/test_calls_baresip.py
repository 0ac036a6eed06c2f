"""Incoming calls from a real baresip: auto-answer, audio both ways, CANCEL, allowlist, hang-up."""

import signal
import subprocess
import sys
import time
import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.interop.peers import Baresip, Kamailio, free_port

pytestmark = pytest.mark.interop
CLI = [sys.executable, "-m", "endpoint"]


def tone_wav(path: Path, hz: float, seconds: float) -> None:
    t = np.arange(int(8000 * seconds)) / 8000
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes((np.sin(2 * np.pi * hz * t) * 12000).astype("<i2").tobytes())


def read_wav(path: Path) -> np.ndarray:
    with wave.open(str(path), "rb") as w:
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(float)
        return data.reshape(-1, w.getnchannels())[:, 0]


def tone_share(audio: np.ndarray, hz: float, rate: int = 8000) -> float:
    t = np.arange(len(audio)) / rate
    i, q = np.sin(2 * np.pi * hz * t), np.cos(2 * np.pi * hz * t)
    amplitude = 2 * np.hypot(np.dot(audio, i), np.dot(audio, q)) / len(audio)
    return float(amplitude / (np.sqrt(2 * np.mean(audio**2)) or 1.0))


class Door:
    """Our endpoint as a real process (peer-to-peer), with WAV files as microphone and speaker."""

    def __init__(self, tmp: Path, calls: str = "", extra: str = "") -> None:
        self.tmp = tmp
        tmp.mkdir(parents=True, exist_ok=True)
        self.port = free_port(both=True)
        tone_wav(tmp / "mic.wav", 440, 10)
        (tmp / "door.toml").write_text(
            f'[sip]\nlisten = "127.0.0.1:{self.port}"\n[calls]\n{calls}\n'
            f'[audio]\nbackend = "file"\ninput_file = "{tmp / "mic.wav"}"\n'
            f'output_file = "{tmp / "heard.wav"}"\n[control]\nsocket = "{tmp / "ctl.sock"}"\n'
            + extra
        )
        self.proc = subprocess.Popen(
            [*CLI, "run", "--config", str(tmp / "door.toml")], stderr=subprocess.PIPE, text=True
        )
        deadline = time.monotonic() + 10
        while not (tmp / "ctl.sock").exists() and time.monotonic() < deadline:
            time.sleep(0.05)

    @property
    def uri(self) -> str:
        return f"sip:door@127.0.0.1:{self.port}"

    def ctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*CLI, "ctl", "--socket", str(self.tmp / "ctl.sock"), *args],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            assert self.proc.wait(timeout=10) == 0
        assert self.proc.stderr is not None
        with self.proc.stderr:
            return self.proc.stderr.read()


@pytest.fixture
def flat(tmp_path: Path) -> Iterator[Baresip]:
    peer = Baresip(tmp_path / "flat", user="flat", tone_hz=1000).start()
    try:
        yield peer
    finally:
        peer.stop()


def test_auto_answer_with_audio_both_ways(tmp_path: Path, flat: Baresip) -> None:
    door = Door(tmp_path / "door")
    try:
        flat.ctrl.command("dial", door.uri)
        flat.ctrl.wait_event("CALL_ESTABLISHED", 10)
        time.sleep(3)
        flat.ctrl.command("hangup")
        flat.ctrl.wait_event("CALL_CLOSED", 10)
        time.sleep(0.5)
    finally:
        log = door.stop()
    assert "call-answered" in log and "reason=hung up by the caller" in log
    assert "call-report" in log and "PCMU" in log
    heard = read_wav(tmp_path / "door" / "heard.wav")
    assert len(heard) > 2 * 8000 and tone_share(heard[4000:], 1000) > 0.9  # baresip's tone
    (dump,) = flat.received_wavs()
    with wave.open(str(dump)) as w:
        rate = w.getframerate()
    got = read_wav(dump)
    assert len(got) > rate and tone_share(got[rate // 2 :], 440, rate) > 0.9  # our microphone


def test_caller_cancels_while_it_rings(tmp_path: Path, flat: Baresip) -> None:
    door = Door(tmp_path / "door", calls="auto_answer = false")
    try:
        flat.ctrl.command("dial", door.uri)
        flat.ctrl.wait_event("CALL_RINGING", 10)
        flat.ctrl.command("hangup")
        flat.ctrl.wait_event("CALL_CLOSED", 10)
        time.sleep(0.5)
    finally:
        log = door.stop()
    assert "call-incoming" in log and "reason=cancelled by the caller" in log
    assert "call-answered" not in log


def test_caller_outside_the_allowlist_is_rejected(tmp_path: Path, flat: Baresip) -> None:
    door = Door(tmp_path / "door", calls='allow = ["concierge@*"]\nnot_allowed = "reject"')
    try:
        flat.ctrl.command("dial", door.uri)
        closed = flat.ctrl.wait_event("CALL_CLOSED", 10)
    finally:
        log = door.stop()
    assert "403" in str(closed)
    assert "call-rejected" in log and "call-answered" not in log


def test_we_hang_up_with_bye(tmp_path: Path, flat: Baresip) -> None:
    door = Door(tmp_path / "door")
    try:
        flat.ctrl.command("dial", door.uri)
        flat.ctrl.wait_event("CALL_ESTABLISHED", 10)
        time.sleep(1)
        assert door.ctl("hangup").returncode == 0
        flat.ctrl.wait_event("CALL_CLOSED", 10)
    finally:
        log = door.stop()
    assert "reason=hung up locally" in log


def test_we_call_baresip_send_dtmf_and_hang_up(tmp_path: Path, flat: Baresip) -> None:
    door = Door(tmp_path / "door")
    try:
        answer = door.ctl("call", flat.uri)
        assert answer.returncode == 0, answer.stderr
        flat.ctrl.wait_event("CALL_ESTABLISHED", 10)
        time.sleep(1.5)
        assert door.ctl("dtmf", "5#").returncode == 0
        first = flat.ctrl.wait_event("CALL_DTMF_START", 5)
        second = flat.ctrl.wait_event("CALL_DTMF_START", 5)
        assert (first.get("param"), second.get("param")) == ("5", "#")
        assert door.ctl("hangup").returncode == 0
        flat.ctrl.wait_event("CALL_CLOSED", 10)
        time.sleep(0.5)
    finally:
        log = door.stop()
    assert "call-outgoing" in log and "call-answered" in log and "reason=hung up locally" in log
    heard = read_wav(tmp_path / "door" / "heard.wav")
    assert tone_share(heard[4000:], 1000) > 0.9


def test_we_cancel_while_baresip_rings(tmp_path: Path) -> None:
    peer = Baresip(tmp_path / "man", user="man", answermode="manual").start()
    door = Door(tmp_path / "door")
    try:
        assert door.ctl("call", peer.uri).returncode == 0
        peer.ctrl.wait_event("CALL_INCOMING", 10)
        assert door.ctl("hangup").returncode == 0
        peer.ctrl.wait_event("CALL_CLOSED", 10)
        time.sleep(0.5)
    finally:
        log = door.stop()
        peer.stop()
    assert "call-failed" in log and "reason=cancelled" in log


def test_call_through_kamailio_with_proxy_auth(tmp_path: Path, kamailio: Kamailio) -> None:
    flat = Baresip(tmp_path / "flat", user="flat", registrar=f"127.0.0.1:{kamailio.port}").start()
    account = (
        f'[account]\nregistrar = "sip:127.0.0.1:{kamailio.port}"\nuser = "door"\n'
        'password = "secret"\nexpires = 60\n'
    )
    door = Door(tmp_path / "door", extra=account)
    try:
        deadline = time.monotonic() + 10
        while not kamailio.registrations("door") and time.monotonic() < deadline:
            time.sleep(0.05)
        answer = door.ctl("call", "flat")  # a user name at our domain, via the registrar
        assert answer.returncode == 0, answer.stderr
        flat.ctrl.wait_event("CALL_ESTABLISHED", 10)
        time.sleep(1.5)
        flat.ctrl.command("hangup")
        flat.ctrl.wait_event("CALL_CLOSED", 10)
        time.sleep(0.5)
    finally:
        log = door.stop()
        flat.stop()
    assert "call-answered" in log and "reason=hung up by the callee" in log
    assert tone_share(read_wav(tmp_path / "door" / "heard.wav")[4000:], 1000) > 0.9
