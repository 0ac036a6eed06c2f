"""The attacker's side of the security tests: raw SIP from other loopback addresses.

Everything here is written with raw bytes and sockets on purpose: an attacker does not use our
parser, and the harness must not depend on the code under test. Sources are 127.0.0.2 and up
(all of 127.0.0.0/8 is loopback on Linux, so "spoofed" sources need no privilege), the target is
the real ``sip-endpoint run`` process on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import json
import random
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.certs import Authority
from tests.interop.door import ctl
from tests.service.harness import NotifySocket, Service

TARGET = "127.0.0.1"
CLI = [sys.executable, "-m", "endpoint"]


def request(
    method: str,
    port: int,
    *,
    source: tuple[str, int],
    transport: str = "UDP",
    call_id: str | None = None,
    from_: str | None = None,
    to: str | None = None,
    cseq: int = 1,
    headers: tuple[str, ...] = (),
    body: bytes = b"",
    content_length: str | None = None,
    drop: tuple[str, ...] = (),
) -> bytes:
    """One request as bytes; ``drop`` leaves out the named header fields."""
    branch = f"z9hG4bK{random.getrandbits(64):016x}"
    rows = {
        "Via": f"SIP/2.0/{transport} {source[0]}:{source[1]};rport;branch={branch}",
        "Max-Forwards": "70",
        "From": from_ or f"<sip:attacker@{source[0]}>;tag={random.getrandbits(32):x}",
        "To": to or f"<sip:door@{TARGET}:{port}>",
        "Call-ID": call_id or f"{random.getrandbits(64):x}@{source[0]}",
        "CSeq": f"{cseq} {method}",
        "Contact": f"<sip:attacker@{source[0]}:{source[1]}>",
    }
    lines = [f"{method} sip:door@{TARGET}:{port} SIP/2.0"]
    lines += [f"{k}: {v}" for k, v in rows.items() if k not in drop]
    lines += list(headers)
    length = str(len(body)) if content_length is None else content_length
    lines.append(f"Content-Length: {length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def status_of(data: bytes) -> int:
    m = re.match(rb"SIP/2\.0 (\d{3}) ", data)
    return int(m.group(1)) if m else 0


class UdpAttacker:
    """A UDP socket on ``host`` (127.0.0.2 ...) talking to the endpoint."""

    def __init__(self, host: str, port: int) -> None:
        self.port = port
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, 0))
        self.address: tuple[str, int] = self.sock.getsockname()
        #: RTP sockets of calls placed from here: closed with this one, whatever failed.
        self.owned: list[socket.socket] = []

    def close(self) -> None:
        for sock in self.owned:
            sock.close()
        self.sock.close()

    def send(self, data: bytes) -> None:
        self.sock.sendto(data, (TARGET, self.port))

    def final(self, data: bytes, timeout: float = 2.0) -> bytes | None:
        """Send ``data``; the first final (>= 200) response to it, or None if none came."""
        call_id = re.search(rb"\r\nCall-ID: ([^\r]+)", data)
        self.send(data)
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            self.sock.settimeout(left)
            try:
                answer = self.sock.recv(65535)
            except TimeoutError:
                return None
            same = call_id is None or call_id.group(1) in answer
            if same and status_of(answer) >= 200:
                return answer
        return None

    def drain(self, timeout: float = 0.3) -> list[bytes]:
        """Everything that arrives within ``timeout``."""
        out: list[bytes] = []
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            self.sock.settimeout(left)
            try:
                out.append(self.sock.recv(65535))
            except TimeoutError:
                break
        return out


class TcpAttacker:
    """One TCP connection from ``host`` to the endpoint, with Content-Length framing."""

    def __init__(self, host: str, port: int, timeout: float = 5.0) -> None:
        self.sock = socket.create_connection((TARGET, port), timeout, source_address=(host, 0))
        self.address: tuple[str, int] = self.sock.getsockname()
        self._buffer = b""

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def read_message(self, timeout: float = 2.0) -> bytes | None:
        deadline = time.monotonic() + timeout
        while True:
            head_end = self._buffer.find(b"\r\n\r\n")
            if head_end >= 0:
                m = re.search(rb"\r\n(?:Content-Length|l): *(\d+)", self._buffer[:head_end], re.I)
                total = head_end + 4 + (int(m.group(1)) if m else 0)
                if len(self._buffer) >= total:
                    message, self._buffer = self._buffer[:total], self._buffer[total:]
                    return message
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                return None
            if not chunk:
                return None
            self._buffer += chunk

    def closed_by_peer(self, timeout: float = 2.0) -> bool:
        """True if the endpoint closes (or resets) the connection within ``timeout``."""
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(65536) == b""
        except (ConnectionResetError, BrokenPipeError):
            return True
        except TimeoutError:
            return False


def door_config(
    path: Path,
    port: int,
    *,
    registrar: str | None = None,
    sip: str = "",
    account: str = "",
    calls: str = "",
    backend: str = "null",
    extra: str = "",
) -> None:
    """The one config file the security tests and benchmarks start the door with.

    It listens on 127.0.0.1:``port``, auto-answers and has its control socket beside ``path``.
    ``registrar`` (a SIP URI) adds an ``[account]`` (user "door", password "secret"); ``sip``,
    ``account`` and ``calls`` are further lines of those sections, ``extra`` further sections.
    """
    text = f'[sip]\nlisten = "127.0.0.1:{port}"\n{sip}'
    if registrar is not None:
        text += f'[account]\nregistrar = "{registrar}"\nuser = "door"\npassword = "secret"\n'
        text += account
    path.write_text(
        f"{text}[calls]\nauto_answer = true\n{calls}"
        f'[audio]\nbackend = "{backend}"\n[control]\nsocket = "{path.parent / "ctl.sock"}"\n'
        f'[log]\nlevel = "info"\n{extra}'
    )


def p2p_config(path: Path, port: int, extra: str = "") -> None:
    """Peer-to-peer mode: anyone may call, auto-answer on (a door without a PBX)."""
    door_config(path, port, extra=extra)


def p2p_tls_config(path: Path, port: int) -> Path:
    """Peer-to-peer mode with a TLS listener on ``port``: its certificate for 127.0.0.1 is
    issued by a test CA made beside ``path``. Returns that CA's certificate, for the clients."""
    ca = Authority(path.parent / "pki")
    ours = ca.issue("door", ("127.0.0.1",))
    door_config(
        path,
        port,
        sip='transport = "tls"\n',
        extra=f'[tls]\ncert_file = "{ours.cert}"\nkey_file = "{ours.key}"\n',
    )
    return ca.files.cert


