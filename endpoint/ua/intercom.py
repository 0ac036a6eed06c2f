"""The intercom core: the user agent and the device policies as one sans-IO object.

A door station is more than a SIP phone: a button places a call, a DTMF code or a button opens
the door, LEDs show the state. Those policies (``ButtonLogic``, ``DoorControl``, ``Indicator``)
and the ``UserAgent`` meet here, so every decision is made in one place that tests drive with a
fake clock, and the runtime only executes (DESIGN "Above the SIP core"):

- inputs: SIP messages (``receive``), board events (``input``), DTMF from the media path,
  control commands, the clock (``handle_timer``);
- outputs: datagrams (``datagrams_to_send``), call media actions (``call_actions``), device
  actions (``device_actions``: set an LED, pulse the relay), and events (``events``) for the
  log, ``ctl events`` and systemd's STATUS line;
- one deadline (``get_timer``) for the UA and the door together.

A button press travels runtime -> core -> runtime once: the board event comes in, the core
decides (call, answer, open, re-register) and what it decided comes out as datagrams and device
actions. Door trust is decided here from the call itself: a call we placed is trusted, an
incoming one only if its caller passed the allowlist when it rang; never from an event's
payload.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from endpoint.config import Config
from endpoint.sip import ParseError, Request, Response
from endpoint.sip.transaction import Outgoing
from endpoint.ua.actions import CallAction
from endpoint.ua.agent import UserAgent
from endpoint.ua.buttons import (
    AnswerCall,
    AttendedTransferStep,
    ButtonCommand,
    ButtonLogic,
    CancelConsultation,
    HangupCall,
    OpenDoorCommand,
    PlaceCall,
    Reregister,
    SetRegistered,
    TransferCall,
)
from endpoint.ua.door import DoorControl, HangUp, OpenDoor
from endpoint.ua.events import (
    ButtonChanged,
    CallAnswered,
    CallOver,
    DoorOpenFailed,
    DtmfReceived,
    HardwareFault,
    HardwareOk,
    Notice,
    SensorChanged,
)
from endpoint.ua.indicator import Indicator, SetLed
from endpoint.ua.io import DOOR, ButtonEvent, HardwareEvent, SensorEvent
from endpoint.ua.registration import LocalAddress

#: Rounds of "events -> door -> more events" one step may take (a door hang-up ends a call,
#: which is one more event); bounded, the chain is short.
MAX_SETTLE_ROUNDS = 8


@dataclass(frozen=True, slots=True)
class PulseRelay:
    """Energise the door relay for ``seconds`` (the board caps it too)."""

    seconds: float


DeviceAction = SetLed | PulseRelay


class Intercom:
    """The UA, the buttons, the door and the LEDs of one endpoint, sans-IO.

    Every method that changes state takes ``now`` and leaves the core settled: the UA's events
    have reached the door and the LEDs before anything is drained.
    """

    def __init__(
        self,
        config: Config,
        local: LocalAddress,
        rng: random.Random,
        resolved: dict[str, str] | None = None,
        ports: dict[str, int] | None = None,
    ) -> None:
        self.ua = UserAgent(config, local, rng, dict(resolved or {}), dict(ports or {}))
        self.buttons = ButtonLogic(config.hardware.buttons)
        self.door = DoorControl(config.door)
        self.indicator = Indicator(config.hardware.leds)
        self._events: list[Notice] = []
        self._device: list[DeviceAction] = []
        self._button_errors: list[str] = []

    # -- lifecycle -----------------------------------------------------------------------

    def start(self, now: float) -> None:
        """Show the initial LED state, then start registering (or announce peer-to-peer)."""
        self.indicator.start()
        self.ua.start(now)
        self._settle(now)

    def stop(self, now: float) -> None:
        self.ua.stop(now)
        self._settle(now)

    def reconfigure(self, config: Config, resolved: dict[str, str], now: float) -> None:
        self.ua.reconfigure(config, resolved, now)
        self._settle(now)

    # -- the five methods ------------------------------------------------------------------

    def receive(
        self, message: Request | Response, source: tuple[str, int], transport: str, now: float
    ) -> None:
        self.ua.receive(message, source, transport, now)
        self._settle(now)

    def input(self, event: HardwareEvent, now: float) -> None:
        """One board event: a button, a contact, the board lost or back."""
        if isinstance(event, ButtonEvent):
            self._emit(ButtonChanged(button=event.name, kind=event.kind.value), now)
            active = self.ua.active_call_id() is not None
            for command in self.buttons.handle(event, call_active=active):
                self._command(command, now)
        elif isinstance(event, SensorEvent):
            if event.name == DOOR:
                self.door.sensor(event.active, now)
            else:
                self._emit(SensorChanged(sensor=event.name, active=event.active), now)
        else:
            fault = HardwareOk if event.ok else HardwareFault
            self._emit(fault(reason=event.reason), now)
        self._settle(now)

    def datagrams_to_send(self) -> list[Outgoing]:
        return self.ua.datagrams_to_send()

    def call_actions(self) -> list[CallAction]:
        return self.ua.call_actions()

    def device_actions(self) -> list[DeviceAction]:
        out, self._device = self._device, []
        return out

    def events(self) -> list[Notice]:
        """Everything that happened since the last call, in order (the UA's and the door's)."""
        out, self._events = self._events, []
        return out

    def button_errors(self) -> list[str]:
        """Buttons whose command could not be carried out (a bad target): for the log."""
        out, self._button_errors = self._button_errors, []
        return out

    def get_timer(self) -> float | None:
        times = [t for t in (self.ua.get_timer(), self.door.get_timer()) if t is not None]
        return min(times) if times else None

    def handle_timer(self, now: float) -> None:
        self.ua.handle_timer(now)
        timer = self.door.get_timer()
        if timer is not None and timer <= now:
            self.door.handle_timer(now)
        self._settle(now)

    # -- what the runtime reports and asks ---------------------------------------------------

    def transport_failed(self, destination: tuple[str, int], transport: str, now: float) -> None:
        self.ua.transport_failed(destination, transport, now)
        self._settle(now)

    def flow_closed(self, destination: tuple[str, int], transport: str, now: float) -> None:
        self.ua.flow_closed(destination, transport, now)
        self._settle(now)

    def media_ready(
        self, call_id: str, rtp_port: int, now: float, rtcp: tuple[str, int] | None = None
    ) -> None:
        self.ua.media_ready(call_id, rtp_port, now, rtcp)
        self._settle(now)

    def end_call(self, call_id: str, reason: str, now: float, *, status: int = 486) -> bool:
        done = self.ua.end_call(call_id, reason, now, status=status)
        self._settle(now)
        return done

    def dtmf(self, call_id: str, digit: str, duration_ms: int, now: float) -> None:
        """An RFC 4733 digit from the media path (SIP INFO digits come through ``receive``)."""
        self._emit(DtmfReceived(call_id=call_id, digit=digit, duration_ms=duration_ms), now)
        self.ua.dtmf(call_id, digit, now)
        self._settle(now)

    def registrar_moved(self, host: str, address: str, port: int | None, now: float) -> None:
        """DNS moved a registrar name to another target (RFC 3263 §4.3): register there."""
        self.ua.registrar_moved(host, address, port, now)
        self._settle(now)

    def send_dtmf(self, call_id: str | None, digits: str, now: float) -> str | None:
        """Keys to the peer of ``call_id`` (None: the focus call): "rfc4733" (the runtime's
        media sends them), "info" (sent here as SIP INFO, one per key), or None when there is
        no such call."""
        method = self.ua.send_dtmf(call_id, digits, now)
        self._settle(now)
        return method

    def set_hold(self, held: bool, now: float, call_id: str | None = None) -> str | None:
        """Hold or resume ``call_id`` or the focus call; None once the re-INVITE went, else
        why not."""
        problem = self.ua.set_hold(held, now, call_id)
        self._settle(now)
        return problem

    def send_message(self, target: str, text: str, now: float) -> bool:
        """A text MESSAGE to ``target`` (in the call's dialog if it is the peer)."""
        in_dialog = self.ua.send_message(target, text, now)
        self._settle(now)
        return in_dialog

    def relay_failed(self, reason: str, now: float) -> None:
        """The runtime could not pulse the relay: the door did not open."""
        self._emit(DoorOpenFailed(reason=reason), now)
        self._settle(now)

    # -- control commands (``ctl``) ----------------------------------------------------------

    def answer(self, now: float) -> bool:
        done = self.ua.answer(now)
        self._settle(now)
        return done

    def hangup(self, now: float, call_id: str | None = None) -> bool:
        """End ``call_id`` or the focus call (``UserAgent.hangup``); ValueError for an id
        that is no call of ours."""
        try:
            return self.ua.hangup(now, call_id)
        finally:
            self._settle(now)

    def call(self, target: str, now: float) -> str:
        """Place a call; ValueError while a call is up, ParseError for a bad target."""
        try:
            return self.ua.call(target, now)
        finally:
            self._settle(now)

    def transfer(self, target: str, now: float) -> str:
        """Transfer the answered call (blind REFER); ValueError without one, ParseError for a
        bad target. The outcome comes later as an event."""
        try:
            return self.ua.transfer(target, now)
        finally:
            self._settle(now)

    def transfer_attended(self, step: str, target: str | None, now: float) -> str:
        """Attended transfer (RFC 5589 §7): ``start`` holds the answered call and calls
        ``target`` (the consultation call's id); ``complete`` REFERs the held peer to it with
        Replaces, ``cancel`` ends it and resumes (the held call's id). ValueError/ParseError
        say why not; the outcome comes later as events."""
        try:
            if step == "start" and target is not None:
                return self.ua.transfer_attended(target, now)
            if step == "complete":
                return self.ua.transfer_complete(now)
            if step == "cancel":
                return self.ua.transfer_cancel(now)
            raise ValueError(f"unknown attended transfer step {step!r}")
        finally:
            self._settle(now)

    def call_group(
        self, targets: Sequence[str], parallel: bool, target_timeout: float, now: float
    ) -> str:
        try:
            return self.ua.call_group(targets, parallel, target_timeout, now)
        finally:
            self._settle(now)

    def register(self, enabled: bool | None, now: float) -> None:
        """Register again now (None), or switch in (True) or out (False) of service."""
        if enabled is None:
            self.ua.reregister(now)
        else:
            self.ua.set_registered(enabled, now)
        self._settle(now)

    def open_door(self, via: str, now: float) -> bool:
        """A trusted opening (``ctl``, a button inside): False if there is no relay."""
        opened = self.door.open(via, now)
        self._settle(now)
        return opened

    def device_status(self) -> dict[str, object]:
        """For ``ctl status``: what the LEDs show, the door, the out-of-service switch."""
        return {
            "state": self.indicator.state.value,
            "door": self.door.status(),
            "registration_enabled": self.buttons.registration_enabled,
        }

    # -- internals -------------------------------------------------------------------------

    def _command(self, command: ButtonCommand, now: float) -> None:
        ua = self.ua
        try:
            match command:
                case PlaceCall(targets=(target,)):
                    ua.call(target, now)
                case PlaceCall():
                    ua.call_group(command.targets, command.parallel, command.target_timeout, now)
                case HangupCall():
                    ua.hangup(now)
                case AnswerCall():
                    ua.answer(now)
                case TransferCall():
                    ua.transfer(command.target, now)
                case AttendedTransferStep():
                    self._attended_step(command.target, now)
                case CancelConsultation():
                    ua.transfer_cancel(now)
                case OpenDoorCommand():
                    self.door.open("button", now)
                case Reregister():
                    ua.reregister(now)
                case SetRegistered():
                    ua.set_registered(command.enabled, now)
        except (ValueError, ParseError) as exc:
            self._button_errors.append(f"button {command.button}: {exc}")

    def _attended_step(self, target: str, now: float) -> None:
        """An attended-transfer button's short press: consult ``target`` (the answered call
        is held), or complete the consultation that is up. ValueError says why not (the
        consultation call not answered yet, a REFER already out)."""
        if self.ua.consultations.current is None:
            self.ua.transfer_attended(target, now)
        else:
            self.ua.transfer_complete(now)

    def _settle(self, now: float) -> None:
        """Carry the UA's events to the door and the LEDs, and the door's back to the UA."""
        for _ in range(MAX_SETTLE_ROUNDS):
            notices = self.ua.notices()
            for notice in notices:
                self._emit(notice, now)
            door = self.door.actions()
            for action in door:
                if isinstance(action, OpenDoor):
                    self._device.append(PulseRelay(action.seconds))
                elif isinstance(action, HangUp):
                    self.ua.end_call(action.call_id, "hung up after opening the door", now)
                else:
                    self._emit(action, now)
            if not notices and not door:
                break
        self._device += self.indicator.actions()

    def _emit(self, notice: Notice, now: float) -> None:
        """One event on its way out, seen once by the door (calls, digits) and the LEDs."""
        match notice:
            case CallAnswered():
                party = self.ua.party(notice.call_id)
                if party is not None:
                    self.door.call_answered(notice.call_id, party.trusted, now, party.peer)
            case CallOver():
                self.door.call_ended(notice.call_id, now)
            case DtmfReceived():
                self.door.dtmf(notice.call_id, notice.digit, now)
            case _:
                pass
        self.indicator.notice(notice)
        self._events.append(notice)
