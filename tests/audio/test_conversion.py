"""Device buffers <-> 8 kHz frames, fed the way PortAudio's callback would feed them."""

import numpy as np
import numpy.typing as npt
import pyaudio
import pytest

from endpoint.audio.conversion import CaptureConverter, PcmQueue, PlaybackConverter, mix
from endpoint.audio.devices import DeviceInfo, Direction
from endpoint.audio.registry import DeviceStream, StreamOptions
from endpoint.audio.resample import float_to_int16
from endpoint.audio.ring import FrameRing
from endpoint.audio.stream_plan import Chosen, StreamPlan, plan_streams
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


@pytest.mark.parametrize("rate", [8000, 16000, 44100, 48000])
def test_a_stop_right_after_the_last_frame_still_plays_all_of_it(rate: int) -> None:
    """The worst moment for a graceful stop: the period that took the rings' last frame has
    just been rendered. What the converter holds then (the frames `render` pulled ahead and
    what the resampler's filter keeps) comes out of `drain`, bit for bit what playing on
    would have given; one more `render` period was not enough at 44.1 and 48 kHz (the played
    tone lost up to 20 ms of its end: test_alsa's playback test, now and then under load)."""
    period = rate // 50
    source = [
        float_to_int16(sine(440, 8000, 8000, 0.6)[i : i + 160]).tobytes()
        for i in range(0, 8000, 160)
    ]

    def rendered(stop: bool) -> npt.NDArray[np.int16]:
        queued = iter(source)
        remaining = len(source)

        def next_frame() -> bytes:
            nonlocal remaining
            remaining = max(0, remaining - 1)
            return next(queued, bytes(320))

        converter = PlaybackConverter(rate, 1, 160)
        out = []
        while remaining:
            out.append(converter.render(period, next_frame))
        if stop:
            out += converter.drain(period)
            assert converter.drain(period) == []  # it holds nothing any more
        else:
            out += [converter.render(period, next_frame) for _ in range(5)]
        return np.frombuffer(b"".join(out), dtype="<i2")

    stopped, played_on = rendered(stop=True), rendered(stop=False)
    assert stopped.size == rate  # the second of tone, at the device rate, and no more
    assert np.array_equal(stopped, played_on[: stopped.size])
    loud = np.flatnonzero(np.abs(stopped) > 1000)
    assert loud[-1] >= rate - period // 10  # the tone runs to the end


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


def _device(index: int = 0) -> DeviceInfo:
    return DeviceInfo(index, "card", 2, 2, 48000.0)


def test_the_stream_callback_counts_xruns_and_feeds_every_attached_port() -> None:
    """Called the way PortAudio calls it: (in_data, frame_count, time_info, status_flags)."""
    options = StreamOptions(frame_samples=160)
    capture = DeviceStream("card", options)
    call, doctor = FrameRing(4, prime=1), FrameRing(4, prime=1)
    capture.capture_rings = (call, doctor)
    captured = capture.callback(StreamPlan((Direction.CAPTURE,), _device(), 8000, 1))
    on_capture = captured.on_buffer
    pcm = np.arange(160, dtype="<i2").tobytes()
    assert on_capture(pcm, 160, {}, 0) == (None, pyaudio.paContinue)
    assert on_capture(pcm, 160, {}, pyaudio.paInputOverflow) == (None, pyaudio.paContinue)
    assert captured.xruns == 1 and call.fill == 2 and doctor.fill == 2
    first = call.pop()
    assert first is not None and np.array_equal(samples(first), np.arange(160))

    playback = DeviceStream("card", options)
    speech, alert = FrameRing(4, prime=1), FrameRing(4, prime=1)
    playback.playback_rings = (speech, alert)
    played = playback.callback(StreamPlan((Direction.PLAYBACK,), _device(), 8000, 2))
    on_playback = played.on_buffer
    speech.push(np.full(160, 1000, dtype=np.int16).tobytes())
    alert.push(np.full(160, 500, dtype=np.int16).tobytes())
    out, flag = on_playback(None, 160, {}, pyaudio.paOutputUnderflow)
    assert flag == pyaudio.paContinue and played.xruns == 1
    assert out is not None and set(np.frombuffer(out, dtype="<i2")) == {1500}


def test_one_duplex_callback_captures_and_plays_in_the_same_period() -> None:
    """A device that captures and plays runs one callback per period: it pushes the captured
    frame to the capturing port and returns the mix of the playing ports (call and alert)."""
    device = DeviceStream("card", StreamOptions(frame_samples=160))
    mic, speech, alert = (FrameRing(4, prime=1) for _ in range(3))
    device.capture_rings = (mic,)
    device.playback_rings = (speech, alert)
    both = (Direction.CAPTURE, Direction.PLAYBACK)
    on_buffer = device.callback(StreamPlan(both, _device(), 8000, 1)).on_buffer
    speech.push(np.full(160, 1000, dtype=np.int16).tobytes())
    alert.push(np.full(160, 500, dtype=np.int16).tobytes())
    out, flag = on_buffer(np.arange(160, dtype="<i2").tobytes(), 160, {}, 0)
    assert flag == pyaudio.paContinue
    assert out is not None and set(np.frombuffer(out, dtype="<i2")) == {1500}
    heard = mic.pop()
    assert heard is not None and np.array_equal(samples(heard), np.arange(160))


def test_a_device_is_opened_duplex_only_in_one_format_on_one_device() -> None:
    card, other = _device(0), _device(1)
    both = (Direction.CAPTURE, Direction.PLAYBACK)
    assert plan_streams(Chosen(card, 8000, 1), Chosen(card, 8000, 1)) == [
        StreamPlan(both, card, 8000, 1)
    ]
    split = [
        StreamPlan((Direction.CAPTURE,), card, 8000, 1),
        StreamPlan((Direction.PLAYBACK,), card, 48000, 2),
    ]
    assert plan_streams(Chosen(card, 8000, 1), Chosen(card, 48000, 2)) == split
    assert plan_streams(Chosen(card, 8000, 1), Chosen(other, 8000, 1)) == [
        StreamPlan((Direction.CAPTURE,), card, 8000, 1),
        StreamPlan((Direction.PLAYBACK,), other, 8000, 1),
    ]
    assert plan_streams(None, Chosen(card, 8000, 1)) == [
        StreamPlan((Direction.PLAYBACK,), card, 8000, 1)
    ]
