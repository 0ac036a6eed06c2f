"""What the user agent's state machines ask the runtime to do, and what they tell the world.

The UA core is sans-IO: it returns these frozen records and the runtime carries them out
(sending through the transaction layer, starting media, publishing on the control socket). A
request is always sent inside a client transaction; ``tag`` lets the owner recognise the
transaction's outcome when it comes back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from endpoint.sip import Request
from endpoint.ua.events import Notice

if TYPE_CHECKING:
    # Offer/answer is the call path's, loaded at the first call (issue 19).
    from endpoint.sip.offer_answer import NegotiatedMedia


@dataclass(frozen=True, slots=True)
class Destination:
    """Where a request goes: an address (resolved by the runtime if it is a name) and transport."""

    host: str
    port: int
    transport: str = "udp"


@dataclass(frozen=True, slots=True)
class SendRequest:
    """Start a client transaction for ``request`` towards ``destination``."""

    request: Request
    destination: Destination
    tag: str


@dataclass(frozen=True, slots=True)
class SendKeepalive:
    """A CRLF keep-alive (RFC 5626 §3.5.1 for TCP; the same bytes keep a UDP NAT binding)."""

    destination: Destination


Action = SendRequest | SendKeepalive | Notice


@dataclass(frozen=True, slots=True)
class NeedMedia:
    """Allocate RTP/RTCP sockets for a call; answer with ``UserAgent.media_ready``."""

    call_id: str


@dataclass(frozen=True, slots=True)
class StartMedia:
    """The runtime starts (or switches) a call's RTP with the negotiated codec."""

    call_id: str
    media: NegotiatedMedia
    local_port: int
    #: Early media of a call still ringing (our 183): the runtime sends a ring-back tone, not
    #: the microphone; the StartMedia of the answer then switches to the door's audio.
    early: bool = False


@dataclass(frozen=True, slots=True)
class StopMedia:
    """The runtime stops a call's RTP, with the reason for the call report."""

    call_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class UpdateMedia:
    """A re-INVITE/UPDATE (or the 2xx after early media) changed the remote side or hold."""

    call_id: str
    media: NegotiatedMedia


@dataclass(frozen=True, slots=True)
class PlayAlert:
    """Mix an alert into what the peer hears (the max-duration warning before the end)."""

    call_id: str
    kind: str


CallAction = NeedMedia | StartMedia | StopMedia | UpdateMedia | PlayAlert
