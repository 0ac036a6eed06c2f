"""Call transfer, sans-IO: following a peer's REFER, transferring the peer, and Replaces.

The concierge answers the door and transfers the visitor to the flat (RFC 5589 §6, blind; §7,
attended). As *transferee* we get an in-dialog REFER (the user agent already checked that it
belongs to one of our dialogs and comes from that dialog's peer), answer 202, report "100
Trying" by NOTIFY, place the new call to Refer-To (with its Replaces header for an attended
transfer), and report the new call's final status by NOTIFY with ``Subscription-State:
terminated`` (RFC 3515 §2.4.4-2.4.7). After a success the transferor normally hangs up the old
call; if it has not once our final NOTIFY was answered, we do.

A REFER is the peer choosing a number for the door to dial, so it is refused (403) unless
``[calls] accept_transfer`` is on, the call is trusted (an outgoing call, or a caller that
passed ``[calls] allow``), and the target's host is one the configuration names
(``endpoint.ua.configured.named_host``): with an account the new call goes through our PBX,
and a stranger must not make the door dial a premium number with it (toll fraud).

As *transferor* (``ctl transfer``, a button) we send the REFER, follow the NOTIFYs and hang
up on a 2xx sipfrag; a refused REFER or a failed target keeps the call. An incoming INVITE with
``Replaces`` (RFC 3891) takes over the confirmed dialog it names; early dialogs are not
replaced (481; an ``early-only`` INVITE that names a confirmed dialog gets 486, §3).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from endpoint.config import Config
from endpoint.sip import ParseError, Request, Response, make_response
from endpoint.sip.dialog import DialogState
from endpoint.ua.configured import named_host
from endpoint.ua.events import (
    Notice,
    TransferFailed,
    TransferRequested,
    TransferSucceeded,
)
from endpoint.ua.session import Session

if TYPE_CHECKING:
    from endpoint.sip.refer import ReferTarget

#: The implicit subscription's lifetime we grant (RFC 3515 §2.4.4): longer than a ring timeout.
SUBSCRIPTION_S = 120
#: Places a call to a URI with extra INVITE headers (Replaces); the new call's id.
Place = Callable[[str, tuple[tuple[str, str], ...], float], str]
#: Ends a call of ours (BYE or CANCEL) with a reason.
End = Callable[[str, str, float], object]


@dataclass
class Referral:
    """A REFER we follow (we are the transferee)."""

    session: Session
    target: ReferTarget
    event: str
    new_call_id: str | None = None
    #: NOTIFYs in flight: transaction key -> whether it is the final one.
    notifies: dict[str, bool] | None = None
    succeeded: bool = False


@dataclass
class Transferring:
    """A REFER we sent (we are the transferor): its transaction until it is answered."""

    session: Session
    target: str
    refer_tx: str | None
    #: When we stop waiting for the final NOTIFY (the subscription we asked for is over).
    deadline: float = 0.0


class Transfers:
    """The transfers of one user agent; the agent hands it REFERs, NOTIFYs, the answers to
    its requests and the outcomes of the calls it placed."""

    def __init__(
        self,
        config: Config,
        *,
        place: Place,
        end: End,
        trusted: Callable[[str], bool],
        notice: Callable[[Notice], None],
    ) -> None:
        self.config = config
        self.place = place
        self.end = end
        #: Is the call with this id trusted (outgoing, or a caller in ``[calls] allow``)?
        self.trusted = trusted
        self.notice = notice
        self.followed: dict[str, Referral] = {}  # old call id -> referral
        self.sent: dict[str, Transferring] = {}  # call id -> our REFER

    # -- the peer's REFER (we are the transferee) -------------------------------------------

    def on_refer(self, session: Session, request: Request, transaction: str, now: float) -> None:
        """Answer an in-dialog REFER: 202, then the "100 Trying" NOTIFY and the new call
        placed; or 400/403 and the call goes on (RFC 3515 §2.4.2)."""
        call_id = session.call_id
        texts = request.headers.get_all("Refer-To")
        if len(texts) != 1:
            reply = make_response(request, 400, "Bad Request (one Refer-To needed)")
            session.tx.send_response(transaction, reply, now)
            return
        # REFER's grammar (RFC 3515) only when a REFER comes: not loaded at start (issue 19).
        from endpoint.sip.refer import EVENT, ReferTarget

        target = ReferTarget.parse(texts[0])  # ParseError: answered 400 by the agent
        refusal = self._refusal(call_id, target)
        if refusal is not None:
            self.notice(
                TransferFailed(
                    call_id=call_id, target=str(target.uri), role="transferee", reason=refusal
                )
            )
            reply = make_response(request, 403, f"Forbidden ({refusal})")
            session.tx.send_response(transaction, reply, now)
            return
        accepted = make_response(request, 202, "Accepted", headers=[("Contact", _contact(session))])
        session.tx.send_response(transaction, accepted, now)
        referral = Referral(session, target, f"{EVENT};id={request.cseq.seq}", notifies={})
        self.followed[call_id] = referral
        self.notice(TransferRequested(call_id=call_id, target=str(target.uri), role="transferee"))
        self._notify(referral, 100, "Trying", now)
        headers = (("Replaces", str(target.replaces)),) if target.replaces else ()
        referral.new_call_id = self.place(str(target.uri), headers, now)

    def _refusal(self, call_id: str, target: ReferTarget) -> str | None:
        if not self.config.calls.accept_transfer:
            return "transfers are off: [calls] accept_transfer = false"
        if call_id in self.followed or call_id in self.sent:
            return "a transfer of this call is already in progress"
        if not self.trusted(call_id):
            return "the caller is not in [calls] allow"
        if not named_host(self.config, target.uri):
            return f"{target.uri.host} is not a configured domain or peer"
        return None

    def call_outcome(self, new_call_id: str, answered: bool, status: int, now: float) -> None:
        """The new call of a referral was answered or ended: report it by NOTIFY."""
        for old_call_id, referral in list(self.followed.items()):
            if referral.new_call_id != new_call_id:
                continue
            target = str(referral.target.uri)
            if answered:
                referral.succeeded = True
                self._notify(referral, 200, "OK", now, final=True)
                self.notice(
                    TransferSucceeded(call_id=old_call_id, target=target, role="transferee")
                )
            else:
                self._notify(referral, status, _reason(status), now, final=True)
                reason = f"the target answered {status}"
                self.notice(
                    TransferFailed(
                        call_id=old_call_id, target=target, role="transferee", reason=reason
                    )
                )
            if not referral.notifies:  # the old call is gone: nothing left to wait for
                self._finish(old_call_id, now)

    def _notify(
        self, referral: Referral, status: int, reason: str, now: float, *, final: bool = False
    ) -> None:
        """A NOTIFY of the implicit subscription (RFC 3515 §2.4.5), if the old call is up."""
        from endpoint.sip.refer import SIPFRAG, sipfrag  # loaded by the REFER already

        session = referral.session
        if session.ended is not None or session.dialog.state is DialogState.TERMINATED:
            return
        state = "terminated;reason=noresource" if final else f"active;expires={SUBSCRIPTION_S}"
        key = session.send_request(
            "NOTIFY",
            now,
            headers=[
                ("Event", referral.event),
                ("Subscription-State", state),
                ("Contact", _contact(session)),
                ("Content-Type", SIPFRAG),
            ],
            body=sipfrag(status, reason),
        )
        if key is not None and referral.notifies is not None:
            referral.notifies[key] = final

    def _finish(self, old_call_id: str, now: float) -> None:
        """The final NOTIFY was answered: after a success the old call ends (RFC 5589 §6.1:
        the transferor hangs up; if it has not, we do)."""
        referral = self.followed.pop(old_call_id, None)
        if referral is not None and referral.succeeded and referral.session.ended is None:
            self.end(old_call_id, "transferred", now)

    # -- our REFER (we are the transferor) ---------------------------------------------------

    def transfer(self, session: Session, target: ReferTarget, now: float) -> None:
        """Send the REFER moving the peer of ``session`` to ``target``; ValueError if that
        call is already being transferred."""
        call_id = session.call_id
        if call_id in self.sent or call_id in self.followed:
            raise ValueError("this call is already being transferred")
        key = session.send_request("REFER", now, headers=[("Refer-To", target.refer_to())])
        if key is None:
            raise ValueError("the call has ended")
        self.sent[call_id] = Transferring(session, str(target.uri), key, now + SUBSCRIPTION_S)
        self.notice(TransferRequested(call_id=call_id, target=str(target.uri), role="transferor"))

    def on_notify(self, session: Session, request: Request, now: float) -> Response:
        """A NOTIFY of the subscription our REFER created: 200, and the transfer's outcome
        when its sipfrag carries a final status. 481 for a NOTIFY of no REFER of ours."""
        from endpoint.sip.refer import EVENT, sipfrag_status, subscription_terminated  # REFER

        mine = self.sent.get(session.call_id)
        event = (request.headers.get("Event") or "").split(";", 1)[0].strip().lower()
        if mine is None or event != EVENT:
            return make_response(request, 481, "Subscription Does Not Exist")
        status = sipfrag_status(request.body)
        terminated = subscription_terminated(request.headers.get("Subscription-State"))
        if status is not None and status >= 200:
            self._sent_done(mine, status, now)
        elif terminated:
            self._sent_done(mine, 487, now)  # ended without a final status: treat as failed
        return make_response(request, 200)

    def _sent_done(self, mine: Transferring, status: int, now: float) -> None:
        call_id = mine.session.call_id
        self.sent.pop(call_id, None)
        if 200 <= status < 300:
            self.notice(TransferSucceeded(call_id=call_id, target=mine.target, role="transferor"))
            self.end(call_id, "transferred", now)
            return
        reason = f"the target answered {status}"
        self.notice(
            TransferFailed(call_id=call_id, target=mine.target, role="transferor", reason=reason)
        )

    # -- answers to our REFERs and NOTIFYs ---------------------------------------------------

    def owns(self, transaction: str) -> bool:
        return any(t.refer_tx == transaction for t in self.sent.values()) or any(
            transaction in (r.notifies or {}) for r in self.followed.values()
        )

    def on_answer(self, transaction: str, status: int | None, now: float) -> None:
        """A final answer (None: timeout or transport error) to a REFER or NOTIFY of ours."""
        for mine in list(self.sent.values()):
            if mine.refer_tx == transaction:
                mine.refer_tx = None
                if status is None or status >= 300:
                    self._refer_refused(mine, status)
        for old_call_id, referral in list(self.followed.items()):
            notifies = referral.notifies or {}
            if notifies.pop(transaction, False):
                self._finish(old_call_id, now)

    def _refer_refused(self, mine: Transferring, status: int | None) -> None:
        call_id = mine.session.call_id
        self.sent.pop(call_id, None)
        reason = "no answer to the REFER" if status is None else f"REFER answered {status}"
        self.notice(
            TransferFailed(call_id=call_id, target=mine.target, role="transferor", reason=reason)
        )

    def get_timer(self) -> float | None:
        return min((t.deadline for t in self.sent.values()), default=None)

    def handle_timer(self, now: float) -> None:
        """A REFER of ours whose final NOTIFY never came: the transfer failed, the call goes on
        (and may be transferred again)."""
        for mine in [t for t in self.sent.values() if t.deadline <= now]:
            self.sent.pop(mine.session.call_id, None)
            reason = f"no final NOTIFY within {SUBSCRIPTION_S} s"
            self.notice(
                TransferFailed(
                    call_id=mine.session.call_id,
                    target=mine.target,
                    role="transferor",
                    reason=reason,
                )
            )

    def prune(self) -> None:
        """Forget REFERs we sent in calls that are over: nothing can follow them any more."""
        for call_id, mine in list(self.sent.items()):
            if mine.session.ended is not None:
                del self.sent[call_id]

    # -- Replaces (RFC 3891) -------------------------------------------------------------------

    def replaced(self, request: Request, sessions: Iterable[Session]) -> Session | int:
        """The confirmed call an INVITE's Replaces header takes over, or the status to refuse
        it with: 481 no such (confirmed, trusted) dialog, 486 early-only for a confirmed one."""
        texts = request.headers.get_all("Replaces")
        if len(texts) != 1:
            raise ParseError("one Replaces header field at most (RFC 3891 §6.1)")
        from endpoint.sip.refer import Replaces  # RFC 3891: only an INVITE with Replaces

        wanted = Replaces.parse(texts[0])
        for session in sessions:
            dialog = session.dialog
            if (dialog.call_id, dialog.local_tag, dialog.remote_tag) != (
                wanted.call_id,
                wanted.to_tag,
                wanted.from_tag,
            ):
                continue
            if session.ended is not None or not self.trusted(session.call_id):
                return 481
            return 486 if wanted.early_only else session
        return 481


def _contact(session: Session) -> str:
    return session.dialog.local_contact


def _reason(status: int) -> str:
    return {
        404: "Not Found",
        408: "Request Timeout",
        480: "Temporarily Unavailable",
        486: "Busy Here",
        487: "Request Terminated",
        488: "Not Acceptable Here",
        603: "Decline",
    }.get(status, "Failed")
