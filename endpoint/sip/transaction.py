"""SIP transactions (RFC 3261 §17, with RFC 6026's Accepted state), sans-IO.

Four state machines (INVITE client, Fig. 5; non-INVITE client, Fig. 6; INVITE server, Fig. 7;
non-INVITE server, Fig. 8), each a transition table ``(state, input) -> (action, next state)``.
A pair missing from a table is an input the RFC says to ignore in that state. Timers are absolute
deadlines: the runtime arms one timer at ``get_timer()`` and calls ``handle_timer(now)``.

``TransactionLayer`` creates and matches transactions (§17.1.3, §17.2.3 with the RFC 2543
fallback for branches without the magic cookie), fills in ``received``/``rport`` on incoming
requests (§18.2.1, RFC 3581), decides where responses go (§18.2.2), and caps how many
transactions a peer can make us hold.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from endpoint.sip import grammar
from endpoint.sip.errors import ParseError, UsageError
from endpoint.sip.headers import Via
from endpoint.sip.message import Headers, Message, Request, Response, make_response
from endpoint.sip.timer_heap import TimerHeap

Address = tuple[str, int]
MAX_TRANSACTIONS = 512
#: The longest an INVITE server transaction may wait for the TU's final response: above the
#: largest ``[calls] ring_timeout`` (600 s), so it only catches a TU that forgot the call.
INVITE_TU_TIMEOUT = 660.0
#: Server transactions one source host may hold (issue 13 rule 9: one sender cannot fill the
#: table; a non-INVITE slot is held 32 s after its answer on UDP).
MAX_PER_SOURCE = 64
#: New requests per second one source host may start, and the burst it may save up (a token
#: bucket, as Kamailio's pike): beyond it new requests are dropped unanswered and counted.
SOURCE_RATE = 50.0
SOURCE_BURST = 100.0
#: Source hosts whose rate is tracked at once (the oldest is forgotten beyond).
MAX_TRACKED_SOURCES = 1024
#: The rate of a trusted source (the registrar, the outbound proxy, an ``accept_from``
#: network, a configured peer); its budget is half the table (``trusted_per_source``): a PBX
#: placing several calls a second holds a slot per INVITE and per BYE for 32 s each, so
#: MAX_PER_SOURCE would refuse it. Still bounded, so even a trusted address spoofed on UDP
#: leaves the other half of the table to everyone else.
TRUSTED_RATE = 200.0
TRUSTED_BURST = 400.0


@dataclass(frozen=True, slots=True)
class TimerConfig:
    """T1 (RTT estimate), T2 (max retransmit interval), T4 (max message lifetime)."""

    t1: float = 0.5
    t2: float = 4.0
    t4: float = 5.0


def new_branch(rng: random.Random) -> str:
    """A branch that is unique in space and time (§8.1.1.7), with the RFC 3261 magic cookie."""
    return f"{grammar.MAGIC_COOKIE}{rng.getrandbits(64):016x}"


def is_reliable(transport: str) -> bool:
    return transport.lower() in ("tcp", "tls", "sctp", "ws", "wss")


def response_destination(via: Via, source: Address, transport: str) -> Address:
    """Where a response to a request with top ``via``, received from ``source``, goes (§18.2.2).

    Reliable transports answer on the connection, i.e. to the source. On UDP, RFC 3581: if the
    request asked for rport, answer the source address and port; else the source address at
    the sent-by port. ``maddr`` is honoured only when it names the source itself: nothing a
    sender writes may steer our answers to a third party (issue 13 rule 2), and the sent-by
    host is never looked up (rule 3), as ``received`` always holds the source when it differs.
    """
    if is_reliable(transport) or via.has_rport:
        return source
    return (source[0], via.port or 5060)


@dataclass(frozen=True, slots=True)
class Outgoing:
    """Bytes the transaction layer wants sent, and where: the runtime only sends them."""

    data: bytes
    destination: Address
    transport: str


# ---- events -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RequestReceived:
    """A new request for the TU. ``cancels`` is the INVITE server transaction a CANCEL targets."""

    transaction: str
    request: Request
    source: Address
    transport: str
    cancels: str | None = None


@dataclass(frozen=True, slots=True)
class AckReceived:
    """An ACK that is not part of an INVITE server transaction's non-2xx exchange (2xx ACK)."""

    request: Request
    source: Address
    transport: str


@dataclass(frozen=True, slots=True)
class SentRequest:
    """A request of ours as its client transaction sent it: what a TU needs to send it again
    (with credentials after a 401/407, RFC 3261 §22.2) after the transaction is gone."""

    request: Request
    destination: Address
    transport: str


