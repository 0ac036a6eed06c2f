"""What the LEDs show: one device state derived from the user agent's notices.

A visitor at the door needs one glance to know whether ringing works (registered), that the
call is going out, that someone talks, that the door is open now. The state is derived only from
the notices the UA already publishes (``registered``, ``call-outgoing``, ``call-answered``,
``door-opened`` ...), so the LEDs can never disagree with the log or ``ctl events``. Each LED
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
from endpoint.hardware.board import LedPattern
from endpoint.ua.actions import Notice


class DeviceState(enum.Enum):
    UNREGISTERED = "unregistered"
    IDLE = "idle"
    CALLING = "calling"
    RINGING = "ringing"
    IN_CALL = "in_call"
    DOOR_OPEN = "door_open"


@dataclass(frozen=True, slots=True)
class SetLed:
    name: str
    pattern: LedPattern


_REGISTERED = ("registered", "registration-refreshed", "registration-contact-changed")
_UNREGISTERED = ("registration-failed", "unregistered")
_CALL_OVER = ("call-ended", "call-failed", "call-rejected")


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
        event, detail = notice.event, notice.detail
        call_id = detail.get("call_id")
        if event in _REGISTERED:
            self._accounts.add(str(detail.get("account", "")))
        elif event in _UNREGISTERED:
            self._accounts.discard(str(detail.get("account", "")))
        elif event == "ready":
            self._peer_to_peer = True
        elif event == "hardware-fault":
            self._fault = True
        elif event == "hardware-ok":
            self._fault = False
        elif event == "call-outgoing" and isinstance(call_id, str):
            self._calls[call_id] = DeviceState.CALLING
        elif event == "call-incoming" and isinstance(call_id, str):
            self._calls[call_id] = DeviceState.RINGING
        elif event == "call-answered" and isinstance(call_id, str):
            self._calls[call_id] = DeviceState.IN_CALL
        elif event in _CALL_OVER and isinstance(call_id, str):
            self._calls.pop(call_id, None)
        elif event == "door-opened":
            self._door_open = True
        elif event == "door-pulse-ended":
            self._door_open = False
        else:
            return
        self._show()

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
