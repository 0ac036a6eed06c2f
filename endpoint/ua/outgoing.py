"""Outgoing calls: the door rings the flat (RFC 3261 §13.2, §9 for CANCEL).

INVITE with our SDP offer, through the registrar/outbound proxy when an account is configured or
straight to the target's host otherwise. Provisional responses with a To tag create an early
dialog; a 2xx is ACKed (and re-ACKed if retransmitted), its answer starts the media; 401/407 are
answered with digest credentials (again only for a stale nonce or another proxy's realm, RFC 3261
§22.2; only for configured realms, issue 13 rule 11); 3xx is followed to the first Contact (at
most 3 hops) when the configuration names its host (``endpoint.ua.configured``); every other
final response, a timeout or the ring timeout ends the call with a reason. Hanging up while it
rings sends CANCEL; if the 2xx crosses the CANCEL, the call is ACKed and then ended with BYE
(§9.1: a 2xx after CANCEL still establishes the dialog).
"""

from __future__ import annotations

import enum
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from endpoint.config import Config
from endpoint.sip import Headers, ParseError, Request, Response, make_response, parse_uri
from endpoint.sip.checks import DEFAULT_METHODS
from endpoint.sip.dialog import Dialog
from endpoint.sip.digest import DigestError
from endpoint.sip.grammar import parse_int
from endpoint.sip.headers import Via
from endpoint.sip.offer_answer import (
    LocalMedia,
    NegotiatedMedia,
    NotAcceptableError,
    SdpSession,
    make_offer,
    media_encryption,
    process_answer,
)
from endpoint.sip.sdp import SessionDescription, parse_sdp
from endpoint.sip.transaction import TransactionLayer, new_branch
from endpoint.sip.uri import SipURI, hop_transport, uri_host
from endpoint.ua.actions import NeedMedia, PlayAlert, StartMedia, StopMedia, UpdateMedia
from endpoint.ua.configured import account_digest, redirect_allowed
from endpoint.ua.events import (
    CallAnswered,
    CallEarlyMedia,
    CallEnded,
    CallFailed,
    CallOutgoing,
    CallRedirected,
    CallRinging,
    CallRingTimeout,
    Notice,
)
from endpoint.ua.registration import LocalAddress
from endpoint.ua.session import (
    Session,
    dialog_peer,
    finished,
    next_hop,
    peer_allows_update,
    sessions_of,
)
from endpoint.ua.session_timer import MIN_SE, plan_as_uac, uac_headers
from endpoint.ua.states import advance

CallEvent = Notice | NeedMedia | StartMedia | StopMedia | UpdateMedia | PlayAlert
MAX_REDIRECTS = 3
#: Challenges answered per call before we give up (two proxies and a stale nonce or two).
MAX_CHALLENGES = 4


class OutState(enum.Enum):
    WAITING_MEDIA = "preparing"
    CALLING = "calling"
    RINGING = "ringing"
    CONFIRMED = "confirmed"
    CANCELLING = "cancelling"
    ENDED = "ended"


class OutInput(enum.Enum):
    """What moves a call we place (RFC 3261 §13.2, the UAC side of an INVITE)."""

    INVITE = "INVITE sent"
    PROVISIONAL = "180/183 received"
    SUCCESS = "2xx received"
    CANCEL = "CANCEL sent"
    END = "ended (final error, BYE, timeout, hang-up)"


OS, OI = OutState, OutInput
#: (state, input) -> next state; walked by tests/ua/test_call_tables.py.
OUTGOING: dict[tuple[OutState, OutInput], OutState] = {
    (OS.WAITING_MEDIA, OI.INVITE): OS.CALLING,
    (OS.CALLING, OI.PROVISIONAL): OS.RINGING,
    (OS.CALLING, OI.SUCCESS): OS.CONFIRMED,
    (OS.RINGING, OI.SUCCESS): OS.CONFIRMED,
    (OS.CALLING, OI.CANCEL): OS.CANCELLING,
    (OS.RINGING, OI.CANCEL): OS.CANCELLING,
    **{(s, OI.END): OS.ENDED for s in OutState if s is not OS.ENDED},
}


