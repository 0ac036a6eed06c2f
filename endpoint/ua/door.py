"""The door: opening it by DTMF code, by button or control command, and watching its sensor.

A door intercom's reason to exist is to let the right person open the door from their phone,
and nobody else. So the code is only listened for during an *answered* call with a caller the
allowlist lets in (or a call we placed ourselves), a half-typed code is forgotten after a pause,
and wrong codes are counted across calls — hanging up and calling again does not buy new tries —
until ``max_wrong`` locks DTMF opening out for ``lockout_minutes``. Opening is a relay *pulse*
(``pulse_s``): the board releases the relay by itself, so a crash cannot leave the door open.

Sans-IO like the rest of ``endpoint.ua``: the runtime tells ``DoorControl`` what happened
(``call_answered``, ``dtmf``, ``sensor`` ...) with ``now``, drains ``actions()`` and re-arms one
timer at ``get_timer()``; ``handle_timer(now)`` fires digit timeouts, the end of a lockout, the
optional hang-up after opening and the door-left-open alarm.
"""

from __future__ import annotations

from dataclasses import dataclass

from endpoint.config import DoorSettings
from endpoint.ua.events import (
    DoorCodeWrong,
    DoorLeftOpen,
    DoorLockedOut,
    DoorLockoutEnded,
    DoorOpened,
    DoorPulseEnded,
    DoorSensor,
    Notice,
)

DTMF_KEYS = frozenset("0123456789*#ABCD")
#: Digits of one call closer together than this are ignored: a person cannot press faster, a
#: brute-force script can (issue 13 rule 8: digits are rate-limited per call).
MIN_DIGIT_INTERVAL_S = 0.1
#: Wrong codes from all callers together that lock DTMF opening out for everyone: a caller
#: who changes his From to get new tries meets this limit (per-caller limit: ``max_wrong``).
GLOBAL_WRONG_FACTOR = 3
#: Callers whose wrong codes are remembered at once (the oldest is forgotten beyond).
MAX_CALLERS = 256
#: The key of the global lockout in ``lockouts()``.
EVERYONE = "*"


@dataclass(frozen=True, slots=True)
class OpenDoor:
    """Pulse the door relay for ``seconds``."""

    seconds: float


@dataclass(frozen=True, slots=True)
class HangUp:
    """End call ``call_id`` (``hangup_after_open_s`` after the door was opened from it)."""

    call_id: str


DoorAction = OpenDoor | HangUp | Notice


@dataclass(slots=True)
class _Call:
    """What the door policy knows of one call: whether it may open and its DTMF timing."""

    call_id: str
    allowed: bool
    caller: str = ""
    last_digit_at: float | None = None


