"""RTP (RFC 3550): packets, the sending side, and the receiving side's source validation.

The sender draws SSRC, first sequence number and first timestamp at random (§5.1: predictable
values help attackers inject audio) and wraps both counters. The receiver validates a new
source over ``MIN_SEQUENTIAL`` packets (§A.1), then *latches* to its address and SSRC: we send
back to where the peer's media really comes from (symmetric RTP, RFC 4961, which gets through
NATs), and packets from any other address or SSRC are dropped and counted. Without latching, any
host that guesses the port can inject audio into the intercom's speaker ("RTP bleed"). For the
first second only the host the SDP named may win the latch, so a packet injected just before the
peer's first one cannot capture the call; a peer behind NAT (another host than it signalled)
is latched to once that second has passed.

When the peer moves its media (a re-INVITE or UPDATE with a new ``c=``/``m=``), the new address
is the target and the latch starts over; the addresses it moved away from (the one it signalled
and the one we had latched to) never win the latch back until the signalling moves again.
Packets still in flight from the old port, or a stream the peer forgets to stop there, would
otherwise re-latch us within two packets (the old port is on the signalled host) and send our
audio where nobody listens. pjsua makes a source other than the signalled one wait for
``PJMEDIA_RTP_NAT_PROBATION_CNT`` packets; a door is stricter for the one source it knows
to be stale. The cost: a peer whose packets keep coming from the old address while it
signals a new one is not followed there; we send where it signalled (RFC 3264 §8).

Per packet, the media thread uses the lean paths: ``RtpSender.datagram`` packs the header with
one precompiled ``struct.Struct`` and ``RtpReceiver.receive_fast`` reads a plain header (no
padding, extension or CSRC: every packet of an ordinary call) without building an ``RtpPacket``.
A frozen 9-field dataclass costs about 3 us to construct, ten times the header's own cost, and
the media tick is the whole per-call CPU (issue 19). Anything that is not plain goes through
``RtpPacket.parse``; both paths share one admission step, so counters, latching and probation
cannot differ (tests/media/test_rtp.py checks that on arbitrary input).
"""

from __future__ import annotations

import random
import struct
from collections import deque
from dataclasses import dataclass, field

RTP_VERSION = 2
SEQ_MOD = 1 << 16
MIN_SEQUENTIAL = 2
MAX_DROPOUT = 3000
MAX_MISORDER = 100
#: Seconds after the first packet during which only the signalled host may be latched to.
LATCH_GRACE_S = 1.0
#: How many addresses the peer moved away from are kept barred from the latch (a call moves
#: a few times at most; the bound keeps a peer that moves on every re-INVITE from growing it).
MAX_ABANDONED = 8

Address = tuple[str, int]
#: The fixed 12-octet header (RFC 3550 §5.1): V/P/X/CC, M/PT, sequence, timestamp, SSRC.
HEADER = struct.Struct("!BBHII")
#: The first octet of a plain packet: version 2, no padding, no extension, no CSRC.
PLAIN = RTP_VERSION << 6
#: What ``RtpReceiver.receive_fast`` gives for an admitted packet: payload type, sequence
#: number, timestamp and payload.
Received = tuple[int, int, int, bytes]


class RtpError(Exception):
    """A datagram that is not a valid RTP packet (counted and dropped, never raised further)."""


@dataclass(frozen=True, slots=True)
class RtpExtension:
    profile: int
    data: bytes