@dataclass
class OutgoingCall:
    """One call we placed, from INVITE to BYE."""

    call_id: str
    target: SipURI
    from_tag: str
    state: OutState = OutState.WAITING_MEDIA
    cseq: int = 1
    invite: Request | None = None
    transaction: str | None = None
    offer: SessionDescription | None = None
    local: LocalMedia | None = None
    sdp: SdpSession | None = None
    dialog: Dialog | None = None
    redirects: int = 0
    #: 401/407s answered: each proxy on the path may challenge once, a stale nonce again.
    challenges: int = 0
    ring_deadline: float | None = None
    answered_at: float | None = None
    media_started: bool = False
    #: The answer a 183 Session Progress carried: early media is already playing.
    early_media: NegotiatedMedia | None = None
    #: That answer came in a reliable 18x (RFC 3262): the INVITE's offer/answer is complete,
    #: so the callee may send a new offer in an UPDATE (RFC 3311 §5.1).
    early_reliable: bool = False
    #: Our answer to the newest such UPDATE: our last SDP, which the session carries on.
    early_answer: SessionDescription | None = None
    #: The Session-Expires we ask for (raised by a 422's Min-SE).
    session_interval: int = 0
    session: Session | None = None
    #: Why we cancelled it, for the report: "cancelled", "answered elsewhere", ...
    cancel_reason: str = "cancelled"
    #: The RSeq of the last reliable provisional we PRACKed (RFC 3262 §4).
    rseq: int | None = None
    #: Header fields the INVITE carries besides ours (a transfer's Replaces, RFC 3891).
    extra_headers: tuple[tuple[str, str], ...] = ()
    #: The final error status it got, for a transfer's NOTIFY (408 when none came).
    final_status: int = 408


