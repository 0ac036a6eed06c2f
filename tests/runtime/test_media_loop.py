"""The media thread over real UDP sockets on 127.0.0.1, through the tone and WAV-file adapters."""

import random
import socket
import struct
import sys
import time
import wave
from pathlib import Path

import numpy as np
import pytest

from endpoint.audio import open_audio
from endpoint.audio.null import NullPort
from endpoint.media.dtmf import DtmfDigit
from endpoint.media.stream import KEEPALIVE_PT, MediaStream, SourceLatched, StreamConfig
from endpoint.runtime.call_steps import CallMedia, switch_codec, timer_socket
from endpoint.runtime.media_loop import MediaLoop
from endpoint.runtime.rtp_transport import allocate
from tests.pcm import samples


def write_tone_wav(path: Path, hz: float, seconds: float, rate: int = 16000) -> None:
    t = np.arange(int(rate * seconds)) / rate
    samples = (np.sin(2 * np.pi * hz * t) * 12000).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.tobytes())


def read_wav(path: Path) -> np.ndarray:
    with wave.open(str(path), "rb") as w:
        assert w.getframerate() == 8000 and w.getnchannels() == 1
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(float)


def tone_share(audio: np.ndarray, hz: float) -> float:
    """How much of the signal's power is at ``hz`` (1.0 = a pure tone, ~0 = anything else)."""
    t = np.arange(len(audio)) / 8000
    i, q = np.sin(2 * np.pi * hz * t), np.cos(2 * np.pi * hz * t)
    amplitude = 2 * np.hypot(np.dot(audio, i), np.dot(audio, q)) / len(audio)
    return float(amplitude / (np.sqrt(2 * np.mean(audio**2)) or 1.0))


def test_two_engines_stream_tones_and_dtmf_over_loopback(tmp_path: Path) -> None:
    rng = random.Random(11)
    door_sockets = allocate("127.0.0.1", (30000, 40000), rng)
    flat_sockets = allocate("127.0.0.1", (40000, 50000), rng)
    door_addr = ("127.0.0.1", door_sockets.rtp_port)
    flat_addr = ("127.0.0.1", flat_sockets.rtp_port)
    now = time.monotonic()
    door = MediaStream(StreamConfig(flat_addr, ("127.0.0.1", flat_sockets.rtcp_port)), rng, now)
    flat = MediaStream(StreamConfig(door_addr, ("127.0.0.1", door_sockets.rtcp_port)), rng, now)
    write_tone_wav(tmp_path / "flat-mic.wav", 440, 3.0)
    door_port = open_audio("tone", tone_hz=1000)
    flat_port = open_audio(
        "file", input_file=tmp_path / "flat-mic.wav", output_file=tmp_path / "heard.wav"
    )
    door_port.start()
    flat_port.start()
    loop = MediaLoop(realtime_priority=None)
    loop.start()
    try:
        loop.add_call(CallMedia("door", door, door_sockets, door_port))
        loop.add_call(CallMedia("flat", flat, flat_sockets, flat_port))
        deadline = time.monotonic() + 2.5
        first_tick = loop.ticks
        events: list[tuple[str, object]] = []
        while time.monotonic() < deadline:
            time.sleep(0.05)
            events += loop.events()
        assert loop.ticks > first_tick + 50 and loop.last_tick is not None  # heartbeat
        loop.send_dtmf("door", "42")
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and sum(isinstance(e, DtmfDigit) for _, e in events) < 2:
            time.sleep(0.05)
            events += loop.events()
        # Latched, each RTP socket is connected to its peer (the kernel drops strangers).
        assert (door_sockets.peer, flat_sockets.peer) == (flat_addr, door_addr)
        door_stats = loop.remove_call("door").result(5)
        flat_stats = loop.remove_call("flat").result(5)
    finally:
        loop.stop()
        door_port.stop()
        flat_port.stop()
    assert flat_port.wait_closed(5)  # type: ignore[attr-defined]
    assert [e for c, e in events if c == "flat" and isinstance(e, DtmfDigit)] == [
        DtmfDigit("4", 100),
        DtmfDigit("2", 100),
    ]
    assert ("door", SourceLatched(flat_addr)) in events  # symmetric RTP latched both ways
    assert ("flat", SourceLatched(door_addr)) in events
    heard = read_wav(tmp_path / "heard.wav")
    assert len(heard) > 8000 * 2
    voiced = heard[8000:]  # skip the start-up of the jitter buffer
    assert tone_share(voiced, 1000) > 0.9  # the door's tone, not silence and not the 440 Hz mic
    assert tone_share(voiced, 440) < 0.1
    assert door_stats is not None and flat_stats is not None
    assert flat_stats.received_packets > 100 and door_stats.received_packets > 100
    assert flat_stats.lost == 0 and flat_stats.foreign == 0


