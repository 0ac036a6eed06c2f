"""Floods against the real ``sip-endpoint run`` during a call (issue 13), each from 127.0.0.2:
OPTIONS, INVITE (new Call-IDs, never ACKed), garbage datagrams, and idle plus slow TCP
connections; ``none`` is the control (the same call, no flood: the loaded machine's own
noise, to read the others against). A second into each flood a caller on 127.0.0.3 places a
call and holds it while the flood lasts, and a third party on 127.0.0.4 sends OPTIONS once a
second. Prints, per flood: the flooder's send rate and the answers it got, how long the
caller's INVITE took to its 200 during the flood and another one's after it, the third
party's worst OPTIONS round trip, the RTP pacing of the door towards the caller (deviation of
inter-arrival times from the packet time, by the kernel's receive timestamps: p50/p99/max),
the load average, the RSS growth of the process, and whether the caller's BYE was answered
200 afterwards. Asserts nothing.

    .venv/bin/python benchmarks/bench_flood.py [--seconds 20] [--mode p2p|account]

Account mode registers at a real Kamailio on 127.0.0.1 (tests/interop/peers.py); the call then
comes from an accept_from address (127.0.0.3) and the third party is one too (127.0.0.4).
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import multiprocessing as mp
import os
import random
import socket
import struct
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.interop.peers import Kamailio, free_port
from tests.security.attacker import (
    CallLeg,
    Door,
    UdpAttacker,
    door_config,
    in_dialog,
    place_call,
    request,
    running_door,
    sdp_offer,
    status_of,
)

FLOODER = "127.0.0.2"
#: Linux's SO_TIMESTAMPNS (asm-generic/socket.h; the socket module does not name it).
SO_TIMESTAMPNS = 35


def _flood(kind: str, port: int, rate: int, seconds: float, out: mp.Queue) -> None:  # type: ignore[type-arg]
    """Runs in its own process: send ``rate`` datagrams a second for ``seconds``."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((FLOODER, 0))
    sock.setblocking(False)
    source = sock.getsockname()
    rng = random.Random(7)
    sent = answers = 0
    start = time.monotonic()
    n = 0
    while (now := time.monotonic()) - start < seconds:
        due = int((now - start) * rate)
        while n < due:
            n += 1
            if kind == "options":
                data = request("OPTIONS", port, source=source, cseq=n)
            elif kind == "invite":
                data = request(
                    "INVITE",
                    port,
                    source=source,
                    headers=("Content-Type: application/sdp",),
                    body=sdp_offer(FLOODER, 40000),
                )
            else:
                data = rng.randbytes(rng.randrange(1, 1400))
            with contextlib.suppress(OSError):
                sock.sendto(data, ("127.0.0.1", port))
                sent += 1
        with contextlib.suppress(OSError):
            while sock.recv(65535):
                answers += 1
        time.sleep(0.002)
    out.put((sent, answers))


