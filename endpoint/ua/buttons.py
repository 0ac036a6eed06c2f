"""What a press of each configured button asks the user agent to do.

A button is the visitor's whole user interface, so each one does exactly one configured thing
(``action``) and the mapping lives in one table-like place instead of in the runtime. The
result is a typed command the runtime executes against the UA; this module never touches the
UA itself, so it is tested with plain events.

Most actions fire on PRESSED, because latency between the press and the INVITE is what the
visitor feels. ``register`` is the exception: a short press re-registers now, a long press
(HELD) toggles registration off and on — a privacy / out-of-service switch — so it must wait for
RELEASED to know that a press was short. ``attended-transfer`` follows the same short/long
rule: a short press starts the consultation (the visitor is held, the flat is called) or, once
it is up, completes the transfer; a long press cancels it and resumes the visitor.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from endpoint.config import ButtonSettings
from endpoint.ua.io import ButtonEvent, InputKind


@dataclass(frozen=True, slots=True)
class PlaceCall:
    """Call ``targets``: all at once (``parallel``) or one after the other."""

    button: str
    targets: tuple[str, ...]
    parallel: bool
    target_timeout: float


@dataclass(frozen=True, slots=True)
class HangupCall:
    """CANCEL the call that rings, or BYE the answered one (``UserAgent.hangup``)."""

    button: str


@dataclass(frozen=True, slots=True)
class TransferCall:
    """Transfer the answered call to ``target`` (a blind REFER, RFC 5589 §6)."""

    button: str
    target: str


@dataclass(frozen=True, slots=True)
class AttendedTransferStep:
    """A short press of an ``attended-transfer`` button: hold the answered call and consult
    ``target`` (RFC 5589 §7); with a consultation up, complete it (REFER with Replaces)."""

    button: str
    target: str


@dataclass(frozen=True, slots=True)
class CancelConsultation:
    """A long press of an ``attended-transfer`` button: end the consultation call and resume
    the held one."""

    button: str


@dataclass(frozen=True, slots=True)
class AnswerCall:
    button: str


@dataclass(frozen=True, slots=True)
class OpenDoorCommand:
    button: str


@dataclass(frozen=True, slots=True)
class Reregister:
    """Send a REGISTER now (after a network change, or to test the line)."""

    button: str


@dataclass(frozen=True, slots=True)
class SetRegistered:
    """Un-register (``enabled`` False: out of service) or register again."""

    button: str
    enabled: bool


ButtonCommand = (
    PlaceCall
    | HangupCall
    | AnswerCall
    | TransferCall
    | AttendedTransferStep
    | CancelConsultation
    | OpenDoorCommand
    | Reregister
    | SetRegistered
)


class ButtonLogic:
    def __init__(self, buttons: Sequence[ButtonSettings]) -> None:
        self.buttons = {b.name: b for b in buttons}
        self.registration_enabled = True
        self._held: set[str] = set()

    def handle(self, event: ButtonEvent, *, call_active: bool) -> list[ButtonCommand]:
        """The commands for ``event``; ``call_active``: the UA has a call (ringing or answered)."""
        button = self.buttons.get(event.name)
        if button is None:
            return []
        if button.action == "register":
            return self._register(button, event.kind)
        if button.action == "attended-transfer":
            return self._attended(button, event.kind, call_active)
        if event.kind is not InputKind.PRESSED:
            return []
        name = button.name
        if button.action == "call":
            return [] if call_active else [self._call(button)]
        if button.action == "call-or-hangup":
            return [HangupCall(name)] if call_active else [self._call(button)]
        if button.action == "hangup":
            return [HangupCall(name)] if call_active else []
        if button.action == "answer":
            return [AnswerCall(name)] if call_active else []
        if button.action == "open-door":
            return [OpenDoorCommand(name)]
        if button.action == "transfer" and button.targets:
            return [TransferCall(name, button.targets[0])] if call_active else []
        return []

    @staticmethod
    def _call(button: ButtonSettings) -> PlaceCall:
        return PlaceCall(
            button.name, button.targets, button.mode == "parallel", button.target_timeout
        )

    def _long_press(self, button: ButtonSettings, kind: InputKind) -> bool | None:
        """Short/long press from PRESSED, HELD, RELEASED: True at HELD (long), False at a
        RELEASED that ends a short press, None for the other events."""
        if kind is InputKind.PRESSED:
            self._held.discard(button.name)
            return None
        if kind is InputKind.HELD:
            self._held.add(button.name)
            return True
        if button.name in self._held:
            self._held.discard(button.name)
            return None
        return False

    def _attended(
        self, button: ButtonSettings, kind: InputKind, call_active: bool
    ) -> list[ButtonCommand]:
        long = self._long_press(button, kind)
        if long is None or not call_active or not button.targets:
            return []
        if long:
            return [CancelConsultation(button.name)]
        return [AttendedTransferStep(button.name, button.targets[0])]

    def _register(self, button: ButtonSettings, kind: InputKind) -> list[ButtonCommand]:
        long = self._long_press(button, kind)
        if long is None:
            return []
        if long:
            self.registration_enabled = not self.registration_enabled
            return [SetRegistered(button.name, self.registration_enabled)]
        return [Reregister(button.name)] if self.registration_enabled else []
