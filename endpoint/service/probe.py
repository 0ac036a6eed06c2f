"""Asking the registrar from ``sip-endpoint doctor``: OPTIONS, then a REGISTER with credentials.

A small blocking driver around the sans-IO transaction layer (retransmissions, Timer F), with
its own socket on an ephemeral port, so the check works while the service holds 5060. The
REGISTER carries no Contact: RFC 3261 §10.2.3 makes that a query of the bindings, so the
registrar checks the credentials and changes nothing. A 401/403 after our credentials means a
wrong user or password; an answer to OPTIONS at all means the registrar is reachable.
"""

from __future__ import annotations

import asyncio
import random
import secrets
import socket
import ssl
import time
from dataclasses import dataclass

from endpoint.config import AccountSettings, SipSettings
from endpoint.runtime.resolver import Lookup, Resolver
from endpoint.sip import Headers, ParseError, Request, Response, StreamParser, parse, parse_uri
from endpoint.sip.digest import DigestClient, DigestError
from endpoint.sip.transaction import (
    ResponseReceived,
    TransactionLayer,
    TransactionTimeout,
    TransportError,
    new_branch,
)
from endpoint.sip.uri import SipURI, hop_transport, uri_host
from endpoint.tls import describe_failure
from endpoint.ua.configured import account_realms


class ProbeError(Exception):
    """The registrar could not be asked at all (name, socket); the message says why."""


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """What the registrar said: the status line of each answer, or why there was none."""

    options: str | None
    register: str | None
    #: "accepted", "rejected" (wrong credentials), "no-answer", or "other".
    verdict: str


class _Wire:
    def __init__(
        self,
        transport: str,
        server: tuple[str, int],
        timeout: float,
        tls: tuple[ssl.SSLContext, str] | None = None,
    ) -> None:
        self.transport = transport
        family = socket.AF_INET6 if ":" in server[0] else socket.AF_INET
        kind = socket.SOCK_DGRAM if transport == "udp" else socket.SOCK_STREAM
        sock = socket.socket(family, kind)
        sock.settimeout(timeout)
        self.stream = StreamParser()
        #: The kernel reported "port unreachable": nothing listens at the server's port.
        self.refused = False
        try:
            sock.connect(server)  # UDP too: the kernel picks our address towards the server
            if transport == "tls":
                if tls is None:
                    raise ssl.SSLError("no TLS context: [sip] transport is not tls")
                context, name = tls
                sock = context.wrap_socket(sock, server_hostname=name)
        except OSError:
            sock.close()
            raise
        self.sock: socket.socket = sock
        self.local: tuple[str, int] = self.sock.getsockname()[:2]

    def send(self, data: bytes) -> None:
        if self.transport == "udp":
            try:
                self.sock.send(data)
            except ConnectionRefusedError:  # an earlier ICMP port unreachable
                self.refused = True
        else:
            self.sock.sendall(data)

    def receive(self, timeout: float) -> list[Response]:
        self.sock.settimeout(max(timeout, 0.001))
        try:
            data = self.sock.recv(65535)
        except TimeoutError:
            return []
        except ConnectionRefusedError:  # ICMP port unreachable on UDP
            self.refused = True
            return []
        try:
            messages = self.stream.feed(data) if self.transport != "udp" else [parse(data)]
        except ParseError:
            return []
        return [m for m in messages if isinstance(m, Response)]

    def close(self) -> None:
        self.sock.close()


