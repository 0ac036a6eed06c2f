"""What ``doctor`` reports: one finding per line, with its level and the fix."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Level(enum.Enum):
    OK = "OK"
    WARN = "WARN"
    FAIL = "FAIL"


@dataclass(frozen=True, slots=True)
class Finding:
    """One result of ``doctor``: how bad, what was checked, what was seen and how to fix it."""

    level: Level
    check: str
    detail: str
    fix: str = ""

    def __str__(self) -> str:
        fix = f" -- fix: {self.fix}" if self.fix and self.level is not Level.OK else ""
        return f"{self.level.value:<4} {self.check}: {self.detail}{fix}"


def ok(check: str, detail: str) -> Finding:
    return Finding(Level.OK, check, detail)
