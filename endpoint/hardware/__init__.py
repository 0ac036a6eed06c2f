"""Hardware adapters: buttons, LEDs, the door relay and the door sensor (DESIGN principle 3).

Every kind of wiring (GPIO through gpiozero, the serial MicroPython board, the simulated board)
hides behind ``IoBoard`` (``endpoint.ua.io``); the user agent and the runtime never know
which one they drive.
"""

from endpoint.ua.io import (
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
