"""Incoming calls: ring, auto-answer allowed callers, stream, hang up (RFC 3261 §13-15).

A door intercom's first duty is to answer the concierge. An INVITE from a caller in
``[calls] allow`` gets 180 Ringing and, once its RTP sockets exist and ``answer_delay`` has
passed, a 200 OK with our SDP answer; a caller outside the list only rings (or gets 403,
``not_allowed = "reject"``). A second caller gets 486 Busy Here. CANCEL is answered 200 and the
INVITE 487; BYE from either side ends the call and the media. Everything is sans-IO: responses
go through the transaction layer, media needs and starts are actions for the runtime.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from endpoint.config import Config
from endpoint.sip import ParseError, Request, Response, make_response
from endpoint.sip.checks import DEFAULT_METHODS
from endpoint.sip.dialog import Dialog, dialog_id_of
from endpoint.sip.offer_answer import (
    LocalMedia,
    NegotiatedMedia,
    NotAcceptableError,
    SdpSession,
    make_answer,
    media_encryption,
    offers_srtp,
)
from endpoint.sip.sdp import SessionDescription, parse_sdp
from endpoint.sip.transaction import TransactionLayer
from endpoint.sip.uri import SipURI
from endpoint.ua.actions import NeedMedia, PlayAlert, StartMedia, StopMedia, UpdateMedia
from endpoint.ua.allowlist import Allowlist
from endpoint.ua.events import (
    CallAnswered,
    CallBusy,
    CallEnded,
    CallHeld,
    CallIncoming,
    CallRejected,
    CallResumed,
    Notice,
)
from endpoint.ua.registration import LocalAddress
from endpoint.ua.session import Session, finished, peer_allows_update, sessions_of
from endpoint.ua.session_timer import (
    IntervalTooSmallError,
    TimerPlan,
    plan_as_uas,
    uas_headers,
)
from endpoint.ua.states import advance

if TYPE_CHECKING:
    from endpoint.ua.reliable import ReliableSender

CallEvent = Notice | NeedMedia | StartMedia | StopMedia | UpdateMedia | PlayAlert


class CallState(enum.Enum):
    RINGING = "ringing"
    ANSWERED = "answered"
    CONFIRMED = "confirmed"
    ENDED = "ended"


class CallInput(enum.Enum):
    """What moves an incoming call (RFC 3261 §13.3, the UAS side of an INVITE)."""

    ANSWER = "2xx sent"
    ACK = "ACK received"
    END = "ended (BYE, CANCEL, refusal, timeout, hang-up)"


C, CI = CallState, CallInput
#: (state, input) -> next state; walked by tests/ua/test_call_tables.py.
INCOMING: dict[tuple[CallState, CallInput], CallState] = {
    (C.RINGING, CI.ANSWER): C.ANSWERED,
    (C.ANSWERED, CI.ACK): C.CONFIRMED,
    **{(s, CI.END): C.ENDED for s in (C.RINGING, C.ANSWERED, C.CONFIRMED)},
}


@dataclass
class Call:
    """One incoming call from INVITE to BYE: its transaction, dialog, session and timers."""

    call_id: str
    invite: Request
    transaction: str
    offer: SessionDescription
    caller: str
    local_tag: str
    started: float
    allowed: bool
    #: The host the INVITE came from: the dialog's peer (rule 4) and who may CANCEL it.
    source: str = ""
    #: When a call still ringing ends (issue 13 rule 6), and the status it then gets: 480 at
    #: ``ring_timeout``, 487 at the caller's Expires (RFC 3261 §13.3.1), whichever is first.
    ring_deadline: float | None = None
    ring_status: int = 480
    state: CallState = CallState.RINGING
    dialog: Dialog | None = None
    answer_at: float | None = None
    rtp_port: int | None = None
    #: The RTCP socket's public address, when STUN learned it (a=rtcp, RFC 3605).
    rtcp: tuple[str, int] | None = None
    answered_at: float | None = None
    sdp: SdpSession | None = field(default=None, repr=False)
    timer: TimerPlan | None = None
    #: The transport the INVITE arrived over, as the runtime saw it: SRTP keys go only on TLS.
    transport: str = "udp"
    session: Session | None = None
    #: Seconds after which the registrar asked us to answer (``pbx_answer``), or None.
    pbx_delay: int | None = None
    #: The reliable 180 (RFC 3262) when the caller asked for 100rel, and whether an answer
    #: waits for its PRACK.
    reliable: ReliableSender | None = None
    answer_after_prack: bool = False
    #: Our SDP answer once made: the early media 183's (``[calls] early_media``), which the
    #: 200 repeats, or the 200's own.
    early: tuple[SessionDescription, NegotiatedMedia, LocalMedia] | None = None
    #: The CSeq of the caller's last request in the early dialog (the INVITE, then UPDATEs):
    #: a lower one is stale or replayed (RFC 3261 §12.2.2).
    remote_cseq: int = 0


class IncomingCalls:
    def __init__(
        self,
        config: Config,
        local: LocalAddress,
        transactions: TransactionLayer,
        rng: random.Random,
        resolve: Callable[[str], str],
        *,
        contact: Callable[[], str],
    ) -> None:
        self.config = config
        self.local = local
        self.tx = transactions
        self.rng = rng
        self.resolve = resolve
        #: Our Contact for calls (the registrar's view of us behind NAT, else where we listen).
        self.contact = contact
        self.allowlist = Allowlist(config.calls.allow)
        self.calls: dict[str, Call] = {}
        self.events: list[CallEvent] = []

    @property
    def active(self) -> Call | None:
        for call in self.calls.values():
            if call.state is not CallState.ENDED:
                return call
        return None

    def _respond(
        self,
        call: Call,
        status: int,
        *,
        body: bytes = b"",
        headers: list[tuple[str, str]] | None = None,
        now: float,
    ) -> None:
        extra = list(headers or [])
        if 100 < status < 300:
            extra.append(("Contact", self.contact()))
        reliable = call.reliable if status < 200 and call.reliable else None
        if reliable is not None:
            extra += reliable.headers()
        if body:
            extra.append(("Content-Type", "application/sdp"))
        response = make_response(
            call.invite, status, to_tag=call.local_tag, headers=extra, body=body
        )
        self.tx.send_response(call.transaction, response, now)
        if reliable is not None:
            reliable.sent(response, now)

    # -- incoming INVITE ---------------------------------------------------------------------

    def invite(
        self,
        request: Request,
        transaction: str,
        now: float,
        transport: str = "udp",
        *,
        source: str = "",
        from_registrar: bool = False,
        admitted: bool = False,
    ) -> None:
        """A new INVITE; ``from_registrar``: it proved it comes from our registrar, so its
        paging request (``Call-Info: ...;answer-after``) is heeded when configured;
        ``admitted`` (an INVITE replacing a trusted call of ours, RFC 3891) counts as a caller
        in ``[calls] allow``."""
        # RFC 3261 §8.2.6.1/§17.2.1: a 100 at once stops the previous hop's retransmissions
        # whatever comes next (ringing, a 4xx, an answer after answer_delay), as pjsip does.
        self.tx.send_response(transaction, make_response(request, 100), now)
        try:
            self._invite(request, transaction, now, transport, source, admitted=admitted)
            call = self.calls.get(request.call_id)
            if call is not None and from_registrar and self.config.calls.pbx_auto_answer:
                # Only a PBX's INVITE asks for it: not loaded at start (issue 19).
                from endpoint.ua.pbx_answer import requested_delay

                call.pbx_delay = requested_delay(request)
        except ParseError as exc:  # a field we only read now turned out malformed
            self.tx.send_response(
                transaction, make_response(request, 400, f"Bad Request ({exc.reason})"), now
            )

    def _invite(
        self,
        request: Request,
        transaction: str,
        now: float,
        transport: str,
        source: str,
        *,
        admitted: bool = False,
    ) -> None:
        busy = self.active
        tag = f"{self.rng.getrandbits(48):012x}"
        if busy is not None and self._yields(busy, request):
            # A caller outside the allowlist that only rings never keeps the concierge out.
            self.end(busy.call_id, "gave way to an allowed caller", now, status=480)
            busy = None
        if busy is not None:
            self.tx.send_response(transaction, make_response(request, 486, to_tag=tag), now)
            self.events.append(CallBusy(call_id=request.call_id, caller=str(request.from_addr.uri)))
            return
        screened = self._screen(request, transaction, tag, transport, now)
        if screened is None:
            return
        offer, timer = screened
        uri = request.from_addr.uri
        user, host = (uri.user, uri.host) if isinstance(uri, SipURI) else (None, str(uri))
        allowed = admitted or self.allowlist.allows(user, host)
        caller = str(uri)
        if not allowed and self.config.calls.not_allowed == "reject":
            self.tx.send_response(transaction, make_response(request, 403, to_tag=tag), now)
            self.events.append(
                CallRejected(call_id=request.call_id, caller=caller, reason="not allowed")
            )
            return
        call = Call(request.call_id, request, transaction, offer, caller, tag, now, allowed, source)
        call.remote_cseq = request.cseq.seq
        call.timer = timer
        call.transport = transport
        call.reliable = self._reliable_sender(request)
        call.ring_deadline = now + self.config.calls.ring_timeout
        expires = request.expires  # ParseError (malformed) is answered 400 by invite()
        if expires is not None and expires < self.config.calls.ring_timeout:
            call.ring_deadline, call.ring_status = now + expires, 487
        self.calls[call.call_id] = call
        if not self.config.calls.early_media:
            self._respond(call, 180, now=now)  # else the 183 with SDP once media is ready
        self.events.append(CallIncoming(call_id=call.call_id, caller=caller, allowed=allowed))
        self.events.append(NeedMedia(call.call_id))

    def _screen(
        self, request: Request, transaction: str, tag: str, transport: str, now: float
    ) -> tuple[SessionDescription, TimerPlan | None] | None:
        """The INVITE's offer and session-timer plan, or None when it was refused here: no
        SDP (488), plain RTP where SRTP is mandatory (488), too short a Session-Expires (422)."""
        try:
            offer = parse_sdp(request.body)
        except ParseError:
            reason = "Not Acceptable Here (no SDP offer)"
            self.tx.send_response(transaction, make_response(request, 488, reason, to_tag=tag), now)
            return None
        refusal = self._encryption_refusal(offer, transport)
        if refusal is not None:
            reason = "Not Acceptable Here (SRTP required)"
            self.tx.send_response(transaction, make_response(request, 488, reason, to_tag=tag), now)
            caller = str(request.from_addr.uri)
            self.events.append(CallRejected(call_id=request.call_id, caller=caller, reason=refusal))
            return None
        try:
            timer = plan_as_uas(request, self.config.calls.session_expires)
        except IntervalTooSmallError as exc:  # RFC 4028 §8.1: 422 with our Min-SE
            headers = [("Min-SE", str(exc.minimum))]
            response = make_response(request, 422, to_tag=tag, headers=headers)
            self.tx.send_response(transaction, response, now)
            return None
        # RFC 3262 is needed from the first INVITE on, not at start (issue 19).
        from endpoint.ua.reliable import OPTION, Use, use_for

        if use_for(request, self.config.sip.reliable_provisional) is Use.REFUSE:
            headers = [("Require", OPTION)]  # RFC 3262 §5 / RFC 3261 §21.4.16
            response = make_response(request, 421, to_tag=tag, headers=headers)
            self.tx.send_response(transaction, response, now)
            return None
        return offer, timer

    def _reliable_sender(self, request: Request) -> ReliableSender | None:
        """RFC 3262 §3: the first RSeq is random in 1..2**31-1; None for plain provisionals."""
        from endpoint.ua.reliable import MAX_FIRST_RSEQ, ReliableSender, Use, use_for  # see above

        if use_for(request, self.config.sip.reliable_provisional) is not Use.RELIABLE:
            return None
        return ReliableSender(request.cseq.seq, self.rng.randrange(1, MAX_FIRST_RSEQ))

    def prack(self, request: Request, transaction: str, source: str, now: float) -> None:
        """A PRACK (RFC 3262 §3): 200 when it acknowledges a ringing call's reliable 18x (its
        tags, its source, its RAck), then the answer that waited for it; else 481. An offer
        in it (§5) is answered in the 200 (``_answer_early_offer``)."""
        call = self._early_dialog_call(request, source)
        if call is None or call.reliable is None or not call.reliable.acknowledges(request):
            self.tx.send_response(transaction, make_response(request, 481), now)
            return
        if request.body:
            # RFC 3262 §5: "If the UAC receives a reliable provisional response with an
            # answer, it MAY generate an additional offer in the PRACK. If the UAS receives a
            # PRACK with an offer, it MUST place the answer in the 2xx to the PRACK." A PRACK
            # whose offer is refused acknowledges nothing: the 18x is sent again, and a
            # PRACK without a body still acknowledges it.
            if self._in_order(call, request, transaction, now) is None:
                return
            if self._answer_early_offer(call, request, transaction, now) != 200:
                return
        else:
            self.tx.send_response(transaction, make_response(request, 200), now)
        call.reliable.prack(request)
        if call.answer_after_prack:
            call.answer_after_prack = False
            self.answer(call.call_id, now)

    def update(self, request: Request, transaction: str, source: str, now: float) -> bool:
        """An UPDATE inside a ringing call's early dialog (RFC 3311 §5.2): it must carry the
        call's tags and come from where the INVITE came (rule 4); False when it belongs to no
        ringing call (the agent answers 481). An offer is answered with our SDP and the early
        media follows (``endpoint.ua.early_update``)."""
        call = self._early_dialog_call(request, source)
        if call is None:
            return False
        if self._in_order(call, request, transaction, now) is not None:
            self._answer_early_offer(call, request, transaction, now)
        return True

    def _early_dialog_call(self, request: Request, source: str) -> Call | None:
        """The ringing call whose early dialog ``request`` is in: its Call-ID, both tags, and
        sent from where the INVITE came (rule 4: a stranger who learnt the tags is no peer)."""
        call = self.calls.get(request.call_id)
        if (
            call is None
            or call.state is not CallState.RINGING
            or call.source != source
            or request.to_addr.tag != call.local_tag
            or request.from_addr.tag != call.invite.from_addr.tag
        ):
            return None
        return call

    def _in_order(self, call: Call, request: Request, transaction: str, now: float) -> int | None:
        """The request's CSeq if above the caller's last one in the early dialog, else None
        with 500 sent (RFC 3261 §12.2.2: lower is stale or replayed)."""
        if request.cseq.seq <= call.remote_cseq:
            reply = make_response(request, 500, "Server Internal Error (CSeq out of order)")
            self.tx.send_response(transaction, reply, now)
            return None
        call.remote_cseq = request.cseq.seq
        return call.remote_cseq

    def _answer_early_offer(
        self, call: Call, request: Request, transaction: str, now: float
    ) -> int:
        """Answer the offer in an early UPDATE or PRACK (``endpoint.ua.early_update``): 200
        with our SDP and the early media re-pointed, or a refusal that changes nothing; the
        status sent. A target refresh (UPDATE) gets our Contact in the answer."""
        # Offers in the early dialog are rare: not loaded at start (issue 19).
        from endpoint.ua.early_update import answer_early_update

        made = answer_early_update(request, call.early, call.reliable is not None, call.sdp)
        headers = [("Allow", ", ".join(DEFAULT_METHODS))]
        if request.method == "UPDATE":
            headers.append(("Contact", self.contact()))
        if made.retry_after:
            headers.append(("Retry-After", "1"))
        if made.body:
            headers.append(("Content-Type", "application/sdp"))
        reply = make_response(request, made.status, made.reason, headers=headers, body=made.body)
        self.tx.send_response(transaction, reply, now)
        if made.early is not None and call.early is not None:
            before, call.early = call.early[1], made.early
            self._early_media_changed(call, before, made.early[1])
        return made.status

    def _early_media_changed(
        self, call: Call, before: NegotiatedMedia, media: NegotiatedMedia
    ) -> None:
        """The runtime re-points the early stream; a hold by the caller is an event."""
        if media != before:
            self.events.append(UpdateMedia(call.call_id, media))
        if media.remote_hold != before.remote_hold:
            kind = CallHeld if media.remote_hold else CallResumed
            self.events.append(kind(call_id=call.call_id, by="peer"))

    def _encryption_refusal(self, offer: SessionDescription, transport: str) -> str | None:
        """Why ``[media] encryption = "mandatory"`` refuses this INVITE (488), or None."""
        if self.config.media.encryption != "mandatory":
            return None
        if transport != "tls" and self.config.media.keying == "sdes":
            return f"SRTP keys are only sent over TLS; this INVITE came over {transport.upper()}"
        if not offers_srtp(offer, self.config.media.keying):
            return "plain RTP offered; [media] encryption = mandatory"
        return None

    def media_ready(
        self, call_id: str, rtp_port: int, now: float, rtcp: tuple[str, int] | None = None
    ) -> None:
        call = self.calls.get(call_id)
        if call is None or call.state is not CallState.RINGING:
            return
        call.rtp_port, call.rtcp = rtp_port, rtcp
        delay = self._answer_delay(call)
        if delay is not None:
            call.answer_at = now + delay
            if delay <= 0:
                self.answer(call_id, now)
                return
        if self.config.calls.early_media:
            self._early_media(call, now)

    def _early_media(self, call: Call, now: float) -> None:
        """RFC 3262 / RFC 3960 early media: our SDP answer in a 183 (reliable when the caller
        supports 100rel) and a ring-back tone on it, never the microphone: a door that is not
        answered yet must not let the caller hear the street (or who is at the door)."""
        negotiated = self._negotiate(call, now)
        if negotiated is None:
            return
        answer, media, _ = negotiated
        self._respond(call, 183, body=bytes(answer), now=now)
        assert call.rtp_port is not None
        self.events.append(StartMedia(call.call_id, media, call.rtp_port, early=True))

    def _negotiate(
        self, call: Call, now: float
    ) -> tuple[SessionDescription, NegotiatedMedia, LocalMedia] | None:
        """Our answer to the INVITE's offer, made once (the 183's is the 200's); None when
        no codec fits (488 sent, the call ended)."""
        if call.early is not None:
            return call.early
        assert call.rtp_port is not None
        local = self._local_media(call, call.rtp_port)
        call.sdp = SdpSession(self.rng, self.local.host)
        try:
            answer, negotiated = make_answer(call.offer, local, call.sdp)
        except NotAcceptableError as exc:
            self._respond(call, 488, now=now)
            self._end(call, f"488 {exc}", now)
            return None
        call.early = (answer, negotiated, local)
        return call.early

    def _answer_delay(self, call: Call) -> float | None:
        """When to answer by ourselves: the PBX's requested delay, else ``answer_delay`` for
        an allowed caller with ``auto_answer`` on; None to ring until answered."""
        if call.pbx_delay is not None:
            return call.pbx_delay
        if call.allowed and self.config.calls.auto_answer:
            return self.config.calls.answer_delay
        return None

    def answer(self, call_id: str | None, now: float) -> bool:
        call = self.calls.get(call_id) if call_id else self.active
        try:
            return self._answer(call, now)
        except ParseError as exc:
            if call is not None:
                self._respond(call, 400, now=now)
                self._end(call, f"400 {exc.reason}", now)
            return False

    def _answer(self, call: Call | None, now: float) -> bool:
        if call is None or call.state is not CallState.RINGING or call.rtp_port is None:
            return False
        if call.reliable is not None and call.reliable.outstanding:
            # RFC 3262 §3: no final response before the reliable 180 is PRACKed.
            call.answer_after_prack, call.answer_at = True, None
            return True
        made = self._negotiate(call, now)
        if made is None:
            return False
        answer, negotiated, local = made
        assert call.sdp is not None
        body = bytes(answer)
        from endpoint.ua.reliable import supported_options  # loaded by the INVITE already

        self._respond(
            call,
            200,
            body=body,
            now=now,
            headers=[
                ("Allow", ", ".join(DEFAULT_METHODS)),
                ("Supported", ", ".join(supported_options(self.config.sip.reliable_provisional))),
                *uas_headers(call.invite, call.timer),
            ],
        )
        ok = make_response(
            call.invite, 200, to_tag=call.local_tag, headers=[("Contact", self.contact())]
        )
        call.dialog = Dialog.as_callee(call.invite, ok, self.rng.randrange(1, 2**31))
        call.dialog.remote_cseq = call.remote_cseq  # an early UPDATE's CSeq counts too
        call.state = advance(INCOMING, call.state, CallInput.ANSWER, call.call_id)
        call.answer_at = None
        call.answered_at = now
        call.session = self._session(
            call,
            dialog=call.dialog,
            local=local,
            sdp=call.sdp,
            negotiated=negotiated,
            answer=answer,
        )
        call.session.start(call.timer, now)
        self.events.append(StartMedia(call.call_id, negotiated, call.rtp_port))
        self.events.append(
            CallAnswered(
                call_id=call.call_id,
                caller=call.caller,
                codec=negotiated.codec,
                encryption=media_encryption(negotiated),
                answered_by="pbx" if call.pbx_delay is not None else None,
            )
        )
        return True

    def _local_media(self, call: Call, rtp_port: int) -> LocalMedia:
        media = self.config.media
        return LocalMedia(
            self.local.host,
            rtp_port,
            codecs=media.codecs,
            telephone_event=media.telephone_event,
            ptime=media.ptime,
            # Keys never go out in the clear: over anything but TLS the answer is plain RTP
            # (mandatory encryption refused such an INVITE already); DTLS keys never travel
            # in SIP at all.
            encryption=media.encryption
            if call.transport == "tls" or media.keying == "dtls"
            else "off",
            keying=media.keying,
            fingerprint=self.local.dtls_fingerprint,
            rtcp=call.rtcp,
        )

    def _session(
        self,
        call: Call,
        *,
        dialog: Dialog,
        local: LocalMedia,
        sdp: SdpSession,
        negotiated: NegotiatedMedia,
        answer: SessionDescription,
    ) -> Session:
        """The answered call's dialog usage: re-INVITEs, session timer, hang-up."""
        return Session(
            call.call_id,
            dialog,
            local,
            sdp,
            negotiated,
            answer,
            self.config,
            self.local,
            self.tx,
            self.rng,
            self.resolve,
            self.events.append,
            peer_allows_update=peer_allows_update(call.invite),
            peer_hosts=frozenset({call.source}),
        )

    # -- during the call -----------------------------------------------------------------

    def ack(self, request: Request) -> None:
        call = self.calls.get(request.call_id)
        if call is not None and call.state is CallState.ANSWERED:
            call.state = advance(INCOMING, call.state, CallInput.ACK, call.call_id)
        elif call is not None and call.session is not None:
            call.session.ack(request)  # the ACK of a 2xx to a re-INVITE

    def cancel(
        self, request: Request, cancel_tx: str, invite_tx: str | None, now: float, source: str = ""
    ) -> None:
        """A CANCEL matching a ringing call's INVITE transaction, from the INVITE's source."""
        call = next(
            (c for c in self.calls.values() if c.transaction == invite_tx and c.source == source),
            None,
        )
        status = 200 if call is not None else 481
        self.tx.send_response(cancel_tx, make_response(request, status, to_tag=None), now)
        if call is not None and call.state is CallState.RINGING:
            self._respond(call, 487, now=now)
            self._end(call, "cancelled by the caller", now)

    def bye(self, request: Request, transaction: str, now: float) -> bool:
        """An in-dialog BYE; False if it belongs to no call of ours."""
        call = self._by_dialog(request)
        if call is None:
            return False
        self.tx.send_response(transaction, make_response(request, 200), now)
        if call.session is not None:
            call.session.remote_ended("hung up by the caller")
        self._end(call, "hung up by the caller", now)
        return True

    def hangup(self, now: float) -> bool:
        call = self.active
        return call is not None and self.end(call.call_id, "hung up locally", now)

    def end(self, call_id: str, reason: str, now: float, *, status: int = 486) -> bool:
        """Refuse a ringing call (486 Busy Here, or 503 when we lack resources) or hang up an
        answered one (BYE)."""
        call = self.calls.get(call_id)
        if call is None or call.state is CallState.ENDED:
            return False
        if call.state is CallState.RINGING:
            self._respond(call, status, now=now)
            self._end(call, "declined" if reason == "hung up locally" else reason, now)
            return True
        if call.session is not None:
            call.session.hang_up(reason, now)
        self._end(call, reason, now)
        return True

    def abandon(self, transaction: str, reason: str, now: float) -> None:
        """The INVITE server transaction ``transaction`` failed or was answered by the
        transaction layer's backstop: a call still ringing on it ends, with its media."""
        for call in list(self.calls.values()):
            if call.transaction == transaction and call.state is CallState.RINGING:
                self._end(call, reason, now)

    def sessions(self) -> Iterator[Session]:
        return sessions_of(self.calls.values())

    def reap(self, now: float) -> None:
        for call, reason in finished(self.calls.values()):
            self._end(call, reason, now)

    def _by_dialog(self, request: Request) -> Call | None:
        wanted = dialog_id_of(request, incoming=True)
        for call in self.calls.values():
            if call.dialog is not None and call.dialog.id == wanted:
                return call
        return None

    def _end(self, call: Call, reason: str, now: float) -> None:
        was_media = call.state in (CallState.ANSWERED, CallState.CONFIRMED)
        call.state = advance(INCOMING, call.state, CallInput.END, call.call_id)
        duration = now - (call.answered_at or now)
        if was_media or call.rtp_port is not None:
            self.events.append(StopMedia(call.call_id, reason))
        self.events.append(
            CallEnded(
                call_id=call.call_id,
                caller=call.caller,
                reason=reason,
                duration=round(duration, 1),
            )
        )
        self.calls.pop(call.call_id, None)

    def _yields(self, busy: Call, request: Request) -> bool:
        """Does the ringing, not-allowed ``busy`` call give way to ``request``'s caller?"""
        if busy.state is not CallState.RINGING or busy.allowed:
            return False
        uri = request.from_addr.uri
        user, host = (uri.user, uri.host) if isinstance(uri, SipURI) else (None, str(uri))
        return self.allowlist.allows(user, host)

    def give_way(self, now: float) -> None:
        """The door's own call (a button, ``ctl call``) wants the line: a not-allowed caller
        that only rings is ended (480) instead of blocking it."""
        for call in list(self.calls.values()):
            if call.state is CallState.RINGING and not call.allowed:
                self.end(call.call_id, "gave way to the door's own call", now, status=480)

    def get_timer(self) -> float | None:
        times = [
            t
            for c in self.calls.values()
            for t in (
                c.answer_at,
                c.ring_deadline if c.state is CallState.RINGING else None,
                c.reliable.get_timer() if c.reliable and c.state is CallState.RINGING else None,
            )
            if t is not None
        ]
        return min(times) if times else None

    def handle_timer(self, now: float) -> None:
        for call in list(self.calls.values()):
            if call.answer_at is not None and call.answer_at <= now:
                self.answer(call.call_id, now)
            self._resend_reliable(call, now)
            deadline = call.ring_deadline
            if call.state is CallState.RINGING and deadline is not None and deadline <= now:
                reason = "caller's Expires passed" if call.ring_status == 487 else "not answered"
                self.end(call.call_id, reason, now, status=call.ring_status)

    def _resend_reliable(self, call: Call, now: float) -> None:
        """RFC 3262 §3: the reliable 180 again at T1, 2*T1, ...; no PRACK in 64*T1: 500."""
        if call.reliable is None or call.state is not CallState.RINGING:
            return
        due = call.reliable.due(now)
        if due == "resend" and call.reliable.response is not None:
            self.tx.send_response(call.transaction, call.reliable.response, now)
        elif due == "give up":
            self.end(call.call_id, "no PRACK for the reliable 180", now, status=500)

    def response(self, response: Response) -> None:
        """Responses to our BYEs need no action; kept for symmetry with the UA's routing."""
        del response