@dataclass(frozen=True, slots=True)
class RtpPacket:
    payload_type: int
    sequence: int
    timestamp: int
    ssrc: int
    payload: bytes = b""
    marker: bool = False
    csrc: tuple[int, ...] = ()
    extension: RtpExtension | None = None
    padding: int = 0

    @classmethod
    def parse(cls, data: bytes) -> RtpPacket:
        if len(data) < 12:
            raise RtpError("shorter than an RTP header")
        b0, b1, sequence, timestamp, ssrc = HEADER.unpack_from(data)
        if b0 >> 6 != RTP_VERSION:
            raise RtpError(f"RTP version {b0 >> 6}")
        cc = b0 & 0x0F
        offset = 12 + 4 * cc
        if len(data) < offset:
            raise RtpError("truncated CSRC list")
        csrc = struct.unpack_from(f"!{cc}I", data, 12) if cc else ()
        extension = None
        if b0 & 0x10:
            if len(data) < offset + 4:
                raise RtpError("truncated header extension")
            profile, words = struct.unpack_from("!HH", data, offset)
            end = offset + 4 + 4 * words
            if len(data) < end:
                raise RtpError("truncated header extension")
            extension = RtpExtension(profile, data[offset + 4 : end])
            offset = end
        end = len(data)
        padding = 0
        if b0 & 0x20:
            padding = data[-1]
            if padding == 0 or offset + padding > end:
                raise RtpError("bad padding length")
            end -= padding
        return cls(
            payload_type=b1 & 0x7F,
            sequence=sequence,
            timestamp=timestamp,
            ssrc=ssrc,
            payload=data[offset:end],
            marker=bool(b1 & 0x80),
            csrc=tuple(csrc),
            extension=extension,
            padding=padding,
        )

    def __bytes__(self) -> bytes:
        b0 = (RTP_VERSION << 6) | len(self.csrc)
        if self.padding:
            b0 |= 0x20
        if self.extension is not None:
            b0 |= 0x10
        b1 = (0x80 if self.marker else 0) | (self.payload_type & 0x7F)
        parts = [HEADER.pack(b0, b1, self.sequence, self.timestamp, self.ssrc)]
        if self.csrc:
            parts.append(struct.pack(f"!{len(self.csrc)}I", *self.csrc))
        if self.extension is not None:
            ext = self.extension.data + b"\0" * (-len(self.extension.data) % 4)
            parts.append(struct.pack("!HH", self.extension.profile, len(ext) // 4) + ext)
        parts.append(self.payload)
        if self.padding:
            parts.append(b"\0" * (self.padding - 1) + bytes([self.padding]))
        return b"".join(parts)


@dataclass
class RtpSender:
    """Numbers our outgoing packets: one SSRC, one sequence space shared by audio and DTMF."""

    rng: random.Random = field(repr=False)
    clock_rate: int = 8000
    ssrc: int = 0
    sequence: int = 0
    timestamp: int = 0
    packets: int = 0
    octets: int = 0

    def __post_init__(self) -> None:
        self.ssrc = self.rng.getrandbits(32)
        self.sequence = self.rng.getrandbits(16)
        self.timestamp = self.rng.getrandbits(32)

    def packet(
        self,
        payload_type: int,
        payload: bytes,
        samples: int,
        *,
        marker: bool = False,
        timestamp: int | None = None,
    ) -> RtpPacket:
        """The next packet; advances the media clock by ``samples`` (0 for DTMF updates)."""
        packet = RtpPacket(
            payload_type,
            self.sequence,
            self.timestamp if timestamp is None else timestamp,
            self.ssrc,
            payload,
            marker,
        )
        self.sequence = (self.sequence + 1) % SEQ_MOD
        self.timestamp = (self.timestamp + samples) & 0xFFFFFFFF
        self.packets += 1
        self.octets += len(payload)
        return packet

    def datagram(self, payload_type: int, payload: bytes, samples: int, marker: bool) -> bytes:
        """``bytes(self.packet(...))`` of a plain packet, without the packet object: what the
        media thread sends 50 times a second per call."""
        sequence = self.sequence
        header = HEADER.pack(
            PLAIN, (0x80 if marker else 0) | payload_type, sequence, self.timestamp, self.ssrc
        )
        self.sequence = (sequence + 1) % SEQ_MOD
        self.timestamp = (self.timestamp + samples) & 0xFFFFFFFF
        self.packets += 1
        self.octets += len(payload)
        return header + payload


@dataclass
class SourceState:
    """RFC 3550 §A.1 per-source sequence state, plus §A.8 interarrival jitter."""

    ssrc: int
    base_seq: int = 0
    max_seq: int = 0
    bad_seq: int = SEQ_MOD + 1
    cycles: int = 0
    received: int = 0
    probation: int = MIN_SEQUENTIAL
    transit: int | None = None
    jitter: float = 0.0
    expected_prior: int = 0
    received_prior: int = 0

    def init(self, seq: int) -> None:
        self.base_seq = seq
        self.max_seq = seq
        self.bad_seq = SEQ_MOD + 1
        self.cycles = 0
        self.received = 0
        self.received_prior = 0
        self.expected_prior = 0

    def update(self, seq: int) -> bool:
        """§A.1 ``update_seq``: True if the packet counts as valid."""
        udelta = (seq - self.max_seq) % SEQ_MOD
        if self.probation:
            if seq == (self.max_seq + 1) % SEQ_MOD:
                self.probation -= 1
                self.max_seq = seq
                if self.probation == 0:
                    self.init(seq)
                    self.received += 1
                    return True
            else:
                self.probation = MIN_SEQUENTIAL - 1
                self.max_seq = seq
            return False
        if udelta < MAX_DROPOUT:
            if seq < self.max_seq:
                self.cycles += SEQ_MOD
            self.max_seq = seq
        elif udelta <= SEQ_MOD - MAX_MISORDER:
            if seq == self.bad_seq:
                self.init(seq)  # the source restarted: accept its new numbering
            else:
                self.bad_seq = (seq + 1) % SEQ_MOD
                return False
        self.received += 1
        return True

    @property
    def extended_max(self) -> int:
        return self.cycles + self.max_seq

    @property
    def expected(self) -> int:
        return self.extended_max - self.base_seq + 1

    @property
    def lost(self) -> int:
        """Cumulative packets lost (§6.4.1; negative with duplicates, as the RFC allows)."""
        return self.expected - self.received

    def arrival(self, timestamp: int, now: float, clock_rate: int) -> None:
        """§A.8: interarrival jitter in timestamp units."""
        arrival = int(now * clock_rate)
        transit = (arrival - timestamp) & 0xFFFFFFFF
        if self.transit is not None:
            d = abs(((transit - self.transit + 2**31) & 0xFFFFFFFF) - 2**31)
            self.jitter += (d - self.jitter) / 16
        self.transit = transit


@dataclass
class RtpReceiver:
    """Validates and latches the remote source; counts what it drops and why."""

    clock_rate: int = 8000
    expected_address: Address | None = None
    latched_address: Address | None = None
    source: SourceState | None = None
    malformed: int = 0
    foreign: int = 0
    probation_dropped: int = 0
    invalid_sequence: int = 0
    latch_events: list[Address] = field(default_factory=list)
    #: The latched peer started a new SSRC (early media -> answer, a PBX bridging another leg).
    ssrc_changes: int = 0
    #: Valid packets over the whole call, whatever sources and addresses came and went: the
    #: end-of-call report counts these, not only the current source's.
    received_total: int = 0
    _lost_before: int = 0
    _candidate: SourceState | None = None
    _first_packet_at: float | None = None
    #: Where the peer's media was before it moved (signalled or latched): barred from the
    #: latch, as the module docstring says.
    _abandoned: deque[Address] = field(default_factory=lambda: deque(maxlen=MAX_ABANDONED))

    def set_remote(self, address: Address | None) -> None:
        """The signalled remote address (answer, re-INVITE): latch anew if it changed.

        A re-INVITE that keeps the address (hold, resume, a session refresh) keeps the latch
        and the source's sequence state: starting validation over would drop the first
        packets after resume and conceal them. A move bars the old addresses from the new
        latch; the new one is never barred (a peer may move back where it was).
        """
        if address == self.expected_address:
            return
        abandoned = self._abandoned
        for old in (self.expected_address, self.latched_address):
            if old is not None and old not in abandoned:
                abandoned.append(old)
        if address is not None and address in abandoned:
            abandoned.remove(address)
        self.expected_address = address
        self.latched_address = None
        self._follow(None)
        self._candidate = None
        self._first_packet_at = None

    @property
    def lost_total(self) -> int:
        """Packets lost over the whole call (sources we no longer follow included)."""
        return self._lost_before + (self.source.lost if self.source is not None else 0)

    def _follow(self, source: SourceState | None) -> None:
        if self.source is not None:
            self._lost_before += max(self.source.lost, 0)
        self.source = source

    def receive(self, data: bytes, address: Address, now: float) -> RtpPacket | None:
        """The packet if it is valid media from our peer, else None (and counted)."""
        try:
            packet = RtpPacket.parse(data)
        except RtpError:
            self.malformed += 1
            return None
        if self.admit(packet.ssrc, packet.sequence, packet.timestamp, address, now):
            return packet
        return None

    def receive_fast(self, data: bytes, address: Address, now: float) -> Received | None:
        """``receive`` without the packet object: (payload type, sequence, timestamp,
        payload) of valid media from our peer, else None (and counted the same way)."""
        if len(data) < 12 or data[0] != PLAIN:
            packet = self.receive(data, address, now)
            if packet is None:
                return None
            return packet.payload_type, packet.sequence, packet.timestamp, packet.payload
        _, b1, sequence, timestamp, ssrc = HEADER.unpack_from(data)
        if self.admit(ssrc, sequence, timestamp, address, now):
            return b1 & 0x7F, sequence, timestamp, data[12:]
        return None

    def admit(self, ssrc: int, sequence: int, timestamp: int, address: Address, now: float) -> bool:
        """Latching, source switching and §A.1 validation of a parsed header (public for the
        stream's ``receive_media``, whose caller parsed the header already)."""
        latched = self.latched_address
        if latched is not None:
            if address != latched:
                self.foreign += 1
                return False
            source = self.source
            if (
                source is not None
                and ssrc != source.ssrc
                and not self._new_source_from_peer(ssrc, sequence)
            ):
                self.foreign += 1
                return False
        elif address in self._abandoned or not self._may_latch(address, now):
            self.foreign += 1
            return False
        source = self.source
        if source is None or source.ssrc != ssrc:
            source = SourceState(ssrc)
            source.init(sequence)
            source.max_seq = (sequence - 1) % SEQ_MOD
            self._follow(source)
        was_probing = source.probation > 0
        if not source.update(sequence):
            if was_probing:
                self.probation_dropped += 1
            else:
                self.invalid_sequence += 1
            return False
        if latched is None:
            # Symmetric RTP (RFC 4961): from now on this address and SSRC are our peer.
            self.latched_address = address
            self.latch_events.append(address)
        source.arrival(timestamp, now, self.clock_rate)
        self.received_total += 1
        return True

    def _may_latch(self, address: Address, now: float) -> bool:
        """The signalled host always may; any other host only after the grace period."""
        if self._first_packet_at is None:
            self._first_packet_at = now
        expected = self.expected_address
        if expected is None or address[0] == expected[0]:
            return True
        return now - self._first_packet_at >= LATCH_GRACE_S

    def _new_source_from_peer(self, ssrc: int, sequence: int) -> bool:
        """A new SSRC from the latched address takes over once it passed probation itself.

        The address is still the one we latched to, so this is our peer (a PBX switching from
        its announcement to the callee's phone, a media server re-bridging): after
        MIN_SEQUENTIAL packets in sequence it becomes the source; stray packets of another SSRC
        never displace the current one.
        """
        candidate = self._candidate
        if candidate is None or candidate.ssrc != ssrc:
            candidate = SourceState(ssrc)
            candidate.init(sequence)
            candidate.max_seq = (sequence - 1) % SEQ_MOD
            self._candidate = candidate
        if not candidate.update(sequence) or candidate.probation > 0:
            return False
        self._follow(candidate)
        self._candidate = None
        self.ssrc_changes += 1
        return True

    @property
    def jitter_ms(self) -> float:
        return 0.0 if self.source is None else self.source.jitter * 1000 / self.clock_rate
