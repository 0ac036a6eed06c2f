"""SIP over UDP and TCP (RFC 3261 §18), on asyncio: the only place SIP bytes meet sockets.

Datagrams and stream frames are parsed here and handed up as messages with their source; bytes
going down are sent as they are. TCP connections are reused both ways (a response goes back on
the connection its request came in on; requests to a peer reuse an open connection to it) and are
framed by Content-Length with ``StreamParser``; a framing error closes the connection, because
nothing after a broken frame can be trusted. A double-CRLF keep-alive ping gets its CRLF pong
(RFC 5626 §3.5.1). A message that fails to parse is counted and, for a request whose routing
header fields can still be read, answered 400 statelessly; everything else bad is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from endpoint.sip import ParseError, StreamParser, parse
from endpoint.sip.checks import error_response
from endpoint.sip.message import Message

log = logging.getLogger("endpoint.runtime.transport")

Address = tuple[str, int]
#: Called for every message received: (message, source address, "udp" | "tcp").
Receiver = Callable[[Message, Address, str], None]

MAX_TCP_CONNECTIONS = 64
TCP_IDLE_SECONDS = 300.0


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
    parser: StreamParser = field(default_factory=StreamParser)
    task: asyncio.Task[None] | None = None


class SipTransport:
    """UDP and/or TCP listening on one address; ``send`` picks the socket by transport name."""

    def __init__(
        self,
        host: str,
        port: int,
        receiver: Receiver,
        *,
        tcp: bool = True,
        on_error: Callable[[Address, str], None] | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.receiver = receiver
        #: Told when a destination cannot be reached, so its transactions fail at once.
        self.on_error = on_error
        self.want_tcp = tcp
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
        if self.want_tcp:
            self._server = await asyncio.start_server(self._accepted, self.host, self.port)

    @property
    def local_address(self) -> Address:
        return (self.host, self.port)

    async def close(self) -> None:
        for conn in list(self._connections.values()):
            self._drop(conn)
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
        if self._udp is not None:
            self._udp.close()

    def send(self, data: bytes, destination: Address, transport: str = "udp") -> None:
        """Send without waiting. TCP opens a connection if none is open to ``destination``."""
        self.stats.sent += 1
        if transport == "tcp":
            conn = self._connections.get(destination)
            if conn is not None and not conn.writer.is_closing():
                conn.writer.write(data)
                return
            asyncio.get_running_loop().create_task(self._connect_and_send(data, destination))
            return
        if self._udp is None:
            raise RuntimeError("transport not started")
        self._udp.sendto(data, destination)

    async def _connect_and_send(self, data: bytes, destination: Address) -> None:
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(destination[0], destination[1]), timeout=5
            )
        except (OSError, TimeoutError) as exc:
            self.stats.last_error = f"TCP to {destination[0]}:{destination[1]}: {exc}"
            log.warning("cannot connect to %s:%d over TCP: %s", *destination, exc)
            if self.on_error is not None:
                self.on_error(destination, "tcp")
            return
        conn = self._register(reader, writer, destination)
        conn.writer.write(data)

    async def _accepted(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        if len(self._connections) >= MAX_TCP_CONNECTIONS:
            log.warning("refusing TCP connection from %s: %d open", peer, MAX_TCP_CONNECTIONS)
            writer.close()
            return
        conn = self._register(reader, writer, (peer[0], peer[1]), start_reader=False)
        await self._read_loop(conn)

    def _register(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        peer: Address,
        *,
        start_reader: bool = True,
    ) -> _Connection:
        conn = _Connection(reader, writer, peer)
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
                self._incoming(data, conn.peer, "tcp", conn)
                if conn.writer.is_closing():
                    break
        except (OSError, TimeoutError, asyncio.IncompleteReadError):
            pass
        finally:
            self._drop(conn)

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
            except Exception as exc:  # a parser bug: the datagram is dropped, the loop lives
                self._malformed(
                    data, ParseError(f"unparseable ({type(exc).__name__})"), source, kind, None
                )
                return
        else:
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
