"""The pieces of the peer x scenario matrix (``test_matrix.py``): our endpoint as one long-lived
``sip-endpoint run`` process, the peers behind one small driver interface, the audio checks,
and the table of results.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from tests.interop.door import account, ctl, read_wav, tone_share, tone_wav, wait_registered
from tests.interop.peers import Baresip, Kamailio, PeerError, free_port
from tests.interop.pjsua import Pjsua

CLI = [sys.executable, "-m", "endpoint"]
OUR_TONE = 440
PEER_TONE = 1000
PACKETS_PER_SECOND = 50  # 20 ms PCMU frames


class Endpoint:
    """``sip-endpoint run`` for a whole (peer, path) group; its log goes to a file (a pipe read
    only at the end would fill up and stall the process over dozens of calls)."""

    def __init__(self, tmp: Path, kamailio: Kamailio | None) -> None:
        self.tmp = tmp
        tmp.mkdir(parents=True, exist_ok=True)
        self.port = free_port(both=True)
        self.kamailio = kamailio
        tone_wav(tmp / "mic.wav", OUR_TONE, 20)
        self.config = tmp / "door.toml"
        self.auto_answer = True
        self._write_config()
        self.log_path = tmp / "endpoint.log"
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [*CLI, "run", "--config", str(self.config)],
                stdout=subprocess.DEVNULL,
                stderr=log,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + 15
        while not (tmp / "ctl.sock").exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise PeerError(f"sip-endpoint run did not start:\n{self.log}")
            time.sleep(0.05)
        if kamailio is not None:
            self.wait_registered()

    def _write_config(self) -> None:
        registration = ""
        if self.kamailio is not None:
            registration = account(f"sip:127.0.0.1:{self.kamailio.port}")
        self.config.write_text(
            f'[sip]\nlisten = "127.0.0.1:{self.port}"\n'
            f"[calls]\nauto_answer = {'true' if self.auto_answer else 'false'}\n"
            f'[audio]\nbackend = "file"\ninput_file = "{self.tmp / "mic.wav"}"\n'
            f'output_file = "{self.tmp / "heard.wav"}"\n'
            f'[control]\nsocket = "{self.tmp / "ctl.sock"}"\n' + registration
        )

    def set_auto_answer(self, value: bool) -> None:
        """Rewrite the file and reload (SIGHUP): ``[calls]`` applies from the next call on."""
        if value == self.auto_answer:
            return
        self.auto_answer = value
        mark = self.log.count("reload:")
        self._write_config()
        self.proc.send_signal(signal.SIGHUP)
        self.wait_log(lambda text: text.count("reload:") > mark, "a reload line")

    def wait_registered(self, timeout: float = 10) -> None:
        assert self.kamailio is not None
        if not wait_registered(self.kamailio, timeout):
            raise AssertionError(f"door never registered at Kamailio:\n{self.tail()}")

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.log.splitlines()[-lines:])

    def wait_log(self, check: Any, what: str, timeout: float = 10) -> str:
        deadline = time.monotonic() + timeout
        while True:
            text = self.log
            if check(text):
                return text
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise AssertionError(f"endpoint log never showed {what}:\n{self.tail()}")
            time.sleep(0.05)

    def mark(self) -> int:
        return len(self.log)

    def new_call_id(self, since: int, timeout: float = 10) -> str:
        """The Call-ID of the first call the log shows after ``since``."""
        pattern = re.compile(r"call-(?:incoming|outgoing) call_id=(\S+)")
        text = self.wait_log(lambda t: pattern.search(t, since), "a new call", timeout)
        m = pattern.search(text, since)
        assert m is not None
        return m.group(1)

    def report(self, call_id: str, timeout: float = 10) -> tuple[str, int, int]:
        """(reason, sent, received) of the call's end-of-call report."""
        pattern = re.compile(
            rf"call-report call_id={re.escape(call_id)} reason=(.*?) (?:PCMU|PCMA|no media)"
            r"(?: sent (\d+) recv (\d+))?"
        )
        text = self.wait_log(pattern.search, f"the report of {call_id}", timeout)
        m = pattern.search(text)
        assert m is not None
        return m.group(1), int(m.group(2) or 0), int(m.group(3) or 0)

    def dtmf_digits(self, call_id: str) -> str:
        return "".join(re.findall(rf"dtmf call_id={re.escape(call_id)} digit=(\S)", self.log))

    def ctl(self, *args: str) -> str:
        out = ctl(self.tmp / "ctl.sock", *args, timeout=15)
        if out.returncode != 0:
            raise AssertionError(f"ctl {' '.join(args)}: {out.stdout}{out.stderr}")
        return out.stdout

    def heard(self, call_id: str, timeout: float = 5) -> np.ndarray:
        """What the last call played to our speaker, once the writer has closed the file (kept
        as ``heard-CALLID.wav``: the next call overwrites ``heard.wav``)."""
        path = self.tmp / "heard.wav"
        deadline = time.monotonic() + timeout
        last = -1
        while time.monotonic() < deadline:
            try:
                with wave.open(str(path)) as w:
                    n = w.getnframes()
            except (OSError, EOFError, wave.Error):
                n = -1
            if n > 0 and n == last:
                kept = path.with_name(f"heard-{call_id}.wav")
                kept.write_bytes(path.read_bytes())
                return read_wav(kept)
            last = n
            time.sleep(0.2)
        raise AssertionError(f"{path} never settled")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