def account_config(path: Path, port: int, registrar_port: int, extra: str = "") -> None:
    """Account mode at the registrar on 127.0.0.1:``registrar_port``, re-registering every 60 s."""
    registrar = f"sip:127.0.0.1:{registrar_port}"
    door_config(path, port, registrar=registrar, account="expires = 60\n", extra=extra)


@dataclass
class Door:
    """The real ``sip-endpoint run`` under a notify socket, with its control socket."""

    workdir: Path
    port: int
    service: Service
    notify: NotifySocket
    _log_mark: int = field(default=0)

    def ctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        return ctl(self.workdir / "ctl.sock", *args)

    def status(self) -> dict[str, object]:
        out = self.ctl("status", "--json")
        assert out.returncode == 0, out.stderr
        answer: dict[str, object] = json.loads(out.stdout)
        return answer

    @property
    def log(self) -> str:
        return self.service.log

    def alive(self) -> bool:
        return self.service.proc.poll() is None

    def wait_until(self, check: Callable[[], bool], timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            assert time.monotonic() < deadline, "condition never became true"
            time.sleep(0.1)


@contextlib.contextmanager
def running_door(workdir: Path, port: int, config: Path) -> Iterator[Door]:
    notify = NotifySocket(workdir / "notify")
    service = Service(config, notify)
    try:
        notify.wait_for(lambda d: d.get("READY") == "1", timeout=20)
        yield Door(workdir, port, service, notify)
    finally:
        service.stop()
        notify.close()
        notify.path.unlink(missing_ok=True)  # the door may be started again in the same test


def sdp_offer(host: str, rtp_port: int) -> bytes:
    return (
        f"v=0\r\no=- 1 1 IN IP4 {host}\r\ns=-\r\nc=IN IP4 {host}\r\nt=0 0\r\n"
        f"m=audio {rtp_port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n"
        "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=sendrecv\r\n"
    ).encode()


@dataclass
class CallLeg:
    """An answered call the test placed: what an in-dialog request needs."""

    call_id: str
    from_tag: str
    to_tag: str
    rtp: socket.socket

    def close(self) -> None:
        self.rtp.close()


def header(data: bytes, name: str) -> str:
    m = re.search(rb"\r\n" + name.encode() + rb": *([^\r]+)", data, re.I)
    return m.group(1).decode() if m else ""


def place_call(caller: UdpAttacker, timeout: float = 5.0) -> CallLeg:
    """INVITE the door from ``caller``'s address, wait for its 200 OK, ACK it."""
    host = caller.address[0]
    rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rtp.bind((host, 0))
    rtp.setblocking(False)
    caller.owned.append(rtp)
    from_tag = f"{random.getrandbits(32):x}"
    call_id = f"{random.getrandbits(64):x}@{host}"
    body = sdp_offer(host, rtp.getsockname()[1])
    invite = request(
        "INVITE",
        caller.port,
        source=caller.address,
        call_id=call_id,
        from_=f"<sip:caller@{host}>;tag={from_tag}",
        headers=("Content-Type: application/sdp",),
        body=body,
    )
    ok = caller.final(invite, timeout)
    assert ok is not None and status_of(ok) == 200, ok
    to_tag = re.search(r";tag=([^;>\s]+)", header(ok, "To"))
    assert to_tag is not None
    ack = in_dialog("ACK", caller, CallLeg(call_id, from_tag, to_tag.group(1), rtp), cseq=1)
    caller.send(ack)
    return CallLeg(call_id, from_tag, to_tag.group(1), rtp)


def in_dialog(
    method: str,
    sender: UdpAttacker,
    leg: CallLeg,
    *,
    cseq: int = 2,
    from_tag: str | None = None,
    to_tag: str | None = None,
    headers: tuple[str, ...] = (),
    body: bytes = b"",
) -> bytes:
    """A request inside ``leg``'s dialog as the caller would send it, from ``sender``."""
    return request(
        method,
        sender.port,
        source=sender.address,
        call_id=leg.call_id,
        from_=f"<sip:caller@{sender.address[0]}>;tag={from_tag or leg.from_tag}",
        to=f"<sip:door@{TARGET}:{sender.port}>;tag={to_tag or leg.to_tag}",
        cseq=cseq,
        headers=headers,
        body=body,
    )
