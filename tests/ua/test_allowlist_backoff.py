"""Caller allowlist and registration retry backoff."""

import random

import pytest

from endpoint.backoff import Backoff
from endpoint.ua.allowlist import Allowlist


@pytest.mark.parametrize(
    ("patterns", "user", "host", "allowed"),
    [
        (("*",), "anyone", "evil.example", True),
        (("concierge@example.com",), "concierge", "EXAMPLE.com", True),
        (("concierge@example.com",), "Concierge", "example.com", False),
        (("concierge@example.com",), "concierge", "example.org", False),
        (("*@10.0.0.*",), "flat12", "10.0.0.7", True),
        (("*@10.0.0.*",), "flat12", "10.0.1.7", False),
        (("flat*",), "flat12", "anywhere", True),
        (("flat*",), None, "anywhere", False),
        (("a%40b@h",), "a%40b", "h", False),
        (("a@b@h",), "a%40b", "h", True),
        ((), "concierge", "example.com", False),
    ],
)
def test_allowlist(patterns: tuple[str, ...], user: str | None, host: str, allowed: bool) -> None:
    assert Allowlist(patterns).allows(user, host) is allowed


def test_backoff_doubles_with_jitter_and_is_capped() -> None:
    rng = random.Random(7)
    backoff = Backoff(base=30, cap=1800)
    for failures, full in [(0, 30), (1, 60), (2, 120), (5, 960), (6, 1800), (40, 1800)]:
        delays = [backoff.delay(failures, rng) for _ in range(200)]
        assert all(full * 0.5 <= d < full for d in delays)
        assert max(delays) - min(delays) > full * 0.3  # jitter really spreads the retries