def tone_ok(audio: np.ndarray, hz: float, rate: int = 8000, seconds: float = 1.0) -> bool:
    """The last ``seconds`` (at most; at least half a second, the first quarter second left out)
    before the final 0.3 s hold the tone: in at least 60 % of its quarter seconds, ``hz`` is at
    least half the signal (windows, because a hold, a digit or a concealed loss breaks the
    phase; silence or the other side's tone scores about 0)."""
    step = rate // 4
    end = len(audio) - int(0.3 * rate)
    start = max(step, end - int(seconds * rate))
    if end - start < 2 * step:
        return False
    windows = [audio[i : i + step] for i in range(start, end - step + 1, step)]
    good = sum(1 for w in windows if tone_share(w, hz, rate) > 0.5)
    return bool(windows) and good >= 0.6 * len(windows)


class Driver(Protocol):
    """One peer as the scenarios drive it (PJSIP or baresip; SIPp runs a script per call)."""

    name: str

    @property
    def target(self) -> tuple[str, str]:
        """(the peer's own URI, its user name at the registrar) for ``ctl call``."""

    def dial(self, uri: str) -> None: ...
    def wait_established(self) -> None: ...
    def wait_incoming(self) -> None: ...
    def wait_ringing(self) -> None: ...
    def wait_closed(self) -> None: ...
    def hangup(self) -> None: ...
    def set_autoanswer(self, value: bool) -> None: ...
    def dtmf(self, digits: str, method: str) -> None: ...
    def received_dtmf(self, count: int) -> str: ...
    def hold(self) -> None: ...
    def resume(self) -> None: ...
    def reinvite(self) -> None: ...
    def refresh(self) -> None: ...
    def recording(self) -> tuple[np.ndarray, int]:
        """What the peer heard in its last call, and the sample rate."""

    def stop(self) -> None: ...


@dataclass
class PjsuaDriver:
    peer: Pjsua
    name: str = "pjsua"
    _recorded: Path | None = field(default=None, init=False)

    @property
    def target(self) -> tuple[str, str]:
        return self.peer.uri, self.peer.user

    def dial(self, uri: str) -> None:
        self.peer.command("call", uri=uri)

    def wait_established(self) -> None:
        self.peer.wait_state("CONFIRMED")

    def wait_incoming(self) -> None:
        self.peer.wait_event("incoming")

    def wait_ringing(self) -> None:
        self.peer.wait_state("EARLY")

    def wait_closed(self) -> None:
        self.peer.wait_state("DISCONNECTED")
        try:
            self._recorded = Path(self.peer.wait_event("recorded", timeout=3)["path"])
        except PeerError:
            self._recorded = None  # no media in that call

    def hangup(self) -> None:
        self.peer.command("hangup")

    def set_autoanswer(self, value: bool) -> None:
        self.peer.command("autoanswer", value=value)

    def dtmf(self, digits: str, method: str) -> None:
        if method == "rfc4733":
            self.peer.command("dtmf", digits=digits, method=method)
            return
        # One INFO per key press, at a person's pace. Given the whole string, pjsua sends its
        # INFOs as parallel transactions; Kamailio's worker processes may forward them in any
        # order, and the later CSeq that overtakes refuses the earlier one (RFC 3261 §12.2.2).
        for digit in digits:
            self.peer.command("dtmf", digits=digit, method=method)
            time.sleep(0.3)

    def received_dtmf(self, count: int) -> str:
        return "".join(self.peer.wait_event("dtmf")["digit"] for _ in range(count))

    def hold(self) -> None:
        self.peer.command("hold")
        self.peer.wait_event("media", status="local_hold")

    def resume(self) -> None:
        self.peer.command("unhold")
        self.peer.wait_event("media", status="active")

    def reinvite(self) -> None:
        self.peer.command("reinvite")
        self.peer.wait_event("media", status="active")

    def refresh(self) -> None:
        self.peer.command("update")

    def recording(self) -> tuple[np.ndarray, int]:
        assert self._recorded is not None, "pjsua recorded nothing"
        with wave.open(str(self._recorded)) as w:
            rate = w.getframerate()
        return read_wav(self._recorded), rate

    def stop(self) -> None:
        self.peer.stop()


