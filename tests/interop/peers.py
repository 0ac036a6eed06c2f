"""Real third-party SIP peers on 127.0.0.1 for the interop tests: Kamailio, baresip and SIPp.

Each peer runs as a child process of the test (``Popen`` kept, so it is reaped and never left
behind), on ports picked free at start, with its configuration written into the test's own
temporary directory from the copies in ``tests/interop/peers/``. A peer that does not come up
fails the test with its log attached; nothing is skipped, because CI installs the peers.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PEERS = Path(__file__).resolve().parent / "peers"
LOOPBACK = "127.0.0.1"

#: Users configured in kamailio.cfg: username -> password.
KAMAILIO_USERS = {
    "door": "secret",
    "flat": "secret",
    "alice": "alicepw",
    "bob": "bobpw",
    "sipp": "sipp",
}


class PeerError(RuntimeError):
    """A peer did not start or did not answer in time; the message carries its log tail."""


def require(binary: str) -> str:
    path = shutil.which(binary)
    if path is None:
        raise PeerError(
            f"{binary} is not installed: run ./setup.sh (it installs the interop peers)"
        )
    return path


#: Every port this process has handed out. The kernel may give the same port to two
#: ``bind(0)`` calls in a row once the first socket is closed, and a peer that then gets one
#: port twice (baresip's ``ctrl_tcp`` and its ``cons`` console did, in CI) answers our commands
#: on the wrong module. A port handed out once is never handed out again by this process.
_handed_out: set[int] = set()


def _claim(*ports: int) -> bool:
    """Record ``ports`` as handed out, unless one of them already is."""
    if _handed_out.intersection(ports):
        return False
    _handed_out.update(ports)
    return True


def _bindable(kind: int, port: int) -> bool:
    with socket.socket(socket.AF_INET, kind) as s:
        try:
            s.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


def free_port(kind: int = socket.SOCK_DGRAM, *, both: bool = False) -> int:
    """A port that is free on 127.0.0.1 for ``kind`` (and for TCP too when ``both``), and that
    this process has not handed out before."""
    for _ in range(200):
        with socket.socket(socket.AF_INET, kind) as s:
            s.bind((LOOPBACK, 0))
            port = int(s.getsockname()[1])
        if both and not _bindable(socket.SOCK_STREAM, port):
            continue
        if _claim(port):
            return port
    raise PeerError("no free port found on 127.0.0.1")


def _baresip_sip_port() -> int:
    """A SIP port for baresip: UDP and TCP free, and the next one free for TCP too, because
    baresip 1.0 also opens its TLS transport on ``sip_listen``'s port + 1 (no way to turn it
    off), and a taken neighbour makes it exit with "Address already in use"."""
    for _ in range(100):
        port = free_port(both=True)
        if _bindable(socket.SOCK_STREAM, port + 1) and _claim(port + 1):
            return port
    raise PeerError("no free SIP port pair for baresip on 127.0.0.1")


def free_port_range(size: int) -> tuple[int, int]:
    """An even-aligned range of ``size`` consecutive free UDP ports (for RTP), none of them
    handed out before by this process."""
    rng = random.Random()
    for _ in range(200):
        start = rng.randrange(20000, 60000 - size) & ~1
        ports = range(start, start + size)
        if _handed_out.intersection(ports):
            continue
        socks: list[socket.socket] = []
        try:
            for p in ports:
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(s)
                s.bind((LOOPBACK, p))
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
        _claim(*ports)
        return start, start + size - 1
    raise PeerError("no free RTP port range found")


def sip_options_ping(
    port: int, *, timeout: float = 10.0, transport: str = "udp", host: str = LOOPBACK
) -> str:
    """Send OPTIONS until any response comes back; return its status line.

    Written with raw bytes on purpose: the harness must not depend on the code under test.
    ``host`` may be ``::1`` (the ping then goes over IPv6).
    """
    deadline = time.monotonic() + timeout
    n = 0
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    name = f"[{host}]" if ":" in host else host
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        s.bind((host, 0))
        lport = s.getsockname()[1]
        while time.monotonic() < deadline:
            n += 1
            msg = (
                f"OPTIONS sip:{name}:{port} SIP/2.0\r\n"
                f"Via: SIP/2.0/UDP {name}:{lport};rport"
                f";branch=z9hG4bK{random.getrandbits(40):x}\r\n"
                "Max-Forwards: 70\r\n"
                f"From: <sip:probe@{name}>;tag={random.getrandbits(32):x}\r\n"
                f"To: <sip:{name}:{port}>\r\n"
                f"Call-ID: probe-{random.getrandbits(48):x}\r\n"
                f"CSeq: {n} OPTIONS\r\n"
                "Content-Length: 0\r\n\r\n"
            )
            s.sendto(msg.encode(), (host, port))
            s.settimeout(0.05)
            with contextlib.suppress(TimeoutError, ConnectionRefusedError):
                data, _ = s.recvfrom(65535)
                return data.split(b"\r\n", 1)[0].decode(errors="replace")
            time.sleep(0.02)
    raise PeerError(f"nothing answered OPTIONS on {name}:{port} within {timeout} s")


def _log_tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _stop(proc: subprocess.Popen[bytes], timeout: float = 5.0) -> None:
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


@dataclass
class Kamailio:
    """Kamailio 5.6 as registrar + proxy with digest auth (``peers/kamailio.cfg``)."""

    workdir: Path
    port: int = 0
    defines: tuple[str, ...] = ()
    #: (certificate, key) PEM files: also listen for SIP over TLS on ``tls_port``.
    tls: tuple[Path, Path] | None = None
    tls_port: int = 0
    #: Also listen on [::1] (same port, UDP + TCP).
    ipv6: bool = False
    proc: subprocess.Popen[bytes] | None = None
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.log = self.workdir / "kamailio.log"
        if not self.port:
            self.port = free_port(both=True)
        if self.tls is not None and not self.tls_port:
            self.tls_port = free_port(socket.SOCK_STREAM)

    @property
    def ctl_socket(self) -> Path:
        return self.workdir / "kctl"

    def start(self) -> Kamailio:
        kamailio = require("kamailio")
        rt = self.workdir / "rt"
        rt.mkdir(exist_ok=True)
        pidfile = self.workdir / "kamailio.pid"
        pidfile.unlink(missing_ok=True)
        args = [
            kamailio,
            "-f",
            str(PEERS / "kamailio.cfg"),
            "-A",
            f"SIP_PORT={self.port}",
            "-A",
            f'CTL_SOCK="unix:{self.ctl_socket}"',
            "-DD",
            "-E",
            "-Y",
            str(rt),
            "-P",
            str(pidfile),
            "-m",
            "32",
            "-M",
            "8",
        ]
        for d in (*self.defines, *(("WITH_IPV6",) if self.ipv6 else ())):
            args += ["-A", d]
        if self.tls is not None:
            cert, key = self.tls
            for d in (
                "WITH_TLS",
                f"TLS_PORT={self.tls_port}",
                f'TLS_CERT="{cert}"',
                f'TLS_KEY="{key}"',
            ):
                args += ["-A", d]
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                args,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        try:
            sip_options_ping(self.port, timeout=10)
        except PeerError as exc:
            self.stop()
            raise PeerError(f"{exc}\nkamailio log:\n{_log_tail(self.log)}") from None
        return self

    def stop(self) -> None:
        if self.proc is not None:
            _stop(self.proc)

    def _lookup(self, user: str) -> str:
        out = subprocess.run(
            [require("kamcmd"), "-s", f"unix:{self.ctl_socket}", "ul.lookup", "location", user],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        return out.stdout

    def registrations(self, user: str) -> list[str]:
        """Contact URIs Kamailio holds for ``user`` (``kamcmd ul.lookup location user``)."""
        return re.findall(r"Address:\s*(\S+)", self._lookup(user))

    def binding_cseqs(self, user: str) -> list[int]:
        """The CSeq of the last REGISTER behind each of ``user``'s bindings."""
        return [int(n) for n in re.findall(r"CSeq:\s*(\d+)", self._lookup(user))]


