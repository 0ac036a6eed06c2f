"""The media thread over real UDP sockets on 127.0.0.1, through the tone and WAV-file adapters."""

import random
import time
import wave
from pathlib import Path

import numpy as np

from endpoint.audio import open_audio
from endpoint.media.dtmf import DtmfDigit
from endpoint.media.stream import MediaStream, SourceLatched, StreamConfig
from endpoint.runtime.media_loop import CallMedia, MediaLoop
from endpoint.runtime.rtp_transport import allocate


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


def test_an_idle_loop_does_not_tick_but_keeps_its_heartbeat() -> None:
    """Issue 19: no call, no 20 ms wake-ups; the watchdog still sees the thread beat, and stop()
    wakes it at once."""
    loop = MediaLoop(realtime_priority=None, idle_beat=0.05)
    loop.start()
    try:
        beats: set[float | None] = set()
        deadline = time.monotonic() + 5
        while len(beats - {None}) < 4 and time.monotonic() < deadline:
            beats.add(loop.last_tick)
            time.sleep(0.01)
        assert len(beats - {None}) >= 4
        assert loop.ticks == 0
    finally:
        loop.stop(timeout=5)
    assert not loop.alive
