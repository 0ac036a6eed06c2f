"""Retry delays: capped exponential backoff, with jitter where many devices retry at once.

One rule for everything that retries: registration (a building full of intercoms that all lost
their PBX at once must not hammer it in lock-step when it comes back; like libre, baresip's SIP
stack, the n-th consecutive failure waits ``min(cap, base * 2**n)`` scaled by a random factor
in [0.5, 1.0)), the serial I/O board after an unplug, and a sound card that was pulled out (it
comes back within a second or two of being plugged in: retry fast at first, then every ``cap``
seconds, without jitter since nothing else shares that card).
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Backoff:
    """Retry delays that grow to a cap, with jitter so that many doors do not retry in step."""

    base: float = 30.0
    cap: float = 1800.0
    jitter: bool = True

    def __post_init__(self) -> None:
        if self.base <= 0 or self.cap < self.base:
            raise ValueError("backoff needs base > 0 and cap >= base")

    def delay(self, failures: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after the ``failures``-th consecutive failure (counting from 0);
        ``rng`` draws the jitter (required when ``jitter``)."""
        exponent = min(max(failures, 0), 32)
        full: float = min(self.cap, self.base * 2.0**exponent)
        if not self.jitter:
            return full
        if rng is None:
            raise ValueError("a jittered backoff needs a random source")
        return full * (0.5 + 0.5 * rng.random())
