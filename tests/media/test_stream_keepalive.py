"""RTP keep-alives while a call sends no audio (RFC 6263 §4.6): a NAT keeps the port open."""

import random

import numpy as np

from endpoint.media.frame import FRAME_SAMPLES
from endpoint.media.rtp import RtpPacket
from endpoint.media.stream import KEEPALIVE_PT, MediaStream, StreamConfig

PEER = ("192.0.2.50", 7000)


def stream(direction: str, keepalive_s: float = 15.0) -> MediaStream:
    config = StreamConfig(PEER, ("192.0.2.50", 7001), direction=direction, keepalive_s=keepalive_s)
    return MediaStream(config, random.Random(3), 100.0)


def rtp_out(datagrams: list[tuple[bytes, tuple[str, int]]]) -> list[RtpPacket]:
    return [RtpPacket.parse(data) for data, where in datagrams if where == PEER]


def test_a_held_stream_sends_an_empty_unknown_type_packet_every_keepalive_s() -> None:
    s = stream("inactive")
    sent = []
    t = 100.0
    while t < 146.0:
        t = s.get_timer() or t
        sent += rtp_out(s.handle_timer(t))
    assert len(sent) == 3  # at 115, 130, 145
    assert all(p.payload_type == KEEPALIVE_PT and p.payload == b"" for p in sent)
    assert [p.sequence for p in sent] == [sent[0].sequence + i for i in range(3)]


def test_no_keepalive_while_audio_flows_or_when_off() -> None:
    talking = stream("sendrecv")
    frame = np.zeros(FRAME_SAMPLES, dtype=np.int16)
    t = 100.0
    while t < 160.0:
        talking.send_frame(frame, t)
        t += 0.02
        if t >= (talking.get_timer() or 1e9):
            assert all(p.payload_type != KEEPALIVE_PT for p in rtp_out(talking.handle_timer(t)))
    off = stream("recvonly", keepalive_s=0)
    assert rtp_out(off.handle_timer(200.0)) == []  # only RTCP, to the RTCP port


def test_resume_then_hold_again_counts_from_the_last_audio() -> None:
    s = stream("sendrecv")
    s.send_frame(np.zeros(FRAME_SAMPLES, dtype=np.int16), 120.0)
    s.set_direction("inactive")
    keepalive = s._keepalive_at()
    assert keepalive == 135.0