class BaresipControl:
    """A client of baresip's ``ctrl_tcp`` module: netstring-framed JSON commands and events."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection((LOOPBACK, port), timeout=5)
        self.buf = b""
        self.events: list[dict[str, Any]] = []

    def close(self) -> None:
        self.sock.close()

    def _next(self, deadline: float) -> dict[str, Any] | None:
        while True:
            colon = self.buf.find(b":")
            if colon > 0:
                n = int(self.buf[:colon])
                if len(self.buf) >= colon + n + 2:
                    payload = self.buf[colon + 1 : colon + 1 + n]
                    self.buf = self.buf[colon + n + 2 :]
                    msg: dict[str, Any] = json.loads(payload)
                    return msg
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                return None
            if not data:
                return None
            self.buf += data

    def command(self, command: str, params: str = "", timeout: float = 10) -> dict[str, Any]:
        token = f"t{random.getrandbits(32):x}"
        body = json.dumps({"command": command, "params": params, "token": token}).encode()
        self.sock.sendall(str(len(body)).encode() + b":" + body + b",")
        deadline = time.monotonic() + timeout
        while (msg := self._next(deadline)) is not None:
            if msg.get("response"):
                return msg
            self.events.append(msg)
        raise PeerError(f"baresip did not answer {command!r}")

    def wait_event(self, event_type: str, timeout: float = 10) -> dict[str, Any]:
        for i, ev in enumerate(self.events):
            if ev.get("type") == event_type:
                del self.events[: i + 1]
                return ev
        deadline = time.monotonic() + timeout
        while (msg := self._next(deadline)) is not None:
            if msg.get("type") == event_type:
                return msg
            self.events.append(msg)
        seen = [e.get("type") for e in self.events]
        raise PeerError(f"baresip: no {event_type} within {timeout} s (saw {seen})")


@dataclass
class Baresip:
    """A headless baresip 1.0 user agent (no sound card: ``ausine`` source, ``aubridge`` sink).

    ``registrar=None`` runs it peer-to-peer. Received and sent audio is dumped as WAV under
    ``workdir/rec`` (``dump-*-dec.wav`` = what it received).
    """

    workdir: Path
    user: str = "flat"
    password: str = "secret"
    registrar: str | None = None
    answermode: str = "auto"
    tone_hz: int = 1000
    echo: bool = False
    #: Listen and send on [::1] instead of 127.0.0.1 (``registrar`` then names an IPv6 host).
    ipv6: bool = False
    #: An 8 kHz mono WAV that baresip plays as its microphone (``aufile``) instead of the tone.
    source_wav: Path | None = None
    #: baresip's account ``mediaenc``: "srtp" (best effort), "srtp-mand" (RTP/SAVP),
    #: "dtls_srtp" (UDP/TLS/RTP/SAVP, its dtls_srtp module), or "".
    mediaenc: str = ""
    #: A PEM file with baresip's certificate and key: its TLS transport (``sip_listen`` + 1)
    #: then presents it; calls to ``sips``/``;transport=tls`` URIs go over TLS.
    tls_certificate: Path | None = None
    #: Extra modules to load (e.g. "speex_pp" for the hands-free CPU comparison).
    modules: tuple[str, ...] = ()
    #: Record both directions of every call to WAV files (the ``sndfile`` module), which the
    #: tests analyse. Off for CPU benchmarks: the comparison is of a call, not of a recorder.
    record: bool = True
    #: An ALSA device (e.g. "pulse") that baresip's ``alsa`` module captures from and plays
    #: to at 8 kHz mono, instead of the tone, file or echo above (the device CPU comparison).
    alsa_device: str | None = None
    #: The account's ``audio_codecs`` in its order (baresip names G.722 "G722/16000/1" and
    #: Opus "opus/48000/2"); G722 loads ``g722.so``, opus ``opus.so``.
    codecs: str = "PCMU"
    sip_port: int = 0
    ctrl_port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.log = self.workdir / "baresip.log"
        self.sip_port = self.sip_port or _baresip_sip_port()
        self.ctrl_port = self.ctrl_port or free_port(socket.SOCK_STREAM)
        self.cons_port = free_port(both=True)
        self.rtp_ports = free_port_range(20)

    @property
    def host(self) -> str:
        return "::1" if self.ipv6 else LOOPBACK

    @property
    def uri(self) -> str:
        host = "[::1]" if self.ipv6 else LOOPBACK
        return f"sip:{self.user}@{host}:{self.sip_port}"

    def _write_config(self) -> None:
        rec = self.workdir / "rec"
        rec.mkdir(exist_ok=True)
        if self.alsa_device is not None:
            source = player = f"alsa,{self.alsa_device}"
            rate = "8000\nausrc_channels\t\t1"
        elif self.echo:
            # The bridge passes audio at one rate: the codec's (16 kHz for G.722, 48 kHz
            # stereo for Opus: baresip's opus module decodes at 48 kHz in two channels).
            echo_rate = "16000\nausrc_channels\t\t1" if "G722" in self.codecs.upper() else ""
            if "OPUS" in self.codecs.upper():
                echo_rate = "48000\nausrc_channels\t\t2"
            source, player = "aubridge,echo", "aubridge,echo"
            rate = echo_rate or "8000\nausrc_channels\t\t1"
        elif self.source_wav is not None:
            source, player = f"aufile,{self.source_wav}", "aubridge,sink"
            rate = "8000\nausrc_channels\t\t1"
        else:
            source, player = f"ausine,{self.tone_hz}", "aubridge,sink"
            rate = "48000\nausrc_channels\t\t2"  # ausine only does 48 kHz stereo
        listen = f"[::1]:{self.sip_port}" if self.ipv6 else f"{LOOPBACK}:{self.sip_port}"
        # DTLS-SRTP only where a test asks for it: the module makes a certificate at start.
        dtls = "module\t\t\tdtls_srtp.so\n" if self.mediaenc.startswith("dtls") else ""
        recorder = "module\t\t\tsndfile.so\n" if self.record else ""
        config = f"""poll_method\t\tepoll
