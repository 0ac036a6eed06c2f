"""The user agent core: the transaction layer, registrations and request handling, sans-IO.

The runtime feeds it parsed messages, the clock and timer firings; it returns datagrams to send
and notices for the log and the control socket. Every incoming request is first checked
(``check_request``: the RFC 4475 application-layer answers), then answered by method. Incoming
calls are handled by ``IncomingCalls`` (ring, auto-answer, media, hang-up).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from endpoint.config import Config
from endpoint.sip import Request, Response, check_request, make_response
from endpoint.sip.checks import DEFAULT_METHODS
from endpoint.sip.dialog import dialog_id_of
from endpoint.sip.transaction import (
    AckReceived,
    Outgoing,
    RequestReceived,
    ResponseReceived,
    StrayResponse,
    TransactionLayer,
    TransactionTimeout,
    TransportError,
)
from endpoint.ua.actions import Action, CallAction, Notice, SendKeepalive, SendRequest
from endpoint.ua.calls import IncomingCalls
from endpoint.ua.outgoing import OutgoingCalls
from endpoint.ua.registration import LocalAddress, Registration, RegState

SUPPORTED = ("replaces", "timer")
#: Bodies we take: SDP (INVITE), SIP INFO DTMF relay, and text for MESSAGE.
ACCEPT = ("application/sdp", "application/dtmf-relay", "text/plain")
MAX_MESSAGE_TEXT = 1024


@dataclass
class UserAgent:
    config: Config
    local: LocalAddress
    rng: random.Random = field(repr=False)
    #: Host names the runtime resolved (registrar, proxy): name -> address.
    resolved: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.transactions = TransactionLayer()
        self.registrations: list[Registration] = []
        for name, account in (
            ("account", self.config.account),
            ("backup", self.config.backup_account),
        ):
            if account is not None:
                self.registrations.append(
                    Registration(
                        account,
                        self.local,
                        self.rng,
                        name=name,
                        user_agent=self.config.sip.user_agent,
                    )
                )
        self.calls = IncomingCalls(self.config, self.local, self.transactions, self.rng)
        self.outgoing = OutgoingCalls(
            self.config, self.local, self.transactions, self.rng, self._address
        )
        self._owners: dict[str, tuple[Registration, str]] = {}
        self._out: list[Outgoing] = []
        self._notices: list[Notice] = []
        self.stopping = False

    # -- lifecycle -----------------------------------------------------------------------

    def start(self, now: float) -> None:
        if self.registrations:
            self._run(self.registrations[0], self.registrations[0].start(now), now)
        else:
            self._notices.append(Notice("ready", {"mode": "peer-to-peer"}))

    def stop(self, now: float) -> None:
        """Hang up, un-register everything (Expires: 0); ``stopped`` turns true when done."""
        self.stopping = True
        self.calls.hangup(now)
        self.outgoing.hangup(now)
        self._drain(now)
        for registration in self.registrations:
            self._run(registration, registration.stop(now), now)

    @property
    def stopped(self) -> bool:
        return self.stopping and all(
            r.state in (RegState.STOPPED, RegState.IDLE) for r in self.registrations
        )

    # -- the five methods ------------------------------------------------------------------

    def receive(
        self, message: Request | Response, source: tuple[str, int], transport: str, now: float
    ) -> None:
        self.transactions.receive(message, source, transport, now)
        self._drain(now)

    def datagrams_to_send(self) -> list[Outgoing]:
        out = self._out + self.transactions.datagrams_to_send()
        self._out = []
        return out

    def notices(self) -> list[Notice]:
        for source in (self.calls, self.outgoing):
            self._notices += [e for e in source.events if isinstance(e, Notice)]
            source.events = [e for e in source.events if not isinstance(e, Notice)]
        out, self._notices = self._notices, []
        return out

    def call_actions(self) -> list[CallAction]:
        out: list[CallAction] = []
        for source in (self.calls, self.outgoing):
            out += [e for e in source.events if not isinstance(e, Notice)]
            source.events = [e for e in source.events if isinstance(e, Notice)]
        return out

    def call(self, target: str, now: float) -> str:
        """Place a call; raises ParseError for a target that is not a SIP address."""
        if self.calls.active is not None or self.outgoing.active is not None:
            raise ValueError("a call is already in progress")
        call_id = self.outgoing.call(target, now)
        return call_id

    def active_call_id(self) -> str | None:
        incoming, outgoing = self.calls.active, self.outgoing.active
        if incoming is not None:
            return incoming.call_id
        return outgoing.call_id if outgoing is not None else None

    def media_ready(self, call_id: str, rtp_port: int, now: float) -> None:
        self.calls.media_ready(call_id, rtp_port, now)
        self.outgoing.media_ready(call_id, rtp_port, now)
        self._drain(now)

    def answer(self, now: float) -> bool:
        return self.calls.answer(None, now)

    def hangup(self, now: float) -> bool:
        done = self.calls.hangup(now) or self.outgoing.hangup(now)
        self._drain(now)
        return done

    def get_timer(self) -> float | None:
        times = [t for t in (r.get_timer() for r in self.registrations) if t is not None]
        for extra in (
            self.transactions.get_timer(),
            self.calls.get_timer(),
            self.outgoing.get_timer(),
        ):
            if extra is not None:
                times.append(extra)
        return min(times) if times else None

    def handle_timer(self, now: float) -> None:
        self.transactions.handle_timer(now)
        self.calls.handle_timer(now)
        self.outgoing.handle_timer(now)
        for registration in self.registrations:
            timer = registration.get_timer()
            if timer is not None and timer <= now:
                self._run(registration, registration.handle_timer(now), now)
        self._drain(now)

    # -- internals -------------------------------------------------------------------------

    def _address(self, host: str) -> str:
        return self.resolved.get(host, host)

    def _run(self, owner: Registration, actions: list[Action], now: float) -> None:
        for action in actions:
            if isinstance(action, SendRequest):
                dest = action.destination
                key = self.transactions.send_request(
                    action.request, (self._address(dest.host), dest.port), dest.transport, now
                )
                self._owners[key] = (owner, action.tag)
            elif isinstance(action, SendKeepalive):
                dest = action.destination
                self._out.append(
                    Outgoing(b"\r\n\r\n", (self._address(dest.host), dest.port), dest.transport)
                )
            else:
                self._notices.append(action)
                self._failover(owner, action, now)

    def _failover(self, owner: Registration, notice: Notice, now: float) -> None:
        """Primary failing: bring up the backup account; primary back: release the backup."""
        if len(self.registrations) < 2 or self.stopping:
            return
        primary, backup = self.registrations[0], self.registrations[1]
        if owner is primary and notice.event == "registration-failed":
            if backup.state in (RegState.IDLE, RegState.STOPPED):
                self._run(backup, backup.start(now), now)
        elif owner is primary and notice.event == "registered" and backup.registered:
            self._run(backup, backup.stop(now), now)

    def _drain(self, now: float) -> None:
        for event in self.transactions.events():
            if isinstance(event, ResponseReceived) and self.outgoing.owns(event.transaction):
                self.outgoing.on_response(event.transaction, event.response, now)
            elif isinstance(event, ResponseReceived):
                owner = self._owners.get(event.transaction)
                if owner is not None and event.response.status >= 200:
                    del self._owners[event.transaction]
                    registration, tag = owner
                    self._run(registration, registration.on_response(tag, event.response, now), now)
            elif isinstance(event, TransactionTimeout | TransportError) and self.outgoing.owns(
                event.transaction
            ):
                self.outgoing.on_failure(event.transaction, "no answer (timeout)", now)
            elif isinstance(event, StrayResponse):
                if 200 <= event.response.status < 300:
                    self.outgoing.stray_success(event.response, now)
            elif isinstance(event, TransactionTimeout | TransportError):
                owner = self._owners.pop(event.transaction, None)
                if owner is not None:
                    reason = (
                        "no response (timeout)"
                        if isinstance(event, TransactionTimeout)
                        else "transport error"
                    )
                    registration, tag = owner
                    self._run(registration, registration.on_failure(tag, reason, now), now)
            elif isinstance(event, RequestReceived):
                self._request(event, now)
            elif isinstance(event, AckReceived):
                self.calls.ack(event.request)

    def _request(self, event: RequestReceived, now: float) -> None:
        request = event.request
        rejection = check_request(request, supported=SUPPORTED, accept=ACCEPT)
        if rejection is not None:
            response = make_response(
                request,
                rejection.status,
                rejection.reason,
                to_tag=self._tag(),
                headers=rejection.headers,
            )
        elif request.method == "OPTIONS":
            response = make_response(
                request,
                200,
                to_tag=self._tag(),
                headers=[
                    ("Allow", ", ".join(DEFAULT_METHODS)),
                    ("Accept", ", ".join(ACCEPT)),
                    ("Supported", ", ".join(SUPPORTED)),
                    ("Server", self.config.sip.user_agent),
                ],
            )
        elif request.method == "CANCEL":
            self.calls.cancel(request, event.transaction, event.cancels, now)
            return
        elif request.method == "INVITE" and request.to_addr.tag is None:
            if self.outgoing.active is not None:
                response = make_response(request, 486, to_tag=self._tag())
                self._notices.append(Notice("call-busy", {"from": str(request.from_addr.uri)}))
            else:
                self.calls.invite(request, event.transaction, now)
                return
        elif request.method == "INVITE":
            # A re-INVITE (hold, session refresh) is not handled yet: refuse it cleanly so
            # the call goes on with the media it has (RFC 3261 §14.2).
            response = make_response(request, 488, "Not Acceptable Here (re-INVITE)")
        elif request.method == "INFO" and request.content_type == "application/dtmf-relay":
            response = make_response(request, 200)
            digit = _dtmf_relay(request.body)
            if digit is not None:
                self._notices.append(Notice("dtmf", {"call_id": request.call_id, **digit}))
        elif request.method == "MESSAGE":
            response = make_response(request, 200, to_tag=self._tag())
            text = request.body[:MAX_MESSAGE_TEXT].decode("utf-8", "replace")
            self._notices.append(
                Notice("message", {"from": str(request.from_addr.uri), "text": text})
            )
        elif request.method == "BYE" and self.calls.bye(request, event.transaction, now):
            return
        elif request.method == "BYE" and self.outgoing.remote_bye(
            dialog_id_of(request, incoming=True), now
        ):
            response = make_response(request, 200)
        else:
            response = make_response(request, 481, to_tag=self._tag())  # no such dialog
        self.transactions.send_response(event.transaction, response, now)

    def _tag(self) -> str:
        return f"{self.rng.getrandbits(48):012x}"

    def status(self) -> dict[str, object]:
        return {
            "listen": f"{self.local.transport} {self.local.host}:{self.local.port}",
            "registrations": [r.status() for r in self.registrations],
            "transactions": len(self.transactions),
        }


def _dtmf_relay(body: bytes) -> dict[str, object] | None:
    """``Signal=5`` / ``Duration=160`` (the de-facto application/dtmf-relay format)."""
    fields: dict[str, str] = {}
    for line in body.decode("ascii", "replace").splitlines()[:8]:
        key, _, value = line.partition("=")
        fields[key.strip().lower()] = value.strip()
    signal = fields.get("signal", "")
    if len(signal) != 1 or signal.upper() not in "0123456789*#ABCD":
        return None
    duration = fields.get("duration", "")
    return {"digit": signal.upper(), "duration_ms": int(duration) if duration.isdigit() else 0}