@dataclass
class BaresipDriver:
    peer: Baresip
    name: str = "baresip"

    @property
    def target(self) -> tuple[str, str]:
        return self.peer.uri, self.peer.user

    def _event(self, kind: str, timeout: float = 10) -> dict[str, Any]:
        return self.peer.ctrl.wait_event(kind, timeout)

    def dial(self, uri: str) -> None:
        self.peer.ctrl.command("dial", uri)

    def wait_established(self) -> None:
        self._event("CALL_ESTABLISHED")

    def wait_incoming(self) -> None:
        self._event("CALL_INCOMING")

    def wait_ringing(self) -> None:
        self._event("CALL_RINGING")

    def wait_closed(self) -> None:
        self._event("CALL_CLOSED")

    def hangup(self) -> None:
        self.peer.ctrl.command("hangup")

    def set_autoanswer(self, value: bool) -> None:
        self.peer.ctrl.command("answermode", "auto" if value else "manual")

    def dtmf(self, digits: str, method: str) -> None:
        assert method == "rfc4733"
        for digit in digits:
            self.peer.ctrl.command("sndcode", digit)
            time.sleep(0.3)

    def received_dtmf(self, count: int) -> str:
        return "".join(str(self._event("CALL_DTMF_START").get("param")) for _ in range(count))

    def hold(self) -> None:
        self.peer.ctrl.command("hold")

    def resume(self) -> None:
        self.peer.ctrl.command("resume")

    def reinvite(self) -> None:
        self.peer.ctrl.command("reinvite")

    def refresh(self) -> None:
        raise AssertionError("baresip 1.0 has no session timers: the matrix marks this N/A")

    def recording(self) -> tuple[np.ndarray, int]:
        dumps = self.peer.received_wavs()
        assert dumps, "baresip recorded nothing"
        newest = max(dumps, key=lambda p: p.stat().st_mtime)
        with wave.open(str(newest)) as w:
            rate = w.getframerate()
        return read_wav(newest), rate

    def stop(self) -> None:
        self.peer.stop()


@dataclass
class Results:
    """peer/path -> scenario -> "pass" | "FAIL" | "N/A: why", filled as the tests run."""

    cells: dict[str, dict[str, str]] = field(default_factory=dict)

    def set(self, group: str, scenario: str, value: str) -> None:
        self.cells.setdefault(group, {})[scenario] = value

    def table(self, groups: list[str], scenarios: list[str], notes: dict[str, str]) -> str:
        lines = [
            "| scenario | " + " | ".join(groups) + " |",
            "| --- | " + " | ".join("---" for _ in groups) + " |",
        ]
        for s in scenarios:
            row = [self.cells.get(g, {}).get(s, "not run") for g in groups]
            lines.append(f"| {s} | " + " | ".join(row) + " |")
        if notes:
            lines += ["", "N/A cells:", ""]
            lines += [f"- {k}: {v}" for k, v in notes.items()]
        return "\n".join(lines) + "\n"


RESULTS = Results()


def report_path() -> Path | None:
    value = os.environ.get("MATRIX_REPORT")
    return Path(value) if value else None
