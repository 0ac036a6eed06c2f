"""The armed deadlines of many owners, earliest first: a heap with lazy deletion.

The runtime asks for the next deadline after every step (``get_timer``). Scanning every
transaction's timers made each step cost O(n): with 512 transactions held by a flood, that
scan ran per datagram on the SIP loop while the media thread waited for the GIL (issue 13).
Here arming is O(log n), the earliest deadline O(1) amortised, and a disarmed or re-armed timer
is not searched for: its stale entry is skipped when it reaches the top.
"""

from __future__ import annotations

import heapq
import itertools

#: (owner, timer name): one armed timer.
TimerKey = tuple[str, str]


class TimerHeap:
    """Deadlines by (owner, name); re-arming a key replaces its deadline."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, TimerKey]] = []
        #: key -> sequence number of its live heap entry; any other entry of the key is stale.
        self._armed: dict[TimerKey, int] = {}
        self._seq = itertools.count()

    def __len__(self) -> int:
        return len(self._armed)

    def arm(self, key: TimerKey, deadline: float) -> None:
        seq = next(self._seq)
        self._armed[key] = seq
        heapq.heappush(self._heap, (deadline, seq, key))
        if len(self._heap) > 2 * len(self._armed) + 256:
            self._compact()

    def disarm(self, key: TimerKey) -> None:
        self._armed.pop(key, None)

    def earliest(self) -> float | None:
        heap = self._heap
        while heap and self._armed.get(heap[0][2]) != heap[0][1]:
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def pop_due(self, now: float) -> list[tuple[float, TimerKey]]:
        """Disarm and return every timer due at ``now``, earliest first. Timers armed while
        the caller handles these wait for the next call, as each step sees one instant."""
        heap, due = self._heap, []
        while heap and heap[0][0] <= now:
            deadline, seq, key = heapq.heappop(heap)
            if self._armed.get(key) == seq:
                del self._armed[key]
                due.append((deadline, key))
        return due

    def _compact(self) -> None:
        """Drop stale entries once they outnumber the live ones (timers re-armed or disarmed
        long before their deadline, e.g. a retransmission timer stopped by the answer)."""
        self._heap = [entry for entry in self._heap if self._armed.get(entry[2]) == entry[1]]
        heapq.heapify(self._heap)
