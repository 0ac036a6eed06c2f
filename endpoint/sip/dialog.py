"""SIP dialogs (RFC 3261 §12), as a user agent sees them.

A dialog is the peer-to-peer relationship an INVITE creates: Call-ID and the two tags identify
it; it remembers the remote target (the peer's Contact), the route set (Record-Route, reversed
on the caller's side), and both CSeq counters. Every request inside the call (BYE, re-INVITE,
UPDATE, INFO, the ACK for a 2xx) is built here, with the Request-URI and Route header fields
that loose routing (and the RFC 2543 strict-routing fallback, §12.2.1.1 / §16.12) require.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from endpoint.sip.errors import ParseError, UsageError
from endpoint.sip.headers import NameAddr, Via
from endpoint.sip.message import Headers, Message, Request, Response
from endpoint.sip.uri import URI, SipURI

DialogId = tuple[str, str, str]
"""(Call-ID, local tag, remote tag)."""

#: Methods whose requests (and 2xx answers) refresh the remote target (§12.2.1.2, RFC 3311).
TARGET_REFRESH = frozenset({"INVITE", "UPDATE"})


class DialogState(enum.Enum):
    EARLY = "early"
    CONFIRMED = "confirmed"
    TERMINATED = "terminated"


def dialog_id_of(message: Message, *, incoming: bool) -> DialogId:
    """The id of the dialog ``message`` belongs to, from our side.

    For a request we received, our tag is in To; for a response to our request, in From.
    """
    if isinstance(message, Request) and incoming:
        return (message.call_id, message.to_addr.tag or "", message.from_addr.tag or "")
    return (message.call_id, message.from_addr.tag or "", message.to_addr.tag or "")


def _remote_target(message: Message, fallback: URI) -> URI:
    """The peer's Contact; an RFC 2543 peer may omit it, and then its address-of-record is all
    we have (RFC 4475 §3.4.1 asks us to accept such requests)."""
    contacts = message.contact
    if len(contacts) > 1:
        raise ParseError("a dialog-creating message may carry only one Contact")
    return contacts[0].uri if contacts else fallback


@dataclass
class Dialog:
    """The state RFC 3261 §12 keeps for a dialog: its identifiers, CSeqs and route set."""

    call_id: str
    local_tag: str
    remote_tag: str
    local_uri: str
    remote_uri: str
    remote_target: URI
    route_set: tuple[NameAddr, ...]
    local_contact: str
    local_cseq: int
    remote_cseq: int | None
    secure: bool = False
    state: DialogState = DialogState.EARLY
    #: Our role: True if we sent the INVITE (caller side).
    caller: bool = True

    @property
    def id(self) -> DialogId:
        return (self.call_id, self.local_tag, self.remote_tag)

    # -- creation ----------------------------------------------------------------------------

    @classmethod
    def as_caller(cls, invite: Request, response: Response) -> Dialog:
        """§12.1.2: from a 1xx (early) or 2xx (confirmed) with a To tag to our INVITE."""
        tag = response.to_addr.tag
        if not tag or response.status < 101 or response.status >= 300:
            raise UsageError("only a 101-299 response with a To tag creates a dialog")
        route = tuple(reversed(response.record_route))
        return cls(
            call_id=invite.call_id,
            local_tag=invite.from_addr.tag or "",
            remote_tag=tag,
            local_uri=invite.headers.get("From") or "",
            remote_uri=response.headers.get("To") or "",
            remote_target=_remote_target(response, response.to_addr.uri),
            route_set=route,
            local_contact=invite.headers.get("Contact") or "",
            local_cseq=invite.cseq.seq,
            remote_cseq=None,
            secure=isinstance(invite.uri, SipURI) and invite.uri.scheme == "sips",
            state=DialogState.CONFIRMED if response.status >= 200 else DialogState.EARLY,
            caller=True,
        )

    @classmethod
    def as_callee(cls, invite: Request, response: Response, initial_cseq: int) -> Dialog:
        """§12.1.1: from our 1xx/2xx (with our To tag) to an incoming INVITE.

        ``initial_cseq`` is our first CSeq for requests we send in the dialog (§8.1.1.5: a
        random value below 2**31, supplied by the caller's random source).
        """
        tag = response.to_addr.tag
        if not tag:
            raise UsageError("our response must carry our To tag")
        return cls(
            call_id=invite.call_id,
            local_tag=tag,
            remote_tag=invite.from_addr.tag or "",
            local_uri=response.headers.get("To") or "",
            remote_uri=invite.headers.get("From") or "",
            remote_target=_remote_target(invite, invite.from_addr.uri),
            route_set=invite.record_route,
            local_contact=response.headers.get("Contact") or "",
            local_cseq=initial_cseq,
            remote_cseq=invite.cseq.seq,
            secure=isinstance(invite.uri, SipURI) and invite.uri.scheme == "sips",
            state=DialogState.CONFIRMED if response.status >= 200 else DialogState.EARLY,
            caller=False,
        )

    # -- building requests -------------------------------------------------------------------

    def request_target(self) -> tuple[URI, tuple[str, ...]]:
        """Request-URI and Route values per §12.2.1.1 (loose, or strict-router fallback)."""
        if not self.route_set:
            return self.remote_target, ()
        first = self.route_set[0].uri
        if isinstance(first, SipURI) and first.has_param("lr"):
            return self.remote_target, tuple(str(r) for r in self.route_set)
        # Strict router: it becomes the Request-URI, the remote target the last Route.
        strict = first.without_headers() if isinstance(first, SipURI) else first
        routes = (*tuple(str(r) for r in self.route_set[1:]), f"<{self.remote_target}>")
        return strict, routes

    def next_hop(self) -> URI:
        """Where the request goes first (§8.1.2): the first route, else the remote target."""
        return self.route_set[0].uri if self.route_set else self.remote_target

    def create_request(
        self,
        method: str,
        via: Via,
        *,
        body: bytes = b"",
        headers: Iterable[tuple[str, str]] = (),
        cseq: int | None = None,
    ) -> Request:
        """A request within the dialog (§12.2.1.1). ACK and CANCEL do not advance the CSeq."""
        if self.state is DialogState.TERMINATED:
            raise UsageError("the dialog is terminated")
        if cseq is None:
            if method in ("ACK", "CANCEL"):
                cseq = self.local_cseq
            else:
                self.local_cseq += 1
                cseq = self.local_cseq
        uri, routes = self.request_target()
        fields: list[tuple[str, str]] = [("Via", str(via)), ("Max-Forwards", "70")]
        fields += [("Route", r) for r in routes]
        fields += [
            ("From", self.local_uri),
            ("To", self.remote_uri),
            ("Call-ID", self.call_id),
            ("CSeq", f"{cseq} {method}"),
        ]
        if method in TARGET_REFRESH and self.local_contact:
            fields.append(("Contact", self.local_contact))
        fields.extend(headers)
        return Request(method, uri, Headers(fields), body)

    def create_ack(
        self,
        invite_cseq: int,
        via: Via,
        *,
        body: bytes = b"",
        headers: Iterable[tuple[str, str]] = (),
    ) -> Request:
        """The ACK for a 2xx (§13.2.2.4): the INVITE's CSeq number, its own branch."""
        return self.create_request("ACK", via, body=body, headers=headers, cseq=invite_cseq)

    # -- receiving ---------------------------------------------------------------------------

    def receive_request(self, request: Request) -> int | None:
        """Check an in-dialog request (§12.2.2); returns an error status, or None if fine.

        A CSeq lower than the last one is out of order: 500 (and the request is not
        processed). A target-refresh request updates the remote target.
        """
        seq = request.cseq.seq
        if request.method not in ("ACK", "CANCEL"):
            if self.remote_cseq is not None and seq < self.remote_cseq:
                return 500
            self.remote_cseq = seq
        if request.method in TARGET_REFRESH and request.contact:
            self.remote_target = request.contact[0].uri
        return None

    def receive_response(self, response: Response) -> None:
        """A response to our request in this dialog: confirm, refresh the target."""
        method = response.cseq.method
        if 200 <= response.status < 300:
            if method == "INVITE":
                self.state = DialogState.CONFIRMED
            if method in TARGET_REFRESH and response.contact:
                self.remote_target = response.contact[0].uri
        elif response.status in (481, 408) and method != "INVITE":
            # §12.2.1.2: 481 or 408 to a request inside the dialog ends it.
            self.state = DialogState.TERMINATED

    def terminate(self) -> None:
        self.state = DialogState.TERMINATED
