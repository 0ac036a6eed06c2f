"""RFC 4733 telephone-events: the packet sequences of §2.5 on send, exactly-once on receive."""

import random

from endpoint.media.dtmf import DtmfDigit, DtmfReceiver, DtmfSender, TelephoneEvent
from endpoint.media.rtp import RtpPacket, RtpSender


def test_payload_format() -> None:
    te = TelephoneEvent(event=11, end=True, volume=10, duration=800)
    assert bytes(te) == bytes([11, 0x8A, 0x03, 0x20])
    assert TelephoneEvent.parse(bytes(te)) == te


def test_one_digit_start_updates_three_ends_fixed_timestamp() -> None:
    rtp = RtpSender(random.Random(1))
    sender = DtmfSender(payload_type=101, duration_ms=100, gap_ms=40)
    assert sender.send("5x") == "X"
    start_ts = rtp.timestamp
    packets = []
    while (p := sender.tick(rtp)) is not None:
        packets.append(p)
    events = [TelephoneEvent.parse(p.payload) for p in packets]
    assert [e.duration for e in events] == [160, 320, 480, 640, 800, 800, 800]
    assert [e.end for e in events] == [False] * 4 + [True] * 3
    assert all(e.event == 5 and e.volume == 10 for e in events)
    assert [p.marker for p in packets] == [True] + [False] * 6
    assert {p.timestamp for p in packets} == {start_ts}  # §2.5.1.2: one timestamp per event
    assert [p.sequence for p in packets] == [(packets[0].sequence + i) % 65536 for i in range(7)]
    assert rtp.timestamp == start_ts + 7 * 160  # the media clock kept running
    assert sender.busy  # the inter-digit gap
    assert sender.tick(rtp) is None and sender.tick(rtp) is None and not sender.busy


def digits_received(packets: list[RtpPacket]) -> list[DtmfDigit]:
    rx = DtmfReceiver()
    out = []
    for i, p in enumerate(packets):
        out += rx.receive(p, i * 0.02)
    return out + rx.poll(100.0)


def sent_packets(digits: str) -> list[RtpPacket]:
    rtp = RtpSender(random.Random(2))
    sender = DtmfSender(payload_type=101)
    sender.send(digits)
    out = []
    for _ in range(200):
        p = sender.tick(rtp)
        if p is not None:
            out.append(p)
    return out


def test_receiver_reports_each_digit_once_with_its_duration() -> None:
    assert digits_received(sent_packets("1#9")) == [
        DtmfDigit("1", 100),
        DtmfDigit("#", 100),
        DtmfDigit("9", 100),
    ]


def test_lost_end_packets_reported_by_the_next_event_or_timeout() -> None:
    packets = sent_packets("47")
    no_ends = [p for p in packets if not TelephoneEvent.parse(p.payload).end]
    assert digits_received(no_ends) == [DtmfDigit("4", 80), DtmfDigit("7", 80)]


def test_lost_start_packet_still_reports() -> None:
    packets = sent_packets("0")[1:]
    assert digits_received(packets) == [DtmfDigit("0", 100)]
