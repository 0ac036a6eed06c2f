"""An established call, whichever side placed it: re-INVITE/UPDATE, session timers, limits, BYE.

Once a call is answered, both directions behave alike. The peer may put us on hold, move its
media or refresh the session with a re-INVITE or UPDATE (RFC 3261 §14, RFC 3311); we answer its
offer keeping the codec we stream, and tell the media engine what changed. RFC 4028 session
timers end a call whose peer vanished: the refresher refreshes every half interval, the other
side sends BYE when no refresh came. A door may cap the call length: ten seconds before the end
the peer hears a warning, ``#`` grants another period (as 2N does), then BYE. Everything is
sans-IO: requests and responses go through the transaction layer, media changes and alerts are
events for the runtime, and ``ended`` tells the owner the call is over and why.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Protocol, TypeVar

from endpoint.config import Config
from endpoint.sip import ParseError, Request, Response, make_response
from endpoint.sip.checks import DEFAULT_METHODS
from endpoint.sip.dialog import Dialog
from endpoint.sip.grammar import parse_int
from endpoint.sip.headers import Via
from endpoint.sip.offer_answer import (
    LocalMedia,
    NegotiatedMedia,
    NotAcceptableError,
    SdpSession,
    hold,
    keep_codec,
    make_answer,
    make_offer,
    process_answer,
)
from endpoint.sip.sdp import SessionDescription, parse_sdp
from endpoint.sip.transaction import TransactionLayer, new_branch
from endpoint.sip.uri import SipURI, hop_transport
from endpoint.ua.actions import PlayAlert, UpdateMedia
from endpoint.ua.events import (
    CallExtended,
    CallHeld,
    CallHoldFailed,
    CallResumed,
    CallTimeWarning,
    DtmfFailed,
    Notice,
)
from endpoint.ua.registration import LocalAddress
from endpoint.ua.session_timer import (
    IntervalTooSmallError,
    TimerPlan,
    plan_as_uac,
    plan_as_uas,
    uac_headers,
    uas_headers,
)

SessionEvent = Notice | UpdateMedia | PlayAlert
#: Seconds of warning before the call-length limit ends the call.
WARNING_S = 10.0
#: 491s a hold/resume re-INVITE meets before we give up and say so (call-hold-failed): glare
#: twice in a row after random waits is rare; three times means the peer keeps refusing.
HOLD_GLARE_RETRIES = 2


@dataclass
class Session:
    """One confirmed dialog with its media; owned by the incoming or outgoing call it grew from."""

    call_id: str
    dialog: Dialog
    local: LocalMedia
    sdp: SdpSession
    media: NegotiatedMedia
    #: Our last SDP (offer or answer): re-sent unchanged by a refreshing re-INVITE.
    local_sdp: SessionDescription
    config: Config
    address: LocalAddress
    tx: TransactionLayer
    rng: random.Random = field(repr=False)
    resolve: Callable[[str], str]
    #: Hands an event to the owner (the call's event list, read by the runtime).
    emit: Callable[[SessionEvent], None]
    #: The peer's Allow listed UPDATE: refresh with a body-less UPDATE instead of a re-INVITE.
    peer_allows_update: bool = False
    plan: TimerPlan | None = None
    refresh_at: float | None = None
    expire_at: float | None = None
    limit_at: float | None = None
    warn_at: float | None = None
    warned: bool = False
    #: Our own re-INVITE/UPDATE in flight: (transaction key, request).
    pending: tuple[str, Request] | None = None
    #: A body-less re-INVITE from the peer: we offered in the 2xx, the answer comes in the ACK.
    offered_in_2xx: SessionDescription | None = None
    ended: str | None = None
    #: Where the dialog's signalling comes from: the initial INVITE's source (incoming) or the
    #: hop we sent it to (outgoing). With the remote target's host, the only addresses whose
    #: in-dialog requests count (issue 13 rule 4: a dialog's tags are not a password).
    peer_hosts: frozenset[str] = frozenset()
    _last_ack: Request | None = field(default=None, repr=False)
    #: Keys for SIP INFO (no telephone-event on this call): sent one at a time, in order.
    info_keys: deque[str] = field(default_factory=deque)
    #: The INFO in flight: its transaction key.
    info_pending: str | None = None
    #: We hold the call (``ctl hold``): offers say a=sendonly and no audio is sent.
    held: bool = False
    #: Our hold/resume re-INVITE in flight: its offer, and whether it holds.
    hold_offer: tuple[SessionDescription, bool] | None = None
    #: After a 491 to our hold/resume re-INVITE (glare, RFC 3261 §14.1): when to offer it
    #: again, whether it holds, and how many times it met glare so far.
    hold_retry: tuple[float, bool, int] | None = None
    #: How many 491s the hold/resume re-INVITE in flight met before it.
    hold_glare: int = 0

    # -- setting up ----------------------------------------------------------------------------

    def start(self, plan: TimerPlan | None, now: float) -> None:
        """The call was answered at ``now``: arm the session timer and the length limit."""
        self._arm(plan, now)
        limit = self.config.calls.max_duration
        if limit > 0:
            self._limit(now + limit)

    def _limit(self, at: float) -> None:
        limit = self.config.calls.max_duration
        self.limit_at = at
        self.warn_at = at - min(WARNING_S, limit / 2)
        self.warned = False

    def _arm(self, plan: TimerPlan | None, now: float) -> None:
        self.plan = plan
        self.refresh_at = self.expire_at = None
        if plan is not None and plan.we_refresh:
            self.refresh_at = now + plan.refresh_after
        elif plan is not None:
            self.expire_at = now + plan.expire_after

    # -- the peer's requests inside the dialog ----------------------------------------------------

    def from_peer(self, host: str) -> bool:
        """Is ``host`` the dialog's peer: where its INVITE came from or went to, or the host of
        its remote target or first route (a BYE may come straight from the phone)?"""
        return dialog_peer(host, self.dialog, self.peer_hosts, self.resolve, self.address.transport)

    def on_request(self, request: Request, transaction: str, now: float) -> None:
        """A re-INVITE or UPDATE (RFC 3261 §14.2, RFC 3311 §5.2)."""
        status = self.dialog.receive_request(request)
        if status is not None:
            self._reply(request, transaction, status, now, headers=[("Retry-After", "1")])
            return
        if self.pending is not None and request.body:
            # §14.2 / RFC 3311 §5.2: an offer while ours is outstanding: glare.
            self._reply(request, transaction, 491, now)
            return
        try:
            plan = plan_as_uas(request, self.config.calls.session_expires)
            body, media = self._answer_offer(request)
        except IntervalTooSmallError as exc:
            self._reply(request, transaction, 422, now, headers=[("Min-SE", str(exc.minimum))])
            return
        except NotAcceptableError as exc:
            # §14.2: a refused re-offer leaves the session as it was.
            self._reply(request, transaction, 488, now, reason=f"Not Acceptable Here ({exc})")
            return
        except ParseError as exc:
            self._reply(request, transaction, exc.status, now, reason=f"Bad Request ({exc.reason})")
            return
        headers = [
            ("Contact", self.dialog.local_contact),
            ("Allow", ", ".join(DEFAULT_METHODS)),
            ("Supported", "timer"),
            *uas_headers(request, plan),
        ]
        if body:
            headers.append(("Content-Type", "application/sdp"))
        response = make_response(request, 200, headers=headers, body=body)
        self.tx.send_response(transaction, response, now)
        self._arm(plan, now)
        if media is not None:
            self._media_changed(media)

    def _answer_offer(self, request: Request) -> tuple[bytes, NegotiatedMedia | None]:
        if not request.body:
            if request.method == "UPDATE":
                return b"", None  # a plain session refresh
            # A re-INVITE without an offer: we offer (our current SDP) and the ACK answers.
            self.offered_in_2xx = make_offer(self._keep_codec(), self.sdp)
            return bytes(self.offered_in_2xx), None
        offer = parse_sdp(request.body)
        answer, media = make_answer(
            offer, self._keep_codec(), self.sdp, self.media.srtp, self.media.dtls
        )
        self.local_sdp = answer
        return bytes(answer), media

    def _keep_codec(self) -> LocalMedia:
        """Answer re-offers with the codec we stream: the media engine keeps its encoder;
        while we hold, every offer and answer of ours says a=sendonly (RFC 3264 §8.4)."""
        local = keep_codec(self.local, self.media)
        return hold(local) if self.held else local

    def ack(self, request: Request) -> None:
        """The ACK of a 2xx we sent to a body-less re-INVITE carries the peer's answer."""
        offer, self.offered_in_2xx = self.offered_in_2xx, None
        if offer is None or not request.body:
            return
        try:
            media = process_answer(offer, parse_sdp(request.body), self._keep_codec())
        except (ParseError, NotAcceptableError):
            return  # §14.1: a bad answer in an ACK: keep the session as it was
        self.local_sdp = offer
        self._media_changed(media)

    def _media_changed(self, media: NegotiatedMedia) -> None:
        if self.held:
            # a=sendonly is the hold offer's wording; a door on hold sends no audio at all.
            media = replace(media, direction="inactive")
        before, self.media = self.media, media
        if media != before:
            self.emit(UpdateMedia(self.call_id, media))
        if media.remote_hold != before.remote_hold:
            kind = CallHeld if media.remote_hold else CallResumed
            self.emit(kind(call_id=self.call_id, by="peer"))

    def _reply(
        self,
        request: Request,
        transaction: str,
        status: int,
        now: float,
        *,
        headers: list[tuple[str, str]] | None = None,
        reason: str | None = None,
    ) -> None:
        self.tx.send_response(
            transaction, make_response(request, status, reason, headers=headers or []), now
        )

    # -- our refreshes -----------------------------------------------------------------------------

    def owns(self, transaction: str) -> bool:
        return self.pending is not None and self.pending[0] == transaction

    def resent(self, old: str, new: str, request: Request) -> None:
        """Our request ``old`` went again with credentials as ``new`` (RFC 3261 §22.2): the
        refresh or INFO in flight is now that one."""
        if self.pending is not None and self.pending[0] == old:
            self.pending = (new, request)
        if self.info_pending == old:
            self.info_pending = new

    def _refresh(self, now: float) -> None:
        """§7.4: a body-less UPDATE if the peer takes it, else a re-INVITE with our SDP."""
        assert self.plan is not None
        self.refresh_at = None
        headers = [*uac_headers(self.plan.interval), ("Allow", ", ".join(DEFAULT_METHODS))]
        if self.peer_allows_update:
            request = self.dialog.create_request("UPDATE", self._via(), headers=headers)
        else:
            headers.append(("Content-Type", "application/sdp"))
            request = self.dialog.create_request(
                "INVITE", self._via(), headers=headers, body=bytes(self.local_sdp)
            )
        key = self._send(request, now)
        self.pending = (key, request) if key is not None else None

    def set_hold(self, held: bool, now: float) -> str | None:
        """``ctl hold`` / ``ctl resume``: a re-INVITE offering a=sendonly, or sendrecv again
        (RFC 3264 §8.4). None once it is sent; else why not (the control client shows it)."""
        if self.ended is not None:
            return "the call has ended"
        if self.hold_retry is not None:
            if held == self.hold_retry[1]:
                return "the peer's re-INVITE crossed ours (491): ours is retried in a moment"
            self.hold_retry = None  # the retry would undo what is asked now: drop it
        if held == self.held:
            return "the call is already held" if held else "the call is not held"
        return self._send_hold(held, now, 0)

    def _send_hold(self, held: bool, now: float, glare: int) -> str | None:
        """The hold/resume re-INVITE itself; ``glare`` counts the 491s it met before."""
        if self.pending is not None:
            return "a re-INVITE is in progress: try again in a moment"
        local = keep_codec(self.local, self.media)
        offer = make_offer(hold(local) if held else local, self.sdp)
        headers = [("Allow", ", ".join(DEFAULT_METHODS)), ("Content-Type", "application/sdp")]
        if self.plan is not None:  # the re-INVITE refreshes the session too (RFC 4028 §7.4)
            headers[:0] = uac_headers(self.plan.interval)
        request = self.dialog.create_request(
            "INVITE", self._via(), headers=headers, body=bytes(offer)
        )
        key = self._send(request, now)
        if key is None:
            return "the peer gave no address to send the re-INVITE to"
        self.pending = (key, request)
        self.hold_offer = (offer, held)
        self.hold_glare = glare
        return None

    def _hold_answered(self, response: Response, now: float) -> bool:
        """The peer's answer to our hold/resume offer: the media follows, the log says so.
        True when it was a hold/resume answer, so a 491 is retried as one (not a refresh)."""
        pending, self.hold_offer = self.hold_offer, None
        if pending is None:
            return False
        offer, held = pending
        if response.status == 491 and self.hold_glare < HOLD_GLARE_RETRIES:
            self.hold_retry = (now + self._glare_wait(), held, self.hold_glare + 1)
            return True
        if response.status >= 300:
            reason = f"{response.status} {response.reason}".strip()
            self.emit(CallHoldFailed(call_id=self.call_id, hold=held, reason=reason))
            return True
        local = keep_codec(self.local, self.media)
        try:
            media = process_answer(offer, parse_sdp(response.body), hold(local) if held else local)
        except (ParseError, NotAcceptableError) as exc:
            # A bad answer leaves the session as it was (§14.1).
            reason = f"unusable SDP answer: {exc}"
            self.emit(CallHoldFailed(call_id=self.call_id, hold=held, reason=reason))
            return True
        self.local_sdp = offer
        self.held = held
        self._media_changed(media)
        kind = CallHeld if held else CallResumed
        self.emit(kind(call_id=self.call_id, by="us"))
        return True

    def _glare_wait(self) -> float:
        """RFC 3261 §14.1: the Call-ID's owner (the caller) waits 2.1-4 s, the other 0-2 s,
        so the two re-INVITEs do not cross again."""
        return self.rng.uniform(2.1, 4.0) if self.dialog.caller else self.rng.uniform(0, 2.0)

    def on_response(self, response: Response, now: float) -> None:
        """The final answer to our refresh or hold/resume re-INVITE (RFC 4028 §10 for the
        failure cases)."""
        assert self.pending is not None
        request = self.pending[1]
        if response.status < 200:
            return
        self.pending = None
        was_hold = self._hold_answered(response, now)
        if response.status in (408, 481):
            # RFC 4028 §10: the peer lost the session; BYE is sent all the same.
            self.hang_up(f"session refresh answered {response.status} {response.reason}", now)
            return
        self.dialog.receive_response(response)
        if request.method == "INVITE" and response.status < 300:
            self._ack(request, now)
        if response.status < 300:
            self._arm(plan_as_uac(response), now)
        elif response.status == 422:
            self._retry_with(response, now)
        elif response.status == 491 and not was_hold and self.plan is not None:
            self.refresh_at = now + self._glare_wait()  # §14.1 glare: the refresh again
        elif self.plan is not None and not was_hold:
            # Other failures leave the session up; try again before it would expire.
            self.refresh_at = now + min(32.0, self.plan.interval / 3) / 2

    def on_failure(self, now: float) -> None:
        """Our refresh timed out: the peer is gone (RFC 4028 §10)."""
        self.pending = None
        self.hang_up("session refresh timed out", now)

    def _retry_with(self, response: Response, now: float) -> None:
        minimum = parse_int((response.headers.get("Min-SE") or "").strip(), 10)
        if self.plan is None or minimum is None or minimum <= self.plan.interval:
            return
        self.plan = TimerPlan(minimum, we_refresh=True)
        self._refresh(now)

    def _ack(self, invite: Request, now: float) -> None:
        ack = self.dialog.create_ack(invite.cseq.seq, self._via())
        self._last_ack = ack
        hop = self._next_hop()
        if hop is not None:
            self.tx.send_ack(ack, hop[0], hop[1])

    def resend_ack(self, response: Response) -> None:
        """A retransmitted 2xx to our re-INVITE: our ACK was lost (§13.2.2.4)."""
        hop = self._next_hop()
        if self._last_ack is not None and response.cseq.seq == self._last_ack.cseq.seq and hop:
            self.tx.send_ack(self._last_ack, hop[0], hop[1])

    # -- during the call -----------------------------------------------------------------------

    def dtmf(self, digit: str, now: float) -> None:
        """``#`` after the length warning grants another ``max_duration`` seconds."""
        if digit == "#" and self.warned and self.limit_at is not None:
            self._limit(now + self.config.calls.max_duration)
            self.emit(CallExtended(call_id=self.call_id, until_s=self.limit_at - now))

    def send_dtmf_info(self, digits: str, now: float) -> None:
        """Keys as SIP INFO ``application/dtmf-relay`` (the form ``_dtmf_relay`` reads), one
        request per key and the next only after the previous one's final answer, so the peer
        sees them in order (an overtaken INFO is refused, RFC 3261 §12.2.2)."""
        self.info_keys.extend(digits)
        if self.info_pending is None:
            self._next_info(now)

    def owns_info(self, transaction: str) -> bool:
        return self.info_pending is not None and self.info_pending == transaction

    def info_done(self, status: int | None, now: float) -> None:
        """The final answer to our INFO (``None``: timeout or transport error)."""
        self.info_pending = None
        if status is not None and status < 300:
            self._next_info(now)
            return
        dropped = len(self.info_keys) + 1
        self.info_keys.clear()
        self.emit(DtmfFailed(call_id=self.call_id, status=status or "timeout", keys=dropped))

    def _next_info(self, now: float) -> None:
        if not self.info_keys or self.ended is not None:
            return
        key = self.info_keys.popleft()
        body = f"Signal={key}\r\nDuration=160\r\n".encode("ascii")
        info = self.dialog.create_request(
            "INFO", self._via(), headers=[("Content-Type", "application/dtmf-relay")], body=body
        )
        self.info_pending = self._send(info, now)

    def get_timer(self) -> float | None:
        warn = self.warn_at if not self.warned else None
        retry = self.hold_retry[0] if self.hold_retry is not None else None
        due = (self.refresh_at, self.expire_at, warn, self.limit_at, retry)
        times = [t for t in due if t is not None]
        return min(times) if times and self.ended is None else None

    def handle_timer(self, now: float) -> None:
        if self.ended is not None:
            return
        if self.refresh_at is not None and now >= self.refresh_at:
            self._refresh(now)
        if self.hold_retry is not None and now >= self.hold_retry[0]:
            self._retry_hold(now)
        if self.expire_at is not None and now >= self.expire_at:
            self.hang_up("session expired (no refresh from the peer)", now)
            return
        if self.warn_at is not None and not self.warned and now >= self.warn_at:
            self.warned = True
            remaining = round((self.limit_at or now) - now)
            self.emit(PlayAlert(self.call_id, "time-warning"))
            self.emit(CallTimeWarning(call_id=self.call_id, remaining_s=remaining))
        if self.limit_at is not None and now >= self.limit_at:
            self.hang_up("maximum call duration reached", now)

    def _retry_hold(self, now: float) -> None:
        """The glare wait is over: offer the hold (or resume) again, not a plain refresh."""
        assert self.hold_retry is not None
        _, held, glare = self.hold_retry
        if self.pending is not None:  # our refresh is in flight: after it
            self.hold_retry = (now + self._glare_wait(), held, glare)
            return
        self.hold_retry = None
        if held == self.held:
            return  # the peer's own re-INVITE already left the call as asked
        problem = self._send_hold(held, now, glare)
        if problem is not None:
            self.emit(CallHoldFailed(call_id=self.call_id, hold=held, reason=problem))

    # -- ending ------------------------------------------------------------------------------

    def hang_up(self, reason: str, now: float) -> None:
        """Send BYE (§15.1.1) and mark the session ended; the owner reports it."""
        if self.ended is not None:
            return
        bye = self.dialog.create_request("BYE", self._via())
        self._send(bye, now)
        self.dialog.terminate()
        self.ended = reason

    def remote_ended(self, reason: str) -> None:
        self.dialog.terminate()
        self.ended = reason

    # -- sending -------------------------------------------------------------------------------

    def send_request(
        self,
        method: str,
        now: float,
        *,
        headers: Iterable[tuple[str, str]] = (),
        body: bytes = b"",
    ) -> str | None:
        """A request of another usage of this dialog (a transfer's REFER or NOTIFY, RFC 5057):
        its transaction key; None once the call ended or when the peer gave no SIP target."""
        if self.ended is not None:
            return None
        request = self.dialog.create_request(method, self._via(), headers=headers, body=body)
        return self._send(request, now)

    def _via(self) -> Via:
        return Via(
            self.address.transport.upper(),
            self.address.host,
            self.address.port,
            (("branch", new_branch(self.rng)), ("rport", None)),
        )

    def _next_hop(self) -> tuple[tuple[str, int], str] | None:
        return next_hop(self.dialog, self.resolve, self.address.transport)

    def _send(self, request: Request, now: float) -> str | None:
        hop = self._next_hop()
        if hop is None:
            return None
        return self.tx.send_request(request, hop[0], hop[1], now)


