"""Registration of one account with its registrar (RFC 3261 §10), as a state machine.

It registers on start, answers 401/407 with digest credentials, follows 423 Min-Expires, refreshes
before the binding expires, moves its Contact to the address the registrar saw us at (rport /
received: the box may sit behind NAT), sends keep-alives, and un-registers (Expires: 0) on stop.
Failures are retried with capped exponential backoff and jitter; every attempt and outcome is a
``Notice`` for the log, the control socket and the LEDs. Time and randomness come in as
arguments; requests go out as ``SendRequest`` actions whose outcome comes back through
``on_response`` / ``on_failure``.
"""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass

from endpoint.backoff import Backoff
from endpoint.config import AccountSettings, Config
from endpoint.sip import Headers, Request, Response, parse_uri
from endpoint.sip.digest import DigestClient, DigestError
from endpoint.sip.grammar import parse_int
from endpoint.sip.transaction import new_branch
from endpoint.sip.uri import SipURI, hop_transport, uri_host
from endpoint.ua.actions import Action, Destination, SendKeepalive, SendRequest
from endpoint.ua.configured import account_realms
from endpoint.ua.events import (
    Registered,
    Registering,
    RegistrationContactChanged,
    RegistrationFailed,
    RegistrationFlowLost,
    RegistrationRefreshed,
    Unregistered,
)
from endpoint.ua.states import advance

#: After the registrar's flow was lost (rule 10): this many retries, this far apart, before the
#: normal back-off; a restarting registrar is back within seconds.
QUICK_RETRIES = 10
QUICK_RETRY_S = 2.0


class RegState(enum.Enum):
    IDLE = "idle"
    REGISTERING = "registering"
    REGISTERED = "registered"
    WAITING = "waiting to retry"
    UNREGISTERING = "unregistering"
    STOPPED = "stopped"


class RegInput(enum.Enum):
    """What moves a registration (RFC 3261 §10.2): what we send, and what comes back."""

    REGISTER = "REGISTER sent"
    RESEND = "REGISTER sent again (credentials, Min-Expires)"
    UNREGISTER = "REGISTER with Expires: 0 sent"
    SUCCESS = "2xx received"
    FAILURE = "failed (final error, timeout, transport error)"
    STOP = "stopped with no binding to remove"


R, RI = RegState, RegInput
#: (state, input) -> next state. A pair not listed is a bug of ours (``StateError``);
#: the hypothesis test walks random inputs and meets only listed pairs.
REGISTRATION: dict[tuple[RegState, RegInput], RegState] = {
    **{(s, RI.REGISTER): R.REGISTERING for s in (R.IDLE, R.STOPPED, R.WAITING, R.REGISTERED)},
    (R.REGISTERING, RI.REGISTER): R.REGISTERING,  # the registrar saw another Contact (NAT)
    (R.REGISTERING, RI.RESEND): R.REGISTERING,
    (R.UNREGISTERING, RI.RESEND): R.UNREGISTERING,
    (R.REGISTERED, RI.UNREGISTER): R.UNREGISTERING,
    (R.REGISTERING, RI.UNREGISTER): R.UNREGISTERING,
    (R.REGISTERING, RI.SUCCESS): R.REGISTERED,
    (R.UNREGISTERING, RI.SUCCESS): R.STOPPED,
    (R.REGISTERING, RI.FAILURE): R.WAITING,
    (R.UNREGISTERING, RI.FAILURE): R.STOPPED,
    **{(s, RI.STOP): R.STOPPED for s in (R.IDLE, R.WAITING, R.STOPPED, R.UNREGISTERING)},
}


@dataclass(frozen=True, slots=True)
class LocalAddress:
    """Where we receive SIP, as the runtime bound it (and as peers should reach it)."""

    host: str
    port: int
    transport: str = "udp"
    #: Our DTLS certificate's fingerprint for ``[media] keying = "dtls"`` (the runtime's).
    dtls_fingerprint: str | None = None


def listening_contact(config: Config, local: LocalAddress) -> str:
    """Our Contact for calls when no registrar told us better: where we listen."""
    host = uri_host(local.host)
    user = config.account.user if config.account is not None else "door"
    transport = "" if local.transport == "udp" else f";transport={local.transport}"
    return f"<sip:{user}@{host}:{local.port}{transport}>"


