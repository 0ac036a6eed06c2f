"""What an UPDATE with an offer (RFC 3311) costs the core: one call of the sans-IO user agent
held and resumed by UPDATE again and again, first inside the early dialog of our reliable 183
(``endpoint.ua.early_update``), then inside the confirmed dialog (``endpoint.ua.session``),
with the bytes parsed as the runtime would. Prints microseconds per UPDATE answered.

Run: .venv/bin/python benchmarks/bench_update.py [--updates 2000]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from endpoint.config import CallSettings, Config, SipSettings
from endpoint.sip import Response, parse
from endpoint.ua.agent import UserAgent
from endpoint.ua.registration import LocalAddress

PEER = ("192.0.2.50", 5060)
HEAD = "From: <sip:flat@example.com>;tag=f1\r\nCall-ID: call1\r\nMax-Forwards: 70\r\n"


def sdp(direction: str, version: int) -> str:
    return (
        f"v=0\r\no=- 1 {version} IN IP4 192.0.2.50\r\ns=-\r\nc=IN IP4 192.0.2.50\r\nt=0 0\r\n"
        f"m=audio 7000 RTP/AVP 0\r\na={direction}\r\n"
    )


def request(method: str, cseq: int, tag: str, extra: str = "", body: str = "") -> bytes:
    to = f"To: <sip:door@example.com>{f';tag={tag}' if tag else ''}\r\n"
    content = "Content-Type: application/sdp\r\n" if body else ""
    return (
        f"{method} sip:door@192.0.2.5 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.50;branch=z9hG4bK"
        f"{method}{cseq}\r\n{HEAD}{to}CSeq: {cseq} {method}\r\nContact: <sip:flat@192.0.2.50>"
        f"\r\n{extra}{content}Content-Length: {len(body)}\r\n\r\n{body}"
    ).encode()


def last(ua: UserAgent) -> Response:
    response = parse(ua.datagrams_to_send()[-1].data)
    assert isinstance(response, Response)
    return response


def ringing() -> tuple[UserAgent, str]:
    """A call ringing with our reliable 183, PRACKed; our tag."""
    calls = replace(CallSettings(), early_media=True, auto_answer=False)
    config = Config(sip=SipSettings(reliable_provisional="supported"), calls=calls)
    ua = UserAgent(config, LocalAddress("192.0.2.5", 5060), random.Random(1))
    invite = request("INVITE", 1, "", "Require: 100rel\r\n", sdp("sendrecv", 1))
    ua.receive(parse(invite), PEER, "udp", 0.0)  # type: ignore[arg-type]
    ua.call_actions()
    ua.media_ready("call1", 40000, 0.0)
    progress = last(ua)
    tag = progress.to_addr.tag or ""
    rack = f"RAck: {progress.headers.get('RSeq')} 1 INVITE\r\n"
    ua.receive(parse(request("PRACK", 2, tag, rack)), PEER, "udp", 0.0)  # type: ignore[arg-type]
    assert last(ua).status == 200
    return ua, tag


def updates(ua: UserAgent, tag: str, first: int, count: int) -> float:
    """``count`` UPDATEs alternating hold and resume; microseconds each."""
    started = time.perf_counter()
    for cseq in range(first, first + count):
        body = sdp("sendonly" if cseq % 2 else "sendrecv", cseq)
        ua.receive(parse(request("UPDATE", cseq, tag, body=body)), PEER, "udp", 0.1)  # type: ignore[arg-type]
        assert last(ua).status == 200
        ua.call_actions()
        ua.notices()
    return (time.perf_counter() - started) / count * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--updates", type=int, default=2000, help="per round and dialog")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    early: list[float] = []
    confirmed: list[float] = []
    for _ in range(args.rounds):  # best round of each: a busy machine adds noise
        ua, tag = ringing()
        early.append(updates(ua, tag, 3, args.updates))
        assert ua.answer(0.2)
        ua.datagrams_to_send()
        ack = request("ACK", 1, tag)
        ua.receive(parse(ack), PEER, "udp", 0.2)  # type: ignore[arg-type]
        confirmed.append(updates(ua, tag, 3 + args.updates, args.updates))
    print(f"early dialog      {min(early):8.1f} us/UPDATE (best of {args.rounds} x {args.updates})")
    print(f"confirmed dialog  {min(confirmed):8.1f} us/UPDATE")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
