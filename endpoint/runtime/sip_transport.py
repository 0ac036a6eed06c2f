"""SIP over UDP, TCP and TLS (RFC 3261 §18, §26) on asyncio: where SIP bytes meet sockets.

Datagrams and stream frames are parsed here and handed up as messages with their source; bytes
going down are sent as they are. TCP connections are reused both ways (a response goes back on
the connection its request came in on; requests to a peer reuse an open connection to it) and are
framed by Content-Length with ``StreamParser``; a framing error closes the connection, because
nothing after a broken frame can be trusted. A double-CRLF keep-alive ping gets its CRLF pong
(RFC 5626 §3.5.1). A message that fails to parse is counted and, for a request whose routing
header fields can still be read, answered 400 statelessly; everything else bad is dropped.

UDP is read from a non-blocking socket the loop watches (``add_reader``), as many datagrams as
are queued (up to ``UDP_BATCH``) per wake-up, and a datagram that does not even look like SIP
is dropped before any parsing: under a flood the per-datagram cost is what the media thread
pays for in waits for the GIL (issue 13 rule 9).

TLS is TCP with an ``ssl`` context: the same framing, the same reuse. The connection we open to
the registrar carries the calls it routes to us back (RFC 5626 flow reuse), so a device behind
NAT needs no open port; a TLS listener exists only with our own certificate (peer-to-peer).
Connections we open check the server's certificate against the name it was configured with
(``server_names``: address -> configured host name), never against the address alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from endpoint.media.stun import looks_like_stun
from endpoint.runtime.addresses import is_wildcard, mapped_for, unmapped
from endpoint.runtime.log_limit import LogLimiter
from endpoint.sip import ParseError, StreamParser, parse
from endpoint.sip.checks import error_response
from endpoint.sip.grammar import is_ip_literal
from endpoint.sip.message import Message

if TYPE_CHECKING:
    import ssl

log = logging.getLogger("endpoint.runtime.transport")

Address = tuple[str, int]
#: Called for every message received: (message, source address, "udp" | "tcp" | "tls").
Receiver = Callable[[Message, Address, str], None]

MAX_TCP_CONNECTIONS = 64
#: One source may hold this many of them (issue 13 rule 7: per-source connection limits).
MAX_TCP_PER_SOURCE = 8
TCP_IDLE_SECONDS = 300.0
#: At most this long waiting for the listener's connections to finish at shutdown.
CLOSE_SECONDS = 2.0
#: An accepted connection must bring a whole SIP message this soon after it opened or after
#: the last one; CRLF keep-alives do not count (a stranger's CRLF keeps nothing alive).
TCP_MESSAGE_SECONDS = 10.0
#: A message begun must be complete within this (a byte every few seconds is a slowloris).
TCP_PARTIAL_SECONDS = 10.0
#: A connection to the TLS listener must finish its handshake within this. The limits above
#: are checked before the handshake starts and count the connections still in it: with
#: asyncio's own TLS server the handshake (60 s allowed) came first, and one stranger could
#: hold hundreds of sockets, and the door's file descriptors, before any limit saw them.
TLS_HANDSHAKE_SECONDS = 5.0
#: Datagrams read per wake-up of the loop before it serves its other callbacks (and timers),
#: and the most time one wake-up spends on them: a burst of requests that are all served (a
#: source's saved-up rate, ~1 ms each) must not keep timers and TCP waiting for 100 ms.
UDP_BATCH = 64
UDP_BATCH_SECONDS = 0.002
#: Largest datagram read (a UDP payload cannot be longer).
UDP_MAX = 65535
#: What a datagram must start with to be worth parsing: a response's "SIP/2.0 " or a request
#: method token (RFC 3261 §25.1 token characters) and its space. Everything else, and whatever
#: lacks a CRLF, is junk dropped with one counter increment (issue 13 rule 9: a garbage flood
#: must cost the SIP loop, and the GIL the media thread needs, almost nothing).
_LOOKS_LIKE_SIP = re.compile(rb"SIP/2\.0 |[A-Za-z0-9.!%*_+`'~-]{1,64} ")


@dataclass
class TransportStats:
    """Counters of what the SIP transport received, answered and dropped, for status."""

    received: int = 0
    sent: int = 0
    malformed: int = 0
    answered_400: int = 0
    dropped: int = 0
    #: UDP requests dropped unparsed: their source was over its rate limit (``sheds``).
    shed: int = 0
    #: UDP datagrams dropped unparsed for not even looking like SIP (``_LOOKS_LIKE_SIP``).
    junk: int = 0
    #: TCP connections closed at accept (a stranger, or too many from one source or in all).
    refused: int = 0
    #: Accepted connections closed for bringing no whole message in time.
    timed_out: int = 0
    #: Accepted TLS connections closed for not completing the handshake (in time).
    handshakes_failed: int = 0
    tcp_connections: int = 0
    keepalives: int = 0
    last_error: str = ""


@dataclass
class _Connection:
    """One TCP or TLS connection and its peer, so that responses go back the way they came."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    peer: Address
    kind: str = "tcp"
    #: Opened by us (to a registrar, a proxy): its loss is the loss of the registered flow.
    #: Otherwise a peer opened it, and it is timed on whole messages.
    outbound: bool = False
    parser: StreamParser = field(default_factory=StreamParser)
    task: asyncio.Task[None] | None = None
    #: Monotonic time by which the next whole message must have come (accepted connections).
    message_by: float = 0.0
    #: When the message now being received began (None: nothing pending).
    partial_since: float | None = None