def test_an_idle_loop_sleeps_until_asked_and_a_command_moves_its_heartbeat() -> None:
    """Issue 19: no call, no 20 ms ticks and no periodic wake-up either; the watchdog's probe
    (any command) wakes it and moves the heartbeat it checks; stop() wakes it at once."""
    loop = MediaLoop(realtime_priority=None)
    loop.start()
    try:
        started = loop.last_tick
        assert started is not None  # a thread that started counts as running
        time.sleep(0.3)
        assert loop.last_tick == started  # it slept: nothing woke it
        loop.submit(lambda: None)
        deadline = time.monotonic() + 5
        while loop.last_tick == started and time.monotonic() < deadline:
            time.sleep(0.01)
        assert loop.last_tick is not None and loop.last_tick > started
        assert loop.ticks == 0
    finally:
        loop.stop(timeout=5)
    assert not loop.alive


def test_speaker_volume_and_mic_gain_act_on_what_is_played_and_sent(tmp_path: Path) -> None:
    """The door's processor (no native engine: gains only) halves both directions (-6 dB)."""
    from endpoint.audio.processing import ProcessingSettings, VoiceProcessor

    rng = random.Random(12)
    door_sockets = allocate("127.0.0.1", (30000, 40000), rng)
    flat_sockets = allocate("127.0.0.1", (40000, 50000), rng)
    now = time.monotonic()
    door = MediaStream(
        StreamConfig(("127.0.0.1", flat_sockets.rtp_port), ("127.0.0.1", flat_sockets.rtcp_port)),
        rng,
        now,
    )
    flat = MediaStream(
        StreamConfig(("127.0.0.1", door_sockets.rtp_port), ("127.0.0.1", door_sockets.rtcp_port)),
        rng,
        now,
    )
    write_tone_wav(tmp_path / "door-mic.wav", 440, 3.0)
    write_tone_wav(tmp_path / "flat-mic.wav", 1000, 3.0)
    door_port = open_audio(
        "file", input_file=tmp_path / "door-mic.wav", output_file=tmp_path / "door-heard.wav"
    )
    flat_port = open_audio(
        "file", input_file=tmp_path / "flat-mic.wav", output_file=tmp_path / "flat-heard.wav"
    )
    processor = VoiceProcessor(ProcessingSettings(speaker_volume_db=-6.0, mic_gain_db=-6.0))
    door_port.start()
    flat_port.start()
    loop = MediaLoop(realtime_priority=None)
    loop.start()
    try:
        loop.add_call(CallMedia("door", door, door_sockets, door_port, processor=processor))
        loop.add_call(CallMedia("flat", flat, flat_sockets, flat_port))
        deadline = time.monotonic() + 2.5
        while time.monotonic() < deadline:
            time.sleep(0.05)
        loop.remove_call("door").result(5)
        loop.remove_call("flat").result(5)
    finally:
        loop.stop()
        door_port.stop()
        flat_port.stop()
    assert door_port.wait_closed(5)  # type: ignore[attr-defined]
    assert flat_port.wait_closed(5)  # type: ignore[attr-defined]
    half = 12000 * 10 ** (-6 / 20)
    for name, hz in (("door-heard.wav", 1000), ("flat-heard.wav", 440)):
        voiced = read_wav(tmp_path / name)[8000:]
        assert tone_share(voiced, hz) > 0.9
        peak = float(np.sqrt(2 * np.mean(voiced**2)))
        assert 0.85 * half < peak < 1.15 * half, (name, peak)


def test_the_media_loop_shortens_the_gil_switch_interval_while_it_runs() -> None:
    """A woken media thread waits for the GIL at most one switch interval (5 ms by default):
    while the loop runs the interval is MEDIA_SWITCH_INTERVAL_S, and stop() restores it."""
    from endpoint.runtime.realtime import MEDIA_SWITCH_INTERVAL_S

    before = sys.getswitchinterval()
    loop = MediaLoop(realtime_priority=None)
    loop.start()
    try:
        assert sys.getswitchinterval() == pytest.approx(min(before, MEDIA_SWITCH_INTERVAL_S))
    finally:
        loop.stop()
    assert sys.getswitchinterval() == before


