"""SRTP's cost per packet inside a live call (issue 15), per suite: libsrtp's C and its wrapper.

``bench_srtp_cost.py`` evicts the caches with a loop of its own; a real call is colder than that:
the media thread sleeps 20 ms between packets, other processes run, and the first protect after
the wake-up finds libsrtp's and OpenSSL's code and contexts evicted. This script times what a
call really pays: it places SDES calls to baresip (echo mode, ``bench_media_cpu.one_call``, whose
own report it keeps quiet) offering one suite per call, and times every protect and unprotect in
the media thread, split into libsrtp's C call (``srtp_protect`` / ``srtp_unprotect``: libsrtp
2.7 with the OpenSSL 3.5 that pylibsrtp 1.0's wheel bundles, AES-NI and SHA extensions) and
pylibsrtp's Python around it (the buffer copies and the cffi call). It wraps pylibsrtp's
private ``Session.__process`` to do so, with the same steps; the endpoint itself never does.

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

import pylibsrtp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_media_cpu

from endpoint.media.srtp import SUITES
from endpoint.sip import sdes

#: name of a libsrtp function -> the per-call ns spent in it ("C") and around it ("py").
Spent = dict[str, list[int]]


def timed_process(spent: Spent) -> Callable[..., bytes]:
    """pylibsrtp 1.0's ``Session.__process``, step for step, with the C call timed apart."""
    ffi, check, clock = pylibsrtp.ffi, pylibsrtp._srtp_assert, time.perf_counter_ns

    def process(self: Any, data: bytes, func: Any, trailer: int = 0) -> bytes:
        start = clock()
        if len(data) > len(self._cdata) - trailer:
            raise ValueError("packet is too long")
        len_p = ffi.new("int *")
        len_p[0] = len(data)
        self._buffer[0 : len(data)] = data
        before = clock()
        rc = func(self._srtp[0], self._cdata, len_p)
        after = clock()
        check(rc)
        out: bytes = self._buffer[0 : len_p[0]]
        spent[f"{func.__name__} C"].append(after - before)
        spent[f"{func.__name__} py"].append(before - start + clock() - after)
        return out

    return process


def one_call(suite: str, seconds: float) -> dict[str, float]:
    """One SDES call offering only ``suite``; per-packet median µs of each part."""
    spent: Spent = defaultdict(list)
    if not hasattr(pylibsrtp.Session, "_Session__process"):
        raise SystemExit("pylibsrtp's Session.__process is gone: update timed_process")
    original_process, original_offer = pylibsrtp.Session._Session__process, sdes.our_offer
    pylibsrtp.Session._Session__process = timed_process(spent)
    sdes.our_offer = functools.partial(original_offer, suites=(suite,))  # type: ignore[assignment]
    try:
        with contextlib.redirect_stdout(io.StringIO()) as report:
            bench_media_cpu.one_call(seconds, keying="sdes")
    finally:
        pylibsrtp.Session._Session__process = original_process
        sdes.our_offer = original_offer
    if f"SRTP {suite}" not in report.getvalue():
        raise SystemExit(f"the call did not use {suite}:\n{report.getvalue()}")
    parts = ("srtp_protect C", "srtp_protect py", "srtp_unprotect C", "srtp_unprotect py")
    return {part: statistics.median(spent[part]) / 1000 for part in parts}


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
