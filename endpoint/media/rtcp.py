"""RTCP (RFC 3550 §6): sender and receiver reports, SDES CNAME, BYE, and their timing.

Reports tell each side how the other hears it (loss, jitter) and give the round-trip time from
the LSR/DLSR fields, which the call-quality estimate needs. The interval follows §6.3/§A.7:
randomised between 0.5 and 1.5 times the deterministic interval (5 s minimum, half of it before
the first report), so that many endpoints never synchronise.
"""

from __future__ import annotations

import math
import random
import struct
from collections.abc import Callable
from dataclasses import dataclass

SR, RR, SDES, BYE = 200, 201, 202, 203
NTP_EPOCH_OFFSET = 2_208_988_800  # seconds from 1900 to 1970


class RtcpError(Exception):
    """A datagram that is not a valid RTCP compound packet."""


@dataclass(frozen=True, slots=True)
class ReportBlock:
    ssrc: int
    fraction_lost: int  # 0..255, fraction * 256
    cumulative_lost: int  # signed 24 bit
    highest_seq: int
    jitter: int  # timestamp units
    lsr: int
    dlsr: int  # 1/65536 s

    def __bytes__(self) -> bytes:
        lost = self.cumulative_lost & 0xFFFFFF
        return struct.pack(
            "!IIIIII",
            self.ssrc,
            (self.fraction_lost << 24) | lost,
            self.highest_seq,
            self.jitter,
            self.lsr,
            self.dlsr,
        )

    @classmethod
    def parse(cls, data: bytes, offset: int) -> ReportBlock:
        ssrc, word, highest, jitter, lsr, dlsr = struct.unpack_from("!IIIIII", data, offset)
        lost = word & 0xFFFFFF
        if lost & 0x800000:
            lost -= 1 << 24
        return cls(ssrc, word >> 24, lost, highest, jitter, lsr, dlsr)


@dataclass(frozen=True, slots=True)
class SenderReport:
    ssrc: int
    ntp: int  # 64-bit NTP timestamp
    rtp_timestamp: int
    packets: int
    octets: int
    blocks: tuple[ReportBlock, ...] = ()


@dataclass(frozen=True, slots=True)
class ReceiverReport:
    ssrc: int
    blocks: tuple[ReportBlock, ...] = ()


@dataclass(frozen=True, slots=True)
class SourceDescription:
    ssrc: int
    cname: str


@dataclass(frozen=True, slots=True)
class Goodbye:
    ssrcs: tuple[int, ...]
    reason: str = ""


RtcpPacket = SenderReport | ReceiverReport | SourceDescription | Goodbye