@dataclass(frozen=True, slots=True)
class ResponseReceived:
    """A response matched to our client transaction (RFC 3261 §17.1.3)."""

    transaction: str
    response: Response
    #: The request answered (not compared: two events for the same response are equal).
    sent: SentRequest | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class StrayResponse:
    """A response matching no client transaction (e.g. a 2xx retransmission after Timer M)."""

    response: Response
    source: Address


@dataclass(frozen=True, slots=True)
class TransactionTimeout:
    """Timer B/F (no final response: the TU acts as on a 408) or H/L (no ACK came)."""

    transaction: str
    request: Request
    timer: str


@dataclass(frozen=True, slots=True)
class TransportError:
    """Sending a request failed (RFC 3261 §17.1.4): its owner handles it like a timeout."""

    transaction: str
    request: Request


@dataclass(frozen=True, slots=True)
class TransactionTerminated:
    """A transaction ended: its owner may forget it."""

    transaction: str


Event = (
    RequestReceived
    | AckReceived
    | ResponseReceived
    | StrayResponse
    | TransactionTimeout
    | TransportError
    | TransactionTerminated
)


class State(enum.Enum):
    CALLING = "Calling"
    TRYING = "Trying"
    PROCEEDING = "Proceeding"
    ACCEPTED = "Accepted"
    COMPLETED = "Completed"
    CONFIRMED = "Confirmed"
    TERMINATED = "Terminated"


class Input(enum.Enum):
    PROVISIONAL = "1xx received"
    SUCCESS = "2xx received"
    FAILURE = "300-699 received"
    REQUEST = "request retransmission"
    ACK = "ACK received"
    SEND_PROVISIONAL = "TU sends 1xx"
    SEND_SUCCESS = "TU sends 2xx"
    SEND_FAILURE = "TU sends 300-699"
    TIMER_A = "A"
    TIMER_B = "B"
    TIMER_D = "D"
    TIMER_E = "E"
    TIMER_F = "F"
    TIMER_G = "G"
    TIMER_H = "H"
    TIMER_I = "I"
    TIMER_J = "J"
    TIMER_K = "K"
    TIMER_L = "L"
    TIMER_M = "M"
    TIMER_TRYING = "100 Trying timer"
    TRANSPORT_ERROR = "transport error"


_TIMER_INPUTS = {i.value: i for i in Input if len(i.value) == 1}
_TIMER_INPUTS["trying"] = Input.TIMER_TRYING
#: The TU-answer deadline of a server transaction (not a timer of RFC 3261: our backstop).
TU_TIMER = "tu"


@dataclass
class Transaction:
    """One client or server transaction's state and timers (RFC 3261 §17)."""

    key: str
    request: Request
    destination: Address
    transport: str
    state: State
    server: bool
    invite: bool
    timers: dict[str, float] = field(default_factory=dict)
    intervals: dict[str, float] = field(default_factory=dict)
    last_response: Response | None = None
    ack: bytes | None = None
    #: For an INVITE server transaction in Accepted: (Call-ID, CSeq, to-tag) of the 2xx.
    accepted: tuple[str, int, str | None] | None = None
    #: The host a server transaction's request came from (its budget is charged).
    source_host: str | None = None

    @property
    def reliable(self) -> bool:
        return is_reliable(self.transport)


def _sent(txn: Transaction) -> SentRequest:
    return SentRequest(txn.request, txn.destination, txn.transport)


Action = Callable[["TransactionLayer", Transaction, float, Message | None], None]
Table = dict[tuple[State, Input], tuple[str, State]]

S, I = State, Input  # noqa: E741 - the tables below read like the RFC's figures

#: Figure 5 with RFC 6026 (2xx -> Accepted, absorbing 2xx retransmissions for Timer M).
INVITE_CLIENT: Table = {
    (S.CALLING, I.TIMER_A): ("retransmit_request", S.CALLING),
    (S.CALLING, I.TIMER_B): ("timeout", S.TERMINATED),
    (S.CALLING, I.PROVISIONAL): ("pass_up", S.PROCEEDING),
    (S.PROCEEDING, I.PROVISIONAL): ("pass_up", S.PROCEEDING),
    (S.CALLING, I.SUCCESS): ("pass_up_accepted", S.ACCEPTED),
    (S.PROCEEDING, I.SUCCESS): ("pass_up_accepted", S.ACCEPTED),
    (S.ACCEPTED, I.SUCCESS): ("pass_up", S.ACCEPTED),
    (S.ACCEPTED, I.TIMER_M): ("terminate", S.TERMINATED),
    (S.CALLING, I.FAILURE): ("ack_and_pass_up", S.COMPLETED),
    (S.PROCEEDING, I.FAILURE): ("ack_and_pass_up", S.COMPLETED),
    (S.COMPLETED, I.FAILURE): ("resend_ack", S.COMPLETED),
    (S.COMPLETED, I.TIMER_D): ("terminate", S.TERMINATED),
    (S.CALLING, I.TRANSPORT_ERROR): ("transport_error", S.TERMINATED),
    (S.PROCEEDING, I.TRANSPORT_ERROR): ("transport_error", S.TERMINATED),
    (S.COMPLETED, I.TRANSPORT_ERROR): ("transport_error", S.TERMINATED),
}

