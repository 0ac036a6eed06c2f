"""RFC 4733 telephone-events: DTMF digits carried in RTP, both directions.

Sending: an event starts with a packet carrying the marker bit; every packet of the event keeps
the RTP timestamp of its start while the duration grows by one packet time; the end packet (E
bit) goes out three times (§2.5.1.4) so a lost packet does not stretch the digit. Audio packets
are replaced while a digit is sent, and the next audio packet starts a talk spurt (marker).

Receiving: one ``DtmfDigit`` per event, however many updates and repeated end packets arrive; an
event whose end packets are all lost is reported when the next event starts or after a timeout.
The door-code logic downstream must see each key press exactly once.
"""

from __future__ import annotations

import struct
from collections import deque
from dataclasses import dataclass, field

from endpoint.media.rtp import RtpPacket, RtpSender

EVENTS = "0123456789*#ABCD"
_CODE = {c: i for i, c in enumerate(EVENTS)}
END_REPEATS = 3
#: An event with no packets for this long is over even if its end never arrived.
EVENT_TIMEOUT = 0.5


@dataclass(frozen=True, slots=True)
class DtmfDigit:
    digit: str
    duration_ms: int


@dataclass(frozen=True, slots=True)
class TelephoneEvent:
    event: int
    end: bool
    volume: int
    duration: int

    @classmethod
    def parse(cls, payload: bytes) -> TelephoneEvent:
        if len(payload) < 4:
            raise ValueError("telephone-event payload shorter than 4 octets")
        event, flags, duration = struct.unpack_from("!BBH", payload)
        return cls(event, bool(flags & 0x80), flags & 0x3F, duration)

    def __bytes__(self) -> bytes:
        return struct.pack(
            "!BBH", self.event, (0x80 if self.end else 0) | self.volume, self.duration
        )


@dataclass
class DtmfSender:
    """Turns queued digits into telephone-event packets, one call of ``tick`` per packet time."""

    payload_type: int
    samples_per_packet: int = 160
    clock_rate: int = 8000
    duration_ms: int = 100
    gap_ms: int = 50
    volume: int = 10
    _queue: deque[str] = field(default_factory=deque)
    _event: int | None = None
    _start_ts: int = 0
    _duration: int = 0
    _ends_left: int = 0
    _gap_left: int = 0

    def send(self, digits: str) -> str:
        """Queue digits; returns those not queued (characters that are no DTMF event)."""
        rejected = ""
        for c in digits.upper():
            if c in _CODE:
                self._queue.append(c)
            else:
                rejected += c
        return rejected

    @property
    def busy(self) -> bool:
        return self._event is not None or self._gap_left > 0 or bool(self._queue)

    def tick(self, rtp: RtpSender) -> RtpPacket | None:
        """The telephone-event packet for this packet time, or None to send audio."""
        step = self.samples_per_packet
        if self._event is None:
            if self._gap_left > 0:
                self._gap_left -= 1
                return None
            if not self._queue:
                return None
            self._event = _CODE[self._queue.popleft()]
            self._start_ts = rtp.timestamp
            self._duration = step
            self._ends_left = END_REPEATS
            payload = TelephoneEvent(self._event, False, self.volume, self._duration)
            return rtp.packet(
                self.payload_type, bytes(payload), step, marker=True, timestamp=self._start_ts
            )
        target = self.duration_ms * self.clock_rate // 1000
        if self._duration < target:
            self._duration = min(self._duration + step, 0xFFFF)
        end = self._duration >= target
        payload = TelephoneEvent(self._event, end, self.volume, self._duration)
        packet = rtp.packet(self.payload_type, bytes(payload), step, timestamp=self._start_ts)
        if end:
            self._ends_left -= 1
            if self._ends_left == 0:
                self._event = None
                self._gap_left = max(0, self.gap_ms * self.clock_rate // 1000 // step)
        return packet


@dataclass
class DtmfReceiver:
    """Reports each remote key press once."""

    clock_rate: int = 8000
    _current: int | None = None
    _event: int = 0
    _duration: int = 0
    _reported: set[int] = field(default_factory=set)
    _last_seen: float = 0.0
    malformed: int = 0

    def receive(self, packet: RtpPacket, now: float) -> list[DtmfDigit]:
        try:
            te = TelephoneEvent.parse(packet.payload)
        except ValueError:
            self.malformed += 1
            return []
        if te.event >= len(EVENTS):
            return []  # a tone or event we do not handle (flash, fax tones...)
        out: list[DtmfDigit] = []
        ts = packet.timestamp
        if ts in self._reported:
            return []  # a repeated end packet of an event already reported
        if self._current is not None and ts != self._current:
            out += self._finish()  # a new event began before the old one's end arrived
        self._current = ts
        self._event = te.event
        self._duration = max(self._duration, te.duration)
        self._last_seen = now
        if te.end:
            out += self._finish()
        return out

    @property
    def pending(self) -> bool:
        """An event is open: only then can ``poll`` report anything (the stream asks twice
        per tick, so the common case is this one attribute test)."""
        return self._current is not None

    def poll(self, now: float) -> list[DtmfDigit]:
        """Report an event whose end packets never came."""
        if self._current is not None and now - self._last_seen > EVENT_TIMEOUT:
            return self._finish()
        return []

    def _finish(self) -> list[DtmfDigit]:
        assert self._current is not None
        self._reported.add(self._current)
        if len(self._reported) > 64:
            self._reported = set(sorted(self._reported)[-32:])
        digit = DtmfDigit(EVENTS[self._event], self._duration * 1000 // self.clock_rate)
        self._current = None
        self._duration = 0
        return [digit]
