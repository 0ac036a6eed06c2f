"""The SIP our endpoint really sent and received, captured on the loopback interface, and the
RFC 3261 rules that hold across a dialog, checked on it.

The capture is an ``AF_PACKET`` socket on ``lo`` (root, as CI and the tests' other captures
are) that keeps the UDP datagrams to or from one port. The parser here is deliberately the
test's own (a few lines, tolerant): the checks must not trust the code under test to read what
it wrote.
"""

from __future__ import annotations

import contextlib
import ctypes
import re
import socket
import struct
import threading
import time
from dataclasses import dataclass, field

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
SO_ATTACH_FILTER = 26
_FILTERS: list[ctypes.Array[ctypes.c_char]] = []
MAX_PACKETS = 200_000

COMPACT = {
    "i": "call-id",
    "f": "from",
    "t": "to",
    "m": "contact",
    "v": "via",
    "l": "content-length",
    "c": "content-type",
    "k": "supported",
    "x": "session-expires",
}
#: Headers whose values may be comma-joined lists of name-addrs (RFC 3261 §7.3.1).
LISTS = {"via", "route", "record-route", "contact"}


def _split_commas(value: str) -> list[str]:
    """Split on commas outside ``<...>`` and quotes."""
    out, depth, quoted, start = [], 0, False, 0
    for i, ch in enumerate(value):
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch == "<":
            depth += 1
        elif not quoted and ch == ">":
            depth -= 1
        elif not quoted and depth == 0 and ch == ",":
            out.append(value[start:i].strip())
            start = i + 1
    out.append(value[start:].strip())
    return [v for v in out if v]


@dataclass
class Sip:
    """One captured SIP message on our leg."""

    time: float
    src: int
    dst: int
    start: str
    headers: dict[str, list[str]] = field(default_factory=dict)
    body: str = ""

    @property
    def is_request(self) -> bool:
        return not self.start.startswith("SIP/2.0")

    @property
    def method(self) -> str:
        return self.start.split(" ", 1)[0] if self.is_request else self.cseq[1]

    @property
    def status(self) -> int:
        return 0 if self.is_request else int(self.start.split(" ")[1])

    def one(self, name: str) -> str:
        values = self.headers.get(name, [])
        return values[0] if values else ""

    @property
    def call_id(self) -> str:
        return self.one("call-id")

    @property
    def cseq(self) -> tuple[int, str]:
        number, method = self.one("cseq").split()
        return int(number), method

    @property
    def branch(self) -> str:
        m = re.search(r";\s*branch=([^;,\s]+)", self.one("via"))
        return m.group(1) if m else ""

    def tag(self, name: str) -> str:
        m = re.search(r";\s*tag=([^;,\s>]+)", self.one(name))
        return m.group(1) if m else ""

    def routes(self, name: str) -> list[str]:
        return [re.sub(r"\s+", "", v) for v in self.headers.get(name, [])]

    def summary(self) -> str:
        return f"{self.src}->{self.dst} {self.start} (CSeq {self.one('cseq')})"


def parse_sip(data: bytes, t: float, src: int, dst: int) -> Sip | None:
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("utf-8", "replace").split("\r\n")
    if not lines or not (lines[0].endswith("SIP/2.0") or lines[0].startswith("SIP/2.0")):
        return None  # keep-alives, RTP on a shared port, anything else
    msg = Sip(t, src, dst, lines[0], body=body.decode("utf-8", "replace"))
    current = ""
    for line in lines[1:]:
        if line[:1] in (" ", "\t") and current:
            msg.headers[current][-1] += " " + line.strip()
            continue
        name, sep, value = line.partition(":")
        if not sep:
            continue
        current = COMPACT.get(name.strip().lower(), name.strip().lower())
        values = _split_commas(value) if current in LISTS else [value.strip()]
        msg.headers.setdefault(current, []).extend(values)
    return msg


