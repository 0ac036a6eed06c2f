"""The board interface, kept under its old name for code that imports it from here.

The vocabulary moved to ``endpoint.ua.io`` (the core speaks it; adapters implement it, so the
import points inward); this module only re-exports it.
"""

from endpoint.ua.io import (
    PATTERN_STEPS,
    BoardFault,
    BoardSpec,
    ButtonEvent,
    ButtonSpec,
    HardwareEvent,
    InputKind,
    IoBoard,
    LedPattern,
    LedSpec,
    Pull,
    RelaySpec,
    SensorEvent,
    SensorSpec,
)

__all__ = [
    "PATTERN_STEPS",
    "BoardFault",
    "BoardSpec",
    "ButtonEvent",
    "ButtonSpec",
    "HardwareEvent",
    "InputKind",
    "IoBoard",
    "LedPattern",
    "LedSpec",
    "Pull",
    "RelaySpec",
    "SensorEvent",
    "SensorSpec",
]
