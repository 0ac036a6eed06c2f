"""History writes: what the event loop pays per event, and what the writer thread sustains.

The loop's side is ``HistoryWriter.record`` (a put on a bounded queue); the SQLite work runs in
the writer thread in batches of up to 256 events per transaction. Printed: record() cost per
event on the loop, the writer's throughput, the batches it needed, and for comparison one
transaction per event on the same disk (what writing on the loop, unbatched, would cost).

Run: .venv/bin/python benchmarks/bench_history.py [--events 20000] [--dir /var/lib/...]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from endpoint.integration.history import HistoryStore, HistoryWriter


def events(n: int) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for i in range(n // 4):
        cid = f"call-{i}"
        out += [
            {"event": "call-incoming", "call_id": cid, "from": "sip:flat@10.0.0.2"},
            {"event": "call-answered", "call_id": cid, "codec": "PCMU", "encryption": "none"},
            {"event": "call-ended", "call_id": cid, "reason": "hung up", "duration": 12.5},
            {"event": "call-report", "call_id": cid, "mos": 4.3, "received_packets": 600},
        ]
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--dir", type=Path, default=None, help="where the database goes")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        batch = events(args.events)
        writer = HistoryWriter(HistoryStore(Path(tmp) / "a.db", 90, 1 << 30))
        writer.start()
        t0 = time.perf_counter()
        on_loop = 0.0
        for start in range(0, len(batch), 500):  # bursts that fit the queue, as a busy door
            while writer.pending > 500:
                time.sleep(0.001)
            t1 = time.perf_counter()
            for e in batch[start : start + 500]:
                writer.record(e)
            on_loop += time.perf_counter() - t1
        writer.stop(timeout=600)
        total = time.perf_counter() - t0
        print(f"events: {len(batch)} written {writer.written} dropped {writer.dropped}")
        print(f"record() on the loop: {on_loop / len(batch) * 1e6:.2f} us/event")
        print(f"writer thread: {writer.written / total:.0f} events/s in {writer.batches} batches")
        store = HistoryStore(Path(tmp) / "b.db", 90, 1 << 30)
        n = min(len(batch), 2000)
        t0 = time.perf_counter()
        for e in batch[:n]:
            store.apply([(time.time(), e)])
        single = (time.perf_counter() - t0) / n
        store.close()
        print(f"one transaction per event (unbatched): {single * 1e6:.0f} us/event")


if __name__ == "__main__":
    main()
