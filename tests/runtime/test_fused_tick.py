"""The fused tick (endpoint.runtime.fused_tick) against the generic one, over real UDP sockets
on 127.0.0.1: two media loops, one ticking through ``_tick_all`` (which takes the fused tick
whenever the call qualifies) and one always through ``_tick_generic``, each with the same
call (same seed, same keys, same WAV microphone), are sent the same random datagrams and
commands tick by tick. Whatever the datagrams (plain, SRTP, padding/extension/CSRC, RFC 4733,
DTLS-looking, RTCP, wrong SSRC, reordered, duplicate, late, a bad tag, garbage) and commands
(a digit sent, a re-latch to a second address), both must send the same bytes, count, report
and latch the same, and play the same audio."""

import random
import socket
import struct
import wave
from pathlib import Path

import numpy as np
import pylibsrtp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from endpoint.audio import open_audio
from endpoint.audio.processing import ProcessingSettings, VoiceProcessor
from endpoint.media.rtp import RtpExtension, RtpPacket
from endpoint.media.srtp import SrtpProtection
from endpoint.media.stream import MediaStream, SourceLatched, StreamConfig
from endpoint.runtime.call_steps import CallMedia
from endpoint.runtime.media_loop import MediaLoop
from endpoint.runtime.rtp_transport import allocate

SUITE = "AES_CM_128_HMAC_SHA1_80"
OUR_KEY, PEER_KEY = bytes(range(30)), bytes(range(100, 130))
START = 1000.0


def bound() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    return sock


def drain(sock: socket.socket) -> list[bytes]:
    out = []
    while True:
        try:
            out.append(sock.recv(2048))
        except BlockingIOError:
            return out


def write_microphone(path: Path) -> None:
    t = np.arange(8000 * 4) / 8000
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes((np.sin(2 * np.pi * 700 * t) * 9000).astype("<i2").tobytes())


class Rig:
    """One media loop with one call, its peer's sockets, and a second address of the peer's."""

    def __init__(
        self, tmp: Path, name: str, *, fused: bool, srtp: bool, mux: bool, processing: str = ""
    ) -> None:
        self.sockets = allocate("127.0.0.1", (20000, 60000), random.Random(), rtcp_mux=mux)
        self.peer, self.peer_rtcp, self.other = bound(), bound(), bound()
        self.roles = {self.peer.getsockname(): "peer", self.other.getsockname(): "other"}
        remote_rtcp = self.peer.getsockname() if mux else self.peer_rtcp.getsockname()
        config = StreamConfig(self.peer.getsockname(), remote_rtcp, rtcp_mux=mux)
        protection = SrtpProtection(SUITE, OUR_KEY, PEER_KEY) if srtp else None
        stream = MediaStream(config, random.Random(7), START, protection)
        self.played = tmp / f"{name}.wav"
        self.port = open_audio("file", input_file=tmp / "mic.wav", output_file=self.played)
        self.port.start()
        self.loop = MediaLoop(realtime_priority=None)
        self.call = CallMedia("c", stream, self.sockets, self.port, processor=processor(processing))
        self.loop._add(self.call)
        self.tick = self.loop._tick_all if fused else self.loop._tick_generic
        self.fused_at: list[bool] = []

    def address(self) -> tuple[str, int]:
        return ("127.0.0.1", self.sockets.rtp_port)

    def send(self, source: str, data: bytes) -> None:
        if source == "rtcp" and self.sockets.rtcp is not None:
            self.peer_rtcp.sendto(data, ("127.0.0.1", self.sockets.rtcp_port))
        else:
            (self.other if source == "other" else self.peer).sendto(data, self.address())

    def run(self, now: float) -> bool:
        produced = self.tick(now)
        self.fused_at.append(self.loop._fused is not None)
        return produced

    def observe(self) -> dict[str, object]:
        """Everything the two loops must agree on after a tick, addresses as roles."""
        stream, receiver = self.call.stream, self.call.stream.receiver
        events = [
            SourceLatched(self.roles.get(e.address, e.address))  # type: ignore[arg-type]
            if isinstance(e, SourceLatched)
            else e
            for _, e in self.loop.events()
        ]
        return {
            "to peer": drain(self.peer),
            "to peer rtcp": drain(self.peer_rtcp),
            "to other": drain(self.other),
            "stats": stream.stats(),
            "events": events,
            "latched": self.roles.get(receiver.latched_address, receiver.latched_address),  # type: ignore[arg-type]
            "connected": self.roles.get(self.sockets.peer, self.sockets.peer),  # type: ignore[arg-type]
            "receiver": (
                receiver.foreign,
                receiver.malformed,
                receiver.probation_dropped,
                receiver.invalid_sequence,
                receiver.ssrc_changes,
                stream.unauthenticated,
            ),
            "jitter": (stream.jitter.delay_ms, stream.jitter.stats),
        }

    def close(self) -> bytes:
        self.loop.stop()
        self.loop._close(self.call)
        self.port.stop()
        assert self.port.wait_closed(5)
        for sock in (self.peer, self.peer_rtcp, self.other):
            sock.close()
        with wave.open(str(self.played), "rb") as w:
            return w.readframes(w.getnframes())