sip_listen\t\t{listen}
net_interface\t\t{self.host}
dns_server\t\t{LOOPBACK}:53
call_local_timeout\t120
call_max_calls\t\t4
audio_player\t\t{player}
audio_alert\t\taubridge,alert
audio_source\t\t{source}
ausrc_srate\t\t{rate}
audio_buffer\t\t20-160
audio_level\t\tno
rtp_ports\t\t{self.rtp_ports[0]}-{self.rtp_ports[1]}
rtp_timeout\t\t0
rtcp_mux\t\tno
jitter_buffer_delay\t1-10
rtp_stats\t\tyes
module_path\t\t/usr/lib/baresip/modules
module\t\t\tg711.so
module\t\t\taubridge.so
module\t\t\tausine.so
module\t\t\taufile.so
{recorder}module\t\t\tsrtp.so
{dtls}module_tmp\t\tuuid.so
module_tmp\t\taccount.so
module_app\t\tmenu.so
module_app\t\tctrl_tcp.so
module\t\t\tcons.so
ctrl_tcp_listen\t\t{LOOPBACK}:{self.ctrl_port}
cons_listen\t\t{LOOPBACK}:{self.cons_port}
snd_path\t\t{rec}
statmode_default\toff
ringback_disabled\tyes
"""
        if self.tls_certificate is not None:
            config += f"sip_certificate\t\t{self.tls_certificate}\n"
        modules = (*self.modules, "alsa") if self.alsa_device is not None else self.modules
        modules = (*modules, "g722") if "G722" in self.codecs.upper() else modules
        modules = (*modules, "opus") if "OPUS" in self.codecs.upper() else modules
        for module in modules:
            config += f"module\t\t\t{module}.so\n"
        (self.workdir / "config").write_text(config)
        common = f"answermode={self.answermode};audio_codecs={self.codecs};mwi=no"
        if self.mediaenc:
            common += f";mediaenc={self.mediaenc}"
        if self.registrar:
            account = (
                f"<sip:{self.user}@{self.registrar};transport=udp>;auth_pass={self.password};"
                f"{common};regint=600\n"
            )
        else:
            account = f"<{self.uri};transport=udp>;{common};regint=0\n"
        (self.workdir / "accounts").write_text(account)
        (self.workdir / "contacts").write_text("")

    def start(self) -> Baresip:
        baresip = require("baresip")
        self._write_config()
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [baresip, "-f", str(self.workdir), "-v"],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        try:
            sip_options_ping(self.sip_port, timeout=10, host=self.host)
            if self.registrar:
                self.wait_log(r"\{\d+/UDP/v[46]\} 200 OK", timeout=10)
        except PeerError as exc:
            self.stop()
            raise PeerError(f"{exc}\nbaresip log:\n{_log_tail(self.log)}") from None
        self.ctrl = BaresipControl(self.ctrl_port)
        return self

    def wait_log(self, pattern: str, timeout: float = 10) -> str:
        deadline = time.monotonic() + timeout
        rx = re.compile(pattern)
        while time.monotonic() < deadline:
            m = rx.search(self.log.read_text(errors="replace"))
            if m:
                return m.group(0)
            time.sleep(0.02)
        raise PeerError(f"baresip log never matched {pattern!r}:\n{_log_tail(self.log)}")

    def received_wavs(self) -> list[Path]:
        return sorted((self.workdir / "rec").glob("dump-*-dec.wav"))

    def stop(self) -> None:
        ctrl = getattr(self, "ctrl", None)
        if ctrl is not None:
            ctrl.close()
        if self.proc is not None:
            _stop(self.proc, timeout=5)


@dataclass
class Sipp:
    """One SIPp 3.6 scenario run (``peers/*.xml``), with its cwd holding the tone files."""

    workdir: Path
    scenario: str
    args: list[str]
    port: int = 0
    media_port: int = 0
    proc: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port(both=True)
        self.media_port = self.media_port or free_port_range(4)[0]
        for tone in PEERS.glob("*.pcmu"):
            target = self.workdir / tone.name
            if not target.exists():
                target.symlink_to(tone)

    def start(self) -> Sipp:
        sipp = require("sipp")
        name = Path(self.scenario).stem
        cmd = [
            sipp,
            *self.args,
            "-sf",
            str(PEERS / self.scenario),
            "-i",
            LOOPBACK,
            "-mi",
            LOOPBACK,
            "-p",
            str(self.port),
            "-mp",
            str(self.media_port),
            "-m",
            "1",
            "-nostdin",
            "-trace_err",
            "-error_file",
            str(self.workdir / f"{name}.errors"),
            "-message_file",
            str(self.workdir / f"{name}.messages"),
            "-trace_msg",
        ]
        self.out = self.workdir / f"{name}.out"
        with self.out.open("ab") as out:
            self.proc = subprocess.Popen(
                cmd,
                cwd=self.workdir,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        return self

    def wait(self, timeout: float = 30) -> int:
        assert self.proc is not None
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _stop(self.proc)
            raise PeerError(f"sipp {self.scenario} did not finish:\n{self.report()}") from None

    def report(self) -> str:
        name = Path(self.scenario).stem
        parts = []
        for suffix in ("errors", "messages"):
            p = self.workdir / f"{name}.{suffix}"
            if p.exists():
                parts.append(f"--- {p.name}\n{_log_tail(p, 80)}")
        return "\n".join(parts)

    def stop(self) -> None:
        if self.proc is not None:
            _stop(self.proc)


@dataclass
class Dnsmasq:
    """dnsmasq as an authoritative-enough DNS server on 127.0.0.1:``port`` for the RFC 3263
    tests: only the records given here, under ``.test`` (no upstream, no /etc/hosts, no
    resolv.conf), so a query never leaves the machine. ``srv``: (name, target, port,
    priority, weight); ``hosts``: (name, address); ``naptr``: (name, order, preference,
    flags, service, replacement)."""

    workdir: Path
    srv: tuple[tuple[str, str, int, int, int], ...] = ()
    hosts: tuple[tuple[str, str], ...] = ()
    naptr: tuple[tuple[str, int, int, str, str, str], ...] = ()
    ttl: int = 30
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.log = self.workdir / "dnsmasq.log"
        self.port = self.port or free_port(both=True)

    def start(self) -> Dnsmasq:
        args = [
            require("dnsmasq"),
            "--no-daemon",
            "--conf-file=/dev/null",
            "--no-resolv",
            "--no-hosts",
            "--no-poll",
            "--bind-interfaces",
            f"--listen-address={LOOPBACK}",
            f"--port={self.port}",
            f"--local-ttl={self.ttl}",
            f"--pid-file={self.workdir / 'dnsmasq.pid'}",
            "--log-queries",
            "--log-facility=-",
            # Answer for .test from the records here alone: a name or type not given is
            # NXDOMAIN/NODATA, as from a real zone, not REFUSED for want of an upstream.
            "--local=/test/",
        ]
        args += [f"--srv-host={n},{t},{p},{prio},{w}" for n, t, p, prio, w in self.srv]
        args += [f"--host-record={n},{a}" for n, a in self.hosts]
        args += [
            f"--naptr-record={n},{o},{pref},{flags},{service},,{repl}"
            for n, o, pref, flags, service, repl in self.naptr
        ]
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                args,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + 10
        while "started, version" not in self.log.read_text(errors="replace"):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise PeerError(f"dnsmasq did not start:\n{_log_tail(self.log)}")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        if self.proc is not None:
            _stop(self.proc)


@contextlib.contextmanager
def running(peer: Any) -> Iterator[Any]:
    """``with running(Kamailio(tmp)) as k:`` starts the peer and always stops it."""
    try:
        yield peer.start()
    finally:
        peer.stop()
