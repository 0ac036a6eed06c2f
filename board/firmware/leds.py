"""LED pattern timings, run on the board so blinking needs no host traffic.

Each pattern is a period and the on-intervals within it (milliseconds from the moment the
pattern was set). The values are the ones ``endpoint.ua.io.LedPattern`` documents;
``error`` is board-only: the host-lost flicker (five 50 ms flashes, then dark until 1 s) that
no host pattern resembles, so an installer can tell "endpoint dead" from "ringing".
"""

PATTERNS = {
    "off": (1000, ()),
    "on": (1000, ((0, 1000),)),
    "slow": (1000, ((0, 500),)),
    "fast": (250, ((0, 125),)),
    "double": (1000, ((0, 100), (200, 300))),
    "error": (1000, ((0, 50), (100, 150), (200, 250), (300, 350), (400, 450))),
}

HOST_PATTERNS = ("off", "on", "slow", "fast", "double")
"""The patterns a host may ask for (``error`` is the board's own)."""

ERROR = "error"


def lit(pattern: str, elapsed_ms: int) -> bool:
    """Whether an LED showing ``pattern`` since ``elapsed_ms`` ago is lit now."""
    period, spans = PATTERNS[pattern]
    phase = elapsed_ms % period
    return any(start <= phase < end for start, end in spans)
