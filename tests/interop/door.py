"""Our endpoint as the tests drive it: a real ``sip-endpoint run`` process, WAV files as its
microphone and speaker, its control socket for commands; and the tone analysis of what it heard.
"""

import signal
import socket
import subprocess
import sys
import time
import wave
from pathlib import Path

import numpy as np

from tests.interop.peers import LOOPBACK, Baresip, Kamailio, Sipp, free_port

CLI = [sys.executable, "-m", "endpoint"]


def tone_wav(path: Path, hz: float, seconds: float, rate: int = 8000) -> None:
    t = np.arange(int(rate * seconds)) / rate
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
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


def first_sound(audio: np.ndarray) -> int:
    """Where the first audible sample is: a peer's stream starts when it starts (SIPp's
    ``rtp_stream`` thread may begin tenths of a second late on a loaded host), so windows that
    must lie before some event are measured from here rather than from the file's start."""
    loud = np.flatnonzero(audio)
    return int(loud[0]) if len(loud) else len(audio)


def tone_frames(audio: np.ndarray, hz: float, rate: int = 8000) -> float:
    """The share of the audio's 20 ms frames that are the tone (``tone_share`` above 0.9 each).

    Why frames: when a loaded host delays a peer's packets, a jitter buffer drops or conceals
    one of them, and the tone's phase jumps there. The listener hears one click; a
    ``tone_share`` over the whole window (which needs one phase throughout) falls to 0.8.
    Silence, noise or the wrong tone still fail every frame they fill."""
    size = rate // 50
    frames = [audio[i : i + size] for i in range(0, len(audio) - size + 1, size)]
    return sum(1 for f in frames if tone_share(f, hz, rate) > 0.9) / len(frames) if frames else 0.0


