"""A bounded, thread-safe queue of frames between a sound card's clock and the media clock.

The sound card's callback thread and the media thread each run on their own clock; a small ring
of whole frames absorbs the jitter between them. It is bounded (a stalled consumer must not grow
memory or latency): on overflow the *oldest* frame is dropped, because fresh audio matters more
than old audio in a conversation, and every drop is counted.

Priming: after the ring has run dry, the consumer gets nothing until `prime` frames are queued
again. Without it a producer and a consumer ticking at the same rate with a random phase would
take turns finding the ring empty; with `prime = 2` the consumer always has one tick of margin.
"""

import threading
from collections import deque

from endpoint.media.frame import Frame


class FrameRing:
    """Bounded FIFO of frames; drops the oldest when full; counts drops and underruns."""

    __slots__ = ("_capacity", "_delivering", "_dropped", "_frames", "_lock", "_prime", "_underruns")

    def __init__(self, capacity: int, prime: int = 1) -> None:
        if capacity < 1:
            raise ValueError(f"ring capacity must be at least 1 frame, not {capacity}")
        if not 1 <= prime <= capacity:
            raise ValueError(f"ring prime must be between 1 and the capacity {capacity}")
        self._capacity = capacity
        self._prime = prime
        self._frames: deque[Frame] = deque()
        self._lock = threading.Lock()
        self._dropped = 0
        self._underruns = 0
        self._delivering = False

    def push(self, frame: Frame) -> None:
        """Append a frame (the caller hands over ownership); drop the oldest when full."""
        with self._lock:
            if len(self._frames) >= self._capacity:
                self._frames.popleft()
                self._dropped += 1
            self._frames.append(frame)

    def pop(self) -> Frame | None:
        """Take the oldest frame, or None while the ring is empty or still priming."""
        with self._lock:
            if not self._delivering:
                if len(self._frames) < self._prime:
                    return None
                self._delivering = True
            if self._frames:
                return self._frames.popleft()
            self._delivering = False
            self._underruns += 1
            return None

    @property
    def ready(self) -> bool:
        """True when ``pop`` would give a frame now. Asking takes nothing and counts nothing:
        the media thread asks at the end of a tick whether it can make the next tick's packet
        already (``CallMedia.prepared`` in endpoint.runtime.call_steps), and an empty ring it
        only looked at must not count as an underrun or start priming again."""
        with self._lock:
            if self._delivering:
                return bool(self._frames)
            return len(self._frames) >= self._prime

    def clear(self) -> None:
        """Discard the queued frames (a new call must not hear the end of the last one)."""
        with self._lock:
            self._frames.clear()
            self._delivering = False

    @property
    def fill(self) -> int:
        with self._lock:
            return len(self._frames)

    @property
    def dropped(self) -> int:
        with self._lock:
            return self._dropped

    @property
    def underruns(self) -> int:
        """Times the consumer found the ring dry after frames had been flowing."""
        with self._lock:
            return self._underruns
