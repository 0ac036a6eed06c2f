"""A live SIP fuzzer: real peers' messages, mutated, sent to the running endpoint.

The seeds are the messages baresip and Kamailio sent in our interop runs
(``tests/sip/traffic``). Each fuzzed message is one seed with one to three mutations of the
kinds that once broke the handler: a number enlarged (5,000 digits, superscripts, a minus, 2**64),
a header field repeated, a field dropped, a value replaced by quoting, brackets or control
bytes, bytes flipped, the message cut short. Each is re-addressed to the door, given a fresh
branch and Call-ID (so it is a new transaction, not a retransmission) and sent from one of
many loopback addresses over UDP, or over TCP. Only 127.0.0.0/8 is ever a destination or source.
"""

from __future__ import annotations

import random
import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

TRAFFIC = Path(__file__).resolve().parent.parent / "sip" / "traffic"
TARGET = "127.0.0.1"

HUGE_NUMBERS = (
    "9" * 5000,
    "\u00b2",
    "\u0661\u0662",  # Arabic-Indic digits: str.isdigit() says yes
    "-1",
    str(2**64),
    "0" * 300 + "1",
    "1e9",
    "",
)
NASTY_VALUES = (
    '"a<b" <sip:x@127.0.0.2>;tag=1',
    "<sip:x@127.0.0.2",
    '"unterminated <sip:x@127.0.0.2>',
    "\x00\x01\x1b[2J",
    "sip:" + "a" * 3000 + "@127.0.0.2",
    ";;;;;;",
    "<sip:x@[::1]:99999>",
    "SIP/2.0/UDP rtp.invalid;maddr=127.0.0.9;received=x;rport=\u00b2",
    "IN IP4 attacker.invalid",
    "%00%ff%",
)


def seeds() -> list[bytes]:
    return [path.read_bytes() for path in sorted(TRAFFIC.glob("*.sip"))]


def _fresh(message: bytes, port: int, source: tuple[str, int], rng: random.Random) -> bytes:
    """Point a request at the door and make it a new transaction from ``source``."""
    head, sep, body = message.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    first = lines[0].split(b" ")
    if len(first) == 3 and not first[0].startswith(b"SIP/"):
        first[1] = f"sip:door@{TARGET}:{port}".encode()
        lines[0] = b" ".join(first)
    token = f"{rng.getrandbits(64):016x}".encode()
    out = []
    for line in lines:
        lower = line.lower()
        if lower.startswith((b"via:", b"v:")):
            via = f"Via: SIP/2.0/UDP {source[0]}:{source[1]};rport;branch=z9hG4bK"
            out.append(via.encode() + token)
        elif lower.startswith((b"call-id:", b"i:")):
            out.append(b"Call-ID: fuzz-" + token)
        else:
            out.append(line)
    return b"\r\n".join(out) + sep + body


def mutate(message: bytes, rng: random.Random) -> bytes:
    """One to three mutations of the kinds listed in the module docstring."""
    for _ in range(rng.randint(1, 3)):
        kind = rng.randrange(7)
        head, sep, body = message.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        if kind == 0:  # enlarge a number
            numbers = list(re.finditer(rb"\d+", message))
            if numbers:
                m = rng.choice(numbers)
                value = rng.choice(HUGE_NUMBERS).encode()
                message = message[: m.start()] + value + message[m.end() :]
                continue
        if kind == 1 and len(lines) > 1:  # repeat a header field
            i = rng.randrange(1, len(lines))
            lines[i + 1 : i + 1] = [lines[i]] * rng.choice((1, 2, 50))
        elif kind == 2 and len(lines) > 1:  # drop a header field
            del lines[rng.randrange(1, len(lines))]
        elif kind == 3 and len(lines) > 1:  # replace a value
            i = rng.randrange(1, len(lines))
            name = lines[i].split(b":", 1)[0]
            lines[i] = name + b": " + rng.choice(NASTY_VALUES).encode()
        elif kind == 4:  # flip bytes
            data = bytearray(message)
            for _ in range(rng.randint(1, 8)):
                if data:
                    data[rng.randrange(len(data))] = rng.randrange(256)
            message = bytes(data)
            continue
        elif kind == 5:  # cut short
            message = message[: rng.randrange(max(1, len(message)))]
            continue
        elif kind == 6 and body:  # mangle the body (SDP numbers, c= names)
            body = body.replace(b"IN IP4 127.0.0.1", rng.choice(NASTY_VALUES).encode(), 1)
        message = b"\r\n".join(lines) + sep + body
    return message


@dataclass
class Fuzzer:
    port: int
    seed: int = 1
    rng: random.Random = field(init=False)
    _seeds: list[bytes] = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self._seeds = seeds()

    def messages(self, source: tuple[str, int]) -> Iterator[bytes]:
        while True:
            seed = _fresh(self.rng.choice(self._seeds), self.port, source, self.rng)
            yield mutate(seed, self.rng)

    def run_udp(self, count: int, sources: int = 200) -> int:
        """Send ``count`` mutated datagrams from ``sources`` loopback addresses; returns the
        number sent. Answers are read and thrown away so our socket buffers never fill."""
        socks = []
        for k in range(sources):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind((f"127.0.{1 + k // 250}.{2 + k % 250}", 0))
            s.setblocking(False)
            socks.append(s)
        gens = [self.messages(s.getsockname()) for s in socks]
        sent = 0
        try:
            for n in range(count):
                k = n % len(socks)
                data = next(gens[k])[:65000]
                try:
                    socks[k].sendto(data, (TARGET, self.port))
                    sent += 1
                except OSError:
                    pass  # the kernel's buffer is full: this one is lost
                if n % len(socks) == 0:
                    for s in socks:
                        try:
                            while s.recv(65535):
                                pass
                        except OSError:
                            pass
        finally:
            for s in socks:
                s.close()
        return sent

    def run_tcp(self, count: int, per_connection: int = 20) -> int:
        """Send ``count`` mutated messages over TCP, ``per_connection`` per connection (the
        door closes a connection whose framing broke; then the next one opens)."""
        sent = 0
        k = 0
        while sent < count:
            host = f"127.0.3.{2 + k % 250}"
            k += 1
            try:
                conn = socket.create_connection((TARGET, self.port), 2, source_address=(host, 0))
            except OSError:
                continue
            conn.settimeout(0.2)
            gen = self.messages(conn.getsockname())
            try:
                for _ in range(per_connection):
                    conn.sendall(next(gen).replace(b"SIP/2.0/UDP", b"SIP/2.0/TCP", 1))
                    sent += 1
                    if sent >= count:
                        break
            except OSError:
                pass  # closed by the door for a broken frame: expected
            finally:
                try:
                    while conn.recv(65536):
                        pass
                except OSError:
                    pass
                conn.close()
        return sent
