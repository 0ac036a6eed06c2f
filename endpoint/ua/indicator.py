"""What the LEDs show: one device state derived from the user agent's notices.

A visitor at the door needs one glance to know whether ringing works (registered), that the
call is going out, that someone talks, that the door is open now. The state is derived only from
the events the UA already publishes (``Registered``, ``CallOutgoing``, ``CallAnswered``,
``DoorOpened`` ...), so the LEDs can never disagree with the log or ``ctl events``. Each LED
maps states to patterns through its ``show`` table; ``SetLed`` is emitted only on a change, so a
serial board is not flooded with repeats.

Precedence, highest first: door open, in a call, ringing (an incoming call), calling (ours, also
while the far end rings), idle (registered, or peer-to-peer ``ready``), unregistered (also when
the hardware reports a fault).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from endpoint.config import LedSettings
from endpoint.ua.events import (
    CallAnswered,
    CallIncoming,
    CallOutgoing,
    CallOver,
    DoorOpened,
    DoorPulseEnded,
    HardwareFault,
    HardwareOk,
    Notice,
    Ready,
    Registered,
    RegistrationContactChanged,
    RegistrationFailed,
    RegistrationRefreshed,
    Unregistered,
)
from endpoint.ua.io import LedPattern


class DeviceState(enum.Enum):
    UNREGISTERED = "unregistered"
    IDLE = "idle"
    CALLING = "calling"
    RINGING = "ringing"
    IN_CALL = "in_call"
    DOOR_OPEN = "door_open"


@dataclass(frozen=True, slots=True)
class SetLed:
    """The runtime sets an LED to a pattern that shows the device state."""

    name: str
    pattern: LedPattern


class Indicator:
    def __init__(self, leds: Sequence[LedSettings]) -> None:
        self.leds = tuple(leds)
        self._accounts: set[str] = set()
        self._peer_to_peer = False
        self._fault = False
        self._calls: dict[str, DeviceState] = {}
        self._door_open = False
        self._shown: dict[str, LedPattern] = {}
        self._actions: list[SetLed] = []

    @property
    def state(self) -> DeviceState:
        if self._door_open:
            return DeviceState.DOOR_OPEN
        states = set(self._calls.values())
        for state in (DeviceState.IN_CALL, DeviceState.RINGING, DeviceState.CALLING):
            if state in states:
                return state
        if not self._fault and (self._accounts or self._peer_to_peer):
            return DeviceState.IDLE
        return DeviceState.UNREGISTERED

    def start(self) -> None:
        """Show the initial state (unregistered until the UA says otherwise)."""
        self._show()

    def notice(self, notice: Notice) -> None:
        if not self._take(notice):
            return
        self._show()

    def _take(self, notice: Notice) -> bool:
        """Fold one event into the state; False if it cannot change what the LEDs show."""
        match notice:
            case Registered() | RegistrationRefreshed() | RegistrationContactChanged():
                self._accounts.add(notice.account)
            case RegistrationFailed() | Unregistered():
                self._accounts.discard(notice.account)
            case Ready():
                self._peer_to_peer = True
            case HardwareFault() | HardwareOk():
                self._fault = isinstance(notice, HardwareFault)
            case CallOutgoing():
                self._calls[notice.call_id] = DeviceState.CALLING
            case CallIncoming():
                self._calls[notice.call_id] = DeviceState.RINGING
            case CallAnswered():
                self._calls[notice.call_id] = DeviceState.IN_CALL
            case CallOver():
                self._calls.pop(notice.call_id, None)
            case DoorOpened() | DoorPulseEnded():
                self._door_open = isinstance(notice, DoorOpened)
            case _:
                return False
        return True

    def actions(self) -> list[SetLed]:
        out, self._actions = self._actions, []
        return out

    def _show(self) -> None:
        state = self.state.value
        for led in self.leds:
            pattern = LedPattern(led.pattern(state))
            if self._shown.get(led.name) is not pattern:
                self._shown[led.name] = pattern
                self._actions.append(SetLed(led.name, pattern))