def _port_filter(port: int) -> bytes:
    """A classic BPF program (``struct sock_fprog``) passing IPv4 UDP datagrams from or to
    ``port`` (unfragmented, Ethernet framing as on ``lo``), the rest dropped in the kernel."""
    drop, accept = 11, 12
    program = [
        (0x28, 0, 0, 12),  # ldh [12]: EtherType
        (0x15, 0, drop - 2, 0x0800),  # IPv4?
        (0x30, 0, 0, 23),  # ldb [23]: IP protocol
        (0x15, 0, drop - 4, 17),  # UDP?
        (0x28, 0, 0, 20),  # ldh [20]: fragment offset
        (0x45, drop - 6, 0, 0x1FFF),  # a later fragment: no UDP header
        (0xB1, 0, 0, 14),  # ldxb 4*([14]&0xf): IP header length
        (0x48, 0, 0, 14),  # ldh [x+14]: source port
        (0x15, accept - 9, 0, port),
        (0x48, 0, 0, 16),  # ldh [x+16]: destination port
        (0x15, accept - 11, drop - 11, port),
        (0x06, 0, 0, 0),  # drop
        (0x06, 0, 0, 0x40000),  # accept (up to 256 KiB of the packet)
    ]
    code = b"".join(struct.pack("HBBI", *insn) for insn in program)
    _FILTERS.append(buf := ctypes.create_string_buffer(code))  # alive while sockets use it
    return struct.pack("HL", len(program), ctypes.addressof(buf))


