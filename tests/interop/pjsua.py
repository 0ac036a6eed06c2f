"""PJSIP as a test peer: ``tests/interop/pjsua_peer.py`` run by the peer venv's Python 3.11
(``.peers/pjsua-venv``, made by ``tests/interop/setup_pjsua_venv.sh``), started and stopped like
``Baresip`` and driven over line-JSON on its stdin/stdout.

Without that venv the tests that need PJSIP skip on a developer's machine that cannot have it
(no Python 3.11 or not x86_64), and fail in CI (``CI=true``), which must have it.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import subprocess
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pytest

from tests.interop.peers import (
    LOOPBACK,
    PeerError,
    _log_tail,
    _stop,
    free_port,
    free_port_range,
    running,
)

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).resolve().with_name("pjsua_peer.py")


def pjsua_python() -> Path | None:
    """The interpreter that has ``pjsua2``: ``$PJSUA_PYTHON`` or the peer venv's."""
    configured = os.environ.get("PJSUA_PYTHON")
    path = Path(configured) if configured else ROOT / ".peers" / "pjsua-venv" / "bin" / "python"
    return path if path.exists() else None


MISSING = (
    "the PJSIP peer needs .peers/pjsua-venv (Python 3.11 + pjsua2-python): "
    "run tests/interop/setup_pjsua_venv.sh (./setup.sh does)"
)


def require_pjsua() -> None:
    """Skip the calling test where the PJSIP peer cannot be had, fail it in CI (which must
    have it)."""
    if pjsua_python() is None:
        if os.environ.get("CI") == "true":
            pytest.fail(MISSING)
        pytest.skip(MISSING)


@contextlib.contextmanager
def caller_and_flat(tmp: Path, caller: str) -> Iterator[tuple[Pjsua, Pjsua]]:
    """Two PJSIP phones for the transfer tests: ``caller`` with a 1 kHz tone and the flat with
    700 Hz (so what each hears tells who it talks to); stopped at the end."""
    require_pjsua()
    with (
        running(Pjsua(tmp / caller, user=caller)) as first,
        running(Pjsua(tmp / "flat", user="flat", tone_hz=700)) as flat,
    ):
        yield first, flat


@dataclass
class Pjsua:
    """A PJSUA2 user agent process. ``registrar=None`` runs it peer-to-peer."""

    workdir: Path
    user: str = "alice"
    password: str = "alicepw"
    registrar: str | None = None
    tone_hz: int = 1000
    autoanswer: bool = True
    session_expires: int = 1800
    #: RFC 3262 mandatory: Require: 100rel on its INVITEs, its 18x sent reliably.
    require_100rel: bool = False
    sip_port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    log: Path = field(init=False)
    #: The last lines of PJSIP's console log, SIP messages included.
    sip_log: deque[str] = field(init=False, default_factory=lambda: deque(maxlen=20000))

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.log = self.workdir / "pjsua.log"
        self.sip_port = self.sip_port or free_port(both=True)
        self.rtp_port = free_port_range(40)[0]
        self._replies: queue.Queue[dict[str, Any]] = queue.Queue()
        self.events: list[dict[str, Any]] = []
        self._cond = threading.Condition()
        self._next_id = 0

    @property
    def uri(self) -> str:
        return f"sip:{self.user}@{LOOPBACK}:{self.sip_port}"

    def start(self) -> Pjsua:
        python = pjsua_python()
        if python is None:
            raise PeerError(MISSING)
        args = [
            str(python),
            str(SCRIPT),
            "--workdir",
            str(self.workdir),
            "--sip-port",
            str(self.sip_port),
            "--rtp-port",
            str(self.rtp_port),
            "--user",
            self.user,
            "--password",
            self.password,
            "--registrar",
            self.registrar or "",
            "--tone-hz",
            str(self.tone_hz),
            "--session-expires",
            str(self.session_expires),
        ]
        if not self.autoanswer:
            args.append("--no-autoanswer")
        if self.require_100rel:
            args.append("--100rel")
        with self.log.open("ab") as err:
            self.proc = subprocess.Popen(
                args,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
                start_new_session=True,
            )
        assert self.proc.stdout is not None
        self._reader = threading.Thread(target=self._read, args=(self.proc.stdout,), daemon=True)
        self._reader.start()
        try:
            self.wait_event("ready", timeout=15)
            if self.registrar:
                reg = self.wait_event("reg", timeout=10)
                if reg.get("code") != 200:
                    raise PeerError(f"pjsua registration answered {reg}")
        except PeerError as exc:
            self.stop()
            raise PeerError(f"{exc}\npjsua log:\n{_log_tail(self.log)}") from None
        return self

    def _read(self, stdout: IO[bytes]) -> None:
        for line in stdout:
            try:
                msg: dict[str, Any] = json.loads(line)
            except ValueError:
                # PJSIP's own log (``msgLogging``: every SIP message): kept for tests that
                # must see a header on the wire (RFC 3262's RSeq/RAck).
                self.sip_log.append(line.decode("utf-8", "replace").rstrip())
                continue
            if "event" in msg:
                with self._cond:
                    self.events.append(msg)
                    self._cond.notify_all()
            else:
                self._replies.put(msg)

    def command(self, cmd: str, timeout: float = 10, **params: Any) -> dict[str, Any]:
        """Send one command; its reply, or ``PeerError`` when PJSUA2 refused it."""
        if self.proc is None or self.proc.stdin is None:
            raise PeerError("pjsua is not running")
        self._next_id += 1
        ident = self._next_id
        self.proc.stdin.write(json.dumps({"id": ident, "cmd": cmd, **params}).encode() + b"\n")
        self.proc.stdin.flush()
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                reply = self._replies.get(timeout=left)
            except queue.Empty:
                break
            if reply.get("id") == ident:
                if not reply.get("ok"):
                    raise PeerError(f"pjsua {cmd}: {reply.get('error')}")
                return reply
        raise PeerError(f"pjsua did not answer {cmd!r}:\n{_log_tail(self.log)}")

    def wait_event(self, event: str, timeout: float = 10, **match: Any) -> dict[str, Any]:
        """The first not yet consumed event of kind ``event`` whose fields equal ``match``;
        it and everything before it are consumed."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for i, ev in enumerate(self.events):
                    if ev.get("event") == event and all(ev.get(k) == v for k, v in match.items()):
                        del self.events[: i + 1]
                        return ev
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc is not None and self.proc.poll() is not None):
                    seen = [(e.get("event"), e.get("state")) for e in self.events]
                    raise PeerError(f"pjsua: no {event} {match} within {timeout} s (saw {seen})")
                self._cond.wait(left)

    def wait_state(self, state: str, timeout: float = 10) -> dict[str, Any]:
        return self.wait_event("state", timeout, state=state)

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None and self.proc.stdin is not None:
            try:
                self.proc.stdin.close()  # end of input: the script hangs up and exits
                self.proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                pass
        _stop(self.proc, timeout=5)
        reader = getattr(self, "_reader", None)
        if reader is not None:
            reader.join(timeout=5)  # it ends at the pipe's end of file
        if self.proc.stdout is not None:
            self.proc.stdout.close()