class DoorControl:
    def __init__(self, settings: DoorSettings) -> None:
        self.settings = settings
        self._actions: list[DoorAction] = []
        self._call: _Call | None = None
        self._entry = ""
        self._entry_deadline: float | None = None
        self._wrong = 0
        self._locked_until: float | None = None
        #: Per caller: wrong codes, and when the caller's own lockout ends.
        self._wrong_by: dict[str, int] = {}
        self._caller_locked: dict[str, float] = {}
        #: Digits ignored for coming too fast.
        self.fast_digits = 0
        self._pulse_until: float | None = None
        self._hangup: tuple[float, str] | None = None
        self._sensor_open: bool | None = None
        self._left_open_at: float | None = None

    @property
    def has_relay(self) -> bool:
        return self.settings.relay_pin is not None

    @property
    def locked_out(self) -> bool:
        """Everyone is locked out, or the caller of the call now up is."""
        if self._locked_until is not None:
            return True
        return self._call is not None and self._call.caller in self._caller_locked

    def lockouts(self, now: float) -> dict[str, float]:
        """Seconds each lockout still runs (``EVERYONE`` for the global one): what the runtime
        keeps in the state directory so that a restart does not buy new tries."""
        out = {k: until - now for k, until in self._caller_locked.items() if until > now}
        if self._locked_until is not None and self._locked_until > now:
            out[EVERYONE] = self._locked_until - now
        return out

    def restore(self, lockouts: dict[str, float], now: float) -> None:
        """Take back lockouts saved before a restart (seconds still to run)."""
        for key, seconds in list(lockouts.items())[:MAX_CALLERS]:
            if not 0 < seconds <= self.settings.lockout_minutes * 60:
                continue  # expired, or a file that cannot be ours
            if key == EVERYONE:
                self._locked_until = now + seconds
            else:
                self._caller_locked[key] = now + seconds

    # -- what the runtime reports ----------------------------------------------------------

    def call_answered(self, call_id: str, allowed: bool, now: float, caller: str = "") -> None:
        """A call is up; ``allowed``: the caller passed the allowlist (or we placed the call);
        ``caller``: who it is (the From or the target), for the per-caller lockout."""
        del now
        self._call = _Call(call_id, allowed, caller)
        self._reset_entry()

    def call_ended(self, call_id: str, now: float) -> None:
        del now
        if self._call is not None and self._call.call_id == call_id:
            self._call = None
            self._reset_entry()
        if self._hangup is not None and self._hangup[1] == call_id:
            self._hangup = None

    def dtmf(self, call_id: str, digit: str, now: float) -> None:
        """A DTMF key from call ``call_id`` (RFC 4733 event or SIP INFO)."""
        s = self.settings
        call = self._call
        if not s.code or not self.has_relay or call is None or call.call_id != call_id:
            return
        if not call.allowed or digit not in DTMF_KEYS or self._locked_until is not None:
            return
        if call.caller in self._caller_locked:
            return
        if call.last_digit_at is not None and now - call.last_digit_at < MIN_DIGIT_INTERVAL_S:
            self.fast_digits += 1
            return
        call.last_digit_at = now
        if self._entry_deadline is not None and now >= self._entry_deadline:
            self._reset_entry()  # the caller paused: a new entry starts
        if digit == "*" and "*" not in s.code:
            self._reset_entry()  # the usual "clear" key
            return
        if digit == "#" and "#" not in s.code:
            entry = self._entry
            self._reset_entry()
            if entry:
                self._wrong_code(call_id, now)
            return
        self._entry += digit
        self._entry_deadline = now + s.code_timeout_s
        if self._entry == s.code:
            self._reset_entry()
            self._wrong = 0
            self._wrong_by.pop(call.caller, None)
            self._open("dtmf", call_id, now)
        elif len(self._entry) >= len(s.code):
            self._reset_entry()
            self._wrong_code(call_id, now)

    def open(self, via: str, now: float) -> bool:
        """Open from a button (``via="button"``) or ``ctl open-door`` (``"ctl"``).

        These are trusted inputs (someone inside, or root on the box), so no code and no
        lockout; False if there is no relay to open.
        """
        if not self.has_relay:
            return False
        self._open(via, self._call.call_id if self._call is not None else None, now)
        return True

    def sensor(self, is_open: bool, now: float) -> None:
        """The door contact changed (True: the door is open)."""
        if is_open == self._sensor_open:
            return
        self._sensor_open = is_open
        self._actions.append(DoorSensor(state="open" if is_open else "closed"))
        left_open = self.settings.left_open_s
        self._left_open_at = now + left_open if is_open and left_open > 0 else None

    # -- the five methods ------------------------------------------------------------------

    def actions(self) -> list[DoorAction]:
        out, self._actions = self._actions, []
        return out

    def get_timer(self) -> float | None:
        times = [
            t
            for t in (
                self._entry_deadline,
                self._locked_until,
                self._pulse_until,
                self._hangup[0] if self._hangup is not None else None,
                self._left_open_at,
            )
            if t is not None
        ]
        times += self._caller_locked.values()
        return min(times) if times else None

    def handle_timer(self, now: float) -> None:
        if self._entry_deadline is not None and now >= self._entry_deadline:
            self._reset_entry()
        if self._locked_until is not None and now >= self._locked_until:
            self._locked_until = None
            self._wrong = 0
            self._wrong_by.clear()
            self._actions.append(DoorLockoutEnded())
        for caller, until in list(self._caller_locked.items()):
            if now >= until:
                del self._caller_locked[caller]
                self._wrong_by.pop(caller, None)
                self._actions.append(DoorLockoutEnded(scope="caller"))
        if self._pulse_until is not None and now >= self._pulse_until:
            self._pulse_until = None
            self._actions.append(DoorPulseEnded())
        if self._hangup is not None and now >= self._hangup[0]:
            call_id = self._hangup[1]
            self._hangup = None
            if self._call is not None and self._call.call_id == call_id:
                self._actions.append(HangUp(call_id))
        if self._left_open_at is not None and now >= self._left_open_at:
            self._left_open_at = None
            self._actions.append(DoorLeftOpen(seconds=self.settings.left_open_s))

    def status(self) -> dict[str, object]:
        return {
            "relay": self.has_relay,
            "dtmf_code": bool(self.settings.code),
            "wrong_codes": self._wrong,
            "locked_out": self.locked_out,
            "callers_locked_out": len(self._caller_locked),
            "sensor": None if self._sensor_open is None else self._sensor_open,
        }

    # -- internals -------------------------------------------------------------------------

    def _reset_entry(self) -> None:
        self._entry = ""
        self._entry_deadline = None

    def _open(self, via: str, call_id: str | None, now: float) -> None:
        s = self.settings
        self._actions.append(OpenDoor(s.pulse_s))
        self._actions.append(DoorOpened(via=via, call_id=call_id, seconds=s.pulse_s))
        self._pulse_until = now + s.pulse_s
        if call_id is not None and s.hangup_after_open_s > 0:
            self._hangup = (now + s.hangup_after_open_s, call_id)

    def _wrong_code(self, call_id: str, now: float) -> None:
        """Count a wrong code for the caller and for everyone: ``max_wrong`` from one caller
        locks that caller out, ``GLOBAL_WRONG_FACTOR`` times as many from all callers locks
        everyone out; either raises the ``door-locked-out`` alarm."""
        s = self.settings
        caller = self._call.caller if self._call is not None else ""
        self._wrong += 1
        wrong = self._wrong_by.pop(caller, 0) + 1
        self._wrong_by[caller] = wrong  # most recent last
        if len(self._wrong_by) > MAX_CALLERS:
            del self._wrong_by[next(iter(self._wrong_by))]
        self._actions.append(
            DoorCodeWrong(call_id=call_id, attempt=wrong, left=max(0, s.max_wrong - wrong))
        )
        if s.lockout_minutes <= 0:
            return
        until = now + s.lockout_minutes * 60
        scope = None
        if self._wrong >= s.max_wrong * GLOBAL_WRONG_FACTOR:
            self._locked_until, scope = until, "everyone"
        elif wrong >= s.max_wrong:
            self._caller_locked[caller] = until
            if len(self._caller_locked) > MAX_CALLERS:  # the global limit is far lower
                del self._caller_locked[next(iter(self._caller_locked))]
            scope = "caller"
        if scope is not None:
            self._reset_entry()
            self._actions.append(
                DoorLockedOut(call_id=call_id, minutes=s.lockout_minutes, wrong=wrong, scope=scope)
            )
