"""SRTP's cost per packet inside a live call (issue 15), per suite: libsrtp's C and its wrapper.

``bench_srtp_cost.py`` evicts the caches with a loop of its own; a real call is colder than that:
the media thread sleeps 20 ms between packets, other processes run, and the first protect after
the wake-up finds libsrtp's and OpenSSL's code and contexts evicted. This script times what a
call really pays: it places SDES calls to baresip (echo mode, ``bench_media_cpu.one_call``, whose
own report it keeps quiet) offering one suite per call, and times every protect and unprotect in
the media thread, split into libsrtp's C call (``srtp_protect`` / ``srtp_unprotect``: libsrtp
2.7 with the OpenSSL 3.5 that pylibsrtp 1.0's wheel bundles, AES-NI and SHA extensions) and
our ``SrtpProtection`` around it (the length check, the buffer copies and the cffi call). It
times the C call through a wrapper of the cffi ``lib`` that ``endpoint.media.srtp`` binds, and
the whole ``protect_rtp`` / ``unprotect_rtp`` around it; the wrappers' own cost (a clock read
and a list append, a few hundred ns) counts in "py".

Suites alternate call by call for ``--rounds`` rounds, so a busy moment of a shared machine hits
both; it prints, per suite, the median over rounds (and the range) of each part's per-packet
median in µs, and what one protect plus one unprotect each 20 ms is in % of one core.

Run: .venv/bin/python benchmarks/bench_srtp_live.py [--rounds 3] [--seconds 10]
     [--suites AEAD_AES_128_GCM,AES_CM_128_HMAC_SHA1_80]
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import io
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_media_cpu

from endpoint.media import srtp
from endpoint.media.srtp import SUITES
from endpoint.sip import sdes

#: part -> the per-call ns: libsrtp's C call alone ("C") and our wrapper around it ("py").
Spent = dict[str, list[int]]

PARTS = ("srtp_protect C", "srtp_protect py", "srtp_unprotect C", "srtp_unprotect py")


class TimedLib:
    """pylibsrtp's cffi ``lib`` as ``endpoint.media.srtp`` sees it, with ``srtp_protect`` and
    ``srtp_unprotect`` timed: the C call alone. Installed before the call's ``SrtpProtection``
    is made, which binds them (``_direct``)."""

    def __init__(self, lib: Any, spent: Spent) -> None:
        self._lib, self._spent = lib, spent

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._lib, name)
        if name not in ("srtp_protect", "srtp_unprotect"):
            return attr
        spent, clock = self._spent[f"{name} C"], time.perf_counter_ns

        def timed(*args: Any) -> Any:
            before = clock()
            rc = attr(*args)
            spent.append(clock() - before)
            return rc

        return timed


def timed_method(method: Callable[..., Any], spent: list[int]) -> Callable[..., Any]:
    """``SrtpProtection.protect_rtp`` / ``unprotect_rtp`` with the whole call timed."""
    clock = time.perf_counter_ns

    def run(self: Any, packet: bytes) -> Any:
        start = clock()
        out = method(self, packet)
        spent.append(clock() - start)
        return out

    return run


def one_call(suite: str, seconds: float) -> dict[str, float]:
    """One SDES call offering only ``suite``; per-packet median µs of each part."""
    spent: Spent = defaultdict(list)
    totals: Spent = defaultdict(list)
    if srtp.lib is None:
        raise SystemExit("pylibsrtp's private binding is gone: the endpoint uses its public calls")
    saved = (srtp.lib, srtp.SrtpProtection.protect_rtp, srtp.SrtpProtection.unprotect_rtp)
    original_offer = sdes.our_offer
    srtp.lib = TimedLib(saved[0], spent)
    srtp.SrtpProtection.protect_rtp = timed_method(saved[1], totals["srtp_protect"])  # type: ignore[method-assign]
    srtp.SrtpProtection.unprotect_rtp = timed_method(saved[2], totals["srtp_unprotect"])  # type: ignore[method-assign]
    sdes.our_offer = functools.partial(original_offer, suites=(suite,))  # type: ignore[assignment]
    try:
        with contextlib.redirect_stdout(io.StringIO()) as report:
            bench_media_cpu.one_call(seconds, keying="sdes")
    finally:
        srtp.lib, srtp.SrtpProtection.protect_rtp, srtp.SrtpProtection.unprotect_rtp = saved  # type: ignore[method-assign]
        sdes.our_offer = original_offer
    if f"SRTP {suite}" not in report.getvalue():
        raise SystemExit(f"the call did not use {suite}:\n{report.getvalue()}")
    for name in ("srtp_protect", "srtp_unprotect"):
        c_calls, whole = spent[f"{name} C"], totals[name]
        if len(c_calls) != len(whole):  # a refused-before-C packet, or the public path
            raise SystemExit(f"{name}: {len(whole)} calls but {len(c_calls)} reached libsrtp")
        spent[f"{name} py"] = [w - c for w, c in zip(whole, c_calls, strict=True)]
    return {part: statistics.median(spent[part]) / 1000 for part in PARTS}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--suites", default="AEAD_AES_128_GCM,AES_CM_128_HMAC_SHA1_80")
    args = ap.parse_args()
    suites = args.suites.split(",")
    unknown = [s for s in suites if s not in SUITES]
    if unknown:
        raise SystemExit(f"--suites: unknown {unknown}; choose from {', '.join(SUITES)}")
    results: dict[str, list[dict[str, float]]] = defaultdict(list)
    for n in range(args.rounds):
        for suite in suites:
            results[suite].append(one_call(suite, args.seconds))
            print(
                f"round {n + 1} {suite}: "
                + ", ".join(f"{part} {us:.1f}" for part, us in results[suite][-1].items())
                + " µs",
                flush=True,
            )
    print(f"\nper packet, µs: median over {args.rounds} rounds [range] of each call's median")
    for suite, rounds in results.items():
        total = []
        for part in rounds[0]:
            values = [r[part] for r in rounds]
            total.append(statistics.median(values))
            print(f"  {suite:24} {part:18} {total[-1]:6.1f} [{min(values):.1f}-{max(values):.1f}]")
        # One protect and one unprotect every 20 ms: 50 of each per second.
        print(f"  {suite:24} {'all, % of a core':18} {sum(total) * 50 / 1e4:6.3f}")


if __name__ == "__main__":
    main()
