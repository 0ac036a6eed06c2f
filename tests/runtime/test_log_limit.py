"""One log line per interval and kind; the next one carries how many were held back."""

from endpoint.runtime.log_limit import LogLimiter


def test_one_line_per_interval_with_the_count_held_back() -> None:
    now = [0.0]
    limiter = LogLimiter(10.0, clock=lambda: now[0])
    assert limiter.allow("malformed") == 0
    for t in range(1, 10):
        now[0] = float(t)
        assert limiter.allow("malformed") is None
    assert limiter.allow("tcp-refused") == 0  # another kind has its own budget
    now[0] = 10.0
    assert limiter.allow("malformed") == 9
    assert limiter.allow("malformed") is None
