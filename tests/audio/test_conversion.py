"""Device buffers <-> 8 kHz frames, fed the way PortAudio's callback would feed them."""

import numpy as np
import numpy.typing as npt
import pyaudio
import pytest

from endpoint.audio.conversion import CaptureConverter, PcmQueue, PlaybackConverter, mix
from endpoint.audio.devices import Direction
from endpoint.audio.registry import DeviceStream, StreamOptions
from endpoint.audio.resample import float_to_int16
from endpoint.audio.ring import FrameRing
from tests.pcm import samples


def sine(freq: float, rate: int, count: int, amplitude: float = 0.5) -> npt.NDArray[np.float64]:
    return amplitude * np.sin(2 * np.pi * freq * np.arange(count) / rate)


def level_db(samples: npt.NDArray[np.floating], reference: float) -> float:
    rms = float(np.sqrt(np.mean(np.asarray(samples, dtype=np.float64) ** 2)))
    return 20 * np.log10(rms / reference + 1e-12)


def test_stereo_48k_capture_becomes_8k_mono_frames() -> None:
    converter = CaptureConverter(48000, 2, 160)
    left = sine(1000, 48000, 48000)
    stereo = np.empty(2 * left.size, dtype=np.float64)
    stereo[0::2], stereo[1::2] = left, left  # both channels carry the tone
    pcm = float_to_int16(stereo).astype("<i2")
    frames = []
    for start in range(0, pcm.size, 2 * 960):
        frames += converter.convert(pcm[start : start + 2 * 960].tobytes())
    assert all(type(f) is bytes and len(f) == 320 for f in frames)  # 160 int16 samples
    assert 48 <= len(frames) <= 50  # one second, less the filter's delay
    out = samples(b"".join(frames))[800:] / 32768.0
    assert level_db(out, 0.5 / np.sqrt(2)) == pytest.approx(0.0, abs=0.1)


def test_capture_filters_what_8khz_cannot_carry() -> None:
    converter = CaptureConverter(48000, 1, 160)
    pcm = float_to_int16(sine(6000, 48000, 48000)).astype("<i2")  # would alias to 2 kHz
    frames = [
        f for i in range(0, pcm.size, 960) for f in converter.convert(pcm[i : i + 960].tobytes())
    ]
    assert level_db(samples(b"".join(frames))[800:] / 32768.0, 0.5 / np.sqrt(2)) < -80


def test_odd_sized_44k1_buffers_still_make_whole_frames() -> None:
    converter = CaptureConverter(44100, 1, 160)
    pcm = float_to_int16(sine(440, 44100, 44100)).astype("<i2")
    sizes = [441, 1024, 7, 882, 3000]
    frames, start, i = [], 0, 0
    while start < pcm.size:
        size = sizes[i % len(sizes)]
        frames += converter.convert(pcm[start : start + size].tobytes())
        start += size
        i += 1
    assert 48 <= len(frames) <= 50


def test_playback_renders_exactly_the_requested_buffer_with_upmix() -> None:
    converter = PlaybackConverter(48000, 2, 160)
    tone = float_to_int16(sine(1000, 8000, 8000))
    frames = iter(f.tobytes() for f in np.split(tone, 50))
    pulled = 0

    def next_frame() -> bytes:
        nonlocal pulled
        pulled += 1
        return next(frames, bytes(320))

    out = b"".join(converter.render(960, next_frame) for _ in range(45))
    samples = np.frombuffer(out, dtype="<i2").reshape(-1, 2)
    assert samples.shape == (45 * 960, 2)
    assert np.array_equal(samples[:, 0], samples[:, 1])
    assert 45 <= pulled <= 47  # about one 8 kHz frame per 20 ms buffer, plus the filter delay
    assert level_db(samples[4800:, 0] / 32768.0, 0.5 / np.sqrt(2)) == pytest.approx(0.0, abs=0.1)


def test_a_huge_playback_request_is_bounded_and_padded_with_silence() -> None:
    converter = PlaybackConverter(8000, 1, 160)
    calls = 0

    def next_frame() -> bytes:
        nonlocal calls
        calls += 1
        return np.full(160, 1000, dtype=np.int16).tobytes()

    out = np.frombuffer(converter.render(16000, next_frame), dtype="<i2")
    assert calls == 15 and out.size == 16000  # as much as the converter's queue holds
    assert np.all(out[: 15 * 160] == 1000) and np.all(out[15 * 160 :] == 0)


def test_mix_saturates_instead_of_wrapping() -> None:
    loud = np.full(160, 30000, dtype=np.int16)
    assert np.all(samples(mix([loud.tobytes(), loud.tobytes()], 160)) == 32767)
    assert np.all(samples(mix([loud.tobytes(), (-loud).tobytes()], 160)) == 0)
    assert np.all(samples(mix([], 160)) == 0) and len(mix([], 160)) == 320


def test_sample_queue_keeps_the_newest_on_overflow() -> None:
    queue = PcmQueue(4)
    queue.put(np.arange(3, dtype=np.int16).tobytes())
    queue.put(np.arange(3, 6, dtype=np.int16).tobytes())
    assert len(queue) == 4
    taken = queue.take(4)
    assert taken is not None and list(samples(taken)) == [2, 3, 4, 5]
    assert queue.take(1) is None


def test_the_stream_callback_counts_xruns_and_feeds_every_attached_port() -> None:
    """Called the way PortAudio calls it: (in_data, frame_count, time_info, status_flags)."""
    options = StreamOptions(frame_samples=160)
    capture = DeviceStream("card", Direction.CAPTURE, options)
    capture.prepare(8000, 1)
    call, doctor = FrameRing(4, prime=1), FrameRing(4, prime=1)
    capture.rings = (call, doctor)
    pcm = np.arange(160, dtype="<i2").tobytes()
    assert capture.on_buffer(pcm, 160, {}, 0) == (None, pyaudio.paContinue)
    assert capture.on_buffer(pcm, 160, {}, pyaudio.paInputOverflow) == (None, pyaudio.paContinue)
    assert capture.xruns == 1 and call.fill == 2 and doctor.fill == 2
    first = call.pop()
    assert first is not None and np.array_equal(samples(first), np.arange(160))

    playback = DeviceStream("card", Direction.PLAYBACK, options)
    playback.prepare(8000, 2)
    speech, alert = FrameRing(4, prime=1), FrameRing(4, prime=1)
    playback.rings = (speech, alert)
    speech.push(np.full(160, 1000, dtype=np.int16).tobytes())
    alert.push(np.full(160, 500, dtype=np.int16).tobytes())
    out, flag = playback.on_buffer(None, 160, {}, pyaudio.paOutputUnderflow)
    assert flag == pyaudio.paContinue and playback.xruns == 1
    assert out is not None and set(np.frombuffer(out, dtype="<i2")) == {1500}
