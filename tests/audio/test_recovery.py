"""The device's reopen backoff and once-per-burst xrun reporting, on a fake clock."""

import pytest

from endpoint.audio.recovery import XrunBursts, XrunReport
from endpoint.backoff import Backoff


def test_device_backoff_doubles_up_to_the_cap_without_jitter() -> None:
    backoff = Backoff(0.25, 1.5, jitter=False)
    assert [backoff.delay(n) for n in range(5)] == [0.25, 0.5, 1.0, 1.5, 1.5]


def test_backoff_refuses_nonsense() -> None:
    with pytest.raises(ValueError):
        Backoff(0)
    with pytest.raises(ValueError):
        Backoff(2.0, 1.0)
    with pytest.raises(ValueError, match="random source"):
        Backoff(1.0, 2.0).delay(0)


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
