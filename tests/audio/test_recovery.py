"""Backoff and once-per-burst xrun reporting, on a fake clock."""

import pytest

from endpoint.audio.recovery import Backoff, XrunBursts, XrunReport


def test_backoff_doubles_up_to_the_cap_and_resets() -> None:
    backoff = Backoff(initial=0.25, factor=2.0, maximum=1.5)
    assert [backoff.next_delay() for _ in range(5)] == [0.25, 0.5, 1.0, 1.5, 1.5]
    backoff.reset()
    assert backoff.next_delay() == 0.25


def test_backoff_refuses_nonsense() -> None:
    with pytest.raises(ValueError):
        Backoff(initial=0)


def test_a_burst_of_xruns_is_reported_at_its_start_and_at_its_end() -> None:
    bursts = XrunBursts(quiet=2.0)
    assert bursts.update(0, 10.0) is None
    assert bursts.update(1, 10.1) == XrunReport(started=True, count=1, duration=0.0)
    assert bursts.update(5, 10.2) is None
    assert bursts.update(9, 10.6) is None
    assert bursts.update(9, 12.0) is None  # quiet for 1.4 s only
    assert bursts.update(9, 12.6) == XrunReport(started=False, count=9, duration=pytest.approx(0.5))
    assert bursts.update(9, 30.0) is None
    assert bursts.update(10, 31.0) == XrunReport(started=True, count=1, duration=0.0)
