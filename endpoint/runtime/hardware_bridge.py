"""The runtime side of the hardware: board events to the core, device actions to the board.

The board's callbacks run in its own threads (gpiozero, pyserial); everything else here runs on
the asyncio loop, so events cross over exactly once, with ``loop.call_soon_threadsafe``. Every
decision (what a button does, whether a code opens the door, what the LEDs show) is the sans-IO
``Intercom``'s; this module hands it the board's events and carries out the ``SetLed`` and
``PulseRelay`` it returns, and keeps the door's lockouts on disk across restarts.

The door relay is released on every way out: ``close()`` (the engine's shutdown), an exception
while starting (the board is closed before the error travels on), and interpreter exit
(``atexit``), on top of the board's own pulse timeout.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
from collections.abc import Callable
from pathlib import Path

from endpoint.config import Config
from endpoint.hardware import factory
from endpoint.runtime import door_state
from endpoint.runtime.wiring import board_spec
from endpoint.ua.indicator import SetLed
from endpoint.ua.intercom import DeviceAction
from endpoint.ua.io import DOOR, HardwareEvent, IoBoard, SensorEvent

log = logging.getLogger("endpoint.hardware")


def open_board(config: Config) -> IoBoard | None:
    """The board ``[hardware] board`` names, built from the configured wiring (None: no board)."""
    hw = config.hardware
    spec = board_spec(hw, config.door)
    return factory.open_board(
        hw.board, spec, serial_port=hw.serial_port, pin_factory=hw.pin_factory
    )


class HardwareBridge:
    """The board of one running endpoint.

    ``on_input`` is the engine's way into the core: each board event, on the loop. ``execute``
    carries out one device action and says whether the relay switched.
    """

    def __init__(
        self,
        config: Config,
        board: IoBoard | None,
        on_input: Callable[[HardwareEvent], None],
        *,
        state_path: Path | None = None,
    ) -> None:
        self.config = config
        self.board = board
        self._on_input = on_input
        #: Where the door's lockouts are kept across restarts (None: not kept).
        self.state_path = state_path if state_path is not None else door_state.state_file()
        self._saved_lockouts: frozenset[str] = frozenset()
        self._closed = False
        if board is not None:
            atexit.register(self.release_at_exit)

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def has_relay(self) -> bool:
        return self.board is not None and self.config.door.relay_pin is not None

    # -- lifecycle -------------------------------------------------------------------------

    def saved_lockouts(self) -> dict[str, float]:
        """The door lockouts kept before a restart (seconds still to run)."""
        if self.state_path is None:
            return {}
        lockouts = door_state.load(self.state_path)
        self._saved_lockouts = frozenset(lockouts)
        return lockouts

    def start(self) -> None:
        """Connect the board; call on the running loop. A door already open at start is
        reported like any change, so its left-open alarm still rises."""
        if self.board is None:
            return
        loop = asyncio.get_running_loop()

        def emit(event: HardwareEvent) -> None:  # any thread
            with contextlib.suppress(RuntimeError):  # the loop is already closed: shutting down
                loop.call_soon_threadsafe(self._event, event)

        try:
            self.board.start(emit)
            states = self.board.sensor_states()
        except BaseException:
            self.close()
            raise
        if DOOR in states:
            self._on_input(SensorEvent(DOOR, states[DOOR]))

    def close(self) -> None:
        """Release the relay, darken the LEDs, free the board. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        board = self.board
        if board is None:
            return
        atexit.unregister(self.release_at_exit)
        try:
            board.release_all()
        except Exception:
            log.exception("cannot release the door relay")
        finally:
            try:
                board.close()
            except Exception:
                log.exception("cannot close the hardware board")

    def release_at_exit(self) -> None:
        """What ``atexit`` runs: the relay is released even if ``close()`` never ran."""
        if self.board is not None and not self._closed:
            with contextlib.suppress(Exception):
                self.board.release_all()

    def _event(self, event: HardwareEvent) -> None:
        """One board event, now on the loop."""
        if not self._closed:
            self._on_input(event)

    # -- outputs ---------------------------------------------------------------------------

    def execute(self, action: DeviceAction) -> str | None:
        """Carry out one action; the reason if the relay did not switch, else None."""
        board = self.board
        if board is None or self._closed:
            return None if isinstance(action, SetLed) else "no board"
        if isinstance(action, SetLed):
            try:
                board.set_led(action.name, action.pattern)
            except Exception as exc:
                log.warning("cannot set LED %s: %s", action.name, exc)
            return None
        try:
            board.pulse_relay(DOOR, action.seconds)
        except Exception as exc:
            log.error("cannot pulse the door relay: %s", exc)
            return str(exc)
        return None

    def keep_lockouts(self, lockouts: dict[str, float]) -> None:
        """Write the lockouts down when one started or ended (not on every digit)."""
        if self.state_path is None or frozenset(lockouts) == self._saved_lockouts:
            return
        door_state.save(self.state_path, lockouts)
        self._saved_lockouts = frozenset(lockouts)

    def status(self) -> dict[str, object]:
        """What the board reports (pins, LEDs, the serial link)."""
        if self.board is None:
            return {"board": self.config.hardware.board}
        try:
            return self.board.status()
        except Exception as exc:
            return {"board": self.config.hardware.board, "error": str(exc)}