async def _bind_address(host: str, port: int) -> tuple[socket.AddressFamily, tuple[Any, ...]]:
    """The family and socket address to bind ``host:port`` to. An IP literal (the usual listen
    address) is converted here, without a lookup: asyncio's ``getaddrinfo`` would start its
    thread pool for it, one more thread in the process for the rest of its life (issue 19);
    a host name goes through the loop's resolver."""
    flags = socket.AI_PASSIVE | socket.AI_NUMERICHOST
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM, flags=flags)
    except socket.gaierror:
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_DGRAM, flags=socket.AI_PASSIVE)
    family, _, _, _, address = infos[0]
    return family, address  # as given: an IPv6 link-local address keeps its scope id


class SipTransport:
    """UDP plus TCP or TLS listening on one address; ``send`` picks the socket by transport name.

    With ``tls_server`` the stream listener on the port speaks TLS instead of plain TCP.
    ``tls_client`` is the context for TLS connections we open (None: "tls" cannot be sent)."""

    def __init__(
        self,
        host: str,
        port: int,
        receiver: Receiver,
        *,
        tcp: bool = True,
        on_error: Callable[[Address, str], None] | None = None,
        tls_client: ssl.SSLContext | None = None,
        tls_server: ssl.SSLContext | None = None,
        server_names: dict[str, str] | None = None,
        admits: Callable[[str], bool] | None = None,
        on_closed: Callable[[Address, str], None] | None = None,
        sheds: Callable[[bytes, str], bool] | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.receiver = receiver
        #: Told when a destination cannot be reached, so its transactions fail at once.
        self.on_error = on_error
        #: May this host talk to us at all (account mode: the registrar and our calls' peers)?
        #: Others get no stateless answer and no TCP connection (issue 13 rule 7).
        self.admits = admits or (lambda host: True)
        #: Should this UDP datagram from this host be dropped before it is even parsed (a
        #: flooder over its rate limit, and not about one of our calls)?
        self.sheds = sheds or (lambda data, host: False)
        #: Host names from the configuration that may be sent to (the registrar, the proxy);
        #: any other name came from the network and is never looked up (issue 13 rule 3).
        self.configured_names: frozenset[str] = frozenset()
        self.log_limit = LogLimiter()
        self.want_tcp = tcp
        #: Told when a connection we opened is closed by the peer or the network (RFC 5626
        #: §4.4.1: the registration over it must be renewed to keep receiving calls).
        self.on_closed = on_closed
        self._closing = False
        self.tls_client = tls_client
        self.tls_server = tls_server
        #: address -> the configured host name its certificate must carry (and SNI).
        self.server_names: dict[str, str] = dict(server_names or {})
        self.stats = TransportStats()
        self._udp: socket.socket | None = None
        #: Given the STUN answers to the UDP socket (``[nat] stun_server``); None: no STUN.
        self.stun_sink: Callable[[bytes, Address], None] | None = None
        self._family = socket.AF_INET
        self._server: asyncio.Server | None = None
        self._connections: dict[Address, _Connection] = {}
        #: The handlers of accepted connections still in their TLS handshake, and the host
        #: each came from.
        self._handshaking: dict[asyncio.Task[Any], str] = {}

    async def start(self) -> None:
        """Bind the sockets; raises OSError (e.g. address in use) for the caller to report."""
        loop = asyncio.get_running_loop()
        family, address = await _bind_address(self.host, self.port)
        udp = socket.socket(family, socket.SOCK_DGRAM)
        try:
            udp.setblocking(False)
            udp.bind(address)
        except OSError:
            udp.close()
            raise
        self._udp = udp
        self._family = family
        self.port = udp.getsockname()[1]
        loop.add_reader(udp.fileno(), self._udp_readable)
        # asyncio makes a listening IPv6 socket IPv6-only; for "::" (dual stack, like the UDP
        # socket) the stream listener binds both wildcards on the same port instead.
        hosts: str | list[str] = (
            ["0.0.0.0", "::"] if is_wildcard(self.host) and ":" in self.host else self.host
        )
        if self.tls_server is not None:
            # Plain TCP first: the limits are checked before the handshake (`_handshake`).
            self._server = await asyncio.start_server(self._accepted_tls, hosts, self.port)
        elif self.want_tcp:
            self._server = await asyncio.start_server(self._accepted, hosts, self.port)

    @property
    def local_address(self) -> Address:
        return (self.host, self.port)

    async def close(self) -> None:
        self._closing = True
        for conn in list(self._connections.values()):
            self._drop(conn)
            # A TLS close waits for the peer's close_notify, which a peer may never send;
            # stopping must not hang on it (Python 3.12+ waits for every server connection).
            conn.writer.transport.abort()
        # Cancelled, not aborted: asyncio's start_tls (3.11) fails on a transport aborted
        # under it; cancelled, it closes the socket itself.
        for task in list(self._handshaking):
            task.cancel()
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), CLOSE_SECONDS)
        if self._udp is not None:
            asyncio.get_running_loop().remove_reader(self._udp.fileno())
            self._udp.close()
            self._udp = None

    def send(self, data: bytes, destination: Address, transport: str = "udp") -> None:
        """Send without waiting. TCP and TLS connect first if nothing is open to ``destination``."""
        host = destination[0]
        if not is_ip_literal(host) and host not in self.configured_names:
            self.stats.dropped += 1
            if self.log_limit.allow("name") is not None:
                log.warning("not sending to %s: a name from the network is not looked up", host)
            return
        self.stats.sent += 1
        if transport in ("tcp", "tls"):
            conn = self._connections.get(destination)
            if conn is not None and conn.kind == transport and not conn.writer.is_closing():
                conn.writer.write(data)
                return
            asyncio.get_running_loop().create_task(
                self._connect_and_send(data, destination, transport)
            )
            return
        if self._udp is None:
            raise RuntimeError("transport not started")
        self._udp_send(data, destination)

    def send_stun(self, data: bytes, destination: Address) -> None:
        """A STUN request from the SIP UDP socket, whose public mapping it asks for."""
        self._udp_send(data, destination)

    def _udp_send(self, data: bytes, destination: Address) -> None:
        """Send one datagram now; a full socket buffer or an ICMP error loses it, as UDP may
        anyway (the transaction layer retransmits or times out)."""
        if self._udp is None:
            return
        try:
            self._udp.sendto(data, (mapped_for(self._family, destination[0]), destination[1]))
        except OSError as exc:
            self.stats.dropped += 1
            self.stats.last_error = str(exc)

    def _udp_readable(self) -> None:
        """Read what the socket holds, up to UDP_BATCH datagrams or UDP_BATCH_SECONDS, in one
        wake-up of the loop: one selector round and one callback per datagram was most of a
        flood's cost."""
        udp = self._udp
        until = time.monotonic() + UDP_BATCH_SECONDS
        for _ in range(UDP_BATCH):
            if udp is None or time.monotonic() > until:
                return  # the rest is read on the next wake-up (the socket is still readable)
            try:
                data, addr = udp.recvfrom(UDP_MAX)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # ICMP errors and friends: transactions time out on their own
                self.stats.last_error = str(exc)
                return
            sink = self.stun_sink
            if sink is not None and looks_like_stun(data):  # a STUN answer (RFC 7983 demux)
                sink(data, (unmapped(addr[0]), addr[1]))
            else:
                self._incoming(data, (unmapped(addr[0]), addr[1]), "udp", None)
            udp = self._udp  # a receiver may have closed the transport

    async def _connect_and_send(self, data: bytes, destination: Address, kind: str) -> None:
        host, port = destination
        name = self.server_names.get(host, host)
        try:
            if kind == "tls":
                if self.tls_client is None:
                    raise OSError("no TLS client context: [sip] transport is not tls")
                opening = asyncio.open_connection(
                    host, port, ssl=self.tls_client, server_hostname=name
                )
            else:
                opening = asyncio.open_connection(host, port)
            reader, writer = await asyncio.wait_for(opening, timeout=5)
        except (OSError, TimeoutError) as exc:
            self._connect_failed(destination, name, kind, exc)
            return
        conn = self._register(reader, writer, destination, kind=kind, outbound=True)
        conn.writer.write(data)

    def _connect_failed(
        self, destination: Address, name: str, kind: str, exc: OSError | TimeoutError
    ) -> None:
        """Log why a connection could not be opened; a TLS handshake says what to change."""
        host, port = destination
        # An SSLError means ssl is loaded: a process without TLS never imports it (issue 19).
        tls = sys.modules.get("ssl")
        if tls is not None and isinstance(exc, tls.SSLError):
            from endpoint.tls import describe_failure

            why = describe_failure(exc)
            self.stats.last_error = f"TLS to {name} ({host}:{port}): {why}"
            log.warning("TLS to %s (%s:%d) failed: %s", name, host, port, why)
        else:
            self.stats.last_error = f"{kind.upper()} to {host}:{port}: {exc}"
            log.warning("cannot connect to %s:%d over %s: %s", host, port, kind.upper(), exc)
        if self.on_error is not None:
            self.on_error(destination, kind)

    async def _accepted(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self._serve_accepted(reader, writer, "tcp")

    async def _accepted_tls(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        # A TLS close waits for the peer's close_notify, so at shutdown this handler may still
        # be reading when the loop cancels it: that is its end, not an error to log.
        with contextlib.suppress(asyncio.CancelledError):
            await self._serve_accepted(reader, writer, "tls")

    async def _serve_accepted(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, kind: str
    ) -> None:
        """A connection a peer opened (TCP or TLS): admitted only from a source we answer,
        within the per-source and total limits, and then timed on whole messages."""
        peer = writer.get_extra_info("peername")
        host = unmapped(str(peer[0]))
        from_host = sum(1 for address in self._connections if address[0] == host)
        from_host += sum(1 for other in self._handshaking.values() if other == host)
        reason = None
        if not self.admits(host):
            reason = "not a source we answer"
        elif len(self._connections) + len(self._handshaking) >= MAX_TCP_CONNECTIONS:
            reason = f"{MAX_TCP_CONNECTIONS} connections open"
        elif from_host >= MAX_TCP_PER_SOURCE:
            reason = f"{MAX_TCP_PER_SOURCE} connections open from it"
        if reason is not None:
            self.stats.refused += 1
            held = self.log_limit.allow("tcp-refused")
            if held is not None:
                log.warning(
                    "refusing %s connection from %s: %s (%d more refused before)",
                    kind.upper(),
                    host,
                    reason,
                    held,
                )
            writer.transport.abort()  # no FIN handshake, no buffered bytes: nothing for them
            return
        if kind == "tls" and not await self._handshake(writer, host):
            return
        conn = self._register(reader, writer, (host, int(peer[1])), start_reader=False, kind=kind)
        conn.message_by = time.monotonic() + TCP_MESSAGE_SECONDS
        await self._read_loop(conn)

    async def _handshake(self, writer: asyncio.StreamWriter, host: str) -> bool:
        """The server side of TLS on an admitted connection, within TLS_HANDSHAKE_SECONDS.
        Nothing has been read from it yet (this runs before the handler's first await), so
        the whole ClientHello reaches the handshake. False: it failed and the socket is shut."""
        assert self.tls_server is not None
        task = asyncio.current_task()
        assert task is not None
        self._handshaking[task] = host
        try:
            await writer.start_tls(self.tls_server, ssl_handshake_timeout=TLS_HANDSHAKE_SECONDS)
        except OSError as exc:  # ssl.SSLError, and the timeout's ConnectionAbortedError
            self.stats.handshakes_failed += 1
            held = self.log_limit.allow("tls-handshake")
            if held is not None:
                log.warning(
                    "TLS handshake with %s failed: %s (%d more failed before)",
                    host,
                    getattr(exc, "reason", None) or str(exc) or type(exc).__name__,
                    held,
                )
            writer.transport.abort()
            return False
        finally:
            del self._handshaking[task]
        return True

    def _register(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        peer: Address,
        *,
        start_reader: bool = True,
        kind: str = "tcp",
        outbound: bool = False,
    ) -> _Connection:
        conn = _Connection(reader, writer, peer, kind, outbound)
        old = self._connections.pop(peer, None)
        if old is not None:
            self._drop(old)  # replaced, not lost: no on_closed
        self._connections[peer] = conn
        self.stats.tcp_connections = len(self._connections)
        if start_reader:
            conn.task = asyncio.get_running_loop().create_task(self._read_loop(conn))
        return conn

    async def _read_loop(self, conn: _Connection) -> None:
        try:
            while True:
                wait = self._read_timeout(conn)
                if wait <= 0:
                    self.stats.timed_out += 1
                    break
                try:
                    data = await asyncio.wait_for(conn.reader.read(65536), wait)
                except TimeoutError:
                    if not conn.outbound:
                        continue  # the deadline is checked above
                    break
                if not data:
                    break
                self._incoming(data, conn.peer, conn.kind, conn)
                if conn.writer.is_closing():
                    break
        except (OSError, asyncio.IncompleteReadError):  # ssl.SSLError is an OSError
            pass  # a reset or a half message at close: the connection is over, nothing to log
        finally:
            current = self._connections.get(conn.peer) is conn
            self._drop(conn)
            if conn.outbound and current and not self._closing and self.on_closed is not None:
                log.info("%s connection to %s:%d closed", conn.kind.upper(), *conn.peer)
                self.on_closed(conn.peer, conn.kind)

    def _read_timeout(self, conn: _Connection) -> float:
        """Seconds the next read may wait. A connection we opened may idle TCP_IDLE_SECONDS;
        one we accepted must bring whole messages in time (TCP_MESSAGE_SECONDS after the
        last, TCP_PARTIAL_SECONDS for one begun), whatever trickles in between."""
        if conn.outbound:
            return TCP_IDLE_SECONDS
        now = time.monotonic()
        deadline = conn.message_by
        if conn.partial_since is not None:
            deadline = min(deadline, conn.partial_since + TCP_PARTIAL_SECONDS)
        return deadline - now

    def _drop(self, conn: _Connection) -> None:
        """Forget and close ``conn``; the read loop's end tells ``on_closed`` (once)."""
        if self._connections.get(conn.peer) is conn:
            del self._connections[conn.peer]
        self.stats.tcp_connections = len(self._connections)
        conn.writer.close()

    def _incoming(self, data: bytes, source: Address, kind: str, conn: _Connection | None) -> None:
        if conn is None:
            messages = self._datagram(data, source, kind)
        else:
            messages = self._stream(data, source, kind, conn)
        for message in messages:
            self.stats.received += 1
            self.receiver(message, source, kind)

    def _datagram(self, data: bytes, source: Address, kind: str) -> list[Message]:
        """One UDP datagram: a keep-alive (answered), shed before parsing, or one message."""
        if data in (b"\r\n\r\n", b"\r\n"):
            self.stats.keepalives += 1
            if data == b"\r\n\r\n":
                self._udp_send(b"\r\n", source)
            return []
        if _LOOKS_LIKE_SIP.match(data) is None or b"\r\n" not in data:
            self.stats.junk += 1
            return []
        if self.sheds(data, source[0]):
            self.stats.shed += 1
            return []
        try:
            return [parse(data)]
        except ParseError as exc:
            self._malformed(data, exc, source, kind, None)
        except Exception as exc:  # a parser bug: the datagram is dropped, the loop lives
            self._malformed(
                data, ParseError(f"unparseable ({type(exc).__name__})"), source, kind, None
            )
        return []

    def _stream(self, data: bytes, source: Address, kind: str, conn: _Connection) -> list[Message]:
        """Bytes of a TCP/TLS connection: the messages they complete; its idle clocks move."""
        try:
            messages = conn.parser.feed(data)
        except Exception as exc:  # ParseError, or a parser bug: the stream is lost either way
            error = (
                exc
                if isinstance(exc, ParseError)
                else ParseError(f"unparseable ({type(exc).__name__})")
            )
            self._malformed(data, error, source, kind, conn)
            conn.writer.close()
            return []
        if conn.parser.pong_due:
            conn.parser.pong_due = False
            self.stats.keepalives += 1
            conn.writer.write(b"\r\n")
        now = time.monotonic()
        if messages:
            conn.message_by = now + TCP_IDLE_SECONDS
            conn.partial_since = None  # a message completed: what is left began now
        if conn.parser.pending == 0:
            conn.partial_since = None
        elif conn.partial_since is None:
            conn.partial_since = now
        return messages

    def _malformed(
        self, data: bytes, exc: ParseError, source: Address, kind: str, conn: _Connection | None
    ) -> None:
        self.stats.malformed += 1
        self.stats.last_error = f"{source[0]}:{source[1]}: {exc.reason}"
        admitted = self.admits(source[0])
        held = self.log_limit.allow("malformed" if admitted else "malformed-stranger")
        if held is not None:
            log.info(
                "malformed SIP from %s:%d over %s: %s (%d more not logged before)",
                source[0],
                source[1],
                kind,
                exc.reason,
                held,
            )
        answer = error_response(data, exc) if admitted else None
        if answer is None:
            self.stats.dropped += 1
            return
        self.stats.answered_400 += 1
        if conn is not None:
            conn.writer.write(answer)
        else:
            self._udp_send(answer, source)
