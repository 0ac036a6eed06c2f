"""Retry delays for registration: capped exponential backoff with jitter.

A building full of intercoms that all lost their PBX at once must not hammer it in lock-step when
it comes back. Like libre (baresip's SIP stack), the n-th consecutive failure waits
``min(cap, base * 2**n)`` seconds scaled by a random factor in [0.5, 1.0).
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Backoff:
    base: float = 30.0
    cap: float = 1800.0

    def delay(self, failures: int, rng: random.Random) -> float:
        """Seconds to wait after the ``failures``-th consecutive failure (counting from 0)."""
        exponent = min(max(failures, 0), 32)
        full: float = min(self.cap, self.base * 2.0**exponent)
        return full * (0.5 + 0.5 * rng.random())
