"""What RFC 3262 costs the core: incoming call set-ups through the sans-IO user agent, plain
(INVITE -> 100, 180, 200) against reliable (INVITE with Require: 100rel -> 100, reliable 180,
PRACK -> 200, 200), with the bytes parsed as the runtime would. Prints microseconds per set-up.

Run: .venv/bin/python benchmarks/bench_prack.py [--calls 2000]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from endpoint.config import Config
from endpoint.sip import Response, parse
from endpoint.ua.agent import UserAgent
from endpoint.ua.registration import LocalAddress

PEER = ("192.0.2.50", 5060)
OFFER = (
    "v=0\r\no=- 1 1 IN IP4 192.0.2.50\r\ns=-\r\nc=IN IP4 192.0.2.50\r\nt=0 0\r\n"
    "m=audio 7000 RTP/AVP 0\r\n"
)


def invite(n: int, require: str) -> bytes:
    return (
        f"INVITE sip:door@192.0.2.5 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.50;branch=z9hG4bK{n}\r\n"
        f"From: <sip:flat@example.com>;tag=f{n}\r\nTo: <sip:door@example.com>\r\n"
        f"Call-ID: call{n}\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n{require}"
        f"Content-Type: application/sdp\r\nContent-Length: {len(OFFER)}\r\n\r\n{OFFER}"
    ).encode()


def prack(n: int, tag: str, rseq: str) -> bytes:
    return (
        f"PRACK sip:door@192.0.2.5 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.50;branch=z9hG4bKp{n}\r\n"
        f"From: <sip:flat@example.com>;tag=f{n}\r\nTo: <sip:door@example.com>;tag={tag}\r\n"
        f"Call-ID: call{n}\r\nCSeq: 2 PRACK\r\nRAck: {rseq} 1 INVITE\r\nMax-Forwards: 70\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()


def set_up(ua: UserAgent, n: int, reliable: bool, now: float) -> None:
    ua.receive(parse(invite(n, "Require: 100rel\r\n" if reliable else "")), PEER, "udp", now)  # type: ignore[arg-type]
    ringing = parse(ua.datagrams_to_send()[-1].data)
    assert isinstance(ringing, Response) and ringing.status == 180
    ua.call_actions()
    ua.media_ready(f"call{n}", 40000, now)
    if reliable:
        rseq = ringing.headers.get("RSeq") or ""
        ua.receive(parse(prack(n, ringing.to_addr.tag or "", rseq)), PEER, "udp", now)  # type: ignore[arg-type]
    final = parse(ua.datagrams_to_send()[-1].data)
    assert isinstance(final, Response) and final.status == 200 and final.cseq.method == "INVITE"
    ua.call_actions()
    ua.notices()
    ua.end_call(f"call{n}", "done", now)
    ua.datagrams_to_send()
    ua.call_actions()
    ua.notices()


def run(calls: int, reliable: bool) -> float:
    ua = UserAgent(Config(), LocalAddress("192.0.2.5", 5060), random.Random(1))
    started = time.perf_counter()
    for n in range(calls):
        now = n * 2.0  # one call every 2 s: finished transactions are reaped as in real use
        while (deadline := ua.get_timer()) is not None and deadline <= now:
            ua.handle_timer(deadline)
            ua.datagrams_to_send()
        set_up(ua, n, reliable, now)
    return (time.perf_counter() - started) / calls * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=300, help="per round and kind")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    run(50, True)  # warm-up
    plain: list[float] = []
    reliable: list[float] = []
    for _ in range(args.rounds):  # interleaved, best round of each: a busy machine adds noise
        plain.append(run(args.calls, False))
        reliable.append(run(args.calls, True))
    best_plain, best_reliable = min(plain), min(reliable)
    print(f"plain set-up      {best_plain:8.1f} us/call (best of {args.rounds} x {args.calls})")
    print(f"100rel set-up     {best_reliable:8.1f} us/call (reliable 180 + PRACK)")
    extra = best_reliable - best_plain
    print(f"PRACK overhead    {extra:8.1f} us/call ({best_reliable / best_plain - 1:+.0%})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