def test_a_codec_switch_bridges_the_new_rate_to_the_open_device() -> None:
    """A call opened at 8 kHz that a re-INVITE moves to G.722: the stream gets 16 kHz frames
    from the 8 kHz microphone, the speaker 8 kHz frames from the 16 kHz stream."""
    stream = MediaStream(StreamConfig(("127.0.0.1", 9), ("127.0.0.1", 9)), random.Random(1), 0.0)
    sockets = allocate("127.0.0.1", (20000, 60000), random.Random(2))
    call = CallMedia("c", stream, sockets, NullPort())
    switch_codec(call, "G722", 9)
    assert call.bridges is not None and stream.frame_samples == 320
    up, down = call.bridges
    t = np.arange(160 * 30) / 8000
    tone = (np.sin(2 * np.pi * 1000 * t) * 8000).astype(np.int16).tobytes()
    wide = [up.convert(tone[i : i + 320]) for i in range(0, len(tone), 320)]
    assert [len(f) for f in wide] == [640] * 30  # 320 samples of 16 kHz, every frame
    narrow = [down.convert(f) for f in wide]
    assert [len(f) for f in narrow] == [320] * 30
    heard = samples(b"".join(narrow)).astype(float)
    assert np.max(np.abs(heard[1600:])) > 6000  # the tone came through both bridges
    assert tone_share(heard[1600:], 1000) > 0.95  # as a tone, not distortion
    switch_codec(call, "PCMU", 0)
    assert call.bridges is None and stream.frame_samples == 160
    sockets.close()


def test_timer_packets_leave_rtp_keepalives_from_the_rtp_port_and_rtcp_from_its_own() -> None:
    """A held call's RTP keep-alive must leave from the RTP port (that port's NAT mapping is
    what it keeps), RTCP from the RTCP port; with rtcp-mux there is only the RTP socket."""
    sockets = allocate("127.0.0.1", (42000, 43000), random.Random(5))
    muxed = allocate("127.0.0.1", (43000, 44000), random.Random(5), rtcp_mux=True)
    try:
        keepalive = bytes([0x80, KEEPALIVE_PT]) + bytes(10)
        receiver_report = bytes([0x80, 201, 0, 1]) + bytes(4)
        assert timer_socket(sockets, keepalive) is sockets.rtp
        assert timer_socket(sockets, receiver_report) is sockets.rtcp
        assert timer_socket(muxed, receiver_report) is muxed.rtp
    finally:
        sockets.close()
        muxed.close()


def test_the_next_packet_is_made_while_its_frame_is_there_and_leaves_first_at_the_next_tick(
    tmp_path: Path,
) -> None:
    """Issue 15's pacing: a tick ends by making the next tick's packet when the microphone
    already has its frame (``CallMedia.prepared``), so the next wake-up only sends it. The
    peer gets every frame once, in order, at the tick it always got it; a frame that is not
    there yet (here: the file has ended) is read at the next tick's start, as before; a
    packet made and not yet sent still leaves when the call ends."""
    from endpoint.media.g711 import ulaw_encode

    frames = [bytes(np.full(160, 1000 * (k + 1), dtype="<i2").tobytes()) for k in range(4)]
    with wave.open(str(tmp_path / "mic.wav"), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"".join(frames))
    peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    peer.bind(("127.0.0.1", 0))
    peer.settimeout(1.0)
    sockets = allocate("127.0.0.1", (20000, 60000), random.Random(3))
    stream = MediaStream(StreamConfig(peer.getsockname(), peer.getsockname()), random.Random(4), 0)
    port = open_audio("file", input_file=tmp_path / "mic.wav", loop=False)
    port.start()
    loop = MediaLoop(realtime_priority=None)
    call = CallMedia("c", stream, sockets, port)
    loop._add(call)
    try:
        payloads, prepared_seq = [], []
        for tick in range(6):
            loop._tick_all(1.0 + 0.02 * tick)
            (data,) = [peer.recv(2048)]  # this tick sent exactly one packet
            payloads.append(data[12:])
            prepared = call.prepared
            prepared_seq.append(
                None if prepared is None else struct.unpack_from("!H", prepared[0][0], 2)[0]
            )
            sent_seq = struct.unpack_from("!H", data, 2)[0]
            if prepared is not None:  # the next one in sequence, for the peer
                assert prepared_seq[-1] == (sent_seq + 1) % 65536
                assert prepared[0][1] == peer.getsockname()
        silence = ulaw_encode(bytes(320))
        assert payloads == [ulaw_encode(f) for f in frames] + [silence, silence]
        # Made at the end of ticks 0-2 (frames 1-3); after the last frame, nothing was there.
        assert [s is not None for s in prepared_seq] == [True, True, True, False, False, False]
        loop._tick_all(1.12)
        peer.recv(2048)
        assert call.prepared is None
        call.prepared = loop._datagrams(call, 1.14)  # as a tick's end makes it
        loop._close(call)
        assert peer.recv(2048)[12:] == silence  # sent at the end, not lost
        assert stream.stats().sent_packets == 8
    finally:
        port.stop()
        peer.close()