#: Figure 6.
NON_INVITE_CLIENT: Table = {
    (S.TRYING, I.TIMER_E): ("retransmit_request", S.TRYING),
    (S.PROCEEDING, I.TIMER_E): ("retransmit_request", S.PROCEEDING),
    (S.TRYING, I.TIMER_F): ("timeout", S.TERMINATED),
    (S.PROCEEDING, I.TIMER_F): ("timeout", S.TERMINATED),
    (S.TRYING, I.PROVISIONAL): ("pass_up", S.PROCEEDING),
    (S.PROCEEDING, I.PROVISIONAL): ("pass_up", S.PROCEEDING),
    (S.TRYING, I.SUCCESS): ("pass_up_final", S.COMPLETED),
    (S.TRYING, I.FAILURE): ("pass_up_final", S.COMPLETED),
    (S.PROCEEDING, I.SUCCESS): ("pass_up_final", S.COMPLETED),
    (S.PROCEEDING, I.FAILURE): ("pass_up_final", S.COMPLETED),
    (S.COMPLETED, I.TIMER_K): ("terminate", S.TERMINATED),
    (S.TRYING, I.TRANSPORT_ERROR): ("transport_error", S.TERMINATED),
    (S.PROCEEDING, I.TRANSPORT_ERROR): ("transport_error", S.TERMINATED),
}

#: Figure 7 with RFC 6026 (2xx -> Accepted; the 2xx is retransmitted until its ACK, §13.3.1.4).
INVITE_SERVER: Table = {
    (S.PROCEEDING, I.TIMER_TRYING): ("send_trying", S.PROCEEDING),
    (S.PROCEEDING, I.REQUEST): ("resend_response", S.PROCEEDING),
    (S.PROCEEDING, I.SEND_PROVISIONAL): ("send_response", S.PROCEEDING),
    (S.PROCEEDING, I.SEND_SUCCESS): ("send_success", S.ACCEPTED),
    (S.PROCEEDING, I.SEND_FAILURE): ("send_failure", S.COMPLETED),
    (S.ACCEPTED, I.SEND_SUCCESS): ("send_response", S.ACCEPTED),
    (S.ACCEPTED, I.TIMER_G): ("retransmit_response", S.ACCEPTED),
    (S.ACCEPTED, I.ACK): ("ack_for_success", S.TERMINATED),
    (S.ACCEPTED, I.TIMER_L): ("timeout", S.TERMINATED),
    (S.COMPLETED, I.REQUEST): ("resend_response", S.COMPLETED),
    (S.COMPLETED, I.TIMER_G): ("retransmit_response", S.COMPLETED),
    (S.COMPLETED, I.TIMER_H): ("timeout", S.TERMINATED),
    (S.COMPLETED, I.ACK): ("confirm", S.CONFIRMED),
    (S.CONFIRMED, I.TIMER_I): ("terminate", S.TERMINATED),
    (S.PROCEEDING, I.TRANSPORT_ERROR): ("transport_error", S.TERMINATED),
    (S.ACCEPTED, I.TRANSPORT_ERROR): ("transport_error", S.TERMINATED),
    (S.COMPLETED, I.TRANSPORT_ERROR): ("transport_error", S.TERMINATED),
}

#: Figure 8.
NON_INVITE_SERVER: Table = {
    (S.TRYING, I.SEND_PROVISIONAL): ("send_response", S.PROCEEDING),
    (S.TRYING, I.SEND_SUCCESS): ("send_final", S.COMPLETED),
    (S.TRYING, I.SEND_FAILURE): ("send_final", S.COMPLETED),
    (S.PROCEEDING, I.SEND_PROVISIONAL): ("send_response", S.PROCEEDING),
    (S.PROCEEDING, I.SEND_SUCCESS): ("send_final", S.COMPLETED),
    (S.PROCEEDING, I.SEND_FAILURE): ("send_final", S.COMPLETED),
    (S.PROCEEDING, I.REQUEST): ("resend_response", S.PROCEEDING),
    (S.COMPLETED, I.REQUEST): ("resend_response", S.COMPLETED),
    (S.COMPLETED, I.TIMER_J): ("terminate", S.TERMINATED),
    (S.PROCEEDING, I.TRANSPORT_ERROR): ("transport_error", S.TERMINATED),
    (S.COMPLETED, I.TRANSPORT_ERROR): ("transport_error", S.TERMINATED),
}