def next_hop(
    dialog: Dialog, resolve: Callable[[str], str], transport: str
) -> tuple[tuple[str, int], str] | None:
    """Where the dialog's requests and ACKs go (§12.2.1.1, §8.1.2): the first route, else the
    remote target, with its transport (ours by default); None if the peer gave no SIP URI."""
    hop = dialog.next_hop()
    if not isinstance(hop, SipURI):
        return None
    port, kind = hop_transport(hop, transport)
    return (resolve(hop.bare_host), port), kind


def dialog_peer(
    host: str,
    dialog: Dialog,
    peer_hosts: frozenset[str],
    resolve: Callable[[str], str],
    transport: str,
) -> bool:
    """Is ``host`` the peer of ``dialog`` (confirmed or early): one of ``peer_hosts`` (where its
    INVITE came from or went to), or the host of its first route or remote target (an
    in-dialog request may come straight from the phone)? Issue 13 rule 4: tags are no
    password, so a request from anywhere else is not the dialog's."""
    if host in peer_hosts:
        return True
    hop = next_hop(dialog, resolve, transport)
    if hop is not None and hop[0][0] == host:
        return True
    target = dialog.remote_target
    return isinstance(target, SipURI) and resolve(target.bare_host) == host


class HasSession(Protocol):
    """An incoming or outgoing call: it has a session once answered."""

    session: Session | None


CallT = TypeVar("CallT", bound=HasSession)


def sessions_of(calls: Iterable[HasSession]) -> Iterator[Session]:
    return (call.session for call in calls if call.session is not None)


def finished(calls: Iterable[CallT]) -> list[tuple[CallT, str]]:
    """The calls whose session ended itself (timer expiry, length limit, refresh 481), and why."""
    return [
        (call, call.session.ended)
        for call in calls
        if call.session is not None and call.session.ended is not None
    ]


def peer_allows_update(message: Request | Response) -> bool:
    return any(m.strip().upper() == "UPDATE" for m in message.headers.get_all("Allow"))
