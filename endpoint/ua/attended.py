"""Attended transfer from our side (RFC 5589 §7), sans-IO: hold, consult, then REFER+Replaces.

The concierge's door answers a visitor (call A), puts the visitor on hold and calls the flat
(the *consultation* call B) to announce them; then either completes the transfer (the
visitor's phone is told by REFER to call the flat with ``Replaces`` naming B, so the flat's
phone swaps our call for the visitor's) or cancels it (B ends, A is resumed).

The user agent holds one call at a time; a consultation is the one exception, and only
``ctl transfer --attended`` makes one: beside the held call A exactly one call B, placed by
us. Any other incoming call still gets 486 while both exist (the agent's busy rule sees B).

Nothing here trusts the network: B's dialog identifiers come from our own dialog, and the
REFER goes in A's dialog to A's peer only. A stranger's REFER or INVITE with Replaces goes
through the existing checks (``endpoint.ua.transfer``: in-dialog, trusted, named host).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from endpoint.sip.uri import SipURI
from endpoint.ua.events import ConsultationEnded, ConsultationStarted, Notice
from endpoint.ua.session import Session
from endpoint.ua.transfer import Transfers

#: Places our consultation call to a URI; its call id.
Place = Callable[[str, float], str]
#: Ends a call of ours (BYE or CANCEL) with a reason; whether there was one to end.
End = Callable[[str, str, float], bool]


@dataclass
class Consultation:
    """The held call A and our consultation call B, and whether the REFER went out."""

    held: Session
    call_id: str
    target: str
    completing: bool = False


class Consultations:
    """At most one attended transfer in progress; the agent calls ``step`` after each event
    so the outcome of either call moves the consultation on."""

    def __init__(
        self,
        *,
        place: Place,
        end: End,
        up: Callable[[str], bool],
        sessions: Callable[[], Iterable[Session]],
        transfers: Transfers,
        notice: Callable[[Notice], None],
    ) -> None:
        self.place = place
        self.end = end
        #: Is the call with this id still up (ringing or answered, not ended)?
        self.up = up
        self.sessions = sessions
        self.transfers = transfers
        self.notice = notice
        self.current: Consultation | None = None

    def start(self, held: Session, target: str, now: float) -> str:
        """Hold ``held`` (a=sendonly re-INVITE) and place the consultation call; its id.
        ValueError while a consultation or a transfer of that call is under way."""
        if self.current is not None:
            raise ValueError("a consultation call is already up: --complete or --cancel it")
        if held.call_id in self.transfers.sent or held.call_id in self.transfers.followed:
            raise ValueError("this call is already being transferred")
        problem = held.set_hold(True, now)
        if problem is not None and not held.held:
            raise ValueError(f"cannot hold the call: {problem}")
        call_id = self.place(target, now)
        self.current = Consultation(held, call_id, target)
        self.notice(ConsultationStarted(call_id=call_id, held_call_id=held.call_id, target=target))
        return call_id

    def complete(self, now: float) -> str:
        """Send the REFER to A's peer: Refer-To B's remote target with ``Replaces`` naming B
        as the target sees it (RFC 3891 §3: to-tag is the target's tag, from-tag ours). The
        held call's id; ValueError when there is no answered consultation call."""
        current = self._current()
        consulted = self._answered(current.call_id)
        if current.completing:
            raise ValueError("the transfer is already being completed")
        dialog = consulted.dialog
        uri = dialog.remote_target
        if not isinstance(uri, SipURI):
            raise ValueError(f"the consultation peer's Contact {uri} is not a SIP URI")
        from endpoint.sip.refer import ReferTarget, Replaces  # at the transfer, not at start

        replaces = Replaces(dialog.call_id, dialog.remote_tag, dialog.local_tag)
        target = ReferTarget(uri.without_headers(), replaces)
        self.transfers.transfer(current.held, target, now)
        current.completing = True
        return current.held.call_id

    def cancel(self, now: float) -> str:
        """``--cancel``: BYE (or CANCEL) the consultation call and resume the held one."""
        current = self._current()
        if current.completing:
            raise ValueError("the REFER is out: wait for the transfer's outcome")
        self.end(current.call_id, "consultation cancelled", now)
        self._resume(current, "cancelled", now)
        return current.held.call_id

    def step(self, now: float) -> None:
        """Follow both calls. A ended after our REFER succeeded (the transfer module hangs up
        A on the 2xx sipfrag): B ends too, unless the target's Replaces already ended it.
        B ended before completion (not answered, or its peer hung up): A is resumed. A REFER
        that failed with B gone resumes A; with B still up the user may retry or cancel."""
        current = self.current
        if current is None:
            return
        held_up = current.held.ended is None
        consult_up = self.up(current.call_id)
        if not held_up:
            self.current = None
            if current.completing:
                self.end(current.call_id, "transferred", now)
                outcome = "transferred"
            else:
                outcome = "held-call-ended"
            self.notice(
                ConsultationEnded(
                    call_id=current.call_id, held_call_id=current.held.call_id, outcome=outcome
                )
            )
            return
        if current.completing and current.held.call_id not in self.transfers.sent:
            current.completing = False  # the REFER failed: the user may try again
        if not consult_up and not current.completing:
            self._resume(current, "failed", now)

    def _resume(self, current: Consultation, outcome: str, now: float) -> None:
        self.current = None
        current.held.set_hold(False, now)  # "not held" (a hold never answered) is fine
        self.notice(
            ConsultationEnded(
                call_id=current.call_id, held_call_id=current.held.call_id, outcome=outcome
            )
        )

    def _current(self) -> Consultation:
        if self.current is None:
            raise ValueError("no consultation call: start one with transfer --attended URI")
        return self.current

    def _answered(self, call_id: str) -> Session:
        for session in self.sessions():
            if session.call_id == call_id and session.ended is None:
                return session
        raise ValueError("the consultation call is not answered yet")

    def status(self) -> dict[str, object] | None:
        """For ``ctl status``: which call is held and which one consults (None: no consultation)."""
        current = self.current
        if current is None:
            return None
        return {
            "held_call_id": current.held.call_id,
            "call_id": current.call_id,
            "target": current.target,
            "completing": current.completing,
        }