class SipCapture:
    """Every UDP datagram to or from ``port`` on ``lo``, parsed, from ``start()`` on."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.messages: list[Sip] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        try:
            self._sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        except PermissionError:
            raise PermissionError(
                "capturing SIP on lo needs root or CAP_NET_RAW (the interop matrix runs as root "
                "in CI)"
            ) from None
        # The kernel keeps only our port's datagrams: all of lo's RTP (other tests' too)
        # through a Python thread would overflow the socket's buffer and lose SIP.
        self._sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, _port_filter(port))
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self._sock.bind(("lo", 0))
        self._sock.settimeout(0.2)
        self._thread = threading.Thread(target=self._run, daemon=True, name="sip-capture")

    def start(self) -> SipCapture:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                frame, addr = self._sock.recvfrom(65535)
            except TimeoutError:
                continue
            except OSError:
                return
            if addr[2] == PACKET_OUTGOING:
                continue  # on lo every datagram is seen leaving and arriving: keep one
            msg = self._datagram(frame)
            if msg is not None:
                with self._lock:
                    if len(self.messages) < MAX_PACKETS:
                        self.messages.append(msg)

    def _datagram(self, frame: bytes) -> Sip | None:
        if len(frame) < 14 + 20 + 8 or frame[12:14] != b"\x08\x00":
            return None
        ip = frame[14:]
        ihl = (ip[0] & 0x0F) * 4
        if ip[9] != 17:  # UDP
            return None
        src, dst = struct.unpack("!HH", ip[ihl : ihl + 4])
        if self.port not in (src, dst):
            return None
        return parse_sip(ip[ihl + 8 :], time.monotonic(), src, dst)

    def mark(self) -> int:
        with self._lock:
            return len(self.messages)

    def since(self, mark: int) -> list[Sip]:
        with self._lock:
            return list(self.messages[mark:])

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        with contextlib.suppress(OSError):
            self._sock.close()


def _uri_hostport(value: str) -> str:
    m = re.search(r"sips?:(?:[^@;>]*@)?([^;>?\s]+)", value)
    return m.group(1) if m else ""


def check_dialogs(messages: list[Sip], ours: int, proxy: int | None) -> list[str]:
    """RFC 3261 rules across each INVITE dialog in ``messages`` (our leg only): tags stable,
    CSeq increasing per direction, our Contact present and ours, Record-Route copied into our
    responses in order (§12.1.1) and our in-dialog requests carrying the route set
    (§12.1.2, §12.2.1.1) and sent to its first hop (``proxy``) or to the remote target.
    Returns the violations, each naming the message."""
    problems: list[str] = []
    by_call: dict[str, list[Sip]] = {}
    for msg in messages:
        if msg.call_id:
            by_call.setdefault(msg.call_id, []).append(msg)
    for call_id, msgs in by_call.items():
        invites = [m for m in msgs if m.is_request and m.method == "INVITE" and not m.tag("to")]
        if not invites:
            continue
        problems += [f"{call_id}: {p}" for p in _check_dialog(msgs, invites[-1], ours, proxy)]
    return problems


def _check_dialog(msgs: list[Sip], invite: Sip, ours: int, proxy: int | None) -> list[str]:
    problems: list[str] = []
    we_are_uas = invite.dst == ours
    own_contact = f"127.0.0.1:{ours}"
    ok_2xx = [
        m
        for m in msgs
        if not m.is_request and m.method == "INVITE" and 200 <= m.status < 300
        if m.cseq[0] == invite.cseq[0]
    ]
    # Contact: in the INVITE we send, in the 1xx-with-tag/2xx we send, in our target refreshes.
    for m in msgs:
        if m.src != ours or m.method not in ("INVITE", "UPDATE"):
            continue
        creates = m.is_request or (m.tag("to") and 101 <= m.status < 300)
        if creates:
            contact = m.one("contact")
            if not contact:
                problems.append(f"no Contact in our {m.summary()}")
            elif _uri_hostport(contact) != own_contact:
                problems.append(f"our Contact {contact!r} is not {own_contact}: {m.summary()}")
    # Record-Route copied, in order, into each dialog-creating response we send (§12.1.1).
    requests = {(m.branch, m.cseq): m for m in msgs if m.is_request}
    for m in msgs:
        if m.is_request or m.src != ours:
            continue
        request = requests.get((m.branch, m.cseq))
        if request is None or not (101 <= m.status < 300 and m.tag("to")):
            continue  # only dialog-creating responses must copy it
        if request.routes("record-route") and m.routes("record-route") != request.routes(
            "record-route"
        ):
            problems.append(
                f"our {m.summary()} has Record-Route {m.routes('record-route')}, the request "
                f"had {request.routes('record-route')}"
            )
    if not ok_2xx:
        return problems
    final = ok_2xx[0]
    if we_are_uas:
        local, remote = final.tag("to"), invite.tag("from")
        route_set = invite.routes("record-route")
        target = _uri_hostport(invite.one("contact"))
    else:
        local, remote = invite.tag("from"), final.tag("to")
        route_set = list(reversed(final.routes("record-route")))
        target = _uri_hostport(final.one("contact"))
    # Tags: the same To tag on every 2xx; every in-dialog request carries the dialog's tags.
    if len({m.tag("to") for m in ok_2xx}) != 1:
        problems.append(
            f"2xx to the INVITE with different To tags: {[m.tag('to') for m in ok_2xx]}"
        )
    invite_branches = {m.branch for m in msgs if m.is_request and m.method == "INVITE"}
    for m in msgs:
        if not m.is_request or m is invite or not m.tag("to"):
            continue
        if m.method == "ACK" and m.branch in invite_branches:
            continue  # the ACK of a non-2xx final response (a 407 too): that INVITE's transaction
        mine = m.src == ours
        want = (local, remote) if mine else (remote, local)
        if (m.tag("from"), m.tag("to")) != want:
            problems.append(
                f"tags of {m.summary()} are from={m.tag('from')} to={m.tag('to')}, "
                f"the dialog's are {want}"
            )
    # CSeq: strictly increasing per direction (ACK and CANCEL reuse their INVITE's number).
    for side in (True, False):
        seen: dict[str, int] = {}
        last = -1
        for m in msgs:
            if not m.is_request or (m.src == ours) != side or m.method in ("ACK", "CANCEL"):
                continue
            if m.branch in seen:
                continue  # a retransmission
            seen[m.branch] = m.cseq[0]
            if m.cseq[0] <= last:
                who = "our" if side else "the peer's"
                problems.append(f"{who} CSeq went from {last} to {m.cseq[0]}: {m.summary()}")
            last = m.cseq[0]
        if side:
            for m in msgs:
                ack = m.is_request and m.src == ours and m.method == "ACK" and m.tag("to")
                if ack and m.cseq[0] != invite.cseq[0] and m.cseq[0] not in seen.values():
                    problems.append(f"our ACK's CSeq matches no INVITE: {m.summary()}")
    # Route set: our in-dialog requests carry it, and go to its first hop or the target.
    for m in msgs:
        if not (m.is_request and m.src == ours and m.tag("to")):
            continue
        if m.method == "ACK" and m.branch in invite_branches:
            continue
        if m.routes("route") != route_set:
            problems.append(f"our {m.summary()} has Route {m.routes('route')}, not {route_set}")
        if route_set and proxy is not None and m.dst != proxy:
            problems.append(f"our {m.summary()} went to port {m.dst}, not the first hop {proxy}")
        if not route_set and target and f"127.0.0.1:{m.dst}" != target:
            problems.append(f"our {m.summary()} went to port {m.dst}, not the target {target}")
    return problems
