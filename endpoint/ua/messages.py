"""``ctl message``: a SIP MESSAGE (RFC 3428) from the door, sans-IO.

To the peer of the call in progress it goes inside the dialog (the same Call-ID, From and To,
routed like the call's own requests); to anyone else out of dialog, the way our calls go
(through the outbound proxy or registrar when an account is configured). A 401/407 is answered
with the account's credentials only for a configured realm (issue 13 rule 11) and only twice:
a proxy that keeps challenging does not get our password again and again.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from endpoint.config import Config
from endpoint.sip import Headers, ParseError, Request, Response, parse_uri
from endpoint.sip.dialog import Dialog
from endpoint.sip.digest import DigestError
from endpoint.sip.headers import NameAddr, Via
from endpoint.sip.transaction import TransactionLayer, new_branch
from endpoint.sip.uri import SipURI, hop_transport, uri_host
from endpoint.ua.configured import account_digest
from endpoint.ua.events import Notice, TextMessageFailed, TextMessageSent
from endpoint.ua.registration import LocalAddress
from endpoint.ua.session import Session, next_hop

#: RFC 3428 §8: a MESSAGE over UDP stays well below the path MTU; 1300 bytes of text is the cap.
MAX_TEXT_BYTES = 1300
MAX_CHALLENGES = 2
CONTENT_TYPE = ("Content-Type", "text/plain;charset=UTF-8")


class MessageRefusedError(ValueError):
    """Local misuse: the text or the target cannot be sent (the control client shows why)."""


@dataclass
class _Pending:
    """A MESSAGE we sent and are waiting an answer for, kept to retry it with credentials."""

    request: Request
    target: str
    destination: tuple[str, int]
    transport: str
    #: The call's dialog for an in-dialog MESSAGE: a retry takes its next CSeq.
    dialog: Dialog | None = None
    challenges: int = 0


def text_body(text: str) -> bytes:
    """The body for ``text``: UTF-8, not empty, at most MAX_TEXT_BYTES."""
    body = text.encode("utf-8")
    if not body.strip():
        raise MessageRefusedError("the message is empty")
    if len(body) > MAX_TEXT_BYTES:
        raise MessageRefusedError(f"the message is {len(body)} bytes; at most {MAX_TEXT_BYTES}")
    return body


def same_party(dialog_remote: str, target: SipURI) -> bool:
    """Is ``target`` (user and host) the party at the other end of a dialog?"""
    try:
        remote = NameAddr.parse(dialog_remote).uri
    except (ParseError, ValueError):
        return False
    return (
        isinstance(remote, SipURI)
        and remote.user == target.user
        and remote.bare_host.lower() == target.bare_host.lower()
    )


class OutgoingMessages:
    """MESSAGE requests in flight, by transaction; ``events`` carries the outcome notices."""

    def __init__(
        self,
        config: Config,
        local: LocalAddress,
        tx: TransactionLayer,
        rng: random.Random,
        resolve: Callable[[str], str],
        *,
        port_of: Callable[[str, int], int],
    ) -> None:
        self.config = config
        self.local = local
        self.tx = tx
        self.rng = rng
        self.resolve = resolve
        self.port_of = port_of
        self.digest = account_digest(config.account, rng)
        self.pending: dict[str, _Pending] = {}
        self.events: list[Notice] = []

    def send(self, target: SipURI, text: str, session: Session | None, now: float) -> bool:
        """Send ``text`` to ``target``: in ``session``'s dialog when it is up to that party,
        else out of dialog. Raises MessageRefusedError; returns True when it went in the dialog."""
        body = text_body(text)
        if (
            session is not None
            and session.ended is None
            and same_party(session.dialog.remote_uri, target)
        ):
            request = session.dialog.create_request(
                "MESSAGE", self._via(), headers=[CONTENT_TYPE], body=body
            )
            hop = next_hop(session.dialog, self.resolve, self.local.transport)
            if hop is None:
                raise MessageRefusedError("the call's peer gave no address for requests")
            self._send(_Pending(request, str(target), *hop, dialog=session.dialog), now)
            return True
        request = self._out_of_dialog(target, body)
        destination, transport = self._route(target)
        self._send(_Pending(request, str(target), destination, transport), now)
        return False

    def _out_of_dialog(self, target: SipURI, body: bytes) -> Request:
        account = self.config.account
        if account is not None:
            sender = f"<sip:{account.user}@{uri_host(account.domain)}>"
        else:
            sender = f"<sip:door@{uri_host(self.local.host)}:{self.local.port}>"
        fields = [
            ("Via", str(self._via())),
            ("Max-Forwards", "70"),
            ("From", f"{sender};tag={self.rng.getrandbits(48):012x}"),
            ("To", f"<{target}>"),
            ("Call-ID", f"{self.rng.getrandbits(96):024x}"),
            ("CSeq", "1 MESSAGE"),
            ("User-Agent", self.config.sip.user_agent),
            CONTENT_TYPE,
        ]
        if account is not None and account.outbound_proxy:
            fields.insert(2, ("Route", f"<{account.outbound_proxy};lr>"))
        return Request("MESSAGE", target, Headers(fields), body)

    def _route(self, target: SipURI) -> tuple[tuple[str, int], str]:
        """Like our calls: the outbound proxy, else the registrar, else the target itself."""
        account = self.config.account
        hop_text = (account.outbound_proxy or account.registrar) if account else None
        hop = parse_uri(hop_text) if hop_text else target
        if not isinstance(hop, SipURI):
            hop = target
        port, transport = hop_transport(hop, self.local.transport)
        if hop.port is None:
            port = self.port_of(hop.bare_host, port)
        return (self.resolve(hop.bare_host), port), transport

    def _via(self) -> Via:
        return Via(
            self.local.transport.upper(),
            self.local.host,
            self.local.port,
            (("branch", new_branch(self.rng)), ("rport", None)),
        )

    def _send(self, pending: _Pending, now: float) -> None:
        key = self.tx.send_request(pending.request, pending.destination, pending.transport, now)
        self.pending[key] = pending

    def owns(self, transaction: str) -> bool:
        return transaction in self.pending

    def on_response(self, transaction: str, response: Response, now: float) -> None:
        if response.status < 200:
            return
        pending = self.pending.pop(transaction, None)
        if pending is None:
            return
        if response.status < 300:
            self.events.append(TextMessageSent(to=pending.target, status=response.status))
        elif response.status in (401, 407) and self._challenged(pending, response, now):
            return
        else:
            self._failed(pending, f"{response.status} {response.reason}")

    def on_failure(self, transaction: str, now: float) -> None:
        pending = self.pending.pop(transaction, None)
        if pending is not None:
            self._failed(pending, "no answer (timeout)")

    def _failed(self, pending: _Pending, reason: str) -> None:
        self.events.append(TextMessageFailed(to=pending.target, reason=reason))

    def _challenged(self, pending: _Pending, response: Response, now: float) -> bool:
        """The MESSAGE again with credentials, if the realm is configured; False if not."""
        if self.digest is None or pending.challenges >= MAX_CHALLENGES:
            return False
        status = response.status
        header = "WWW-Authenticate" if status == 401 else "Proxy-Authenticate"
        answered = "Authorization" if status == 401 else "Proxy-Authorization"
        request = pending.request
        try:
            auth = self.digest.answer(
                response.headers.rows(header),
                status,
                "MESSAGE",
                str(request.uri),
                sent=request.headers.rows(answered),
            )
        except DigestError:
            return False
        seq = request.cseq.seq + 1
        if pending.dialog is not None:
            pending.dialog.local_cseq += 1  # the dialog's next request must count past it
            seq = pending.dialog.local_cseq
        fields = [("Via", str(self._via()))]
        fields += [
            (name, value)
            for name, value in request.headers
            if name.lower() not in ("via", "cseq", "authorization", "proxy-authorization")
        ]
        fields += [("CSeq", f"{seq} MESSAGE"), *auth]
        pending.request = Request("MESSAGE", request.uri, Headers(fields), request.body)
        pending.challenges += 1
        self._send(pending, now)
        return True