class OutgoingCalls:
    def __init__(
        self,
        config: Config,
        local: LocalAddress,
        tx: TransactionLayer,
        rng: random.Random,
        resolve: Callable[[str], str],
        *,
        contact: Callable[[], str],
        port_of: Callable[[str, int], int] = lambda host, port: port,
    ) -> None:
        self.config = config
        self.local = local
        self.tx = tx
        self.rng = rng
        self.resolve = resolve
        #: The configured proxy's port as DNS SRV gave it (RFC 3263), else the URI's.
        self.port_of = port_of
        self.contact = contact
        self.digest = account_digest(config.account, rng)
        self.calls: dict[str, OutgoingCall] = {}
        self.by_transaction: dict[str, str] = {}
        self.events: list[CallEvent] = []
        #: (call id, answered, final status) for every call answered or ended, for call
        #: groups and transfers.
        self.outcomes: list[tuple[str, bool, int]] = []

    @property
    def active(self) -> OutgoingCall | None:
        return next((c for c in self.calls.values() if c.state is not OutState.ENDED), None)

    # -- placing a call ----------------------------------------------------------------------

    def call(
        self,
        target: str,
        now: float,
        *,
        ring_timeout: float | None = None,
        headers: tuple[tuple[str, str], ...] = (),
    ) -> str:
        """Start a call to ``target`` (a SIP URI, or a user name at our domain); the call id.

        ``ring_timeout`` overrides ``[calls] ring_timeout`` (a sequential call group's
        per-target timeout); ``headers`` go into the INVITE (a transfer's Replaces).
        """
        uri = self.target_uri(target)
        call = OutgoingCall(
            f"{self.rng.getrandbits(96):024x}", uri, f"{self.rng.getrandbits(48):012x}"
        )
        call.extra_headers = headers
        call.ring_deadline = now + (
            self.config.calls.ring_timeout if ring_timeout is None else ring_timeout
        )
        call.session_interval = self.config.calls.session_expires
        self.calls[call.call_id] = call
        self.events.append(CallOutgoing(call_id=call.call_id, callee=str(uri)))
        self.events.append(NeedMedia(call.call_id))
        return call.call_id

    def target_uri(self, target: str) -> SipURI:
        """``sip:flat@pbx`` as given, or a bare user name at our domain; ParseError if neither."""
        account = self.config.account
        text = target if target.startswith(("sip:", "sips:")) else None
        if text is None:
            # A bare user name is called at our domain; with the default domain (the
            # registrar's host) the registrar's port is kept too.
            domain = uri_host(self.local.host)
            if account is not None:
                registrar = parse_uri(account.registrar)
                domain = uri_host(account.domain)
                if isinstance(registrar, SipURI) and registrar.bare_host == account.domain:
                    domain = registrar.host_port
            text = f"sip:{target}@{domain}"
        uri = parse_uri(text)
        if not isinstance(uri, SipURI):
            raise ParseError(f"cannot call {target!r}: not a SIP URI")
        return uri

    def media_ready(
        self, call_id: str, rtp_port: int, now: float, rtcp: tuple[str, int] | None = None
    ) -> None:
        call = self.calls.get(call_id)
        if call is None or call.state is not OutState.WAITING_MEDIA:
            return
        media = self.config.media
        _, transport = self._destination(call)
        sdes_keying = media.keying == "sdes"
        if media.encryption == "mandatory" and transport != "tls" and sdes_keying:
            # The offer would carry keys in the clear, and a plain one is what mandatory forbids.
            self._end(call, f"SRTP keys are only sent over TLS, not {transport.upper()}", now)
            return
        call.local = LocalMedia(
            self.local.host,
            rtp_port,
            codecs=media.codecs,
            telephone_event=media.telephone_event,
            ptime=media.ptime,
            # Keys only over TLS: a plain offer where the INVITE would travel in the clear.
            encryption=media.encryption if transport == "tls" or not sdes_keying else "off",
            keying=media.keying,
            fingerprint=self.local.dtls_fingerprint,
            rtcp=rtcp,
        )
        call.sdp = SdpSession(self.rng, self.local.host)
        call.offer = make_offer(call.local, call.sdp)
        call.state = advance(OUTGOING, call.state, OutInput.INVITE, call.call_id)
        self._send_invite(call, now)

    def _via(self) -> Via:
        return Via(
            self.local.transport.upper(),
            self.local.host,
            self.local.port,
            (("branch", new_branch(self.rng)), ("rport", None)),
        )

    def _destination(self, call: OutgoingCall) -> tuple[tuple[str, int], str]:
        account = self.config.account
        hop_text = None
        if account is not None:
            hop_text = account.outbound_proxy or account.registrar
        hop = parse_uri(hop_text) if hop_text else call.target
        if not isinstance(hop, SipURI):
            hop = call.target
        port, transport = hop_transport(hop, self.local.transport)
        if hop.port is None:
            port = self.port_of(hop.bare_host, port)
        return (self.resolve(hop.bare_host), port), transport

    def _send_invite(
        self, call: OutgoingCall, now: float, auth: list[tuple[str, str]] | None = None
    ) -> None:
        assert call.offer is not None
        from endpoint.ua.reliable import with_100rel  # RFC 3262: per call, not at start (issue 19)

        account = self.config.account
        host = uri_host(self.local.host)
        if account is not None:
            display = f'"{account.display_name}" ' if account.display_name else ""
            from_uri = f"{display}<sip:{account.user}@{uri_host(account.domain)}>"
        else:
            from_uri = f"<sip:door@{host}:{self.local.port}>"
        contact = self.contact()
        fields: list[tuple[str, str]] = [
            ("Via", str(self._via())),
            ("Max-Forwards", "70"),
            ("From", f"{from_uri};tag={call.from_tag}"),
            ("To", f"<{call.target}>"),
            ("Call-ID", call.call_id),
            ("CSeq", f"{call.cseq} INVITE"),
            ("Contact", contact),
            ("Allow", ", ".join(DEFAULT_METHODS)),
            *with_100rel(uac_headers(call.session_interval), self.config.sip.reliable_provisional),
            ("User-Agent", self.config.sip.user_agent),
            *call.extra_headers,
            ("Content-Type", "application/sdp"),
            *(auth or []),
        ]
        if account is not None and account.outbound_proxy:
            fields.insert(2, ("Route", f"<{account.outbound_proxy};lr>"))
        call.invite = Request("INVITE", call.target, Headers(fields), bytes(call.offer))
        destination, transport = self._destination(call)
        key = self.tx.send_request(call.invite, destination, transport, now)
        call.transaction = key
        self.by_transaction[key] = call.call_id

    # -- responses -------------------------------------------------------------------------

    def owns(self, transaction: str) -> bool:
        return transaction in self.by_transaction

    def on_response(self, transaction: str, response: Response, now: float) -> None:
        call = self.calls.get(self.by_transaction.get(transaction, ""))
        if call is None or response.cseq.method != "INVITE":
            return
        status = response.status
        if status < 200:
            self._provisional(call, response)
            reliable = self._prack(call, response, now)
            if response.body and call.state is OutState.RINGING and not call.early_reliable:
                # RFC 3261 §13.2.1: once an answer came reliably, SDP in a later 18x is not
                # a new answer (only an UPDATE changes the early session now).
                call.early_reliable = self._early_media(call, response) and reliable
            return
        self.by_transaction.pop(transaction, None)
        call.final_status = status
        if status < 300:
            self._accepted(call, response, now)
        elif status in (401, 407) and self.digest is not None and call.challenges < MAX_CHALLENGES:
            self._challenged(call, response, now)
        elif status == 422 and self._raise_interval(call, response):
            call.cseq += 1
            self._send_invite(call, now)
        elif 300 <= status < 400 and response.contact and call.redirects < MAX_REDIRECTS:
            self._redirected(call, response, now)
        else:
            reason = (
                call.cancel_reason
                if call.state is OutState.CANCELLING
                else f"{status} {response.reason}"
            )
            self._end(call, reason, now)

    def _provisional(self, call: OutgoingCall, response: Response) -> None:
        """1xx: an early dialog and ringing (RFC 3261 §13.2.2.1)."""
        if response.to_addr.tag and response.contact and call.dialog is None:
            call.dialog = Dialog.as_caller(call.invite, response)  # type: ignore[arg-type]
        if response.status in (180, 183) and call.state is OutState.CALLING:
            call.state = advance(OUTGOING, call.state, OutInput.PROVISIONAL, call.call_id)
            self.events.append(CallRinging(call_id=call.call_id))

    def _prack(self, call: OutgoingCall, response: Response, now: float) -> bool:
        """RFC 3262 §4: a reliable 18x of our early dialog is acknowledged with a PRACK
        (``RAck: RSeq CSeq INVITE``) sent inside that dialog; True when it was."""
        dialog, invite = call.dialog, call.invite
        if dialog is None or invite is None or self.config.sip.reliable_provisional == "off":
            return False
        if response.to_addr.tag != dialog.remote_tag:
            return False  # another fork's early dialog: ours is the first
        # Only a peer's reliable 18x needs RFC 3262's code: not loaded at start (issue 19).
        from endpoint.ua.reliable import rseq_to_prack

        rseq = rseq_to_prack(response, call.rseq)
        if rseq is None:
            return False
        call.rseq = rseq
        rack = ("RAck", f"{rseq} {invite.cseq.seq} INVITE")
        prack = dialog.create_request("PRACK", self._via(), headers=[rack])
        hop = next_hop(dialog, self.resolve, self.local.transport)
        if hop is not None:
            self.tx.send_request(prack, *hop, now)
        return True

    def early_call(self, request: Request, source: str) -> OutgoingCall | None:
        """Our ringing call whose early dialog ``request`` is in: its Call-ID and both tags
        (RFC 3261 §12.2.2), sent from the host our INVITE went to or the early dialog's route
        or remote target, as in a confirmed call (rule 4: a stranger who learnt the tags is
        no peer and must not move our media)."""
        call = self.calls.get(request.call_id)
        if call is None or call.dialog is None or call.state is not OutState.RINGING:
            return None
        if request.to_addr.tag != call.from_tag or request.from_addr.tag != call.dialog.remote_tag:
            return None
        hosts = frozenset({self._destination(call)[0][0]})
        if not dialog_peer(source, call.dialog, hosts, self.resolve, self.local.transport):
            return None
        return call

    def update(self, request: Request, transaction: str, source: str, now: float) -> bool:
        """An UPDATE from the callee inside our call's early dialog (RFC 3311 §5.1), e.g. a
        PBX changing its announcement: answered like a re-offer in a confirmed call, and the
        early media follows. False when it belongs to no call of ours (the agent answers 481).

        §5.2: "If an UPDATE is received that contains an offer, and the UAS has generated an
        offer (in an UPDATE, PRACK or INVITE) to which it has not yet received an answer, the
        UAS MUST reject the UPDATE with a 491 response": our INVITE's offer counts as answered
        only by a reliable 18x (an unreliable 183's SDP is a preview)."""
        call = self.early_call(request, source)
        if call is None or call.dialog is None:
            return False
        if call.dialog.receive_request(request) is not None:  # §12.2.2: stale or replayed
            reply = make_response(request, 500, "Server Internal Error (CSeq out of order)")
            self.tx.send_response(transaction, reply, now)
            return True
        # An UPDATE in the early dialog is rare: not loaded at start (issue 19).
        from endpoint.ua.early_update import UpdateAnswer, answer_early_update

        if request.body and not call.early_reliable:
            made = UpdateAnswer(491, "Request Pending (our offer is not answered reliably)")
        else:
            early = None
            if call.early_media is not None and call.local is not None and call.offer is not None:
                early = (call.early_answer or call.offer, call.early_media, call.local)
            made = answer_early_update(request, early, True, call.sdp)
        headers = [("Contact", self.contact()), ("Allow", ", ".join(DEFAULT_METHODS))]
        if made.body:
            headers.append(("Content-Type", "application/sdp"))
        reply = make_response(request, made.status, made.reason, headers=headers, body=made.body)
        self.tx.send_response(transaction, reply, now)
        if made.early is not None:
            call.early_answer, media = made.early[0], made.early[1]
            if media != call.early_media:
                self.events.append(UpdateMedia(call.call_id, media))
            call.early_media = media
        return True

    def _challenged(self, call: OutgoingCall, response: Response, now: float) -> None:
        """401/407: the INVITE again with credentials, if the realm is one we answer."""
        assert call.invite is not None and self.digest is not None
        status = response.status
        header = "WWW-Authenticate" if status == 401 else "Proxy-Authenticate"
        answered = "Authorization" if status == 401 else "Proxy-Authorization"
        try:
            auth = self.digest.answer(
                response.headers.rows(header),
                status,
                "INVITE",
                str(call.target),
                sent=call.invite.headers.rows(answered),
            )
        except DigestError as exc:
            self._end(call, f"{status} authentication failed: {exc}", now)
            return
        call.challenges += 1
        call.cseq += 1
        self._send_invite(call, now, auth)

    def _redirected(self, call: OutgoingCall, response: Response, now: float) -> None:
        """3xx: the INVITE to the first Contact, only to a party the configuration names
        (rule 11: no toll fraud through a stranger's redirect)."""
        status = response.status
        target = response.contact[0].uri
        if isinstance(target, SipURI) and not redirect_allowed(self.config, call.target, target):
            refused = f"redirect to {target.host} refused: not a configured domain or peer"
            self._end(call, f"{status} {refused}", now)
            return
        if isinstance(target, SipURI) and call.state is not OutState.CANCELLING:
            call.redirects += 1
            call.target = target
            call.cseq += 1
            self.events.append(CallRedirected(call_id=call.call_id, callee=str(target)))
            self._send_invite(call, now)
            return
        self._end(call, f"{status} {response.reason}", now)

    def _accepted(self, call: OutgoingCall, response: Response, now: float) -> None:
        assert call.invite is not None
        dialog = Dialog.as_caller(call.invite, response)
        dialog.receive_response(response)
        if call.dialog is not None and call.dialog.id == dialog.id:
            dialog.local_cseq = call.dialog.local_cseq  # after our PRACKs (RFC 3262 §4)
            dialog.remote_cseq = call.dialog.remote_cseq  # after the callee's early UPDATEs
        else:
            call.early_reliable = False  # another fork answered: its 2xx's SDP is the answer
        call.dialog = dialog
        self._ack(call, response, now)
        if call.state is OutState.CANCELLING:
            # §9.1: the 2xx crossed our CANCEL: the call exists, so end it properly.
            self._bye(call, now)
            self._end(call, "cancelled (answered at the same time)", now)
            return
        assert call.offer is not None and call.local is not None and call.sdp is not None
        try:
            if call.early_media is not None and (call.early_reliable or not response.body):
                # The answer came in the 183 (RFC 3264 §4), or reliably and maybe changed by
                # an UPDATE since: SDP in the 2xx repeats it and is no new answer.
                negotiated = call.early_media
            else:
                negotiated = process_answer(call.offer, parse_sdp(response.body), call.local)
        except (ParseError, NotAcceptableError) as exc:
            self._bye(call, now)
            self._end(call, f"unusable answer: {exc}", now)
            return
        call.state = advance(OUTGOING, call.state, OutInput.SUCCESS, call.call_id)
        call.answered_at = now
        call.ring_deadline = None
        self.outcomes.append((call.call_id, True, 200))
        if not call.media_started:
            self.events.append(StartMedia(call.call_id, negotiated, call.local.port))
        elif negotiated != call.early_media:
            self.events.append(UpdateMedia(call.call_id, negotiated))
        call.media_started = True
        call.session = Session(
            call.call_id,
            dialog,
            call.local,
            call.sdp,
            negotiated,
            call.early_answer or call.offer,
            self.config,
            self.local,
            self.tx,
            self.rng,
            self.resolve,
            self.events.append,
            peer_allows_update=peer_allows_update(response),
            peer_hosts=frozenset({self._destination(call)[0][0]}),
        )
        call.session.start(plan_as_uac(response), now)
        self.events.append(
            CallAnswered(
                call_id=call.call_id,
                callee=str(call.target),
                codec=negotiated.codec,
                encryption=media_encryption(negotiated),
            )
        )

    def _early_media(self, call: OutgoingCall, response: Response) -> bool:
        """A 183 with SDP: the callee (or a PBX's announcement) plays audio before answering.
        False when its SDP is no answer we can play."""
        assert call.offer is not None and call.local is not None
        try:
            negotiated = process_answer(call.offer, parse_sdp(response.body), call.local)
        except (ParseError, NotAcceptableError):
            return False  # not an answer we can play: wait for the 2xx
        if call.media_started:
            if negotiated != call.early_media:
                self.events.append(UpdateMedia(call.call_id, negotiated))
        else:
            self.events.append(StartMedia(call.call_id, negotiated, call.local.port))
            self.events.append(CallEarlyMedia(call_id=call.call_id))
        call.early_media = negotiated
        call.media_started = True
        return True

    def _raise_interval(self, call: OutgoingCall, response: Response) -> bool:
        """RFC 4028 §7.3: 422 names the smallest interval the peer takes; retry with it once."""
        minimum = parse_int((response.headers.get("Min-SE") or "").strip(), 10)
        if minimum is None or minimum <= max(call.session_interval, MIN_SE - 1):
            return False
        if minimum > 86400:
            return False
        call.session_interval = minimum
        return True

    def _ack(self, call: OutgoingCall, response: Response, now: float) -> None:
        if call.dialog is None or call.invite is None:
            return
        ack = call.dialog.create_ack(call.invite.cseq.seq, self._via())
        hop = next_hop(call.dialog, self.resolve, self.local.transport)
        if hop is not None:
            self.tx.send_ack(ack, *hop)

    def stray_success(self, response: Response, now: float) -> None:
        """A retransmitted 2xx (our ACK was lost): ACK it again (§13.2.2.4)."""
        call = self.calls.get(response.call_id)
        if (
            call is not None
            and call.dialog is not None
            and call.invite is not None
            and response.cseq.method == "INVITE"
            and response.cseq.seq == call.invite.cseq.seq
        ):
            self._ack(call, response, now)

    def on_failure(self, transaction: str, reason: str, now: float) -> None:
        call_id = self.by_transaction.pop(transaction, None)
        call = self.calls.get(call_id or "")
        if call is not None:
            self._end(call, reason, now)

    # -- ending ------------------------------------------------------------------------------

    def hangup(self, now: float) -> bool:
        """End every call of ours: CANCEL what rings, BYE what is answered."""
        done = False
        for call_id in list(self.calls):
            done = self.end_call(call_id, "hung up locally", now) or done
        return done

    def end_call(self, call_id: str, reason: str, now: float) -> bool:
        call = self.calls.get(call_id)
        if call is None:
            return False
        if call.state in (OutState.CALLING, OutState.RINGING):
            call.cancel_reason = "cancelled" if reason == "hung up locally" else reason
            self._cancel(call, now)
            return True
        if call.state is OutState.CONFIRMED:
            if call.session is not None:
                call.session.hang_up(reason, now)
            self._end(call, reason, now)
            return True
        if call.state is OutState.WAITING_MEDIA:
            self._end(call, reason, now)
            return True
        return False

    def sessions(self) -> Iterator[Session]:
        return sessions_of(self.calls.values())

    def reap(self, now: float) -> None:
        for call, reason in finished(self.calls.values()):
            self._end(call, reason, now)

    def _cancel(self, call: OutgoingCall, now: float) -> None:
        """§9.1: same Request-URI, Call-ID, From, To, CSeq number and top Via as the INVITE."""
        invite = call.invite
        assert invite is not None
        fields = [("Via", str(invite.top_via)), ("Max-Forwards", "70")]
        fields += [(n, v) for n, v in invite.headers if n in ("From", "To", "Call-ID", "Route")]
        fields.append(("CSeq", f"{invite.cseq.seq} CANCEL"))
        cancel = Request("CANCEL", invite.uri, Headers(fields))
        destination, transport = self._destination(call)
        self.tx.send_request(cancel, destination, transport, now)
        call.state = advance(OUTGOING, call.state, OutInput.CANCEL, call.call_id)

    def _bye(self, call: OutgoingCall, now: float) -> None:
        dialog = call.dialog
        if dialog is None:
            return
        bye = dialog.create_request("BYE", self._via())
        hop = next_hop(dialog, self.resolve, self.local.transport)
        if hop is not None:
            self.tx.send_request(bye, *hop, now)

    def remote_bye(self, dialog_id: tuple[str, str, str], now: float) -> bool:
        for call in self.calls.values():
            if call.dialog is not None and call.dialog.id == dialog_id:
                if call.session is not None:
                    call.session.remote_ended("hung up by the callee")
                self._end(call, "hung up by the callee", now)
                return True
        return False

    def _end(self, call: OutgoingCall, reason: str, now: float) -> None:
        if call.state is OutState.ENDED:
            return
        # A call we cancelled ourselves (hung up while it rang, answered elsewhere in the
        # group, rang out) ended as asked: it is not a failure, and is not logged as one.
        ended = call.answered_at is not None or call.state is OutState.CANCELLING
        call.state = advance(OUTGOING, call.state, OutInput.END, call.call_id)
        self.outcomes.append((call.call_id, False, call.final_status))
        duration = now - call.answered_at if call.answered_at is not None else 0.0
        self.events.append(StopMedia(call.call_id, reason))
        target, duration = str(call.target), round(duration, 1)
        self.events.append(
            CallEnded(call_id=call.call_id, callee=target, reason=reason, duration=duration)
            if ended
            else CallFailed(call_id=call.call_id, callee=target, reason=reason, duration=duration)
        )
        self.calls.pop(call.call_id, None)

    def get_timer(self) -> float | None:
        times = [c.ring_deadline for c in self.calls.values() if c.ring_deadline is not None]
        return min(times) if times else None

    def handle_timer(self, now: float) -> None:
        for call in list(self.calls.values()):
            if call.ring_deadline is not None and call.ring_deadline <= now:
                call.ring_deadline = None
                if call.state in (OutState.CALLING, OutState.RINGING):
                    self._cancel(call, now)
                    self.events.append(CallRingTimeout(call_id=call.call_id))
