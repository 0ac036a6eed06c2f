"""User-agent latencies: auto-answer (INVITE sent -> 200 OK received) and start -> registered.

Both measure the real ``sip-endpoint run`` process on 127.0.0.1:
- auto-answer: a plain UDP client sends INVITE (with a PCMU offer), waits for the 200 OK, then
  ACKs and BYEs, ``--calls`` times; the time includes the 180, the RTP socket allocation and the
  SDP answer. Goal: < 2 ms. The first and the second call are also printed on their own: the
  first one loads the call path and starts the media thread (issue 19), the second finds them.
- start -> registered: from spawning the process to its "registered" log line, with a real
  Kamailio challenging the REGISTER (401, digest), ``--starts`` times. Goal: < 1 s.
- the same over TLS (Kamailio's tls module, a test CA made here): start -> registered, and
  "listening" -> "registered" (TCP connect + TLS handshake + REGISTER, 401, REGISTER, 200).

Run: .venv/bin/python benchmarks/bench_ua_latency.py [--calls 50] [--starts 5] [--answer-only]
"""

from __future__ import annotations

import argparse
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.certs import Authority
from tests.interop.peers import Kamailio, free_port

CLI = [sys.executable, "-m", "endpoint"]
SDP = (
    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    "m=audio 9 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
)


def request(method: str, port: int, my_port: int, n: int, to_tag: str = "") -> bytes:
    body = SDP if method == "INVITE" else ""
    to = f"<sip:door@127.0.0.1:{port}>" + (f";tag={to_tag}" if to_tag else "")
    cseq = 2 if method == "BYE" else 1
    return (
        f"{method} sip:door@127.0.0.1:{port} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:{my_port};branch=z9hG4bK{method}{n}\r\n"
        f"From: <sip:bench@127.0.0.1:{my_port}>;tag=b{n}\r\nTo: {to}\r\n"
        f"Call-ID: bench-{n}@127.0.0.1\r\nCSeq: {cseq} {method}\r\nMax-Forwards: 70\r\n"
        f"Contact: <sip:bench@127.0.0.1:{my_port}>\r\n"
        + ("Content-Type: application/sdp\r\n" if body else "")
        + f"Content-Length: {len(body)}\r\n\r\n{body}"
    ).encode()


def auto_answer(calls: int, work: Path, trying: list[float] | None = None) -> list[float]:
    port = free_port(both=True)
    config = work / "door.toml"
    config.write_text(
        f'[sip]\nlisten = "127.0.0.1:{port}"\n[audio]\nbackend = "null"\n'
        f'[control]\nsocket = "{work / "ctl.sock"}"\n[log]\nlevel = "warning"\n'
    )
    proc = subprocess.Popen([*CLI, "run", "--config", str(config)], stderr=subprocess.DEVNULL)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(5)
    my_port = sock.getsockname()[1]
    latencies = []
    try:
        deadline = time.monotonic() + 10
        while not (work / "ctl.sock").exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        for n in range(calls):
            start = time.perf_counter()
            sock.sendto(request("INVITE", port, my_port, n), ("127.0.0.1", port))
            first = True
            while True:
                data = sock.recv(65535)
                if first and trying is not None:
                    trying.append((time.perf_counter() - start) * 1000)  # the 100 Trying
                first = False
                if data.startswith(b"SIP/2.0 200"):
                    latencies.append((time.perf_counter() - start) * 1000)
                    break
            tag = data.split(b"To: ", 1)[1].split(b"tag=", 1)[1].split(b"\r\n", 1)[0].decode()
            sock.sendto(request("ACK", port, my_port, n, tag), ("127.0.0.1", port))
            sock.sendto(request("BYE", port, my_port, n, tag), ("127.0.0.1", port))
            while b"CSeq: 2 BYE" not in sock.recv(65535):  # wait for the BYE's 200
                pass
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)
        sock.close()
    return latencies


def registration(
    starts: int, work: Path, *, tls: bool = False, after_listen: list[float] | None = None
) -> list[float]:
    name = "tls" if tls else "udp"
    registrar = ""
    tls_keys = ""
    if tls:
        ca = Authority(work / "pki")
        server = ca.issue("kamailio", ("localhost",))
        kamailio = Kamailio(work / f"kamailio-{name}", tls=(server.cert, server.key)).start()
        registrar = f"sip:localhost:{kamailio.tls_port};transport=tls"
        tls_keys = f'transport = "tls"\n[tls]\nca_file = "{ca.files.cert}"\n'
    else:
        kamailio = Kamailio(work / f"kamailio-{name}").start()
        registrar = f"sip:127.0.0.1:{kamailio.port}"
    times = []
    try:
        for i in range(starts):
            port = free_port(both=True)
            config = work / f"reg-{name}{i}.toml"
            config.write_text(
                f'[sip]\nlisten = "127.0.0.1:{port}"\n{tls_keys}[account]\n'
                f'registrar = "{registrar}"\nuser = "door"\npassword = "secret"\n'
                f'[audio]\nbackend = "null"\n[control]\nsocket = "{work / f"reg{name}{i}.sock"}"\n'
            )
            start = time.perf_counter()
            listening = start
            proc = subprocess.Popen(
                [*CLI, "run", "--config", str(config)], stderr=subprocess.PIPE, text=True
            )
            assert proc.stderr is not None
            for line in proc.stderr:
                if " listening on " in line:
                    listening = time.perf_counter()
                if " registered " in line:
                    now = time.perf_counter()
                    times.append((now - start) * 1000)
                    if after_listen is not None:
                        after_listen.append((now - listening) * 1000)
                    break
            proc.send_signal(signal.SIGTERM)
            proc.wait(10)
            proc.stderr.close()
    finally:
        kamailio.stop()
    return times


def describe(name: str, values: list[float]) -> None:
    ordered = sorted(values)
    p99 = ordered[int(0.99 * (len(ordered) - 1))]
    print(
        f"{name}: n={len(values)} median {statistics.median(values):.2f} ms, "
        f"p99 {p99:.2f} ms, max {ordered[-1]:.2f} ms"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--calls", type=int, default=50)
    ap.add_argument("--starts", type=int, default=5)
    ap.add_argument("--answer-only", action="store_true", help="skip the registration starts")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-ua-"))
    trying: list[float] = []
    answers = auto_answer(max(args.calls, 2), work, trying)
    print(
        f"auto-answer of the first call (loads the call path) {answers[0]:.2f} ms "
        f"(its first response {trying[0]:.2f} ms), of the second {answers[1]:.2f} ms "
        f"(first response {trying[1]:.2f} ms)"
    )
    describe("auto-answer, INVITE sent -> 200 OK received", answers)
    if args.answer_only:
        return
    describe("start -> registered (401 + digest, Kamailio)", registration(args.starts, work))
    after_listen: list[float] = []
    describe(
        "start -> registered over TLS (Kamailio tls)",
        registration(args.starts, work, tls=True, after_listen=after_listen),
    )
    describe(
        "listening -> registered over TLS (connect + handshake + 401 + REGISTER)", after_listen
    )


if __name__ == "__main__":
    main()