def _tcp_flood(port: int, seconds: float, out: mp.Queue) -> None:  # type: ignore[type-arg]
    """200 idle and 64 slow (a byte a second) connections from many loopback sources."""
    idle: list[socket.socket] = []
    slow: list[socket.socket] = []
    refused = 0
    for k in range(264):
        try:
            s = socket.create_connection(
                ("127.0.0.1", port), 2, source_address=(f"127.0.4.{2 + k % 250}", 0)
            )
        except OSError:
            refused += 1
            continue
        (idle if k < 200 else slow).append(s)
    opened = len(idle) + len(slow)
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        for s in slow:
            with contextlib.suppress(OSError):
                s.send(b"O")
        time.sleep(1.0)
    alive = 0
    for s in idle + slow:
        s.setblocking(False)
        try:
            alive += int(s.recv(1) != b"")
        except BlockingIOError:
            alive += 1
        except OSError:
            pass
        s.close()
    out.put((opened, refused, alive))


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def pacing(
    rtp: socket.socket, seconds: float, third: UdpAttacker, port: int
) -> tuple[list[float], float]:
    """Inter-arrival deviations (ms) of the door's RTP, and the worst OPTIONS round trip (ms)
    of the third party (its own thread, once a second), over ``seconds``."""
    worst = [0.0]
    stop = threading.Event()

    def probe() -> None:
        while not stop.wait(1.0):
            t0 = time.monotonic()
            answer = third.final(request("OPTIONS", port, source=third.address), timeout=2.0)
            ok = answer is not None and status_of(answer) == 200
            worst[0] = max(worst[0], (time.monotonic() - t0) * 1000 if ok else 9e9)

    prober = threading.Thread(target=probe, daemon=True)
    prober.start()
    rtp.setblocking(True)
    rtp.settimeout(0.1)
    # The kernel's receive time of each packet (SO_TIMESTAMPNS), not the time this process
    # got round to reading it: on a loaded machine the receiver's own scheduling delay would
    # otherwise be counted against the door.
    rtp.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    arrivals: list[float] = []
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        with contextlib.suppress(TimeoutError, OSError):
            _, ancillary, _, _ = rtp.recvmsg(2048, socket.CMSG_SPACE(16))
            for level, kind, data in ancillary:
                if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                    sec, nsec = struct.unpack("qq", data[:16])
                    arrivals.append(sec + nsec / 1e9)
    stop.set()
    prober.join()
    gaps = [(b - a) * 1000 - 20.0 for a, b in itertools.pairwise(arrivals)]
    return [abs(g) for g in gaps], worst[0]


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def one_flood(door: Door, kind: str, seconds: float) -> None:
    caller = UdpAttacker("127.0.0.3", door.port)
    third = UdpAttacker("127.0.0.4", door.port)
    rss_before = rss_kb(door.service.proc.pid)
    out: mp.Queue = mp.Queue()  # type: ignore[type-arg]
    rates = {"options": 2000, "invite": 500, "garbage": 5000}
    if kind == "tcp":
        proc = mp.Process(target=_tcp_flood, args=(door.port, seconds, out))
    elif kind == "none":  # the control: the same call and prober, no flood
        proc = mp.Process(target=out.put, args=((0, 0),))
    else:
        proc = mp.Process(target=_flood, args=(kind, door.port, rates[kind], seconds, out))
    proc.start()
    time.sleep(1.0)  # the flood is at full rate before the call is placed
    during_ms, leg = timed_call(caller)
    deviations, worst = pacing(leg.rtp, max(1.0, seconds - 1.5), third, door.port)
    proc.join()
    result = out.get()
    rss_after = rss_kb(door.service.proc.pid)
    bye = caller.final(in_dialog("BYE", caller, leg, cseq=3), timeout=2.0)
    leg.close()
    after_ms, after = timed_call(caller)
    caller.final(in_dialog("BYE", caller, after, cseq=3), timeout=2.0)
    after.close()
    if kind == "tcp":
        opened, refused, alive = result
        flood_text = f"TCP: {opened} opened, {refused} refused at connect, {alive} still open"
    elif kind == "none":
        flood_text = "no flood (the machine's own noise)"
    else:
        sent, answers = result
        flood_text = f"{sent / seconds:.0f}/s sent, {answers} answers to the flooder"
    print(
        f"{kind:8s} {flood_text}; caller's INVITE -> 200 during {during_ms:.1f} ms, "
        f"after {after_ms:.1f} ms; third-party OPTIONS worst {worst:.1f} ms; "
        f"RTP pacing |dev| p50 {percentile(deviations, 50):.2f} "
        f"p99 {percentile(deviations, 99):.2f} "
        f"max {max(deviations, default=float('nan')):.2f} ms over {len(deviations)} gaps; "
        f"RSS +{(rss_after - rss_before) / 1024:.1f} MB; load {os.getloadavg()[0]:.2f}; "
        f"BYE {status_of(bye) if bye else 'unanswered'}",
        flush=True,
    )
    caller.close()
    third.close()
    time.sleep(1.0)


def timed_call(caller: UdpAttacker) -> tuple[float, CallLeg]:
    """Place a call from ``caller``: milliseconds from the INVITE to its 200, and the leg."""
    t0 = time.monotonic()
    leg = place_call(caller)
    return (time.monotonic() - t0) * 1000, leg


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--mode", choices=("p2p", "account"), default="p2p")
    parser.add_argument(
        "--floods",
        default="options,invite,garbage,tcp",
        help="comma-separated: options, invite, garbage, tcp, none (a control without flood)",
    )
    parser.add_argument("--show-log", action="store_true", help="print the door's call lines")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        port = free_port(both=True)
        config = workdir / "door.toml"
        kamailio = None
        if args.mode == "account":
            kamailio = Kamailio(workdir / "kamailio").start()
            door_config(
                config,
                port,
                registrar=f"sip:127.0.0.1:{kamailio.port}",
                sip='accept_from = ["registrar", "127.0.0.3", "127.0.0.4"]\n',
                calls='allow = ["caller@127.0.0.3"]\n',
                backend="tone",
            )
        else:
            door_config(config, port, backend="tone")
        try:
            with running_door(workdir, port, config) as door:
                if kamailio is not None:
                    door.notify.wait_for(lambda d: d.get("STATUS", "").startswith("registered"), 20)
                print(
                    f"mode {args.mode}, {args.seconds:g} s per flood, RSS at start "
                    f"{rss_kb(door.service.proc.pid) / 1024:.1f} MB"
                )
                for kind in args.floods.split(","):
                    one_flood(door, kind, args.seconds)
                if args.show_log:
                    print("\n".join(x for x in door.log.splitlines() if "call" in x))
                print(
                    f"tracebacks in the log: {door.log.count('Traceback')}; "
                    f"status: {door.status().get('transactions')} transactions"
                )
        finally:
            if kamailio is not None:
                kamailio.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
