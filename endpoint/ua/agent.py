"""The user agent core: the transaction layer, registrations and request handling, sans-IO.

The runtime feeds it parsed messages, the clock and timer firings; it returns datagrams to send
and notices for the log and the control socket. Every incoming request is first checked
(``check_request``: the RFC 4475 application-layer answers), then answered by method. Incoming
calls are handled by ``IncomingCalls`` (ring, auto-answer, media, hang-up).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from endpoint.backoff import Backoff
from endpoint.config import Config
from endpoint.sip import ParseError, Request, Response, check_request, make_response, parse_uri
from endpoint.sip.checks import DEFAULT_METHODS
from endpoint.sip.dialog import dialog_id_of
from endpoint.sip.digest import DigestError
from endpoint.sip.grammar import parse_int
from endpoint.sip.headers import Via
from endpoint.sip.transaction import (
    TU_TIMER,
    AckReceived,
    Event,
    Outgoing,
    RequestReceived,
    ResponseReceived,
    StrayResponse,
    TransactionLayer,
    TransactionTimeout,
    TransportError,
    new_branch,
)
from endpoint.sip.transaction import State as TxnState
from endpoint.sip.uri import SipURI
from endpoint.ua.actions import Action, CallAction, Destination, SendKeepalive, SendRequest
from endpoint.ua.allowlist import Allowlist
from endpoint.ua.callgroup import CallGroup
from endpoint.ua.configured import account_digest, peer_hosts
from endpoint.ua.events import (
    CallBusy,
    CallGroupEnded,
    CallGroupStarted,
    DtmfReceived,
    DtmfRefused,
    InService,
    MessageFailed,
    MessageReceived,
    Notice,
    OutOfService,
    Ready,
    Registered,
    RegistrationFailed,
    RequestDropped,
    RequestFailed,
)
from endpoint.ua.registration import LocalAddress, Registration, RegState, listening_contact
from endpoint.ua.trust import ANYONE, REGISTRAR, SourceFilter

if TYPE_CHECKING:
    # The call path and MESSAGE: loaded at the first call or message (issue 19).
    from endpoint.ua.attended import Consultations
    from endpoint.ua.call_path import CallPath
    from endpoint.ua.calls import Call, IncomingCalls
    from endpoint.ua.messages import OutgoingMessages
    from endpoint.ua.outgoing import OutgoingCalls
    from endpoint.ua.session import Session
    from endpoint.ua.transfer import Transfers

#: Bodies we take: SDP (INVITE), SIP INFO DTMF relay, and text for MESSAGE.
ACCEPT = ("application/sdp", "application/dtmf-relay", "text/plain", "message/sipfrag")
MAX_MESSAGE_TEXT = 1024
#: At most one log line per this many seconds about requests dropped for their source.
UNTRUSTED_REPORT_S = 10.0

#: Answers one kind of request: the response to send, or None when it was answered (or is
#: to be answered later, like a ringing INVITE) by the call or session it belongs to.
RequestHandler = Callable[[RequestReceived, float], Response | None]


@dataclass(frozen=True, slots=True)
class Party:
    """Who is on the other end of a call, and whether the call is trusted with the door: a
    call we placed is, an incoming one if its caller passed the allowlist when it rang."""

    peer: str
    incoming: bool
    trusted: bool


@dataclass
class UserAgent:
    """The sans-IO user agent: SIP in, actions out, time and randomness passed in."""

    config: Config
    local: LocalAddress
    rng: random.Random = field(repr=False)
    #: Host names the runtime resolved (registrar, proxy): name -> address.
    resolved: dict[str, str] = field(default_factory=dict)
    #: The port a configured name's DNS SRV record gave (RFC 3263 §4.2): name -> port. Only
    #: names whose URI had no port; the others keep theirs.
    ports: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.transactions = TransactionLayer()
        self.registrations = self._registrations(self.config)
        #: Built at the first call (``_call_path``), the outgoing MESSAGEs at the first one.
        self._path: CallPath | None = None
        self._messages: OutgoingMessages | None = None
        self._owners: dict[str, tuple[Registration, str]] = {}
        self._out: list[Outgoing] = []
        self._notices: list[Notice] = []
        self.groups: list[CallGroup] = []
        #: New requests dropped because their source is not in ``[sip] accept_from``.
        self.untrusted = 0
        #: Messages whose handling raised something other than a peer's ParseError (our bugs).
        self.internal_errors = 0
        self._untrusted_reported_at = -UNTRUSTED_REPORT_S
        self.trusted = self._source_filter(self.config)
        self.transactions.set_trusted(self.trusted.generous)
        self.stopping = False
        #: Switched out of service (``set_registered(False)``): no registration, no failover.
        self.out_of_service = False

    # -- the call path, loaded at the first call (issue 19) ----------------------------------

    def _call_path(self) -> CallPath:
        """The call handlers, built (and their modules imported) at the first use: an
        INVITE, ``ctl call``, a transfer. Before the first call there is nothing to hand them."""
        if self._path is None:
            from endpoint.ua.call_path import CallHooks, CallPath

            hooks = CallHooks(
                self.config,
                self.local,
                self.transactions,
                self.rng,
                self._address,
                self._contact,
                self._port,
                self._end_one,
                self._notice,
                self._sessions,
                lambda call_id: (party := self.party(call_id)) is not None and party.trusted,
            )
            self._path = CallPath.build(hooks)
        return self._path

    @property
    def calls_loaded(self) -> bool:
        """Has a call been handled yet (the call path is built)? Before that there are no
        calls, sessions or transfers to look at."""
        return self._path is not None

    @property
    def calls(self) -> IncomingCalls:
        return self._call_path().calls

    @property
    def outgoing(self) -> OutgoingCalls:
        return self._call_path().outgoing

    @property
    def transfers(self) -> Transfers:
        return self._call_path().transfers

    @property
    def consultations(self) -> Consultations:
        return self._call_path().consultations

    @property
    def messages(self) -> OutgoingMessages:
        """Our outgoing MESSAGEs (``ctl message``), built at the first one."""
        if self._messages is None:
            from endpoint.ua.messages import OutgoingMessages

            self._messages = OutgoingMessages(
                self.config,
                self.local,
                self.transactions,
                self.rng,
                self._address,
                port_of=self._port,
            )
        return self._messages

    def call_ids(self) -> tuple[str, ...]:
        """The Call-IDs of our incoming and outgoing calls (none before the first call)."""
        if self._path is None:
            return ()
        return (*self._path.calls.calls, *self._path.outgoing.calls)

    # -- lifecycle -----------------------------------------------------------------------

    def start(self, now: float) -> None:
        if self.registrations:
            self._run(self.registrations[0], self.registrations[0].start(now), now)
        else:
            self._notices.append(Ready())

    def stop(self, now: float) -> None:
        """Hang up, un-register everything (Expires: 0); ``stopped`` turns true when done."""
        self.stopping = True
        if self._path is not None:
            self._path.calls.hangup(now)
            self._path.outgoing.hangup(now)
        self._drain(now)
        for registration in self.registrations:
            self._run(registration, registration.stop(now), now)

    def reconfigure(self, config: Config, resolved: dict[str, str], now: float) -> None:
        """Take a reloaded configuration (SIGHUP; ``endpoint.config.reload`` decides what may
        change): call policy and media settings hold from the next call on; a changed account
        is un-registered and the new one registers. Calls in progress are not touched."""
        accounts = (self.config.account, self.config.backup_account)
        self.config = config
        self.resolved.update(resolved)
        self.trusted = self._source_filter(config)
        self.transactions.set_trusted(self.trusted.generous)
        if self._path is not None:  # else it is built with ``config`` at the first call
            self._path.calls.config = config
            self._path.calls.allowlist = Allowlist(config.calls.allow)
            self._path.outgoing.config = config
            self._path.transfers.config = config
        if accounts == (config.account, config.backup_account) or self.stopping:
            return
        digest = account_digest(config.account, self.rng)
        if self._path is not None:
            self._path.outgoing.digest = digest
        if self._messages is not None:
            self._messages.digest = digest
        old, self.registrations = self.registrations, self._registrations(config)
        kept = {(r.aor, r.account.registrar) for r in self.registrations}
        for registration in old:
            # The same address-of-record at the same registrar: the new REGISTER replaces the
            # binding (RFC 3261 §10.3 step 7); an un-register could overtake and remove it.
            if (registration.aor, registration.account.registrar) not in kept:
                self._run(registration, registration.stop(now), now)
        self.start(now)

    def readdress(self, local: LocalAddress, now: float) -> None:
        """Our public address changed (``[nat]`` reloaded and STUN saw another): new calls and
        messages say it in Via and Contact, and each registration binds the new Contact and
        removes the old one (its Expires: 0 names the old Contact only, so it cannot remove
        the new binding). Calls in progress keep the address their dialog was set up with."""
        self.local = local
        if self._path is not None:
            self._path.calls.local = self._path.outgoing.local = local
        if self._messages is not None:
            self._messages.local = local
        if self.stopping:
            return
        old, self.registrations = self.registrations, self._registrations(self.config)
        for registration in old:
            self._run(registration, registration.stop(now), now)
        self.start(now)

    def _registrations(self, config: Config) -> list[Registration]:
        return [
            Registration(
                settings,
                self.local,
                self.rng,
                name=name,
                user_agent=config.sip.user_agent,
                backoff=Backoff(base=settings.retry_interval),
            )
            for name, settings in (("account", config.account), ("backup", config.backup_account))
            if settings is not None
        ]

    @property
    def stopped(self) -> bool:
        return self.stopping and all(
            r.state in (RegState.STOPPED, RegState.IDLE) for r in self.registrations
        )

    # -- the five methods ------------------------------------------------------------------

    def receive(
        self, message: Request | Response, source: tuple[str, int], transport: str, now: float
    ) -> None:
        in_dialog = isinstance(message, Request) and self._of_our_calls(message, source[0])
        if (
            isinstance(message, Request)
            and not in_dialog
            and not self._trusted_request(message, source[0], transport)
        ):
            # Issue 13 rule 7: a stranger's request creates no transaction and gets no byte
            # back (not even a 503 when the table is full); it is counted and, rarely, logged.
            self.untrusted += 1
            self._report_untrusted(message.method, source[0], now)
            return
        # Rule 9: what belongs to our calls is never refused for capacity or rate.
        self.transactions.receive(message, source, transport, now, in_dialog=in_dialog)
        self._drain(now)

    def _trusted_request(self, request: Request, host: str, transport: str) -> bool:
        """A new request from a trusted source, with proof where the source alone proves
        nothing (rule 2): a call or message "from the registrar" must come over a TCP/TLS
        connection from it, or carry the ``line=`` token of our registered Contact."""
        if self.trusted.proven_by_source(host):
            return True
        if not self.trusted.allows(host):
            return False
        if request.method in ("OPTIONS", "ACK", "CANCEL"):
            return True  # nothing to gain: answered to the source; ACK/CANCEL match a txn
        return self._proven(request, transport)

    def _proven(self, request: Request, transport: str) -> bool:
        """Proof beyond the source address: a TCP/TLS flow (a connection's source cannot be
        spoofed) or the ``line=`` token of our registered Contact in the Request-URI."""
        if transport.lower() in ("tcp", "tls"):
            return True
        uri = request.uri
        line = uri.param("line") if isinstance(uri, SipURI) else None
        return line is not None and any(r.line == line for r in self.registrations)

    def from_registrar(self, request: Request, host: str, transport: str) -> bool:
        """Does ``request`` prove it comes from our registrar or proxy: its address and the
        proof of ``_proven`` (never ``accept_from``: a listed LAN is not the PBX)?"""
        return self.trusted.is_registrar(host) and self._proven(request, transport)

    def admits_host(self, host: str) -> bool:
        """May ``host`` talk to us at all: trusted, or the peer of one of our calls? The
        transport asks before it answers a malformed message or keeps a TCP connection."""
        return (
            self.trusted.allows(host)
            or any(s.from_peer(host) for s in self._sessions())
            or any(c.source == host for c in self._ringing())
        )

    def _of_our_calls(self, request: Request, host: str) -> bool:
        """Does the request belong to one of our calls: inside a dialog of ours from that
        dialog's peer, or the CANCEL/ACK of a ringing caller from where its INVITE came?"""
        if request.method in ("CANCEL", "ACK", "PRACK", "UPDATE") and any(
            c.source == host for c in self._ringing()
        ):
            return True
        sessions = list(self._sessions())
        if not sessions:
            return False  # no call: nothing to match, and a flood's From/To stay unparsed
        try:
            wanted = dialog_id_of(request, incoming=True)
        except ParseError:
            return False
        return any(s.dialog.id == wanted and s.from_peer(host) for s in sessions)

    def transport_failed(self, destination: tuple[str, int], transport: str, now: float) -> None:
        """The runtime could not connect to ``destination`` (TCP refused, unreachable)."""
        self.transactions.destination_failed(destination, transport, now)
        self._drain(now)

    def flow_closed(self, destination: tuple[str, int], transport: str, now: float) -> None:
        """A connection we opened to ``destination`` is gone. The registrar routes our calls
        over it (RFC 5626 §4.4.1) and may have restarted and forgotten us (issue 13 rule 10): a
        binding registered over it registers again at once, over a new connection; a failure
        there falls back to the registration's backoff."""
        self.transactions.destination_failed(destination, transport, now)
        if self.stopping or self.out_of_service:
            self._drain(now)
            return
        for registration in self.registrations:
            dest = registration.destination
            ours = self._hop(dest) == destination
            if ours and dest.transport.lower() == transport.lower():
                self._run(registration, registration.flow_lost(now, "connection closed"), now)
        self._drain(now)

    def datagrams_to_send(self) -> list[Outgoing]:
        out = self._out + self.transactions.datagrams_to_send()
        self._out = []
        return out

    def notices(self) -> list[Notice]:
        # The lists are emptied in place: sessions hold their owner's ``append``.
        if self._messages is not None:
            self._notices += self._messages.events
            self._messages.events.clear()
        for source in self._handlers():
            self._notices += [e for e in source.events if isinstance(e, Notice)]
            source.events[:] = [e for e in source.events if not isinstance(e, Notice)]
        out, self._notices = self._notices, []
        return out

    def call_actions(self) -> list[CallAction]:
        out: list[CallAction] = []
        for source in self._handlers():
            out += [e for e in source.events if not isinstance(e, Notice)]
            source.events[:] = [e for e in source.events if isinstance(e, Notice)]
        return out

    def call(self, target: str, now: float) -> str:
        """Place a call; raises ParseError for a target that is not a SIP address."""
        self.calls.give_way(now)
        if self.calls.active is not None or self.outgoing.active is not None:
            raise ValueError("a call is already in progress")
        call_id = self.outgoing.call(target, now)
        return call_id

    def call_group(
        self, targets: Sequence[str], parallel: bool, target_timeout: float, now: float
    ) -> str:
        """Ring several targets (all at once, or in turn); the group id.

        The first to answer gets the call; the others are cancelled. Raises ValueError when a
        call is in progress, ParseError for a target that is not a SIP address (before any
        call is placed).
        """
        if not targets:
            raise ValueError("a call group needs at least one target")
        self.calls.give_way(now)
        if self.calls.active is not None or self.outgoing.active is not None:
            raise ValueError("a call is already in progress")
        for target in targets:
            self.outgoing.target_uri(target)  # every target checked before anything rings
        group = CallGroup(
            f"{self.rng.getrandbits(48):012x}", tuple(targets), parallel, target_timeout
        )
        self.groups.append(group)
        self._notices.append(
            CallGroupStarted(
                group_id=group.group_id,
                targets=list(targets),
                mode="parallel" if parallel else "sequential",
            )
        )
        for target in group.start():
            self._place(group, target, now)
        return group.group_id

    def _place(self, group: CallGroup, target: str, now: float) -> None:
        timeout = None if group.parallel else group.target_timeout
        group.placed(self.outgoing.call(target, now, ring_timeout=timeout), target)

    def _groups_step(self, now: float) -> None:
        """Carry call outcomes into their groups: cancel the losers, ring the next target."""
        if self._path is None:
            return
        for _ in range(16):  # each step may end more calls; bounded
            outcomes, self.outgoing.outcomes = self.outgoing.outcomes, []
            if not outcomes:
                return
            for call_id, answered, status in outcomes:
                self.transfers.call_outcome(call_id, answered, status, now)
                for group in [g for g in self.groups if g.owns(call_id)]:
                    step = group.answered(call_id) if answered else group.ended(call_id)
                    for other in step.cancel:
                        self.outgoing.end_call(other, "answered elsewhere", now)
                    for target in step.place:
                        self._place(group, target, now)
                    if step.done:
                        self.groups.remove(group)
                        self._notices.append(
                            CallGroupEnded(
                                group_id=group.group_id, answered=group.winner is not None
                            )
                        )

    def reregister(self, now: float) -> None:
        """Register again at once (a button, a network change); a no-op out of service."""
        if self.out_of_service or self.stopping:
            return
        for registration in self.registrations:
            if registration.state is not RegState.IDLE or registration is self.registrations[0]:
                self._run(registration, registration.refresh_now(now), now)

    def set_registered(self, enabled: bool, now: float) -> None:
        """The out-of-service switch: un-register every account, or register again."""
        if self.stopping or enabled != self.out_of_service:
            return
        self.out_of_service = not enabled
        if enabled:
            self._notices.append(InService())
            if self.registrations:
                self._run(self.registrations[0], self.registrations[0].start(now), now)
        else:
            self._notices.append(OutOfService())
            for registration in self.registrations:
                self._run(registration, registration.stop(now), now)

    def dtmf(self, call_id: str, digit: str, now: float) -> None:
        """A digit from the peer (RFC 4733 or SIP INFO): ``#`` may extend a time-limited call."""
        for session in self._sessions():
            if session.call_id == call_id:
                session.dtmf(digit, now)

    def send_dtmf(self, call_id: str | None, digits: str, now: float) -> str | None:
        """How ``digits`` go out on call ``call_id`` (None: the focus call, ``focus``):
        ``"rfc4733"`` (the runtime hands them to the media stream, telephone-event was
        negotiated), ``"info"`` (queued here as SIP INFO, it was not), or None (no such
        call)."""
        wanted = call_id if call_id is not None else self.focus()
        for session in self._sessions():
            if session.call_id == wanted and session.ended is None:
                if session.media.telephone_event_pt is not None:
                    return "rfc4733"
                session.send_dtmf_info(digits, now)
                return "info"
        return None

    def focus(self) -> str | None:
        """The call ``ctl`` and the buttons act on when no call id is given, as on a desk
        phone: the one the user talks on. During an attended transfer's consultation that is
        the consultation call, not the held original call (reached by ``transfer --cancel`` /
        ``--complete`` or its call id); otherwise the active call."""
        if self._path is None:
            return None
        current = self.consultations.current
        if current is not None and self.consultations.up(current.call_id):
            return current.call_id
        return self.active_call_id()

    def _target(self, call_id: str | None) -> str | None:
        """The call a command names (checked: one of ours, not ended), or the focus call.
        ValueError for an id that is no call of ours."""
        if call_id is None:
            return self.focus()
        from endpoint.ua.calls import CallState
        from endpoint.ua.outgoing import OutState

        incoming, outgoing = self.calls.calls.get(call_id), self.outgoing.calls.get(call_id)
        if (incoming is None or incoming.state is CallState.ENDED) and (
            outgoing is None or outgoing.state is OutState.ENDED
        ):
            raise ValueError(f"no call with id {call_id[:80]!r} (ctl status lists them)")
        return call_id

    def set_hold(self, held: bool, now: float, call_id: str | None = None) -> str | None:
        """``ctl hold``/``resume`` on ``call_id`` or the focus call (Session.set_hold); else
        why not. The call held for a consultation is resumed only by ``transfer --cancel``:
        resumed beside the consultation, the visitor would hear the flat being asked."""
        try:
            wanted = self._target(call_id)
        except ValueError as exc:
            return str(exc)
        current = self.consultations.current
        if not held and current is not None and current.held.call_id == wanted:
            return "this call is held for a consultation: transfer --cancel resumes it"
        session = next((s for s in self._sessions() if s.call_id == wanted), None)
        return session.set_hold(held, now) if session is not None else "no answered call"

    def send_message(self, target: str, text: str, now: float) -> bool:
        """``ctl message`` (endpoint.ua.messages): True if it went in the focus call's dialog.
        Raises MessageRefusedError, or ParseError for a target that is not a SIP address."""
        active = self.focus()
        session = next((s for s in self._sessions() if s.call_id == active), None)
        return self.messages.send(self.outgoing.target_uri(target), text, session, now)

    def transfer(self, target: str, now: float) -> str:
        """Blind transfer (RFC 5589 §6) of the answered call to ``target``: the REFER is sent,
        the outcome comes as an event; the call id. ParseError for a target that is not a SIP
        address, ValueError when no call is answered or it is being transferred already."""
        uri = self.outgoing.target_uri(target)
        if self.consultations.current is not None:
            raise ValueError("a consultation call is up: transfer --complete or --cancel")
        session = self._answered()
        from endpoint.sip.refer import ReferTarget  # a transfer is rare: not loaded at start

        self.transfers.transfer(session, ReferTarget(uri), now)
        self._drain(now)
        return session.call_id

    def transfer_attended(self, target: str, now: float) -> str:
        """Attended transfer, first step (RFC 5589 §7): hold the answered call and place the
        consultation call to ``target`` (endpoint.ua.attended); the consultation call's id.
        ParseError for a bad target, ValueError without a (single) answered call."""
        uri = self.outgoing.target_uri(target)
        session = self._answered()
        if sum(1 for s in self._sessions() if s.ended is None) > 1 or self.groups:
            raise ValueError("more than one call is up: attended transfer needs just one")
        call_id = self.consultations.start(session, str(uri), now)
        self._drain(now)
        return call_id

    def transfer_complete(self, now: float) -> str:
        """``transfer --complete``: REFER the held call's peer to the consultation target with
        Replaces; the held call's id. ValueError when no consultation call is answered."""
        call_id = self.consultations.complete(now)
        self._drain(now)
        return call_id

    def transfer_cancel(self, now: float) -> str:
        """``transfer --cancel``: end the consultation call, resume the held one; its id."""
        call_id = self.consultations.cancel(now)
        self._drain(now)
        return call_id

    def _answered(self) -> Session:
        session = next((s for s in self._sessions() if s.ended is None), None)
        if session is None:
            raise ValueError("no answered call to transfer")
        return session

    def active_call_id(self) -> str | None:
        if self._path is None:
            return None
        incoming, outgoing = self.calls.active, self.outgoing.active
        if incoming is not None:
            return incoming.call_id
        return outgoing.call_id if outgoing is not None else None

    def party(self, call_id: str) -> Party | None:
        """The other end of call ``call_id`` (None: no such call)."""
        if self._path is None:
            return None
        incoming = self.calls.calls.get(call_id)
        if incoming is not None:
            return Party(incoming.caller, incoming=True, trusted=incoming.allowed)
        outgoing = self.outgoing.calls.get(call_id)
        if outgoing is not None:
            return Party(str(outgoing.target), incoming=False, trusted=True)
        return None

    def media_ready(
        self, call_id: str, rtp_port: int, now: float, rtcp: tuple[str, int] | None = None
    ) -> None:
        """The call's RTP socket is bound: ``rtp_port`` (its public port with STUN) goes in
        m=, ``rtcp`` (the RTCP socket's public address, if STUN learned it) in a=rtcp."""
        self.calls.media_ready(call_id, rtp_port, now, rtcp)
        self.outgoing.media_ready(call_id, rtp_port, now, rtcp)
        self._drain(now)

    def answer(self, now: float) -> bool:
        return self._path is not None and self._path.calls.answer(None, now)

    def hangup(self, now: float, call_id: str | None = None) -> bool:
        """End ``call_id``, or the focus call. Hanging up a consultation call before its
        REFER is out is ``transfer --cancel`` (the held call is resumed, as a desk phone
        returns to the held line); without a consultation and without an id, every call
        (a ringing call group too). ValueError for an id that is no call of ours."""
        if self._path is None and call_id is None:
            return False  # no call yet
        wanted = self._target(call_id)
        current = self.consultations.current
        if current is not None and wanted == current.call_id and not current.completing:
            self.consultations.cancel(now)
            done = True
        elif current is not None or call_id is not None:
            done = wanted is not None and self._end_one(wanted, "hung up locally", now)
        else:
            done = self.calls.hangup(now) or self.outgoing.hangup(now)
        self._drain(now)
        return done

    def end_call(self, call_id: str, reason: str, now: float, *, status: int = 486) -> bool:
        """End one call (BYE, CANCEL, or ``status`` for an incoming one that rings)."""
        done = self._end_one(call_id, reason, now, status=status)
        self._drain(now)
        return done

    def _end_one(self, call_id: str, reason: str, now: float, *, status: int = 486) -> bool:
        """End one call without draining: for handlers already inside ``_dispatch``."""
        if self._path is None:
            return False
        return self.calls.end(call_id, reason, now, status=status) or self.outgoing.end_call(
            call_id, reason, now
        )

    def get_timer(self) -> float | None:
        times = [t for t in (r.get_timer() for r in self.registrations) if t is not None]
        path = self._path
        for extra in (
            self.transactions.get_timer(),
            *(
                (path.calls.get_timer(), path.outgoing.get_timer(), path.transfers.get_timer())
                if path is not None
                else ()
            ),
            *(s.get_timer() for s in self._sessions()),
        ):
            if extra is not None:
                times.append(extra)
        return min(times) if times else None

    def handle_timer(self, now: float) -> None:
        self.transactions.handle_timer(now)
        if self._path is not None:
            self._path.calls.handle_timer(now)
            self._path.outgoing.handle_timer(now)
            self._path.transfers.handle_timer(now)
        for session in list(self._sessions()):
            timer = session.get_timer()
            if timer is not None and timer <= now:
                session.handle_timer(now)
        for registration in self.registrations:
            timer = registration.get_timer()
            if timer is not None and timer <= now:
                self._run(registration, registration.handle_timer(now), now)
        self._drain(now)

    # -- internals -------------------------------------------------------------------------

    def _address(self, host: str) -> str:
        return self.resolved.get(host, host)

    def _port(self, host: str, port: int) -> int:
        return self.ports.get(host, port)

    def _hop(self, dest: Destination) -> tuple[str, int]:
        return self._address(dest.host), self._port(dest.host, dest.port)

    def registrar_moved(self, host: str, address: str, port: int | None, now: float) -> None:
        """DNS gave ``host`` a new target (RFC 3263 §4.3 failover, or a re-resolution): the
        registrations sent there register again at once, at the new place."""
        self.resolved[host] = address
        if port is None:
            self.ports.pop(host, None)
        else:
            self.ports[host] = port
        if self.out_of_service or self.stopping:
            return
        for registration in self.registrations:
            if registration.destination.host == host and registration.state is not RegState.IDLE:
                self._run(registration, registration.refresh_now(now), now)
        self._drain(now)

    def _contact(self) -> str:
        """The Contact of our calls: where a registrar saw us (NAT), else where we listen."""
        registered = next((r for r in self.registrations if r.registered), None)
        if registered is not None:
            return f"<{registered.contact_uri()}>"
        return listening_contact(self.config, self.local)

    def _sessions(self) -> Iterator[Session]:
        if self._path is not None:
            yield from self._path.calls.sessions()
            yield from self._path.outgoing.sessions()

    def _handlers(self) -> tuple[IncomingCalls, OutgoingCalls] | tuple[()]:
        """The incoming and outgoing calls' handlers (none before the first call)."""
        path = self._path
        return () if path is None else (path.calls, path.outgoing)

    def _ringing(self) -> Iterator[Call]:
        """Our incoming calls, ringing or not (none before the first call)."""
        if self._path is not None:
            yield from self._path.calls.calls.values()

    def _session_for(self, message: Request) -> Session | None:
        wanted = dialog_id_of(message, incoming=True)
        return next((s for s in self._sessions() if s.dialog.id == wanted), None)

    def _run(self, owner: Registration, actions: list[Action], now: float) -> None:
        for action in actions:
            if isinstance(action, SendRequest):
                dest = action.destination
                key = self.transactions.send_request(
                    action.request, self._hop(dest), dest.transport, now
                )
                self._owners[key] = (owner, action.tag)
            elif isinstance(action, SendKeepalive):
                dest = action.destination
                self._out.append(Outgoing(b"\r\n\r\n", self._hop(dest), dest.transport))
            else:
                self._notices.append(action)
                self._failover(owner, action, now)

    def _failover(self, owner: Registration, notice: Notice, now: float) -> None:
        """Primary failing: bring up the backup account; primary back: release the backup."""
        if len(self.registrations) < 2 or self.stopping or self.out_of_service:
            return
        primary, backup = self.registrations[0], self.registrations[1]
        if owner is primary and isinstance(notice, RegistrationFailed):
            if backup.state in (RegState.IDLE, RegState.STOPPED):
                self._run(backup, backup.start(now), now)
        elif owner is primary and isinstance(notice, Registered) and backup.registered:
            self._run(backup, backup.stop(now), now)

    def _drain(self, now: float) -> None:
        self._dispatch(now)
        path = self._path
        if path is None:
            return
        path.calls.reap(now)
        path.outgoing.reap(now)
        self._groups_step(now)
        path.transfers.prune()
        path.consultations.step(now)

    def _dispatch(self, now: float) -> None:
        for event in self.transactions.events():
            try:
                self._dispatch_one(event, now)
            except Exception as exc:  # the one place a handler's failure ends (rule 1)
                self._failed(event, exc, now)

    def _failed(self, event: Event, exc: Exception, now: float) -> None:
        """A message's handling raised: it ends here in one clean answer, with no state left.

        DESIGN "The network is hostile": a peer's bad field (``ParseError``) is answered with the
        status it carries; anything else is our bug, answered 500 and reported. A request from
        a source we do not answer gets nothing, whatever went wrong. The server transaction is
        answered (or forgotten) and a ringing call made from it ends.
        """
        bug = not isinstance(exc, ParseError)
        if bug:
            self.internal_errors += 1
            kind = RequestFailed if isinstance(event, RequestReceived) else MessageFailed
            self._notices.append(kind(error=type(exc).__name__, detail_text=str(exc)[:200]))
        if not isinstance(event, RequestReceived):
            return
        key = event.transaction
        if self._path is not None:
            self._path.calls.abandon(key, "internal error" if bug else "malformed request", now)
        if self.transactions.state(key) not in (TxnState.TRYING, TxnState.PROCEEDING):
            return  # answered before the failure, or gone
        if not self._answers(event):
            self.transactions.discard(key)
            return
        status, reason = 500, None
        if isinstance(exc, ParseError):
            status = exc.status
            reason = f"Bad Request ({exc.reason[:80]})" if status == 400 else None
        try:
            response = make_response(event.request, status, reason, to_tag=self._tag())
        except ParseError:
            self.transactions.discard(key)  # not even a response can be built: drop it
            return
        self.transactions.send_response(key, response, now)

    def _dispatch_one(self, event: Event, now: float) -> None:
        match event:
            case ResponseReceived():
                self._on_response(event, now)
            case TransactionTimeout() | TransportError():
                self._on_failure(event, now)
            case StrayResponse():
                self._on_stray(event, now)
            case RequestReceived():
                self._request(event, now)
            case AckReceived():
                self._on_ack(event, now)
            case _:
                pass  # TransactionTerminated: nothing of ours to tidy

    def _sender(self, transaction: str) -> Session | None:
        """The session whose own request this is: a refresh or re-INVITE (``owns``), or keys
        as SIP INFO (``owns_info``, ``ctl dtmf`` without RFC 4733)."""
        return next(
            (s for s in self._sessions() if s.owns(transaction) or s.owns_info(transaction)),
            None,
        )

    def _on_response(self, event: ResponseReceived, now: float) -> None:
        """A response to one of our requests: to the session, the call or the registration
        that sent it."""
        if self._messages is not None and self._messages.owns(event.transaction):
            self._messages.on_response(event.transaction, event.response, now)
            return
        path = self._path
        if path is not None and path.transfers.owns(event.transaction):
            if event.response.status >= 200:
                self.transfers.on_answer(event.transaction, event.response.status, now)
            return
        if self._answer_in_dialog_challenge(event, now):
            return
        sender = self._sender(event.transaction)
        if sender is not None and sender.owns_info(event.transaction):
            if event.response.status >= 200:
                sender.info_done(event.response.status, now)
        elif sender is not None:
            sender.on_response(event.response, now)
        elif path is not None and path.outgoing.owns(event.transaction):
            path.outgoing.on_response(event.transaction, event.response, now)
        else:
            owner = self._owners.get(event.transaction)
            if owner is not None and event.response.status >= 200:
                del self._owners[event.transaction]
                registration, tag = owner
                self._run(registration, registration.on_response(tag, event.response, now), now)

    def _answer_in_dialog_challenge(self, event: ResponseReceived, now: float) -> bool:
        """A 401/407 to our BYE, re-INVITE, UPDATE, INFO or MESSAGE: send it once more with
        credentials (``endpoint.ua.dialog_auth``); False leaves the response to its owner."""
        if self._path is None:
            return False  # no call yet: the challenge is a registration's or a MESSAGE's
        sent, digest = event.sent, self._path.outgoing.digest
        if sent is None or digest is None:
            return False
        # Only a challenge to an in-dialog request needs it: not loaded at start (issue 19).
        from endpoint.ua.dialog_auth import challenged_in_dialog, with_credentials

        if not challenged_in_dialog(sent.request, event.response):
            return False
        wanted = dialog_id_of(sent.request, incoming=False)
        session = next((s for s in self._sessions() if s.dialog.id == wanted), None)
        cseq = sent.request.cseq.seq + 1
        if session is not None:
            cseq = session.dialog.local_cseq = max(session.dialog.local_cseq, cseq - 1) + 1
        via = Via(
            self.local.transport.upper(),
            self.local.host,
            self.local.port,
            (("branch", new_branch(self.rng)), ("rport", None)),
        )
        try:
            retry = with_credentials(sent.request, event.response, digest, cseq=cseq, via=via)
        except DigestError:
            return False
        key = self.transactions.send_request(retry, sent.destination, sent.transport, now)
        if session is not None:
            session.resent(event.transaction, key, retry)
        return True

    def _on_failure(self, event: TransactionTimeout | TransportError, now: float) -> None:
        """A transaction of ours got no answer, or its transport failed; or (``TU_TIMER``) an
        incoming INVITE was not answered in time."""
        if self._messages is not None and self._messages.owns(event.transaction):
            self._messages.on_failure(event.transaction, now)
            return
        path = self._path
        if path is not None and path.transfers.owns(event.transaction):
            self.transfers.on_answer(event.transaction, None, now)
            return
        sender = self._sender(event.transaction)
        if sender is not None and sender.owns_info(event.transaction):
            sender.info_done(None, now)
        elif sender is not None:
            sender.on_failure(now)
        elif path is not None and path.outgoing.owns(event.transaction):
            path.outgoing.on_failure(event.transaction, "no answer (timeout)", now)
        elif path is not None and isinstance(event, TransactionTimeout) and event.timer == TU_TIMER:
            path.calls.abandon(event.transaction, "not answered in time", now)
        else:
            owner = self._owners.pop(event.transaction, None)
            if owner is not None:
                timeout = isinstance(event, TransactionTimeout)
                reason = "no response (timeout)" if timeout else "transport error"
                registration, tag = owner
                self._run(registration, registration.on_failure(tag, reason, now), now)

    def _on_stray(self, event: StrayResponse, now: float) -> None:
        """A 2xx retransmission after our INVITE transaction ended: ACK it again."""
        if 200 <= event.response.status < 300 and self._path is not None:
            self._path.outgoing.stray_success(event.response, now)
            for session in self._sessions():
                if session.call_id == event.response.call_id:
                    session.resend_ack(event.response)

    def _on_ack(self, event: AckReceived, now: float) -> None:
        del now
        if self._path is None:
            return  # no call yet: an ACK for nothing of ours
        self.calls.ack(event.request)
        callee_session = self._session_for(event.request)
        if callee_session is not None and callee_session.call_id not in self.calls.calls:
            callee_session.ack(event.request)  # our callee re-INVITEd without an offer

    def _source_filter(self, config: Config) -> SourceFilter:
        default = (REGISTRAR,) if config.account is not None else (ANYONE,)
        hosts = []
        for account in (config.account, config.backup_account):
            for uri in (account.registrar, account.outbound_proxy) if account else ():
                parsed = parse_uri(uri) if uri else None
                if isinstance(parsed, SipURI):
                    hosts.append(self._address(parsed.bare_host))
        peers = [self._address(host) for host in peer_hosts(config)]
        return SourceFilter.build(config.sip.accept_from or default, hosts, peers)

    def drop_untrusted(self, method: str, host: str, now: float) -> bool:
        """A request from a host ``admits_host`` refuses, dropped by the runtime before it was
        parsed (``receive`` would drop it unanswered too): counted and reported the same way.
        True when a notice was queued (the runtime then flushes)."""
        self.untrusted += 1
        reported = self._untrusted_reported_at
        self._report_untrusted(method, host, now)
        return self._untrusted_reported_at != reported

    def _report_untrusted(self, method: str, host: str, now: float) -> None:
        """One line every UNTRUSTED_REPORT_S at most: a PBX calling from an address we do not
        know must be findable in the log, a scan must not flood it."""
        if now - self._untrusted_reported_at < UNTRUSTED_REPORT_S:
            return
        self._untrusted_reported_at = now
        self._notices.append(
            RequestDropped(
                method=method,
                source=host,
                dropped_total=self.untrusted,
                fix="if this is your PBX, add its address to [sip] accept_from",
            )
        )

    def _dialog_of(self, event: RequestReceived) -> Session | None:
        """The session this request belongs to: Call-ID and both tags match one of our dialogs
        and it comes from that dialog's peer (rule 4), else None. Never raises: whether to
        answer at all is decided with it."""
        try:
            wanted = dialog_id_of(event.request, incoming=True)
        except ParseError:
            return None
        for session in self._sessions():
            if session.dialog.id == wanted and session.from_peer(event.source[0]):
                return session
        return None

    def _ringing_caller(self, event: RequestReceived) -> bool:
        """A CANCEL for a ringing call, from the host its INVITE came from; a PRACK or UPDATE
        inside the early dialog of a ringing call, or an UPDATE inside ours (from the host our
        INVITE went to)."""
        if event.request.method == "UPDATE" and self.outgoing.early_call(
            event.request, event.source[0]
        ):
            return True
        if event.request.method in ("PRACK", "UPDATE"):  # inside a ringing call's early dialog
            return any(
                c.call_id == event.request.call_id and c.source == event.source[0]
                for c in self._ringing()
            )
        return event.cancels is not None and any(
            c.transaction == event.cancels and c.source == event.source[0] for c in self._ringing()
        )

    def _answers(self, event: RequestReceived) -> bool:
        """Is the request's source one we answer at all: trusted, or the peer of one of our
        calls speaking inside it?"""
        return (
            self.trusted.allows(event.source[0])
            or self._dialog_of(event) is not None
            or self._ringing_caller(event)
        )

    def _request(self, event: RequestReceived, now: float) -> None:
        request = event.request
        if not self._answers(event):
            # Not from the PBX and not about our calls: a scan or a fraud probe. No answer.
            self.transactions.discard(event.transaction)
            self.untrusted += 1
            self._report_untrusted(request.method, event.source[0], now)
            return
        # RFC 3262's options from the first request on, not at start (issue 19).
        from endpoint.ua.reliable import supported_options

        supported = supported_options(self.config.sip.reliable_provisional)
        rejection = check_request(request, supported=supported, accept=ACCEPT)
        if rejection is not None:
            response: Response | None = make_response(
                request,
                rejection.status,
                rejection.reason,
                to_tag=self._tag(),
                headers=rejection.headers,
            )
        else:
            response = self._handler(request)(event, now)
        if response is not None:
            self.transactions.send_response(event.transaction, response, now)

    def _handler(self, request: Request) -> RequestHandler:
        """Who answers ``request``: OPTIONS and CANCEL by method; any other request with a
        To tag inside its dialog (RFC 3261 §12.2.2); the rest by method, 481 if none."""
        table: dict[str, RequestHandler] = {
            "OPTIONS": self._on_options,
            "CANCEL": self._on_cancel,
            "INVITE": self._on_invite,
            "MESSAGE": self._on_pager_message,
        }
        if request.method == "PRACK":
            return self._on_prack
        if request.method == "UPDATE" and request.to_addr.tag is not None:
            return self._on_update
        if request.method not in ("OPTIONS", "CANCEL") and request.to_addr.tag is not None:
            return self._in_dialog
        return table.get(request.method, self._no_dialog)

    def _on_options(self, event: RequestReceived, now: float) -> Response:
        del now
        from endpoint.ua.reliable import supported_options  # loaded by the request's check

        return make_response(
            event.request,
            200,
            to_tag=self._tag(),
            headers=[
                ("Allow", ", ".join(DEFAULT_METHODS)),
                ("Accept", ", ".join(ACCEPT)),
                ("Supported", ", ".join(supported_options(self.config.sip.reliable_provisional))),
                ("Server", self.config.sip.user_agent),
            ],
        )

    def _on_cancel(self, event: RequestReceived, now: float) -> None:
        self.calls.cancel(event.request, event.transaction, event.cancels, now, event.source[0])

    def _on_invite(self, event: RequestReceived, now: float) -> Response | None:
        """A new call (no To tag): busy while we are calling out, else it rings. An INVITE
        with Replaces from a caller in ``[calls] allow`` takes over the call it names (RFC
        3891), or gets 403/481/486."""
        request = event.request
        if "Replaces" in request.headers:
            uri = request.from_addr.uri
            user, host = (uri.user, uri.host) if isinstance(uri, SipURI) else (None, str(uri))
            if not self.calls.allowlist.allows(user, host):
                # RFC 3891 §6.1: only someone we would take a call from may swap a call of ours
                # (dialog ids leak; a stranger must not take over the concierge's call).
                return make_response(request, 403, "Forbidden (caller not in [calls] allow)")
            replaced = self.transfers.replaced(request, self._sessions())
            if isinstance(replaced, int):
                return make_response(request, replaced, to_tag=self._tag())
            self._end_one(replaced.call_id, "replaced (RFC 3891)", now)
            self.calls.invite(
                request,
                event.transaction,
                now,
                event.transport,
                source=event.source[0],
                admitted=True,
            )
            return None
        if self.outgoing.active is not None:
            self._notices.append(
                CallBusy(call_id=request.call_id, caller=str(request.from_addr.uri))
            )
            return make_response(request, 486, to_tag=self._tag())
        self.calls.invite(
            request,
            event.transaction,
            now,
            event.transport,
            source=event.source[0],
            from_registrar=self.from_registrar(request, event.source[0], event.transport),
        )
        return None

    def _on_prack(self, event: RequestReceived, now: float) -> None:
        """RFC 3262: a PRACK belongs to a ringing call's early dialog (``IncomingCalls``)."""
        self.calls.prack(event.request, event.transaction, event.source[0], now)

    def _on_update(self, event: RequestReceived, now: float) -> Response | None:
        """RFC 3311: inside a confirmed dialog like a re-INVITE (``_in_dialog``); inside the
        early dialog of a call ringing here (§5.2, ``IncomingCalls.update``) or of ours
        (§5.1, ``OutgoingCalls.update``), each checking its tags and its source; else 481."""
        if self._dialog_of(event) is None:
            request, source = event.request, event.source[0]
            for early in (self.calls.update, self.outgoing.update):
                if early(request, event.transaction, source, now):
                    return None
        return self._in_dialog(event, now)

    def _on_pager_message(self, event: RequestReceived, now: float) -> Response:
        """MESSAGE outside any dialog: pager mode (RFC 3428)."""
        del now
        response = make_response(event.request, 200, to_tag=self._tag())
        self._message(event.request)
        return response

    def _no_dialog(self, event: RequestReceived, now: float) -> Response:
        """BYE, INFO, UPDATE without a To tag: no dialog can match (RFC 3261 §12.2.2)."""
        del now
        return make_response(event.request, 481, to_tag=self._tag())

    def _in_dialog(self, event: RequestReceived, now: float) -> Response | None:
        """A request with a To tag (RFC 3261 §12.2.2): it must match one of our dialogs by
        Call-ID and both tags and come from that dialog's peer, else 481 (rule 4). None when
        the session or call answered it itself."""
        request = event.request
        session = self._dialog_of(event)
        if session is None:
            return make_response(request, 481)  # no such dialog (or not its peer)
        if request.method in ("INVITE", "UPDATE"):
            # Hold/resume, a new media address, a session refresh.
            session.on_request(request, event.transaction, now)
            return None
        if session.dialog.receive_request(request) is not None:
            # §12.2.2: every request inside the dialog, not only target refreshes, is checked
            # for order. A BYE, INFO or MESSAGE with a CSeq below the last one is stale or
            # replayed; its digit or hang-up is not acted on.
            return make_response(request, 500, "Server Internal Error (CSeq out of order)")
        if request.method == "REFER":
            self.transfers.on_refer(session, request, event.transaction, now)
            return None
        if request.method == "NOTIFY":
            return self.transfers.on_notify(session, request, now)
        if request.method == "BYE":
            if self.calls.bye(request, event.transaction, now):
                return None
            if self.outgoing.remote_bye(session.dialog.id, now):
                return make_response(request, 200)
            return make_response(request, 481)
        if (
            request.method == "INFO"
            and request.content_type == "application/dtmf-relay"
            and self.config.media.encryption == "mandatory"
        ):
            # Door codes only from authenticated SRTP: a digit in SIP is not proven to come
            # from the party holding the call's media key.
            self._notices.append(
                DtmfRefused(call_id=session.call_id, reason="SIP INFO; encryption is mandatory")
            )
            return make_response(request, 403, "Forbidden (DTMF only over SRTP)")
        if request.method == "INFO" and request.content_type == "application/dtmf-relay":
            digit = _dtmf_relay(request.body)
            if digit is not None:
                self._notices.append(
                    DtmfReceived(call_id=session.call_id, digit=digit[0], duration_ms=digit[1])
                )
                self.dtmf(session.call_id, digit[0], now)
            return make_response(request, 200)
        if request.method == "MESSAGE":
            self._message(request)
        return make_response(request, 200)  # INFO of another kind, MESSAGE

    def _notice(self, notice: Notice) -> None:
        """Queue a notice (``notices()`` swaps the list: holders of it call this instead)."""
        self._notices.append(notice)

    def _message(self, request: Request) -> None:
        text = request.body[:MAX_MESSAGE_TEXT].decode("utf-8", "replace")
        self._notices.append(MessageReceived(caller=str(request.from_addr.uri), text=text))

    def _tag(self) -> str:
        return f"{self.rng.getrandbits(48):012x}"

    def status(self, now: float | None = None) -> dict[str, object]:
        """A snapshot for ``ctl status`` (never a password); call lengths need ``now``."""
        return {
            "listen": f"{self.local.transport} {self.local.host}:{self.local.port}",
            "registrations": [r.status() for r in self.registrations],
            "calls": self._calls_status(now),
            "active_call_id": self.focus(),
            "consultation": self.consultations.status() if self._path is not None else None,
            "transactions": len(self.transactions),
            "untrusted_dropped": self.untrusted,
            "internal_errors": self.internal_errors,
        }

    def _calls_status(self, now: float | None) -> list[dict[str, object]]:
        """One row per call; ``active`` marks the focus call (the one ``ctl`` acts on), and
        ``held`` a call we hold (``on_hold``: the peer holds us)."""
        out: list[dict[str, object]] = []
        if self._path is None:
            return out
        from endpoint.sip.offer_answer import media_encryption

        focus = self.focus()
        rows = [
            ("in", c.call_id, c.caller, c.state.value, c.answered_at, c.session)
            for c in self.calls.calls.values()
        ] + [
            ("out", c.call_id, str(c.target), c.state.value, c.answered_at, c.session)
            for c in self.outgoing.calls.values()
        ]
        for direction, call_id, peer, state, answered_at, session in rows:
            row: dict[str, object] = {
                "call_id": call_id,
                "direction": direction,
                "peer": peer,
                "state": state,
                "active": call_id == focus,
            }
            if session is not None:
                row["codec"] = session.media.codec
                row["on_hold"] = session.media.remote_hold
                row["held"] = session.held
                row["encryption"] = media_encryption(session.media)
            if answered_at is not None and now is not None:
                row["seconds"] = round(now - answered_at, 1)
            out.append(row)
        return out


def _dtmf_relay(body: bytes) -> tuple[str, int] | None:
    """``Signal=5`` / ``Duration=160`` (the de-facto application/dtmf-relay format)."""
    fields: dict[str, str] = {}
    for line in body.decode("ascii", "replace").splitlines()[:8]:
        key, _, value = line.partition("=")
        fields[key.strip().lower()] = value.strip()
    signal = fields.get("signal", "")
    if len(signal) != 1 or signal.upper() not in "0123456789*#ABCD":
        return None
    duration = fields.get("duration", "")
    return signal.upper(), min(parse_int(duration, 9) or 0, 60_000)