_datagram = st.tuples(
    st.sampled_from(["audio"] * 8 + ["csrc", "ext", "pad", "dtmf", "pt8", "dtls", "garbage"]),
    st.sampled_from([1, 1, 1, 1, 1, 0, 2, -1, -30, 3000]),  # sequence step: dup, reorder, late
    st.sampled_from([7, 7, 7, 7, 9]),  # SSRC
    st.sampled_from(["peer"] * 8 + ["other", "rtcp"]),
    st.sampled_from(["ok"] * 8 + ["bad tag", "clear"]),  # SRTP: a forged tag, no SRTP at all
    st.binary(max_size=24),
)
_tick = st.tuples(
    st.lists(_datagram, max_size=3),
    st.sampled_from([None] * 12 + ["digit", "relatch"]),
)


class Peer:
    """What the far end sends: numbered RTP, protected with its key when the call has SRTP."""

    def __init__(self, srtp: bool) -> None:
        self.seq = 100
        self.srtp = SrtpProtection(SUITE, PEER_KEY, OUR_KEY) if srtp else None

    def datagram(self, spec: tuple[str, int, int, str, str, bytes]) -> tuple[str, bytes]:
        kind, step, ssrc, source, tag, garbage = spec
        self.seq = (self.seq + step) % 65536
        if source == "rtcp":  # a receiver report; SRTCP when the call has SRTP
            report = struct.pack("!BBHI", 0x80, 201, 1, 0x1234)
            return source, report if self.srtp is None else self.srtp.protect_rtcp(report)
        if kind == "dtls":
            return source, bytes([22]) + garbage
        if kind == "garbage":
            return source, garbage
        payload = bytes([0x55 ^ self.seq & 0xFF]) * 160
        pt = {"dtmf": 101, "pt8": 8}.get(kind, 0)
        if kind == "dtmf":
            payload = bytes([1, 0x8A if step == 0 else 0x0A, 0, 160])
        packet = bytes(
            RtpPacket(
                pt,
                self.seq,
                self.seq * 160 & 0xFFFFFFFF,
                ssrc,
                payload,
                csrc=(5,) if kind == "csrc" else (),
                extension=RtpExtension(0xBEDE, b"\1\2\3\4") if kind == "ext" else None,
                padding=4 if kind == "pad" else 0,
            )
        )
        if self.srtp is None or tag == "clear":
            return source, packet
        try:
            protected = self.srtp.protect_rtp(packet)
        except pylibsrtp.Error:  # an index already sent: what a replaying attacker sends
            protected = SrtpProtection(SUITE, PEER_KEY, OUR_KEY).protect_rtp(packet)
        if tag == "bad tag":
            protected = protected[:-1] + bytes([protected[-1] ^ 1])
        return source, protected


def settle(sentinel: socket.socket) -> None:
    """Loopback delivers in order: once a datagram sent after the others has arrived, every
    earlier one is queued where it goes (or dropped by a connected socket)."""
    sentinel.sendto(b".", sentinel.getsockname())
    sentinel.settimeout(5)
    sentinel.recv(16)


def processor(processing: str) -> VoiceProcessor | None:
    """None, gains only (Python), or speex's noise suppression and gain (native: the
    microphone is processed against the speaker a tick ahead of its send)."""
    if processing == "gains":
        return VoiceProcessor(ProcessingSettings(speaker_volume_db=-6, mic_gain_db=6), 8000, 160)
    if processing == "speex":
        settings = ProcessingSettings(noise_suppression=True, auto_gain=True, engine="speex")
        return VoiceProcessor(settings, 8000, 160)
    return None


