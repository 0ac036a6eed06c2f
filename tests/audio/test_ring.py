"""FrameRing: bounded, drops the oldest, primes after running dry, counts both."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from endpoint.audio.ring import FrameRing


def frame(value: int) -> np.ndarray:
    return np.full(160, value, dtype=np.int16)


def test_frames_come_out_in_order() -> None:
    ring = FrameRing(4)
    for v in (1, 2, 3):
        ring.push(frame(v))
    assert [int(f[0]) for f in (ring.pop(), ring.pop(), ring.pop()) if f is not None] == [1, 2, 3]
    assert ring.pop() is None


def test_overflow_drops_the_oldest_and_counts() -> None:
    ring = FrameRing(3)
    for v in range(5):
        ring.push(frame(v))
    assert ring.fill == 3 and ring.dropped == 2
    popped = ring.pop()
    assert popped is not None and popped[0] == 2


def test_a_dry_ring_waits_for_prime_frames_and_counts_one_underrun() -> None:
    ring = FrameRing(10, prime=2)
    ring.push(frame(1))
    assert ring.pop() is None  # priming: one frame is not enough
    ring.push(frame(2))
    assert ring.pop() is not None and ring.pop() is not None
    assert ring.pop() is None and ring.underruns == 1
    assert ring.pop() is None and ring.underruns == 1  # still dry: the same underrun
    ring.push(frame(3))
    assert ring.pop() is None  # primes again


def test_asking_whether_a_frame_is_ready_takes_nothing_and_counts_nothing() -> None:
    """The media thread asks at a tick's end whether the next frame is there (to make the
    next packet early); an empty ring it only looked at is no underrun and starts no priming."""
    ring = FrameRing(10, prime=2)
    ring.push(frame(1))
    assert not ring.ready  # priming
    ring.push(frame(2))
    assert ring.ready and ring.ready and ring.fill == 2
    assert ring.pop() is not None and ring.pop() is not None
    assert not ring.ready and ring.underruns == 0
    ring.push(frame(3))
    assert ring.ready  # still delivering: one frame is enough, no priming was started
    popped = ring.pop()
    assert popped is not None and popped[0] == 3


def test_clear_empties_and_reprimes() -> None:
    ring = FrameRing(4)
    ring.push(frame(1))
    ring.clear()
    assert ring.fill == 0 and ring.pop() is None


@pytest.mark.parametrize(("capacity", "prime"), [(0, 1), (2, 0), (2, 3)])
def test_bad_sizes_are_refused(capacity: int, prime: int) -> None:
    with pytest.raises(ValueError):
        FrameRing(capacity, prime)


@given(st.lists(st.booleans(), max_size=200), st.integers(1, 8))
def test_fill_never_exceeds_capacity_and_nothing_is_lost_silently(
    ops: list[bool], capacity: int
) -> None:
    ring = FrameRing(capacity)
    pushed = popped = 0
    for push in ops:
        if push:
            ring.push(frame(pushed))
            pushed += 1
        elif ring.pop() is not None:
            popped += 1
        assert ring.fill <= capacity
    assert pushed == popped + ring.fill + ring.dropped
