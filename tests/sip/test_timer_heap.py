"""The transaction layer's heap of deadlines: re-arming replaces, disarming hides, order holds."""

from __future__ import annotations

from endpoint.sip.timer_heap import TimerHeap


def test_earliest_follows_rearm_and_disarm() -> None:
    heap = TimerHeap()
    heap.arm(("t1", "E"), 5.0)
    heap.arm(("t2", "F"), 7.0)
    assert heap.earliest() == 5.0
    heap.arm(("t1", "E"), 9.0)  # re-armed later: the 5.0 entry is stale
    assert heap.earliest() == 7.0
    heap.disarm(("t2", "F"))
    assert heap.earliest() == 9.0
    heap.disarm(("t1", "E"))
    assert heap.earliest() is None
    assert len(heap) == 0


def test_pop_due_returns_live_timers_in_order_and_disarms_them() -> None:
    heap = TimerHeap()
    heap.arm(("a", "G"), 3.0)
    heap.arm(("b", "J"), 1.0)
    heap.arm(("c", "K"), 2.0)
    heap.arm(("a", "G"), 2.5)
    heap.arm(("d", "H"), 10.0)
    assert heap.pop_due(3.0) == [(1.0, ("b", "J")), (2.0, ("c", "K")), (2.5, ("a", "G"))]
    assert heap.pop_due(3.0) == []
    assert heap.earliest() == 10.0


def test_many_rearms_keep_only_live_entries() -> None:
    heap = TimerHeap()
    for i in range(5000):
        heap.arm(("txn", "E"), float(i))
    assert len(heap._heap) < 600  # compacted: stale entries do not pile up
    assert heap.pop_due(1e9) == [(4999.0, ("txn", "E"))]