def _destination(target: str, transport: str) -> Destination:
    uri = parse_uri(target)
    if not isinstance(uri, SipURI):
        raise ValueError(f"not a SIP URI: {target}")
    port, kind = hop_transport(uri, transport)
    return Destination(uri.bare_host, port, kind)


class Registration:
    """One account's binding. Drive it with start/stop, responses, failures and timers."""

    #: Refresh when this share of the granted lifetime has passed (pjsip and baresip use ~90 %
    #: with a floor; we also keep at least 5 s of margin).
    REFRESH_SHARE = 0.85

    def __init__(
        self,
        account: AccountSettings,
        local: LocalAddress,
        rng: random.Random,
        *,
        name: str = "account",
        backoff: Backoff | None = None,
        user_agent: str = "sip-endpoint",
    ) -> None:
        self.account = account
        self.local = local
        self.rng = rng
        self.name = name
        self.backoff = backoff or Backoff()
        self.user_agent = user_agent
        self.state = RegState.IDLE
        self.digest = DigestClient(
            account.auth_user, account.password, rng, allowed_realms=account_realms(account)
        )
        self.call_id = f"{rng.getrandbits(96):024x}@{local.host}"
        self.from_tag = f"{rng.getrandbits(32):08x}"
        self.cseq = rng.randrange(1, 2**20)
        self.expires = account.expires
        self.granted: int | None = None
        self.failures = 0
        self.attempts = 0
        self.contact_host, self.contact_port = local.host, local.port
        #: An unguessable token in our registered Contact (``;line=``, as Snom phones do): a
        #: request the registrar routes to us carries it in its Request-URI, a spoofed UDP
        #: packet "from the registrar" does not (issue 13 rule 2).
        self.line = f"{rng.getrandbits(64):016x}"
        self.last_status: int | None = None
        self.last_reason = ""
        self._pending: str | None = None
        self._auth: tuple[tuple[str, str], ...] = ()
        self._deadline: float | None = None
        self._keepalive_at: float | None = None
        #: Retries left at QUICK_RETRY_S after a lost flow, before the normal back-off.
        self._quick_retries = 0
        uri = parse_uri(account.registrar)
        if not isinstance(uri, SipURI):
            raise ValueError(f"registrar is not a SIP URI: {account.registrar}")
        self.request_uri: SipURI = (
            uri if uri.bare_host == account.domain else SipURI("sip", uri_host(account.domain))
        )
        target = account.outbound_proxy or account.registrar
        self.destination = _destination(target, local.transport)

    # -- inputs ------------------------------------------------------------------------------

    @property
    def aor(self) -> str:
        return f"sip:{self.account.user}@{uri_host(self.account.domain)}"

    @property
    def registered(self) -> bool:
        return self.state is RegState.REGISTERED

    def start(self, now: float) -> list[Action]:
        if self.state not in (RegState.IDLE, RegState.STOPPED, RegState.WAITING):
            return []
        return self._send_register(now, self.expires)

    def stop(self, now: float) -> list[Action]:
        """Un-register (Expires: 0) if a binding may exist; else stop at once."""
        self._deadline = None
        self._keepalive_at = None
        if self.state in (RegState.REGISTERED, RegState.REGISTERING):
            return self._send_register(now, 0, via=RegInput.UNREGISTER)
        self._go(RegInput.STOP)
        # Stopped for good: a late answer to an un-REGISTER we gave up waiting for changes
        # nothing (it used to bring a stopped registration back to "registered").
        self._pending = None
        return [Unregistered(account=self.name, aor=self.aor)]

    def flow_lost(self, now: float, reason: str) -> list[Action]:
        """The registrar stopped answering on our flow (the TCP connection closed, an OPTIONS
        keep-alive went unanswered): it may have restarted and forgotten our binding, so
        register again at once instead of at the next refresh (issue 13 rule 10)."""
        if self.state is not RegState.REGISTERED:
            return []
        self._quick_retries = QUICK_RETRIES  # a restart takes seconds: try again in seconds
        return [
            RegistrationFlowLost(account=self.name, aor=self.aor, reason=reason),
            *self.refresh_now(now),
        ]

    def refresh_now(self, now: float) -> list[Action]:
        """Re-register at once (a button, a control command, a network change)."""
        if self.state in (RegState.UNREGISTERING, RegState.REGISTERING):
            return []
        self.failures = 0
        return self._send_register(now, self.expires)

    def on_response(self, tag: str, response: Response, now: float) -> list[Action]:
        if tag != self._pending or response.status < 200:
            return []
        self._pending = None
        self.last_status, self.last_reason = response.status, response.reason
        status = response.status
        if status in (401, 407):
            return self._challenged(response, now)
        if status == 423:
            return self._interval_too_brief(response, now)
        if 200 <= status < 300:
            return self._success(response, now)
        return self._failed(now, f"{status} {response.reason}")

    def on_failure(self, tag: str, reason: str, now: float) -> list[Action]:
        """The transaction timed out (Timer F) or the transport failed."""
        if tag == f"{self.name}:keepalive":
            return self.flow_lost(now, f"keep-alive unanswered ({reason})")
        if tag != self._pending:
            return []
        self._pending = None
        self.last_status, self.last_reason = None, reason
        return self._failed(now, reason)

    def get_timer(self) -> float | None:
        times = [t for t in (self._deadline, self._keepalive_at) if t is not None]
        return min(times) if times else None

    def handle_timer(self, now: float) -> list[Action]:
        actions: list[Action] = []
        if self._keepalive_at is not None and now >= self._keepalive_at:
            self._keepalive_at = now + self.account.keepalive_interval
            actions += self._keepalive(now)
        if self._deadline is not None and now >= self._deadline:
            self._deadline = None
            if self.state in (RegState.REGISTERED, RegState.WAITING):
                actions += self._send_register(now, self.expires)
        return actions

    # -- transitions -------------------------------------------------------------------------

    def _challenged(self, response: Response, now: float) -> list[Action]:
        header = "WWW-Authenticate" if response.status == 401 else "Proxy-Authenticate"
        answered = "Authorization" if response.status == 401 else "Proxy-Authorization"
        try:
            fields = self.digest.answer(
                response.headers.rows(header),
                response.status,
                "REGISTER",
                str(self.request_uri),
                sent=[value for name, value in self._auth if name == answered],
            )
        except DigestError as exc:
            return self._failed(now, str(exc), fatal_auth=True)
        expires = 0 if self.state is RegState.UNREGISTERING else self.expires
        self._auth = tuple(fields)
        return self._send_register(now, expires, via=RegInput.RESEND)

    def _interval_too_brief(self, response: Response, now: float) -> list[Action]:
        minimum = parse_int((response.headers.get("Min-Expires") or "").strip(), 10)
        if minimum is None or minimum <= self.expires:
            return self._failed(now, "423 without a usable Min-Expires")
        self.expires = minimum  # RFC 3261 §10.2.8
        return self._send_register(now, self.expires, via=RegInput.RESEND)

    def _success(self, response: Response, now: float) -> list[Action]:
        self._auth = ()
        if self.state is RegState.UNREGISTERING:
            self._go(RegInput.SUCCESS)
            self._deadline = None
            return [Unregistered(account=self.name, aor=self.aor)]
        granted = self._granted(response)
        via = response.top_via
        seen_host = via.received or self.contact_host
        # On UDP the source port the registrar saw is where it can reach us (NAT). On TCP it
        # is the ephemeral port of our outgoing connection, not a listening one: keep ours.
        seen_port = (
            (via.rport or self.contact_port)
            if self.local.transport == "udp"
            else (self.contact_port)
        )
        if (seen_host, seen_port) != (self.contact_host, self.contact_port):
            # Behind NAT: the registrar saw another address. Register that one instead, so
            # calls reach us (the binding of the old Contact expires on its own).
            self.contact_host, self.contact_port = seen_host, seen_port
            return [
                RegistrationContactChanged(
                    account=self.name, aor=self.aor, contact=self.contact_uri()
                ),
                *self._send_register(now, self.expires),
            ]
        self.granted = granted
        self.failures = 0
        self.attempts = 0  # "attempt=N" counts the tries since the last success
        first = self.state is not RegState.REGISTERED
        self._go(RegInput.SUCCESS)
        self._deadline = now + max(min(granted * self.REFRESH_SHARE, granted - 5.0), 1.0)
        if self.account.keepalive != "off" and self._keepalive_at is None:
            self._keepalive_at = now + self.account.keepalive_interval
        kind = Registered if first else RegistrationRefreshed
        return [kind(account=self.name, aor=self.aor, expires=granted, contact=self.contact_uri())]

    def _granted(self, response: Response) -> int:
        ours = self.contact_uri()
        for contact in response.contact:
            if str(contact.uri) == ours and contact.expires is not None:
                return contact.expires
        if response.expires is not None:
            return response.expires
        return self.expires

    def _failed(self, now: float, reason: str, *, fatal_auth: bool = False) -> list[Action]:
        self._auth = ()
        if self.state is RegState.UNREGISTERING:
            self._go(RegInput.FAILURE)
            return [Unregistered(account=self.name, aor=self.aor, reason=reason)]
        delay = self.backoff.delay(self.failures, self.rng)
        if self._quick_retries > 0:
            self._quick_retries -= 1
            delay = min(delay, QUICK_RETRY_S)
        self.failures += 1
        self._go(RegInput.FAILURE)
        self._deadline = now + delay
        self._keepalive_at = None
        fix = "check [account] user, auth_user and password" if fatal_auth else None
        return [
            RegistrationFailed(
                account=self.name, aor=self.aor, reason=reason, retry_in=round(delay, 1), fix=fix
            )
        ]

    def _keepalive(self, now: float) -> list[Action]:
        if self.account.keepalive == "crlf":
            return [SendKeepalive(self.destination)]
        if self.account.keepalive == "options":
            self.cseq += 1
            request = self._build("OPTIONS", 0)
            return [SendRequest(request, self.destination, f"{self.name}:keepalive")]
        return []

    # -- building ----------------------------------------------------------------------------

    def contact_uri(self) -> str:
        """Where the registrar (and so the calls it routes) reaches us: rport/received."""
        host = uri_host(self.contact_host)
        transport = "" if self.local.transport == "udp" else f";transport={self.local.transport}"
        return f"sip:{self.account.user}@{host}:{self.contact_port}{transport};line={self.line}"

    def _build(self, method: str, expires: int) -> Request:
        host = uri_host(self.local.host)
        via = (
            f"SIP/2.0/{self.local.transport.upper()} {host}:{self.local.port};rport;"
            f"branch={new_branch(self.rng)}"
        )
        display = f'"{self.account.display_name}" ' if self.account.display_name else ""
        fields: list[tuple[str, str]] = [
            ("Via", via),
            ("Max-Forwards", "70"),
            ("From", f"{display}<{self.aor}>;tag={self.from_tag}"),
            ("To", f"{display}<{self.aor}>"),
            ("Call-ID", self.call_id),
            ("CSeq", f"{self.cseq} {method}"),
        ]
        if self.account.outbound_proxy:
            fields.append(("Route", f"<{self.account.outbound_proxy};lr>"))
        if method == "REGISTER":
            fields += [("Contact", f"<{self.contact_uri()}>"), ("Expires", str(expires))]
        fields += [("User-Agent", self.user_agent), *self._auth]
        return Request(method, self.request_uri, Headers(fields))

    def _go(self, event: RegInput) -> None:
        """Take the transition the table names for ``event`` in the current state."""
        self.state = advance(REGISTRATION, self.state, event, f"registration {self.name}")

    def _send_register(
        self, now: float, expires: int, *, via: RegInput = RegInput.REGISTER
    ) -> list[Action]:
        self.cseq += 1
        self.attempts += 1
        self._go(via)
        request = self._build("REGISTER", expires)
        tag = f"{self.name}:register:{self.cseq}"
        self._pending = tag
        actions: list[Action] = [SendRequest(request, self.destination, tag)]
        if self.state is RegState.REGISTERING and not self._auth:
            actions.insert(
                0,
                Registering(
                    account=self.name,
                    aor=self.aor,
                    attempt=self.attempts,
                    registrar=self.account.registrar,
                ),
            )
        return actions

    def status(self) -> dict[str, object]:
        return {
            "account": self.name,
            "aor": self.aor,
            "state": self.state.value,
            "registrar": self.account.registrar,
            "expires": self.granted,
            "contact": self.contact_uri(),
            "last_response": f"{self.last_status} {self.last_reason}".strip()
            if self.last_status
            else self.last_reason,
        }