def table_for(txn: Transaction) -> Table:
    if txn.server:
        return INVITE_SERVER if txn.invite else NON_INVITE_SERVER
    return INVITE_CLIENT if txn.invite else NON_INVITE_CLIENT


def _status_input(status: int, sending: bool) -> Input:
    if status < 200:
        return I.SEND_PROVISIONAL if sending else I.PROVISIONAL
    if status < 300:
        return I.SEND_SUCCESS if sending else I.SUCCESS
    return I.SEND_FAILURE if sending else I.FAILURE


class TransactionLayer:
    """All transactions of one UA: the five-method sans-IO core of DESIGN style 1."""

    def __init__(
        self,
        timers: TimerConfig | None = None,
        *,
        max_transactions: int = MAX_TRANSACTIONS,
        trying_delay: float = 0.2,
        invite_tu_timeout: float = INVITE_TU_TIMEOUT,
        max_per_source: int = MAX_PER_SOURCE,
        source_rate: float = SOURCE_RATE,
        source_burst: float = SOURCE_BURST,
    ) -> None:
        self.config = timers or TimerConfig()
        self.max_transactions = max_transactions
        self.trying_delay = trying_delay
        self.invite_tu_timeout = invite_tu_timeout
        #: Server transactions the TU never answered, answered 500 by the backstop.
        self.tu_timeouts = 0
        self.max_per_source = max_per_source
        self.trusted_per_source = max(max_per_source, max_transactions // 2)
        self.source_rate = source_rate
        self.source_burst = source_burst
        self._per_source: dict[str, int] = {}
        #: Is this source host trusted with the larger budget (``TRUSTED_*``)? The UA sets it
        #: from its configuration (``set_trusted``); answers are cached per host.
        self._trusted_source: Callable[[str], bool] = lambda host: False
        self._trust: dict[str, bool] = {}
        #: host -> (tokens, time of the last refill); insertion order = least recently seen.
        self._buckets: dict[str, tuple[float, float]] = {}
        #: New requests dropped for their source's rate (rule 9).
        self.rate_limited = 0
        #: Answered server transactions forgotten early to make room (full table).
        self.evicted = 0
        self._txns: dict[str, Transaction] = {}
        #: Every armed timer of every transaction, earliest first (``get_timer`` is O(1)).
        self._heap = TimerHeap()
        self._out: list[Outgoing] = []
        self._events: list[Event] = []
        self.rejected_overload = 0

    # -- the five methods ------------------------------------------------------------------

    def receive(
        self,
        message: Message,
        source: Address,
        transport: str,
        now: float,
        *,
        in_dialog: bool = False,
    ) -> None:
        """Feed a parsed message from the network. ``in_dialog``: the TU matched the request
        to one of its dialogs and its peer; such a request (the caller's BYE, a re-INVITE) is
        never refused for capacity or rate (issue 13 rule 9)."""
        try:
            if isinstance(message, Response):
                self._receive_response(message, source, now)
            else:
                self._receive_request(message, source, transport, now, in_dialog)
        except ParseError:
            # A message whose matching fields are broken cannot belong to a transaction:
            # requests were answered 400 by the checks upstream; here it is dropped.
            return

    def datagrams_to_send(self) -> list[Outgoing]:
        out, self._out = self._out, []
        return out

    def events(self) -> list[Event]:
        out, self._events = self._events, []
        return out

    def get_timer(self) -> float | None:
        return self._heap.earliest()

    def handle_timer(self, now: float) -> None:
        for deadline, (key, name) in self._heap.pop_due(now):
            txn = self._txns.get(key)
            if txn is None or txn.timers.get(name) != deadline:
                continue  # forgotten meanwhile (by an earlier timer of this step)
            del txn.timers[name]
            if name == TU_TIMER:
                self._tu_timeout(txn, now)
            else:
                self._fire(txn, _TIMER_INPUTS[name], now, None)

    # -- TU interface ----------------------------------------------------------------------

    def send_request(
        self, request: Request, destination: Address, transport: str, now: float
    ) -> str:
        """Start a client transaction; returns its id. The top Via must carry a branch."""
        branch = request.top_via.branch
        if not branch:
            raise UsageError("a request sent in a transaction needs a Via branch")
        if request.method == "ACK":
            raise UsageError("ACK is not sent in a client transaction (§17.1.1.3)")
        key = _client_key(branch, request.cseq.method)
        invite = request.method == "INVITE"
        txn = Transaction(
            key,
            request,
            destination,
            transport,
            S.CALLING if invite else S.TRYING,
            server=False,
            invite=invite,
        )
        self._txns[key] = txn
        self._send(txn, bytes(request))
        t1 = self.config.t1
        if invite:
            if not txn.reliable:
                self._arm(txn, "A", now, t1)
            self._set_timer(txn, "B", now + 64 * t1)
        else:
            if not txn.reliable:
                self._arm(txn, "E", now, t1)
            self._set_timer(txn, "F", now + 64 * t1)
        return key

    def send_ack(self, ack: Request, destination: Address, transport: str) -> None:
        """An ACK for a 2xx is sent by the TU outside any transaction (§13.2.2.4)."""
        self._out.append(Outgoing(bytes(ack), destination, transport))

    def send_response(self, transaction: str, response: Response, now: float) -> None:
        """The TU's response to a server transaction."""
        txn = self._txns.get(transaction)
        if txn is None or not txn.server:
            raise UsageError(f"no server transaction {transaction!r}")
        self._fire(txn, _status_input(response.status, True), now, response)

    def transport_error(self, transaction: str, now: float) -> None:
        """The transport could not deliver this transaction's message (§17.1.4, §17.2.4)."""
        txn = self._txns.get(transaction)
        if txn is not None:
            self._fire(txn, I.TRANSPORT_ERROR, now, None)

    def discard(self, transaction: str) -> None:
        """Forget a server transaction without answering: a request the TU drops on purpose
        (a scanner's INVITE from an untrusted address gets no byte back)."""
        txn = self._txns.get(transaction)
        if txn is not None and txn.server:
            self._forget(txn)

    def destination_failed(self, destination: Address, transport: str, now: float) -> None:
        """A connection to ``destination`` could not be made: every client transaction
        waiting on it fails now instead of at Timer B/F (§18.4: the transport informs the TU)."""
        for txn in list(self._txns.values()):
            if not txn.server and txn.destination == destination and txn.transport == transport:
                self.transport_error(txn.key, now)

    def state(self, transaction: str) -> State:
        txn = self._txns.get(transaction)
        return txn.state if txn is not None else S.TERMINATED

    def __len__(self) -> int:
        return len(self._txns)

    # -- matching ----------------------------------------------------------------------------

    def _receive_response(self, response: Response, source: Address, now: float) -> None:
        via = response.top_via
        key = _client_key(via.branch or "", response.cseq.method)
        txn = self._txns.get(key)
        if txn is None or txn.server:
            self._events.append(StrayResponse(response, source))
            return
        self._fire(txn, _status_input(response.status, False), now, response)

    def _receive_request(
        self, request: Request, source: Address, transport: str, now: float, in_dialog: bool
    ) -> None:
        request = _stamp_via(request, source)
        key = _server_key(request)
        txn = self._txns.get(key)
        if request.method == "ACK":
            if txn is not None and txn.invite and txn.state is S.COMPLETED:
                self._fire(txn, I.ACK, now, request)  # ACK for our non-2xx: same branch
                return
            if txn is not None and txn.invite and txn.state is S.CONFIRMED:
                return  # a retransmitted ACK, absorbed (§17.2.1)
            accepted = self._accepted_for(request)
            if accepted is not None:
                self._fire(accepted, I.ACK, now, request)
            self._events.append(AckReceived(request, source, transport))
            return
        if txn is not None:
            self._fire(txn, I.REQUEST, now, request)
            return
        host = source[0]
        if not in_dialog and not self._within_rate(host, now):
            self.rate_limited += 1
            return  # a flood: answering it would cost as much as serving it
        full = len(self._txns) >= self.max_transactions and not self._evict_answered()
        budget = self.trusted_per_source if self._trusted(host) else self.max_per_source
        if not in_dialog and (full or self._per_source.get(host, 0) >= budget):
            self.rejected_overload += 1
            busy = make_response(request, 503, headers=[("Retry-After", "5")])
            self._out.append(
                Outgoing(
                    bytes(busy), response_destination(request.top_via, source, transport), transport
                )
            )
            return
        invite = request.method == "INVITE"
        txn = Transaction(
            key,
            request,
            response_destination(request.top_via, source, transport),
            transport,
            S.PROCEEDING if invite else S.TRYING,
            server=True,
            invite=invite,
            source_host=host,
        )
        self._txns[key] = txn
        self._per_source[host] = self._per_source.get(host, 0) + 1
        if invite and self.trying_delay >= 0:
            self._set_timer(txn, "trying", now + self.trying_delay)
        # No server transaction waits for ever (issue 13 rule 1): whatever the TU does with the
        # request, the transaction has a deadline by which it is answered and then ends.
        answer_by = self.invite_tu_timeout if invite else 64 * self.config.t1
        self._set_timer(txn, TU_TIMER, now + answer_by)
        cancels = None
        if request.method == "CANCEL":
            target = self._txns.get(_server_key(request, method="INVITE"))
            if target is not None and target.server and target.state is S.PROCEEDING:
                cancels = target.key
        self._events.append(RequestReceived(key, request, source, transport, cancels))

    def _accepted_for(self, ack: Request) -> Transaction | None:
        """The INVITE server transaction in Accepted whose 2xx this ACK acknowledges."""
        wanted = (ack.call_id, ack.cseq.seq, ack.to_addr.tag)
        for txn in self._txns.values():
            if txn.server and txn.invite and txn.state is S.ACCEPTED and txn.accepted == wanted:
                return txn
        return None

    def _tu_timeout(self, txn: Transaction, now: float) -> None:
        """The TU never sent a final response: answer 500 on its behalf (or, if even that
        cannot be built from the request, forget the transaction) and tell the TU."""
        self.tu_timeouts += 1
        self._events.append(TransactionTimeout(txn.key, txn.request, TU_TIMER))
        try:
            response = make_response(txn.request, 500, "Server Internal Error (no answer)")
        except ParseError:
            self._forget(txn)
            self._events.append(TransactionTerminated(txn.key))
            return
        self._fire(txn, I.SEND_FAILURE, now, response)

    def _forget(self, txn: Transaction) -> None:
        """Remove a transaction and give its slot back to its source's budget."""
        for name in txn.timers:
            self._heap.disarm((txn.key, name))
        txn.timers.clear()
        if self._txns.pop(txn.key, None) is None or txn.source_host is None:
            return
        left = self._per_source.get(txn.source_host, 1) - 1
        if left > 0:
            self._per_source[txn.source_host] = left
        else:
            self._per_source.pop(txn.source_host, None)

    def _evict_answered(self) -> bool:
        """Full table: forget the oldest server transaction that was already answered (it only
        absorbs retransmissions until Timer J/H/I) to make room for a new request; False if
        every slot holds one still waiting for its answer. A flood from many sources then
        costs answered slots first, and a newcomer is still served (rule 9)."""
        for txn in self._txns.values():  # insertion order: oldest first
            if txn.server and txn.state in (S.COMPLETED, S.CONFIRMED):
                self._forget(txn)
                self.evicted += 1
                return True
        return False

    def over_budget(self, host: str, now: float) -> bool:
        """Would a new request from ``host`` be refused by its rate limit now? (No token taken.)

        Lets the runtime drop a flooder's datagrams before it parses them: under a flood most
        of the SIP loop's time went into parsing requests that were then dropped here anyway,
        time during which the media thread waited for the GIL (issue 13, flood pacing).
        """
        entry = self._buckets.get(host)
        if entry is None:
            return False
        tokens, last = entry
        rate, burst = self._rate_of(host)
        return min(burst, tokens + (now - last) * rate) < 1.0

    def set_trusted(self, trusted_source: Callable[[str], bool]) -> None:
        """Which source hosts get the larger budget and rate (from the configuration, and
        again when it is reloaded): the UA's trust rules, not the transaction layer's."""
        self._trusted_source = trusted_source
        self._trust.clear()

    def _trusted(self, host: str) -> bool:
        trusted = self._trust.get(host)
        if trusted is None:
            if len(self._trust) >= MAX_TRACKED_SOURCES:
                self._trust.clear()  # a sweep of many sources: recomputing is cheap enough
            trusted = self._trust[host] = self._trusted_source(host)
        return trusted

    def _rate_of(self, host: str) -> tuple[float, float]:
        """(tokens per second, burst) of ``host``'s bucket: larger for a trusted source."""
        if self._trusted(host):
            return max(TRUSTED_RATE, self.source_rate), max(TRUSTED_BURST, self.source_burst)
        return self.source_rate, self.source_burst

    def _within_rate(self, host: str, now: float) -> bool:
        """Take one token from ``host``'s bucket (SOURCE_RATE per second and SOURCE_BURST, or
        the TRUSTED_ ones for a trusted source)."""
        rate, burst = self._rate_of(host)
        tokens, last = self._buckets.pop(host, (burst, now))
        tokens = min(burst, tokens + (now - last) * rate)
        allowed = tokens >= 1.0
        self._buckets[host] = (tokens - 1.0 if allowed else tokens, now)  # now most recent
        if len(self._buckets) > MAX_TRACKED_SOURCES:
            del self._buckets[next(iter(self._buckets))]
        return allowed

    # -- the machine -------------------------------------------------------------------------

    def _fire(self, txn: Transaction, event: Input, now: float, message: Message | None) -> None:
        entry = table_for(txn).get((txn.state, event))
        if entry is None:
            return  # the RFC's figures ignore this input in this state
        action, next_state = entry
        _ACTIONS[action](self, txn, now, message)
        txn.state = next_state
        if next_state is S.TERMINATED:
            self._forget(txn)
            self._events.append(TransactionTerminated(txn.key))

    def _send(self, txn: Transaction, data: bytes) -> None:
        self._out.append(Outgoing(data, txn.destination, txn.transport))

    def _set_timer(self, txn: Transaction, timer: str, deadline: float) -> None:
        """Every timer is armed here, so the heap of deadlines sees it (``get_timer``)."""
        txn.timers[timer] = deadline
        self._heap.arm((txn.key, timer), deadline)

    def _stop(self, txn: Transaction, timer: str) -> None:
        if txn.timers.pop(timer, None) is not None:
            self._heap.disarm((txn.key, timer))

    def _arm(self, txn: Transaction, timer: str, now: float, interval: float) -> None:
        txn.intervals[timer] = interval
        self._set_timer(txn, timer, now + interval)

    def _wait(self, txn: Transaction, timer: str, now: float, unreliable: float) -> None:
        """Timers D, I, J, K: their unreliable value, zero on a reliable transport."""
        self._set_timer(txn, timer, now + (0.0 if txn.reliable else unreliable))

    # actions (named in the tables)

    def _a_retransmit_request(self, txn: Transaction, now: float, _: Message | None) -> None:
        self._send(txn, bytes(txn.request))
        if txn.invite:  # Timer A doubles without a cap
            self._arm(txn, "A", now, txn.intervals["A"] * 2)
        elif txn.state is S.PROCEEDING:  # §17.1.2.2: after a provisional, every T2
            self._arm(txn, "E", now, self.config.t2)
        else:
            self._arm(txn, "E", now, min(txn.intervals["E"] * 2, self.config.t2))

    def _a_timeout(self, txn: Transaction, now: float, _: Message | None) -> None:
        timer = {S.CALLING: "B", S.TRYING: "F", S.PROCEEDING: "F", S.COMPLETED: "H"}.get(
            txn.state, "L"
        )
        self._events.append(TransactionTimeout(txn.key, txn.request, timer))

    def _a_pass_up(self, txn: Transaction, now: float, message: Message | None) -> None:
        self._stop(txn, "A")
        self._stop(txn, "B")
        assert isinstance(message, Response)
        self._events.append(ResponseReceived(txn.key, message, _sent(txn)))

    def _a_pass_up_accepted(self, txn: Transaction, now: float, message: Message | None) -> None:
        self._a_pass_up(txn, now, message)
        self._set_timer(txn, "M", now + 64 * self.config.t1)

    def _a_pass_up_final(self, txn: Transaction, now: float, message: Message | None) -> None:
        self._stop(txn, "E")
        self._stop(txn, "F")
        assert isinstance(message, Response)
        self._events.append(ResponseReceived(txn.key, message, _sent(txn)))
        self._wait(txn, "K", now, self.config.t4)

    def _a_ack_and_pass_up(self, txn: Transaction, now: float, message: Message | None) -> None:
        assert isinstance(message, Response)
        txn.ack = bytes(build_ack(txn.request, message))
        self._send(txn, txn.ack)
        self._a_pass_up(txn, now, message)
        self._wait(txn, "D", now, 32.0)

    def _a_resend_ack(self, txn: Transaction, now: float, _: Message | None) -> None:
        if txn.ack is not None:
            self._send(txn, txn.ack)

    def _a_terminate(self, txn: Transaction, now: float, _: Message | None) -> None:
        return None

    def _a_transport_error(self, txn: Transaction, now: float, _: Message | None) -> None:
        self._events.append(TransportError(txn.key, txn.request))

    def _a_send_trying(self, txn: Transaction, now: float, _: Message | None) -> None:
        """§17.2.1: a 100 if the TU has not answered within 200 ms."""
        if txn.last_response is None:
            txn.last_response = make_response(txn.request, 100)
            self._send(txn, bytes(txn.last_response))

    def _a_send_response(self, txn: Transaction, now: float, message: Message | None) -> None:
        assert isinstance(message, Response)
        self._stop(txn, "trying")
        if message.status >= 200:
            self._stop(txn, TU_TIMER)
        txn.last_response = message
        self._send(txn, bytes(message))

    def _a_resend_response(self, txn: Transaction, now: float, _: Message | None) -> None:
        if txn.last_response is not None:
            self._send(txn, bytes(txn.last_response))

    def _a_send_success(self, txn: Transaction, now: float, message: Message | None) -> None:
        assert isinstance(message, Response)
        self._a_send_response(txn, now, message)
        txn.accepted = (message.call_id, message.cseq.seq, message.to_addr.tag)
        if not txn.reliable:
            self._arm(txn, "G", now, self.config.t1)
        self._set_timer(txn, "L", now + 64 * self.config.t1)

    def _a_send_failure(self, txn: Transaction, now: float, message: Message | None) -> None:
        self._a_send_response(txn, now, message)
        if not txn.reliable:
            self._arm(txn, "G", now, self.config.t1)
        self._set_timer(txn, "H", now + 64 * self.config.t1)

    def _a_retransmit_response(self, txn: Transaction, now: float, _: Message | None) -> None:
        self._a_resend_response(txn, now, None)
        self._arm(txn, "G", now, min(txn.intervals["G"] * 2, self.config.t2))

    def _a_ack_for_success(self, txn: Transaction, now: float, _: Message | None) -> None:
        return None

    def _a_confirm(self, txn: Transaction, now: float, _: Message | None) -> None:
        self._stop(txn, "G")
        self._stop(txn, "H")
        self._wait(txn, "I", now, self.config.t4)

    def _a_send_final(self, txn: Transaction, now: float, message: Message | None) -> None:
        self._a_send_response(txn, now, message)
        self._wait(txn, "J", now, 64 * self.config.t1)


_ACTIONS: dict[str, Action] = {
    name: getattr(TransactionLayer, f"_a_{name}")
    for table in (INVITE_CLIENT, NON_INVITE_CLIENT, INVITE_SERVER, NON_INVITE_SERVER)
    for name, _ in table.values()
}


def _client_key(branch: str, method: str) -> str:
    """§17.1.3: the branch of the top Via and the CSeq method identify a client transaction."""
    return f"c|{branch}|{method}"


def _server_key(request: Request, method: str | None = None) -> str:
    """§17.2.3 (RFC 3261 branch) or the RFC 2543 fallback; ACK and CANCEL map to INVITE's."""
    via = request.top_via
    m = method or request.method
    if m == "ACK":
        m = "INVITE"
    branch = via.branch or ""
    if branch.startswith(grammar.MAGIC_COOKIE) and len(branch) > len(grammar.MAGIC_COOKIE):
        return f"s|{branch}|{via.sent_by.lower()}|{m}"
    # RFC 2543: Request-URI, To tag, From tag, Call-ID, CSeq number and top Via. The To tag is
    # left out so that the ACK (which carries our tag) matches the INVITE (which did not).
    uri = request.uri
    return (
        f"s2543|{uri}|{request.from_addr.tag}|{request.call_id}|{request.cseq.seq}|"
        f"{via.sent_by.lower()}|{branch}|{m}"
    )


def _stamp_via(request: Request, source: Address) -> Request:
    """§18.2.1 / RFC 3581: note the real source address in the top Via when it differs."""
    via = request.top_via
    changes: dict[str, str | None] = {}
    if via.host.strip("[]") != source[0]:
        changes["received"] = source[0]
    if via.has_rport and via.rport is None:
        changes["rport"] = str(source[1])
        changes.setdefault("received", source[0])
    if not changes:
        return request
    return request.with_top_via(via.with_params(**changes))


def build_ack(invite: Request, response: Response) -> Request:
    """The ACK for a non-2xx final response (§17.1.1.3): built by the client transaction."""
    fields: list[tuple[str, str]] = [("Via", str(invite.top_via))]
    for name in ("Max-Forwards", "From"):
        value = invite.headers.get(name)
        if value is not None:
            fields.append((name, value))
    to_value = response.headers.get("To")
    if to_value is not None:
        fields.append(("To", to_value))
    fields.append(("Call-ID", invite.call_id))
    fields.append(("CSeq", f"{invite.cseq.seq} ACK"))
    fields.extend(("Route", value) for value in invite.headers.rows("Route"))
    return Request("ACK", invite.uri, Headers(fields))
