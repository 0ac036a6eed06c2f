"""Parse and serialize a realistic INVITE with SDP; compare with pyVoIP's parser.

The INVITE is one Kamailio really forwarded from baresip (tests/sip/traffic/), 15 header fields
and an SDP body. Prints messages per second for: parse; parse + the typed fields a transaction
and dialog layer read (Via list, From tag, To, CSeq, Call-ID, Contact); serialize; and pyVoIP
1.6.8's ``SIPMessage(data)`` on the same bytes, with the ratio.

Run: .venv/bin/python benchmarks/bench_sip_parse.py [--seconds 2]
"""

from __future__ import annotations

import argparse
import platform
import time
from collections.abc import Callable
from pathlib import Path

from endpoint.sip import parse

INVITE = (
    Path(__file__).resolve().parents[1]
    / "tests"
    / "sip"
    / "traffic"
    / "kamailio-invite-forwarded.sip"
).read_bytes()


def rate(fn: Callable[[], object], seconds: float) -> float:
    """Calls per second of ``fn``, best of three runs of ``seconds / 3``."""
    best = 0.0
    for _ in range(3):
        n = 0
        start = time.perf_counter()
        deadline = start + seconds / 3
        while True:
            for _ in range(200):
                fn()
            n += 200
            now = time.perf_counter()
            if now >= deadline:
                break
        best = max(best, n / (now - start))
    return best


def typed_access() -> object:
    m = parse(INVITE)
    return (m.via, m.from_addr.tag, m.to_addr, m.cseq, m.call_id, m.contact)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=3.0)
    args = ap.parse_args()
    message = parse(INVITE)
    n_headers = len(message.headers)
    print(
        f"Python {platform.python_version()}, INVITE of {len(INVITE)} bytes, "
        f"{n_headers} header fields, {len(message.body)}-byte SDP body"
    )
    ours = rate(lambda: parse(INVITE), args.seconds)
    typed = rate(typed_access, args.seconds)
    ser = rate(lambda: bytes(message), args.seconds)
    print(f"endpoint parse:                {ours:10,.0f} msg/s  ({1e6 / ours:6.1f} us)")
    print(f"endpoint parse + typed fields: {typed:10,.0f} msg/s  ({1e6 / typed:6.1f} us)")
    print(f"endpoint serialize:            {ser:10,.0f} msg/s  ({1e6 / ser:6.1f} us)")
    try:
        import pyVoIP.VoIP  # noqa: F401  (pyVoIP.SIP alone hits a circular import)
        from pyVoIP.SIP import SIPMessage
    except ImportError as exc:
        # pyVoIP imports audioop, which Python 3.13 removed: compare on 3.11.
        print(f"pyVoIP unavailable here ({exc}); run this on Python 3.11 for the comparison")
        return
    theirs = rate(lambda: SIPMessage(INVITE), args.seconds)
    print(f"pyVoIP 1.6.8 SIPMessage():     {theirs:10,.0f} msg/s  ({1e6 / theirs:6.1f} us)")
    print(f"ratio parse / pyVoIP:              {ours / theirs:5.1f}x")
    print(f"ratio parse+typed / pyVoIP:        {typed / theirs:5.1f}x")


if __name__ == "__main__":
    main()