def run_both(
    tmp: Path, ticks: list, *, srtp: bool, mux: bool, warm: int = 6, processing: str = ""
) -> list[bool]:
    """Drives both loops (after ``warm`` ticks of the peer's audio); returns, tick by tick,
    whether the first one's fused tick was in place after it."""
    write_microphone(tmp / "mic.wav")
    fused = Rig(tmp, "fused", fused=True, srtp=srtp, mux=mux, processing=processing)
    generic = Rig(tmp, "generic", fused=False, srtp=srtp, mux=mux, processing=processing)
    sentinel = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sentinel.bind(("127.0.0.1", 0))
    peers = Peer(srtp), Peer(srtp)
    # Warm-up: a clean latch, so that most random sequences exercise the fused tick.
    warm_up = [([("audio", 1, 7, "peer", "ok", b"")], None)] * warm
    try:
        for i, (datagrams, command) in enumerate(warm_up + ticks):
            for rig, peer in zip((fused, generic), peers, strict=True):
                for spec in datagrams:
                    rig.send(*peer.datagram(spec))
                if command == "digit":
                    rig.loop.send_dtmf("c", "5")
                elif command == "relatch":
                    other = rig.other.getsockname()
                    rig.loop.set_remote("c", other, other)
            settle(sentinel)
            now = START + 0.02 * (i + 1)
            assert fused.run(now) == generic.run(now)
            settle(sentinel)
            assert fused.observe() == generic.observe()
        return fused.fused_at[warm:]
    finally:
        sentinel.close()
        played = fused.close(), generic.close()
        assert played[0] == played[1]


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    ticks=st.lists(_tick, min_size=5, max_size=40),
    srtp=st.booleans(),
    mux=st.booleans(),
    warm=st.sampled_from([0, 6]),
    processing=st.sampled_from(["", "", "gains", "speex"]),
)
def test_fused_and_generic_ticks_agree(
    tmp_path: Path, *, ticks: list, srtp: bool, mux: bool, warm: int, processing: str
) -> None:
    """Same datagrams and commands in, the same wire output, counters, events, latch and
    audio out, with and without SRTP and rtcp-mux, from the call's first tick (not latched)
    or from a clean latch, with no voice processing, gains only, or speex's."""
    run_both(tmp_path, ticks, srtp=srtp, mux=mux, warm=warm, processing=processing)


def test_a_plain_call_goes_fused_and_leaves_it_while_a_digit_is_sent(tmp_path: Path) -> None:
    """The guard above is not vacuous: after the latch the common call takes the fused tick
    (with SRTP too), a digit being sent takes it back to the generic one until the digit is
    done, and a re-latch drops it until the socket is connected to the new peer and emptied."""
    steady = ([("audio", 1, 7, "peer", "ok", b"")], None)
    for srtp in (False, True):
        fused = run_both(
            tmp_path, [steady] * 5 + [(steady[0], "digit")] + [steady] * 30, srtp=srtp, mux=False
        )
        assert all(fused[:5]) and not any(fused[5:10]) and all(fused[-5:])
    moved = [([], "relatch")] + [([("audio", 1, 7, "other", "ok", b"")], None)] * 8
    fused = run_both(tmp_path, [steady] * 3 + moved, srtp=False, mux=False)
    # The re-INVITE's tick is generic; unlatched (the new source on probation) fused again;
    # latched, generic until a receive has emptied the newly connected socket.
    assert all(fused[:3]) and not fused[3] and fused[4] and not any(fused[5:7]) and all(fused[7:])


def test_a_processed_call_goes_fused_too(tmp_path: Path) -> None:
    """Hands-free processing (the door's usual call) takes the fused tick after the latch,
    gains only and with speex's native processing a tick ahead."""
    steady = ([("audio", 1, 7, "peer", "ok", b"")], None)
    for processing in ("gains", "speex"):
        fused = run_both(tmp_path, [steady] * 10, srtp=False, mux=False, processing=processing)
        assert all(fused)


def test_a_call_not_latched_yet_sends_from_the_fused_tick(tmp_path: Path) -> None:
    """A send-only peer (nothing comes back) keeps the fused tick, its datagrams read with
    their source; the latch drops it until the connected socket has been emptied."""
    steady = ([("audio", 1, 7, "peer", "ok", b"")], None)
    fused = run_both(tmp_path, [([], None)] * 5 + [steady] * 6, srtp=False, mux=False, warm=0)
    # The first packet is on probation (RFC 3550 §A.1), the second latches.
    assert all(fused[:6]) and not any(fused[6:8]) and all(fused[8:])


def test_what_was_queued_before_the_connect_keeps_its_source(tmp_path: Path) -> None:
    """A flood (more than a tick reads) from the peer with a second address's datagram behind
    it: the socket is connected to the peer at the end of the tick that latched, with the
    stranger's datagram still queued. The fused tick's ``recv()`` would take it for the peer's;
    it waits until a receive has emptied the socket since the connect."""
    flood = [("audio", 1, 7, "peer", "ok", b"")] * 40 + [("audio", 1, 7, "other", "ok", b"")]
    steady = ([("audio", 1, 7, "peer", "ok", b"")], None)
    fused = run_both(tmp_path, [(flood, None)] + [steady] * 4, srtp=False, mux=False, warm=0)
    assert fused[-1]
