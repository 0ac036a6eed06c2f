"""The runtime side of the hardware: board events in, UA commands, relay pulses and LEDs out.

The board's callbacks run in its own threads (gpiozero, pyserial); everything else here runs on
the asyncio loop, so events cross over exactly once, with ``loop.call_soon_threadsafe``. The
decisions are made by the sans-IO ``ButtonLogic``, ``DoorControl`` and ``Indicator``; this
module only feeds them (board events, the UA's notices, DTMF) and carries out what they return.
``DoorControl``'s deadlines get their own ``loop.call_at`` timer, re-armed after every step.

The door relay is released on every way out: ``close()`` (the engine's shutdown), an exception
while starting (the board is closed before the error travels on), and interpreter exit
(``atexit``), on top of the board's own pulse timeout.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from endpoint.config import Config
from endpoint.hardware import factory
from endpoint.hardware.board import (
    BoardFault,
    ButtonEvent,
    HardwareEvent,
    IoBoard,
    SensorEvent,
)
from endpoint.runtime import door_state
from endpoint.runtime.wiring import DOOR, board_spec
from endpoint.sip import ParseError
from endpoint.ua.agent import UserAgent
from endpoint.ua.buttons import (
    AnswerCall,
    ButtonCommand,
    ButtonLogic,
    HangupCall,
    OpenDoorCommand,
    PlaceCall,
    Reregister,
    SetRegistered,
)
from endpoint.ua.door import DoorAction, DoorControl, HangUp, OpenDoor
from endpoint.ua.events import (
    ButtonChanged,
    CallAnswered,
    CallIncoming,
    CallOver,
    DoorOpenFailed,
    DtmfReceived,
    HardwareFault,
    HardwareOk,
    Notice,
    SensorChanged,
)
from endpoint.ua.indicator import Indicator

log = logging.getLogger("endpoint.hardware")


def open_board(config: Config) -> IoBoard | None:
    """The board ``[hardware] board`` names, built from the configured wiring (None: no board)."""
    hw = config.hardware
    spec = board_spec(hw, config.door)
    return factory.open_board(
        hw.board, spec, serial_port=hw.serial_port, pin_factory=hw.pin_factory
    )


class HardwareBridge:
    """Buttons, door and LEDs of one running endpoint.

    ``publish`` is the engine's notice path (log, ``ctl events``); the bridge's own notices go
    there too and come back through ``notice()``, so the LEDs see ``door-opened`` exactly like
    the log does. ``step`` flushes the UA after a command (send what it produced).
    """

    def __init__(
        self,
        config: Config,
        board: IoBoard | None,
        ua: UserAgent,
        publish: Callable[[Notice], None],
        step: Callable[[], None],
        *,
        clock: Callable[[], float] = time.monotonic,
        state_path: Path | None = None,
    ) -> None:
        self.config = config
        self.board = board
        self.ua = ua
        self._publish = publish
        self._step = step
        self._clock = clock
        self.buttons = ButtonLogic(config.hardware.buttons)
        self.door = DoorControl(config.door)
        #: Where the door's lockouts are kept across restarts (None: not kept).
        self.state_path = state_path if state_path is not None else door_state.state_file()
        self._saved_lockouts: frozenset[str] = frozenset()
        if self.state_path is not None:
            now = clock()
            self.door.restore(door_state.load(self.state_path), now)
            self._saved_lockouts = frozenset(self.door.lockouts(now))
        self.indicator = Indicator(config.hardware.leds)
        self._allowed: dict[str, bool] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._closed = False
        if board is not None:
            atexit.register(self._release_at_exit)

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Connect the board; call on the running loop, before the UA starts."""
        self._loop = asyncio.get_running_loop()
        self.indicator.start()
        self._leds()
        if self.board is None:
            return
        loop = self._loop

        def emit(event: HardwareEvent) -> None:  # any thread
            with contextlib.suppress(RuntimeError):  # the loop is already closed: shutting down
                loop.call_soon_threadsafe(self._event, event)

        try:
            self.board.start(emit)
            states = self.board.sensor_states()
        except BaseException:
            self.close()
            raise
        now = self._clock()
        if DOOR in states:  # a door already open at start still raises its left-open alarm
            self.door.sensor(states[DOOR], now)
        self._run_door(now)

    def close(self) -> None:
        """Release the relay, darken the LEDs, free the board. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        board = self.board
        if board is None:
            return
        atexit.unregister(self._release_at_exit)
        try:
            board.release_all()
        except Exception:
            log.exception("cannot release the door relay")
        finally:
            try:
                board.close()
            except Exception:
                log.exception("cannot close the hardware board")

    def _release_at_exit(self) -> None:
        if self.board is not None and not self._closed:
            with contextlib.suppress(Exception):
                self.board.release_all()

    # -- inputs ----------------------------------------------------------------------------

    def notice(self, notice: Notice) -> None:
        """Every notice the engine publishes (the UA's and the bridge's own)."""
        if self._closed:
            return
        now = self._clock()
        match notice:
            case CallIncoming():
                self._allowed[notice.call_id] = notice.allowed
            case CallAnswered():
                # A call we placed is trusted; an incoming one as far as the allowlist says.
                call_id = notice.call_id
                allowed = self._allowed.pop(call_id, False) if notice.caller is not None else True
                caller = notice.caller or notice.callee or ""
                self.door.call_answered(call_id, allowed, now, caller)
            case CallOver():
                self._allowed.pop(notice.call_id, None)
                self.door.call_ended(notice.call_id, now)
            case DtmfReceived():
                self.door.dtmf(notice.call_id, notice.digit, now)
            case _:
                pass
        self.indicator.notice(notice)
        self._leds()
        self._run_door(now)

    def dtmf(self, call_id: str, digit: str) -> None:
        """An RFC 4733 digit from the media loop."""
        if not self._closed:
            now = self._clock()
            self.door.dtmf(call_id, digit, now)
            self._run_door(now)

    def open_door(self, via: str = "ctl") -> dict[str, Any]:
        """``ctl open-door``: the answer for the control socket."""
        if self.board is None or not self.door.has_relay:
            return {"ok": False, "error": "no door relay configured (set [door] relay_pin)"}
        now = self._clock()
        self.door.open(via, now)
        ok = self._run_door(now)
        return (
            {"ok": True, "seconds": self.config.door.pulse_s}
            if ok
            else {
                "ok": False,
                "error": "the door relay did not switch (see the log)",
            }
        )

    def status(self) -> dict[str, object]:
        board: dict[str, object] = {"board": self.config.hardware.board}
        if self.board is not None:
            try:
                board = self.board.status()
            except Exception as exc:
                board = {"board": self.config.hardware.board, "error": str(exc)}
        return {
            **board,
            "state": self.indicator.state.value,
            "door": self.door.status(),
            "registration_enabled": self.buttons.registration_enabled,
        }

    def _event(self, event: HardwareEvent) -> None:
        """One board event, now on the loop."""
        if self._closed:
            return
        now = self._clock()
        if isinstance(event, ButtonEvent):
            self._publish(ButtonChanged(button=event.name, kind=event.kind.value))
            commands = self.buttons.handle(event, call_active=self.ua.active_call_id() is not None)
            for command in commands:
                self._command(command, now)
            self._step()
        elif isinstance(event, SensorEvent):
            if event.name == DOOR:
                self.door.sensor(event.active, now)
            else:
                self._publish(SensorChanged(sensor=event.name, active=event.active))
        elif isinstance(event, BoardFault):
            kind = HardwareOk if event.ok else HardwareFault
            self._publish(kind(reason=event.reason))
        self._run_door(now)

    # -- outputs ---------------------------------------------------------------------------

    def _command(self, command: ButtonCommand, now: float) -> None:
        ua = self.ua
        try:
            if isinstance(command, PlaceCall):
                if len(command.targets) == 1:
                    ua.call(command.targets[0], now)
                else:
                    ua.call_group(command.targets, command.parallel, command.target_timeout, now)
            elif isinstance(command, HangupCall):
                ua.hangup(now)
            elif isinstance(command, AnswerCall):
                ua.answer(now)
            elif isinstance(command, OpenDoorCommand):
                self.door.open("button", now)
            elif isinstance(command, Reregister):
                ua.reregister(now)
            elif isinstance(command, SetRegistered):
                ua.set_registered(command.enabled, now)
        except (ValueError, ParseError) as exc:
            log.warning("button %s: %s", command.button, exc)

    def _run_door(self, now: float) -> bool:
        """Carry out the door's actions; False if a relay pulse failed."""
        ok = True
        for action in self.door.actions():
            ok = self._door_action(action, now) and ok
        self._arm()
        self._keep_lockouts(now)
        return ok

    def _keep_lockouts(self, now: float) -> None:
        """Write the lockouts down when one started or ended (not on every digit)."""
        if self.state_path is None:
            return
        lockouts = self.door.lockouts(now)
        if frozenset(lockouts) != self._saved_lockouts:
            door_state.save(self.state_path, lockouts)
            self._saved_lockouts = frozenset(lockouts)

    def _door_action(self, action: DoorAction, now: float) -> bool:
        if isinstance(action, OpenDoor):
            if self.board is None:
                return False
            try:
                self.board.pulse_relay(DOOR, action.seconds)
            except Exception as exc:
                log.error("cannot pulse the door relay: %s", exc)
                self._publish(DoorOpenFailed(reason=str(exc)))
                return False
        elif isinstance(action, HangUp):
            if self.ua.end_call(action.call_id, "hung up after opening the door", now):
                self._step()
        else:
            self._publish(action)
        return True

    def _leds(self) -> None:
        if self.board is None:
            self.indicator.actions()
            return
        for action in self.indicator.actions():
            try:
                self.board.set_led(action.name, action.pattern)
            except Exception as exc:
                log.warning("cannot set LED %s: %s", action.name, exc)

    def _arm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        deadline = self.door.get_timer()
        if deadline is None or self._loop is None or self._closed:
            return
        delay = max(0.0, deadline - self._clock())
        self._timer = self._loop.call_at(self._loop.time() + delay, self._fire)

    def _fire(self) -> None:
        self._timer = None
        if not self._closed:
            now = self._clock()
            self.door.handle_timer(now)
            self._run_door(now)
