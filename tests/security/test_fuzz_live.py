"""A small slice of the live fuzzer (tests/security/fuzz.py) in the test suite; the large run
is ``benchmarks/bench_fuzz_live.py``. After thousands of mutated real-peer messages over UDP
and TCP the process is alive, logged no traceback, counted no internal error, and answers a
legitimate OPTIONS at once."""

from __future__ import annotations

from tests.security.attacker import Door, UdpAttacker, request, status_of
from tests.security.fuzz import Fuzzer


def test_mutated_real_traffic_neither_crashes_nor_wedges_the_door(p2p_door: Door) -> None:
    fuzzer = Fuzzer(p2p_door.port, seed=13)
    assert fuzzer.run_udp(3000) > 2500
    assert fuzzer.run_tcp(300) == 300
    assert p2p_door.alive()
    probe = UdpAttacker("127.0.0.254", p2p_door.port)
    try:
        answer = probe.final(request("OPTIONS", p2p_door.port, source=probe.address), timeout=1.0)
        assert answer is not None and status_of(answer) == 200
    finally:
        probe.close()
    status = p2p_door.status()
    assert status["internal_errors"] == 0
    log = p2p_door.log
    assert "Traceback" not in log and "internal error" not in log