class RegistrarProbe:
    """One account's registrar, asked over a fresh socket; ``run()`` returns the result."""

    def __init__(
        self,
        account: AccountSettings,
        sip: SipSettings,
        timeout: float = 5.0,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        """``sip``: its transport, and its DNS servers for RFC 3263."""
        self.account = account
        self.dns_servers = sip.dns_servers
        transport = sip.transport
        self.tls = tls
        self.timeout = timeout
        self.rng = random.Random(secrets.randbits(64))
        target = parse_uri(account.outbound_proxy or account.registrar)
        registrar = parse_uri(account.registrar)
        if not isinstance(target, SipURI) or not isinstance(registrar, SipURI):
            raise ProbeError(f"{account.registrar} is not a sip: URI")
        self.port, self.transport = hop_transport(target, transport)
        self.host = target.bare_host
        self.explicit_port = target.port is not None
        self.request_uri = registrar if registrar.bare_host == account.domain else None
        #: Our address as the socket to the registrar has it (for Via).
        self._local: tuple[str, int] = ("0.0.0.0", 0)
        self._from_tag = f"{self.rng.getrandbits(32):08x}"

    def _server(self) -> tuple[str, int]:
        """Where the endpoint itself would send: the one RFC 3263 resolver of the runtime
        (NAPTR, SRV, A/AAAA through ``[sip] dns_servers``), its first target."""
        resolver = Resolver()
        resolver.use_servers(self.dns_servers)
        lookup = Lookup(self.host, self.explicit_port, self.transport)
        target = asyncio.run(resolver.target(lookup))
        if target is None:
            raise ProbeError(f"cannot resolve {self.host} (NAPTR, SRV, A/AAAA)")
        return target.address, target.port or self.port

    def run(self) -> ProbeResult:
        server = self._server()
        try:
            tls = (self.tls, self.host) if self.tls is not None else None
            wire = _Wire(self.transport, server, self.timeout, tls)
        except ssl.SSLError as exc:
            raise ProbeError(
                f"TLS to {self.host} ({server[0]}:{server[1]}): {describe_failure(exc)}"
            ) from None
        except OSError as exc:
            raise ProbeError(
                f"cannot reach {server[0]}:{server[1]} over {self.transport}: {exc}"
            ) from None
        self._local = wire.local
        try:
            result = self._ask(wire, server)
        except OSError as exc:
            raise ProbeError(f"{server[0]}:{server[1]} over {self.transport}: {exc}") from None
        finally:
            wire.close()
        if wire.refused and result.verdict == "no-answer":
            raise ProbeError(
                f"nothing listens at {server[0]}:{server[1]} ({self.transport}: port unreachable)"
            )
        return result

    def _ask(self, wire: _Wire, server: tuple[str, int]) -> ProbeResult:
        layer = TransactionLayer()
        call_id = f"doctor-{self.rng.getrandbits(64):016x}@{wire.local[0]}"
        options = self._exchange(layer, wire, server, self._request("OPTIONS", 1, call_id, ()))
        if options is None and wire.refused:
            return ProbeResult(None, None, "no-answer")
        digest = DigestClient(
            self.account.auth_user,
            self.account.password,
            self.rng,
            allowed_realms=account_realms(self.account),
        )
        auth: tuple[tuple[str, str], ...] = ()
        register: Response | None = None
        for cseq in range(2, 6):
            register = self._exchange(
                layer, wire, server, self._request("REGISTER", cseq, call_id, auth)
            )
            if register is None or register.status not in (401, 407):
                break
            header = "WWW-Authenticate" if register.status == 401 else "Proxy-Authenticate"
            try:
                auth = tuple(
                    digest.answer(
                        register.headers.rows(header),
                        register.status,
                        "REGISTER",
                        str(self._uri()),
                        sent=[value for _, value in auth],
                    )
                )
            except DigestError:
                # Our answer to this very challenge was refused: the credentials are wrong.
                return ProbeResult(_line(options), _line(register), "rejected")
        if register is None:
            verdict = "no-answer"
        elif 200 <= register.status < 300:
            verdict = "accepted"
        elif register.status == 403 and auth:
            verdict = "rejected"
        else:
            verdict = "other"
        return ProbeResult(_line(options), _line(register), verdict)

    def _uri(self) -> SipURI:
        return self.request_uri or SipURI("sip", uri_host(self.account.domain))

    def _request(
        self, method: str, cseq: int, call_id: str, auth: tuple[tuple[str, str], ...]
    ) -> Request:
        a = self.account
        host, port = self._local
        host = f"[{host}]" if ":" in host else host
        aor = f"sip:{a.user}@{uri_host(a.domain)}"
        branch = new_branch(self.rng)
        fields = [
            ("Via", f"SIP/2.0/{self.transport.upper()} {host}:{port};rport;branch={branch}"),
            ("Max-Forwards", "70"),
            ("From", f"<{aor}>;tag={self._from_tag}"),
            ("To", f"<{aor}>"),
            ("Call-ID", call_id),
            ("CSeq", f"{cseq} {method}"),
            ("User-Agent", "sip-endpoint-doctor"),
        ]
        if a.outbound_proxy:
            fields.append(("Route", f"<{a.outbound_proxy};lr>"))
        fields += auth
        return Request(method, self._uri(), Headers(fields))

    def _exchange(
        self, layer: TransactionLayer, wire: _Wire, server: tuple[str, int], request: Request
    ) -> Response | None:
        """Send through the transaction layer; the final response, or None (Timer F)."""
        now = time.monotonic()
        key = layer.send_request(request, server, self.transport, now)
        deadline = now + self.timeout
        while True:
            for out in layer.datagrams_to_send():
                wire.send(out.data)
            for event in layer.events():
                if isinstance(event, ResponseReceived) and event.transaction == key:
                    if event.response.status >= 200:
                        return event.response
                elif isinstance(event, TransactionTimeout | TransportError):
                    return None
            now = time.monotonic()
            if now >= deadline:
                return None
            timer = layer.get_timer()
            wait = min(deadline, timer if timer is not None else deadline) - now
            for response in wire.receive(wait):
                layer.receive(response, server, self.transport, time.monotonic())
            timer = layer.get_timer()
            if timer is not None and timer <= time.monotonic():
                layer.handle_timer(time.monotonic())


def _line(response: Response | None) -> str | None:
    return None if response is None else f"{response.status} {response.reason}"