def ctl(socket: Path, *args: str, timeout: float = 10) -> subprocess.CompletedProcess[str]:
    """``sip-endpoint ctl --socket socket ...`` as an installer types it; its exit status,
    output and errors for the test to judge."""
    return subprocess.run(
        [*CLI, "ctl", "--socket", str(socket), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


class Door:
    """Our endpoint as a real process (peer-to-peer), with WAV files as microphone and speaker."""

    def __init__(
        self, tmp: Path, calls: str = "", extra: str = "", sip: str = "", host: str = "127.0.0.1"
    ) -> None:
        """``host``: the listen address (``::1`` or ``::`` for IPv6 on loopback)."""
        self.tmp = tmp
        self.host = host
        tmp.mkdir(parents=True, exist_ok=True)
        self.port = free_port(both=True)
        tone_wav(tmp / "mic.wav", 440, 10)
        (tmp / "door.toml").write_text(
            f'[sip]\nlisten = "{self.bracketed}:{self.port}"\n{sip}\n[calls]\n{calls}\n'
            f'[audio]\nbackend = "file"\ninput_file = "{tmp / "mic.wav"}"\n'
            f'output_file = "{tmp / "heard.wav"}"\n[control]\nsocket = "{tmp / "ctl.sock"}"\n'
            + extra
        )
        self.proc = subprocess.Popen(
            [*CLI, "run", "--config", str(tmp / "door.toml")], stderr=subprocess.PIPE, text=True
        )
        deadline = time.monotonic() + 30  # generous: CI starts it on a loaded machine
        while not (tmp / "ctl.sock").exists():
            if self.proc.poll() is not None:
                assert self.proc.stderr is not None
                raise RuntimeError(f"sip-endpoint run exited: {self.proc.stderr.read()}")
            if time.monotonic() > deadline:
                self.proc.kill()
                self.proc.wait()
                raise RuntimeError("sip-endpoint run: no control socket after 30 s")
            time.sleep(0.05)

    @property
    def bracketed(self) -> str:
        return f"[{self.host}]" if ":" in self.host else self.host

    @property
    def uri(self) -> str:
        host = "[::1]" if self.host == "::" else "127.0.0.1" if self.host == "0.0.0.0" else None
        return f"sip:door@{host or self.bracketed}:{self.port}"

    def ctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        return ctl(self.tmp / "ctl.sock", *args)

    def call(self, *args: str) -> subprocess.CompletedProcess[str]:
        """``ctl call ...``, which must be taken: a refusal fails the test with what ctl said."""
        result = self.ctl("call", *args)
        assert result.returncode == 0, result.stdout + result.stderr
        return result

    def hang_up(self, phone: Baresip, *, settle: float = 0.5) -> None:
        """``ctl hangup`` (it must be taken), until ``phone`` saw the call close; then
        ``settle`` seconds for the end-of-call report to reach the log."""
        assert self.ctl("hangup").returncode == 0
        phone.ctrl.wait_event("CALL_CLOSED", 10)
        time.sleep(settle)

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            assert self.proc.wait(timeout=10) == 0
        assert self.proc.stderr is not None
        with self.proc.stderr:
            return self.proc.stderr.read()


def account(registrar: str, *, password: str = "secret", more: str = "") -> str:
    """The ``[account]`` table of the user ``door`` (Kamailio knows it, ``KAMAILIO_USERS``) at
    the ``registrar`` URI, re-registering every 60 s; ``more`` adds keys to it."""
    return (
        f'[account]\nregistrar = "{registrar}"\nuser = "door"\npassword = "{password}"\n'
        f"expires = 60\n{more}"
    )


def wait_registered(kamailio: Kamailio, timeout: float = 10) -> list[str]:
    """The door's bindings at ``kamailio`` once it holds one, or [] after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not (found := kamailio.registrations("door")) and time.monotonic() < deadline:
        time.sleep(0.05)
    return found


def registered_door(
    tmp: Path,
    kamailio: Kamailio,
    calls: str = "",
    *,
    host: str = "127.0.0.1",
    registrar: str = "127.0.0.1",
) -> Door:
    """A door listening on ``host`` with the account ``door`` at ``kamailio`` (reached at
    ``registrar``, an IP literal), once Kamailio holds its binding."""
    door = Door(tmp, calls=calls, extra=account(f"sip:{registrar}:{kamailio.port}"), host=host)
    wait_registered(kamailio)
    return door


def sipp_calls(workdir: Path, scenario: str, target: str, *args: str, timeout: float = 30) -> Sipp:
    """SIPp plays ``scenario`` (``peers/*.xml``) as a caller of ``door`` at ``target``
    (host:port) to its end; the scenario checks our side itself, so it must exit 0."""
    sipp = Sipp(workdir, scenario, [target, "-s", "door", *args]).start()
    assert sipp.wait(timeout) == 0, sipp.report()
    return sipp


def call_sipp(door: Door, callee: Sipp, seconds: float, host: str = LOOPBACK) -> None:
    """The door calls SIPp playing a callee's scenario, talks ``seconds`` and hangs up; the
    scenario checks our side itself, so it must exit 0."""
    door.call(f"sip:flat@{host}:{callee.port}")
    time.sleep(seconds)
    assert door.ctl("hangup").returncode == 0
    assert callee.wait(15) == 0, callee.report()


def dial(phone: Baresip, uri: str) -> None:
    """``phone`` calls ``uri`` and the call is up."""
    phone.ctrl.command("dial", uri)
    phone.ctrl.wait_event("CALL_ESTABLISHED", 10)


def hang_up(phone: Baresip) -> None:
    """``phone`` hangs up and sees its call close; the endpoint's report is logged after the
    BYE, hence the half second."""
    phone.ctrl.command("hangup")
    phone.ctrl.wait_event("CALL_CLOSED", 10)
    time.sleep(0.5)


def talk_then_hang_up(phone: Baresip, seconds: float = 1.5, *, established: bool = False) -> None:
    """Wait for ``phone``'s call to be up (unless it is), let audio flow, hang up from it."""
    if not established:
        phone.ctrl.wait_event("CALL_ESTABLISHED", 10)
    time.sleep(seconds)
    hang_up(phone)


def hold_resume_then_hang_up(
    phone: Baresip, *, before: float = 1.0, held: float = 1.0, after: float = 2.0
) -> None:
    """Once ``phone``'s call is up: talk, hold (re-INVITE), resume, talk, hang up from it."""
    phone.ctrl.wait_event("CALL_ESTABLISHED", 10)
    time.sleep(before)
    phone.ctrl.command("hold")
    time.sleep(held)
    phone.ctrl.command("resume")
    talk_then_hang_up(phone, after, established=True)


def rtp_port_of(peer: Baresip) -> int:
    """The door's RTP port: where baresip's incoming RTP comes from (symmetric RTP)."""
    found = peer.wait_log(r"incoming rtp for 'audio' established, receiving from [\d.]+:(\d+)")
    return int(found.rsplit(":", 1)[1])


def inject_plain_code(port: int) -> int:
    """A plain-RTP injector keys the code 1234 five times as RFC 4733 events (payload type
    101, a source of its own) at the door's RTP ``port``; returns how many packets it sent."""
    sent = 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as evil:
        for seq, digit in enumerate([1, 2, 3, 4] * 5):
            for end in (0, 0x80, 0x80, 0x80):
                packet = bytes([0x80, 101]) + (40000 + sent).to_bytes(2, "big")
                packet += (160 * seq).to_bytes(4, "big") + (0xBAD5EED).to_bytes(4, "big")
                packet += bytes([digit, end | 10]) + (800).to_bytes(2, "big")
                evil.sendto(packet, ("127.0.0.1", port))
                sent += 1
                time.sleep(0.005)
    return sent
