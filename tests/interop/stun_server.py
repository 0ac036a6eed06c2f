"""coturn (Debian's ``turnserver``) as a plain STUN server on a loopback address of its own."""

import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tests.interop.peers import _log_tail, _stop, free_port, require


@dataclass
class Coturn:
    """``turnserver --stun-only`` on ``host``:``port``, no TLS, no relay, no configuration file;
    its log goes to ``workdir/turnserver.log``."""

    workdir: Path
    host: str = "127.0.0.2"
    port: int = 0
    proc: "subprocess.Popen[bytes] | None" = None

    def start(self) -> "Coturn":
        turnserver = require("turnserver")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()
        self.log = self.workdir / "turnserver.log"
        cmd = [
            turnserver,
            "-n",  # no turnserver.conf
            "--stun-only",
            "--listening-ip",
            self.host,
            "--listening-port",
            str(self.port),
            "--no-cli",
            "--no-tls",
            "--no-dtls",
            "--userdb",
            str(self.workdir / "turndb"),
            "--pidfile",
            str(self.workdir / "turnserver.pid"),
            "--log-file",
            "stdout",
            "--simple-log",
        ]
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + 10
        while "Total General servers" not in self.log.read_text(errors="replace"):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"turnserver did not start:\n{_log_tail(self.log)}")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        if self.proc is not None:
            _stop(self.proc)
