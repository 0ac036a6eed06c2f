"""SIP over UDP, TCP and TLS (RFC 3261 §18, §26) on asyncio: where SIP bytes meet sockets.

Datagrams and stream frames are parsed here and handed up as messages with their source; bytes
going down are sent as they are. TCP connections are reused both ways (a response goes back on
the connection its request came in on; requests to a peer reuse an open connection to it) and are
framed by Content-Length with ``StreamParser``; a framing error closes the connection, because
nothing after a broken frame can be trusted. A double-CRLF keep-alive ping gets its CRLF pong
(RFC 5626 §3.5.1). A message that fails to parse is counted and, for a request whose routing
header fields can still be read, answered 400 statelessly; everything else bad is dropped.

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
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field

from endpoint.sip import ParseError, StreamParser, parse
from endpoint.sip.checks import error_response
from endpoint.sip.message import Message
from endpoint.tls import describe_failure

log = logging.getLogger("endpoint.runtime.transport")

Address = tuple[str, int]
#: Called for every message received: (message, source address, "udp" | "tcp" | "tls").
Receiver = Callable[[Message, Address, str], None]

MAX_TCP_CONNECTIONS = 64
TCP_IDLE_SECONDS = 300.0
#: At most this long waiting for the listener's connections to finish at shutdown.
CLOSE_SECONDS = 2.0


@dataclass
class TransportStats:
    received: int = 0
    sent: int = 0
    malformed: int = 0
    answered_400: int = 0
    dropped: int = 0
    tcp_connections: int = 0
    keepalives: int = 0
    last_error: str = ""


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, transport: SipTransport) -> None:
        self.owner = transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.owner._incoming(data, (addr[0], addr[1]), "udp", None)

    def error_received(self, exc: Exception) -> None:
        # ICMP port unreachable and friends: the transaction layer times out on its own.
        self.owner.stats.last_error = str(exc)


@dataclass
class _Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    peer: Address
    kind: str = "tcp"
    #: Opened by us (to a registrar, a proxy): its loss is the loss of the registered flow.
    outbound: bool = False
    parser: StreamParser = field(default_factory=StreamParser)
    task: asyncio.Task[None] | None = None


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
        on_closed: Callable[[Address, str], None] | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.receiver = receiver
        #: Told when a destination cannot be reached, so its transactions fail at once.
        self.on_error = on_error
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
        self._udp: asyncio.DatagramTransport | None = None
        self._server: asyncio.Server | None = None
        self._connections: dict[Address, _Connection] = {}

    async def start(self) -> None:
        """Bind the sockets; raises OSError (e.g. address in use) for the caller to report."""
        loop = asyncio.get_running_loop()
        udp, _ = await loop.create_datagram_endpoint(
            lambda: _Udp(self), local_addr=(self.host, self.port)
        )
        self._udp = udp
        self.port = udp.get_extra_info("sockname")[1]
        if self.tls_server is not None:
            self._server = await asyncio.start_server(
                self._accepted_tls, self.host, self.port, ssl=self.tls_server
            )
        elif self.want_tcp:
            self._server = await asyncio.start_server(self._accepted, self.host, self.port)

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
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), CLOSE_SECONDS)
        if self._udp is not None:
            self._udp.close()

    def send(self, data: bytes, destination: Address, transport: str = "udp") -> None:
        """Send without waiting. TCP and TLS connect first if nothing is open to ``destination``."""
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
        self._udp.sendto(data, destination)

    async def _connect_and_send(self, data: bytes, destination: Address, kind: str) -> None:
        host, port = destination
        name = self.server_names.get(host, host)
        try:
            if kind == "tls":
                if self.tls_client is None:
                    raise ssl.SSLError("no TLS client context: [sip] transport is not tls")
                opening = asyncio.open_connection(
                    host, port, ssl=self.tls_client, server_hostname=name
                )
            else:
                opening = asyncio.open_connection(host, port)
            reader, writer = await asyncio.wait_for(opening, timeout=5)
        except ssl.SSLError as exc:
            why = describe_failure(exc)
            self.stats.last_error = f"TLS to {name} ({host}:{port}): {why}"
            log.warning("TLS to %s (%s:%d) failed: %s", name, host, port, why)
            if self.on_error is not None:
                self.on_error(destination, kind)
            return
        except (OSError, TimeoutError) as exc:
            self.stats.last_error = f"{kind.upper()} to {host}:{port}: {exc}"
            log.warning("cannot connect to %s:%d over %s: %s", host, port, kind.upper(), exc)
            if self.on_error is not None:
                self.on_error(destination, kind)
            return
        conn = self._register(reader, writer, destination, kind=kind, outbound=True)
        conn.writer.write(data)

    async def _accepted(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        if len(self._connections) >= MAX_TCP_CONNECTIONS:
            log.warning("refusing TCP connection from %s: %d open", peer, MAX_TCP_CONNECTIONS)
            writer.close()
            return
        conn = self._register(reader, writer, (peer[0], peer[1]), start_reader=False)
        await self._read_loop(conn)

    async def _accepted_tls(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        peer = writer.get_extra_info("peername")
        if len(self._connections) >= MAX_TCP_CONNECTIONS:
            log.warning("refusing TLS connection from %s: %d open", peer, MAX_TCP_CONNECTIONS)
            writer.close()
            return
        conn = self._register(reader, writer, (peer[0], peer[1]), start_reader=False, kind="tls")
        # A TLS close waits for the peer's close_notify, so at shutdown this handler may still
        # be reading when the loop cancels it: that is its end, not an error to log.
        with contextlib.suppress(asyncio.CancelledError):
            await self._read_loop(conn)

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
        old = self._connections.get(peer)
        if old is not None:
            self._drop(old)
        self._connections[peer] = conn
        self.stats.tcp_connections = len(self._connections)
        if start_reader:
            conn.task = asyncio.get_running_loop().create_task(self._read_loop(conn))
        return conn

    async def _read_loop(self, conn: _Connection) -> None:
        try:
            while True:
                data = await asyncio.wait_for(conn.reader.read(65536), TCP_IDLE_SECONDS)
                if not data:
                    break
                self._incoming(data, conn.peer, conn.kind, conn)
                if conn.writer.is_closing():
                    break
        except (OSError, TimeoutError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        finally:
            current = self._connections.get(conn.peer) is conn
            self._drop(conn)
            if conn.outbound and current and not self._closing and self.on_closed is not None:
                log.info("%s connection to %s:%d closed", conn.kind.upper(), *conn.peer)
                self.on_closed(conn.peer, conn.kind)

    def _drop(self, conn: _Connection) -> None:
        if self._connections.get(conn.peer) is conn:
            del self._connections[conn.peer]
        self.stats.tcp_connections = len(self._connections)
        conn.writer.close()

    def _incoming(self, data: bytes, source: Address, kind: str, conn: _Connection | None) -> None:
        if conn is None:
            if data in (b"\r\n\r\n", b"\r\n"):
                self.stats.keepalives += 1
                if data == b"\r\n\r\n" and self._udp is not None:
                    self._udp.sendto(b"\r\n", source)
                return
            try:
                messages = [parse(data)]
            except ParseError as exc:
                self._malformed(data, exc, source, kind, None)
                return
        else:
            try:
                messages = conn.parser.feed(data)
            except ParseError as exc:
                self._malformed(data, exc, source, kind, conn)
                conn.writer.close()
                return
            if conn.parser.pong_due:
                conn.parser.pong_due = False
                self.stats.keepalives += 1
                conn.writer.write(b"\r\n")
        for message in messages:
            self.stats.received += 1
            self.receiver(message, source, kind)

    def _malformed(
        self, data: bytes, exc: ParseError, source: Address, kind: str, conn: _Connection | None
    ) -> None:
        self.stats.malformed += 1
        self.stats.last_error = f"{source[0]}:{source[1]}: {exc.reason}"
        log.info("malformed SIP from %s:%d over %s: %s", source[0], source[1], kind, exc.reason)
        answer = error_response(data, exc)
        if answer is None:
            self.stats.dropped += 1
            return
        self.stats.answered_400 += 1
        if conn is not None:
            conn.writer.write(answer)
        elif self._udp is not None:
            self._udp.sendto(answer, source)
