"""What systemd holds for a service, owned by the test: the notify socket, and the process.

``NotifySocket`` is the Unix datagram socket systemd passes as ``NOTIFY_SOCKET``; it records
every datagram as a dict of its ``KEY=VALUE`` lines. ``Service`` starts the real
``sip-endpoint run`` (the venv's entry point, as the unit does) with that socket and a watchdog
interval, its log going to a file the test reads.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ENTRY_POINT = Path(sys.executable).with_name("sip-endpoint")

Datagram = dict[str, str]


class NotifySocket:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.received: list[Datagram] = []
        self._times: list[float] = []

    def close(self) -> None:
        self.sock.close()

    def _read(self, timeout: float) -> bool:
        self.sock.settimeout(max(timeout, 0.001))
        try:
            data = self.sock.recv(4096)
        except TimeoutError:
            return False
        fields = dict(line.split("=", 1) for line in data.decode().splitlines() if "=" in line)
        self.received.append(fields)
        self._times.append(time.monotonic())
        return True

    def wait_for(
        self, check: Callable[[Datagram], bool], timeout: float = 10.0, since: int = 0
    ) -> Datagram:
        """The first datagram from number ``since`` on (received already or arriving within
        ``timeout``) that passes ``check``."""
        seen = since
        deadline = time.monotonic() + timeout
        while True:
            for datagram in self.received[seen:]:
                if check(datagram):
                    return datagram
            seen = len(self.received)
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no matching notify datagram; got {self.received}")
            self._read(left)

    def collect(self, seconds: float) -> list[Datagram]:
        """Everything that arrives in the next ``seconds`` (bounded by the clock, not a sleep)."""
        start = len(self.received)
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            self._read(left)
        return self.received[start:]

    def count(self, key: str, since: int = 0) -> int:
        return sum(1 for d in self.received[since:] if key in d)


class Service:
    """``sip-endpoint run --config FILE`` as systemd would start it."""

    def __init__(
        self,
        config: Path,
        notify: NotifySocket,
        *,
        watchdog_usec: int = 1_000_000,
        journal_stream: bool = False,
    ) -> None:
        self.log_path = config.with_suffix(".log")
        env = {
            **os.environ,
            "NOTIFY_SOCKET": str(notify.path),
            "WATCHDOG_USEC": str(watchdog_usec),
        }
        if not journal_stream:
            env.pop("JOURNAL_STREAM", None)
        with self.log_path.open("a") as log:
            self.proc = subprocess.Popen(
                [str(ENTRY_POINT), "run", "--config", str(config)],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=log,
                stdin=subprocess.DEVNULL,
            )

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_log(self, text: str, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.log:
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise AssertionError(f"log never showed {text!r}:\n{self.log}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=10)