def _header(count: int, packet_type: int, body: bytes) -> bytes:
    body += b"\0" * (-len(body) % 4)
    return struct.pack("!BBH", 0x80 | count, packet_type, len(body) // 4) + body


def encode(packet: RtcpPacket) -> bytes:
    if isinstance(packet, SenderReport):
        body = struct.pack(
            "!IQIII", packet.ssrc, packet.ntp, packet.rtp_timestamp, packet.packets, packet.octets
        ) + b"".join(bytes(b) for b in packet.blocks)
        return _header(len(packet.blocks), SR, body)
    if isinstance(packet, ReceiverReport):
        body = struct.pack("!I", packet.ssrc) + b"".join(bytes(b) for b in packet.blocks)
        return _header(len(packet.blocks), RR, body)
    if isinstance(packet, SourceDescription):
        cname = packet.cname.encode()[:255]
        chunk = struct.pack("!IBB", packet.ssrc, 1, len(cname)) + cname + b"\0"
        return _header(1, SDES, chunk + b"\0" * (-len(chunk) % 4))
    reason = packet.reason.encode()[:255]
    body = b"".join(struct.pack("!I", s) for s in packet.ssrcs)
    if reason:
        body += bytes([len(reason)]) + reason
    return _header(len(packet.ssrcs), BYE, body)


def encode_compound(packets: list[RtcpPacket]) -> bytes:
    return b"".join(encode(p) for p in packets)


def is_rtcp(data: bytes) -> bool:
    """RFC 5761 §4: with rtcp-mux, packet types 192-223 are RTCP, everything else RTP."""
    return len(data) >= 2 and 192 <= data[1] <= 223


def _sender_report(data: bytes, body: int, end: int, count: int) -> RtcpPacket:
    if end - body < 24 + 24 * count:
        raise RtcpError("short SR")
    ssrc, ntp, rtp_ts, packets, octets = struct.unpack_from("!IQIII", data, body)
    blocks = tuple(ReportBlock.parse(data, body + 24 + 24 * i) for i in range(count))
    return SenderReport(ssrc, ntp, rtp_ts, packets, octets, blocks)


def _receiver_report(data: bytes, body: int, end: int, count: int) -> RtcpPacket:
    if end - body < 4 + 24 * count:
        raise RtcpError("short RR")
    (ssrc,) = struct.unpack_from("!I", data, body)
    blocks = tuple(ReportBlock.parse(data, body + 4 + 24 * i) for i in range(count))
    return ReceiverReport(ssrc, blocks)


def _source_description(data: bytes, body: int, end: int, count: int) -> RtcpPacket | None:
    """The first chunk's CNAME (§6.5.1); other items and chunks are skipped."""
    if not count or end - body < 6:
        return None
    ssrc, item, length = struct.unpack_from("!IBB", data, body)
    if item != 1 or body + 6 + length > end:
        return None
    return SourceDescription(ssrc, data[body + 6 : body + 6 + length].decode("utf-8", "replace"))


def _goodbye(data: bytes, body: int, end: int, count: int) -> RtcpPacket:
    if end - body < 4 * count:
        raise RtcpError("short BYE")
    return Goodbye(tuple(struct.unpack_from(f"!{count}I", data, body)))


#: Packet type -> parser of its body (offset of the body, end of the packet, the count field).
_PARSERS: dict[int, Callable[[bytes, int, int, int], RtcpPacket | None]] = {
    SR: _sender_report,
    RR: _receiver_report,
    SDES: _source_description,
    BYE: _goodbye,
}


def parse_compound(data: bytes) -> list[RtcpPacket]:
    """Parse a compound packet (§6.1); raises RtcpError. Unknown packet types are skipped."""
    out: list[RtcpPacket] = []
    offset = 0
    while offset < len(data):
        if len(data) - offset < 4:
            raise RtcpError("truncated RTCP header")
        b0, pt, words = struct.unpack_from("!BBH", data, offset)
        if b0 >> 6 != 2:
            raise RtcpError("RTCP version is not 2")
        end = offset + 4 + 4 * words
        if end > len(data):
            raise RtcpError("RTCP length beyond the datagram")
        if offset == 0 and pt not in (SR, RR):
            raise RtcpError("a compound packet must start with SR or RR")  # §A.2
        parser = _PARSERS.get(pt)
        packet = parser(data, offset + 4, end, b0 & 0x1F) if parser is not None else None
        if packet is not None:
            out.append(packet)
        offset = end
    return out


def ntp_timestamp(wallclock: float) -> int:
    """64-bit NTP timestamp for a Unix time."""
    seconds = wallclock + NTP_EPOCH_OFFSET
    return (int(seconds) << 32) | int((seconds % 1) * (1 << 32))


def middle32(ntp: int) -> int:
    return (ntp >> 16) & 0xFFFFFFFF


def round_trip(block: ReportBlock, arrival_ntp: int) -> float | None:
    """RTT in seconds from a report block about us (§6.4.1: A - LSR - DLSR)."""
    if block.lsr == 0:
        return None
    rtt = (middle32(arrival_ntp) - block.lsr - block.dlsr) & 0xFFFFFFFF
    if rtt > 0x7FFFFFFF:
        return None
    return rtt / 65536


def interval(
    rng: random.Random,
    *,
    members: int = 2,
    senders: int = 2,
    rtcp_bandwidth: float = 545.0,
    we_sent: bool = True,
    avg_rtcp_size: float = 100.0,
    initial: bool = False,
) -> float:
    """The randomised RTCP interval of RFC 3550 §A.7, in seconds.

    ``rtcp_bandwidth`` is 5 % of the session bandwidth in octets/s (PCMU with IP/UDP/RTP
    headers: 87.2 kb/s -> 545 octets/s).
    """
    minimum = 2.5 if initial else 5.0
    n = members
    if 0 < senders <= members * 0.25:
        if we_sent:
            rtcp_bandwidth *= 0.25
            n = senders
        else:
            rtcp_bandwidth *= 0.75
            n = members - senders
    t = max(avg_rtcp_size * n / rtcp_bandwidth, minimum)
    return t * (rng.random() + 0.5) / (math.e - 1.5)
