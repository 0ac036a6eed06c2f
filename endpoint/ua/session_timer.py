"""Session timers (RFC 4028): how long a call lives without a refresh, and who refreshes it.

A door station that never notices its peer vanished (a phone unplugged mid-call, a NAT that
forgot us) keeps a "call" up for ever and is busy for the next visitor. RFC 4028 fixes that:
the two sides agree on an interval and a refresher; the refresher sends a re-INVITE or UPDATE
every half interval, and the other side hangs up with BYE when no refresh came in time. These
are pure functions from messages to a ``TimerPlan``; ``session.Session`` runs the clock.
"""

from __future__ import annotations

from dataclasses import dataclass

from endpoint.sip import ParseError, Request, Response
from endpoint.sip.errors import SipError
from endpoint.sip.grammar import parse_int
from endpoint.sip.message import Message

#: §4: the smallest interval a UA may accept (and the default Min-SE).
MIN_SE = 90


@dataclass(frozen=True, slots=True)
class SessionExpires:
    """``Session-Expires: 1800;refresher=uac`` (§4); ``refresher`` None when absent."""

    interval: int
    refresher: str | None = None

    @classmethod
    def parse(cls, text: str) -> SessionExpires:
        value, *params = (part.strip() for part in text.split(";"))
        interval = parse_int(value, 10)
        if interval is None:
            raise ParseError(f"Session-Expires {text[:40]!r}: not delta-seconds")
        refresher = None
        for param in params:
            name, _, arg = param.partition("=")
            if name.strip().lower() == "refresher":
                refresher = arg.strip().lower()
                if refresher not in ("uac", "uas"):
                    raise ParseError(f"Session-Expires {text!r}: refresher must be uac or uas")
        return cls(interval, refresher)

    def __str__(self) -> str:
        return (
            f"{self.interval};refresher={self.refresher}" if self.refresher else str(self.interval)
        )


class IntervalTooSmallError(SipError):
    """§5: the offered interval is below our minimum: answer 422 with Min-SE."""

    status = 422

    def __init__(self, minimum: int) -> None:
        super().__init__(f"session interval below {minimum} s")
        self.minimum = minimum


@dataclass(frozen=True, slots=True)
class TimerPlan:
    """The agreed interval; ``we_refresh`` says which side sends the refreshes."""

    interval: int
    we_refresh: bool

    @property
    def refresh_after(self) -> float:
        """§7.4/§8.3: the refresher sends its refresh when half the interval has passed."""
        return self.interval / 2

    @property
    def expire_after(self) -> float:
        """§10: the other side gives up ``min(32, interval/3)`` seconds before the end."""
        return self.interval - min(32.0, self.interval / 3)


def session_expires_of(message: Message) -> SessionExpires | None:
    value = message.headers.get("Session-Expires")
    return None if value is None else SessionExpires.parse(value)


def min_se_of(message: Message) -> int:
    value = (message.headers.get("Min-SE") or "").split(";")[0].strip()
    number = parse_int(value, 10)
    return MIN_SE if number is None else number


def supports_timer(message: Message) -> bool:
    tags = message.headers.get_all("Supported") + message.headers.get_all("Require")
    return any(tag.strip().lower() == "timer" for tag in tags)


def plan_as_uas(request: Request, wanted: int) -> TimerPlan | None:
    """What our 2xx to an INVITE, re-INVITE or UPDATE agrees to (§9).

    An interval below our minimum is refused with 422 (raised). When the request asks for no
    timer we still ask for ours (``wanted`` seconds, 0 = none): a caller that supports timers
    refreshes; one that does not leaves the refreshing to us (§9: ``refresher=uas``).
    """
    offered = session_expires_of(request)
    peer_supports = supports_timer(request)
    floor = max(MIN_SE, min_se_of(request))
    if offered is not None and offered.interval < MIN_SE:
        raise IntervalTooSmallError(MIN_SE)
    if offered is None:
        if wanted <= 0:
            return None
        return TimerPlan(max(wanted, floor), we_refresh=not peer_supports)
    interval = offered.interval
    if wanted > 0:
        interval = min(interval, max(wanted, floor))  # §9: the UAS may shorten, not below Min-SE
    refresher = offered.refresher if peer_supports else "uas"
    return TimerPlan(interval, we_refresh=refresher == "uas")


def uas_headers(request: Request, plan: TimerPlan | None) -> list[tuple[str, str]]:
    """Session-Expires (and Require: timer when the peer supports it) for our 2xx."""
    if plan is None:
        return []
    fields = [
        ("Session-Expires", f"{plan.interval};refresher={'uas' if plan.we_refresh else 'uac'}")
    ]
    if supports_timer(request):
        fields.append(("Require", "timer"))
    return fields


def plan_as_uac(response: Response) -> TimerPlan | None:
    """What the 2xx to our INVITE, re-INVITE or UPDATE agreed (§7.2): no header, no timer."""
    agreed = session_expires_of(response)
    if agreed is None:
        return None
    return TimerPlan(agreed.interval, we_refresh=(agreed.refresher or "uac") == "uac")


def uac_headers(interval: int) -> list[tuple[str, str]]:
    """What our INVITE or refresh asks for: we are willing to refresh (§7.1)."""
    if interval <= 0:
        return [("Supported", "timer")]
    return [
        ("Supported", "timer"),
        ("Session-Expires", f"{interval};refresher=uac"),
        ("Min-SE", str(MIN_SE)),
    ]
