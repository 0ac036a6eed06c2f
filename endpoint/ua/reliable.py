"""Reliable provisional responses, RFC 3262 (100rel, PRACK), both sides, sans-IO.

As UAC we list ``100rel`` in our INVITE's ``Supported`` (``Require`` with ``"required"``) and
PRACK each reliable 18x in order (``rseq_to_prack``); as UAS see ``ReliableSender``.

A provider's PBX may insist that our 180 Ringing reaches it (``Require: 100rel``): it is then
sent with an ``RSeq``, passed to the transaction layer again every T1, 2*T1, ... until a PRACK
carrying the matching ``RAck`` arrives, and after 64*T1 without one the INVITE is refused with
a 5xx (§3). A 2xx waits until the outstanding reliable provisional was PRACKed (§3: "the UAS
MUST NOT send a final response ... until those provisional responses are acknowledged").

``[sip] reliable_provisional`` says how far we go:

- ``"off"``: no 100rel; an INVITE that requires it is refused 420 (by ``check_request``).
- ``"supported"`` (default): we list it in ``Supported``; an INVITE that requires it gets
  reliable provisionals, one that only supports it plain ones (§3 leaves that to the UAS).
- ``"required"``: every caller that supports it gets reliable provisionals, one that does not
  is refused 421 Extension Required.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from endpoint.sip import Request, Response
from endpoint.sip.grammar import parse_int
from endpoint.sip.transaction import TimerConfig

OPTION = "100rel"
MODES = ("off", "supported", "required")
#: RFC 3262 §7.1/§7.2: RSeq and the response-num of RAck are 1*DIGIT below 2**32.
MAX_RSEQ = 2**32 - 1
#: §3: "The value of the RSeq ... MUST be between 1 and 2**31 - 1."
MAX_FIRST_RSEQ = 2**31 - 1


class Use(enum.Enum):
    """What an incoming INVITE gets under our setting (§3, §5)."""

    PLAIN = "plain provisionals"
    RELIABLE = "reliable provisionals"
    REFUSE = "421 Extension Required"


def supported_options(mode: str) -> tuple[str, ...]:
    """The option tags of our ``Supported`` header, and those ``check_request`` accepts in a
    ``Require``."""
    return ("replaces", "timer") if mode == "off" else ("replaces", "timer", OPTION)


def _tags(message: Request | Response, name: str) -> set[str]:
    return {
        tag.strip().lower()
        for value in message.headers.get_all(name)[:8]
        for tag in value.split(",")[:32]
    }


def with_100rel(headers: list[tuple[str, str]], mode: str) -> list[tuple[str, str]]:
    """Our INVITE's headers with 100rel added to its ``Supported`` (one row, as peers that
    read only the first row expect) and, with ``"required"``, a ``Require`` (§4)."""
    if mode == "off":
        return headers
    out = [(n, f"{v}, {OPTION}") if n == "Supported" else (n, v) for n, v in headers]
    if not any(n == "Supported" for n, _ in headers):
        out.append(("Supported", OPTION))
    return [*out, ("Require", OPTION)] if mode == "required" else out


def rseq_to_prack(response: Response, last: int | None) -> int | None:
    """The RSeq to PRACK for this provisional, or None: not reliable (no ``Require: 100rel``
    or no valid ``RSeq``), or not the next in order. §4: the first may carry any RSeq; a later
    one is taken only if it is one higher (a retransmission, same RSeq, is not PRACKed again;
    our PRACK's own transaction retransmits it)."""
    if not 100 < response.status < 200 or OPTION not in _tags(response, "Require"):
        return None
    rseq = parse_int((response.headers.get("RSeq") or "").strip(), 10)
    if rseq is None or not 1 <= rseq <= MAX_RSEQ:
        return None
    return rseq if last is None or rseq == last + 1 else None


def use_for(request: Request, mode: str) -> Use:
    """Whether to send this INVITE's provisionals reliably (a Require of an option we lack was
    refused 420 before)."""
    if mode == "off":
        return Use.PLAIN
    if OPTION in _tags(request, "Require"):
        return Use.RELIABLE
    if mode == "required":
        return Use.RELIABLE if OPTION in _tags(request, "Supported") else Use.REFUSE
    return Use.PLAIN


def parse_rack(text: str) -> tuple[int, int, str] | None:
    """``RAck: response-num CSeq-num Method`` (§7.2), numbers bounded; None if malformed."""
    parts = text.split()
    if len(parts) != 3:
        return None
    rseq, cseq = parse_int(parts[0], 10), parse_int(parts[1], 10)
    if rseq is None or cseq is None or rseq > MAX_RSEQ or cseq > MAX_RSEQ:
        return None
    return rseq, cseq, parts[2]


@dataclass
class ReliableSender:
    """The reliable provisional of one INVITE server transaction: at most one in flight
    (§3: no second reliable provisional before the first is PRACKed; ours is the 180)."""

    invite_cseq: int
    rseq: int
    timers: TimerConfig = field(default_factory=TimerConfig)
    #: When it was first sent; None before, and after its PRACK.
    started: float | None = None
    next_send: float | None = None
    interval: float = 0.0
    acknowledged: bool = False
    #: The provisional as sent, passed to the transaction layer again at each deadline.
    response: Response | None = None

    def headers(self) -> list[tuple[str, str]]:
        """What makes the provisional reliable (§7.1)."""
        return [("Require", OPTION), ("RSeq", str(self.rseq))]

    def sent(self, response: Response, now: float) -> None:
        self.response, self.started, self.interval = response, now, self.timers.t1
        self.next_send = now + self.interval

    @property
    def outstanding(self) -> bool:
        """Sent and not yet PRACKed: a 2xx must wait (§3)."""
        return self.started is not None and not self.acknowledged

    def acknowledges(self, request: Request) -> bool:
        """Would this PRACK acknowledge our provisional (§3: RAck matches response number,
        CSeq number and method)? Asked before an offer in it is answered (§5)."""
        rack = parse_rack(request.headers.get("RAck") or "")
        return rack == (self.rseq, self.invite_cseq, "INVITE") and self.started is not None

    def prack(self, request: Request) -> bool:
        """Does this PRACK acknowledge our provisional? Then the retransmissions stop."""
        if not self.acknowledges(request):
            return False
        self.acknowledged, self.next_send = True, None
        return True

    def get_timer(self) -> float | None:
        return self.next_send if self.outstanding else None

    def due(self, now: float) -> str | None:
        """At a deadline: ``"resend"`` (§3: the interval starts at T1 and doubles, with no T2
        cap), ``"give up"`` once 64*T1 have passed, or None (not yet)."""
        if self.next_send is None or self.started is None or now < self.next_send:
            return None
        if now - self.started >= 64 * self.timers.t1:
            self.next_send = None
            return "give up"
        self.interval *= 2
        self.next_send = min(now + self.interval, self.started + 64 * self.timers.t1)
        return "resend"
