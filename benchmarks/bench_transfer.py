"""How long a visitor waits while the concierge transfers the door to a flat.

A baresip concierge calls a real ``sip-endpoint run`` door (peer to peer on 127.0.0.1) and
transfers it (blind REFER) to a baresip flat that answers at once. Per round the script prints
the time from the concierge's ``transfer`` command to the flat's CALL_REMOTE_SDP (our REFER
handling, 202, NOTIFY, the new INVITE) and to CALL_ESTABLISHED (plus our answer to the flat's
200 and the media start), then the median and worst of all rounds.

Run: .venv/bin/python benchmarks/bench_transfer.py [--rounds 10]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.interop.door import Door
from tests.interop.peers import Baresip


def one_round(concierge: Baresip, flat: Baresip, door: Door) -> tuple[float, float]:
    concierge.ctrl.command("dial", door.uri)
    concierge.ctrl.wait_event("CALL_ESTABLISHED", 10)
    time.sleep(0.3)
    started = time.monotonic()
    concierge.ctrl.command("transfer", flat.uri)
    flat.ctrl.wait_event("CALL_REMOTE_SDP", 10)  # our INVITE arrived
    incoming = time.monotonic() - started
    flat.ctrl.wait_event("CALL_ESTABLISHED", 10)
    established = time.monotonic() - started
    concierge.ctrl.wait_event("CALL_CLOSED", 10)
    flat.ctrl.command("hangup")
    flat.ctrl.wait_event("CALL_CLOSED", 10)
    time.sleep(0.3)
    return incoming, established


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        concierge = Baresip(tmp / "concierge", user="concierge").start()
        flat = Baresip(tmp / "flat", user="flat").start()
        door = Door(tmp / "door", calls='allow = ["*@127.0.0.1"]', extra="")
        rows = []
        try:
            for n in range(args.rounds):
                incoming, established = one_round(concierge, flat, door)
                rows.append((incoming, established))
                print(
                    f"round {n + 1}: INVITE at the flat after {incoming * 1000:.1f} ms, "
                    f"talks after {established * 1000:.1f} ms"
                )
        finally:
            log = door.stop()
            concierge.stop()
            flat.stop()
        succeeded = log.count("transfer-succeeded")
        for i, label in ((0, "INVITE at the flat"), (1, "established")):
            values = [r[i] * 1000 for r in rows]
            print(
                f"transfer -> {label}: median {statistics.median(values):.1f} ms, "
                f"worst {max(values):.1f} ms over {len(values)} rounds"
            )
        print(f"transfer-succeeded events: {succeeded} of {args.rounds}")
    return 0 if succeeded == args.rounds else 1


if __name__ == "__main__":
    raise SystemExit(main())
