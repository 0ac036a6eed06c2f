"""The tone, null and file backends, and the factory that picks among them."""

import wave
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from endpoint.audio.factory import open_audio
from endpoint.audio.null import NullPort
from endpoint.audio.port import AudioError, AudioPort, DeviceState
from endpoint.audio.tone import ToneGenerator, TonePort, ringback_port
from endpoint.audio.wavfile import FilePort, load_wav
from tests.pcm import samples as pcm_of


def write_wav(path: Path, samples: npt.NDArray[np.float64], rate: int, width: int) -> None:
    """samples: (frames, channels) floats in [-1, 1)."""
    if width == 1:
        data = np.rint(samples * 127 + 128).astype(np.uint8).tobytes()
    elif width == 3:
        ints = np.rint(samples * (1 << 23 - 0) * 0.999).astype("<i4")
        data = ints.view(np.uint8).reshape(-1, 4)[:, :3].tobytes()
    else:
        dtype = {2: "<i2", 4: "<i4"}[width]
        data = np.rint(samples * (2 ** (8 * width - 1) - 1)).astype(dtype).tobytes()
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(samples.shape[1])
        wav.setsampwidth(width)
        wav.setframerate(rate)
        wav.writeframes(data)


def read_wav(path: Path) -> tuple[int, npt.NDArray[np.int16]]:
    with wave.open(str(path), "rb") as wav:
        assert (wav.getnchannels(), wav.getsampwidth()) == (1, 2)
        return wav.getframerate(), np.frombuffer(wav.readframes(wav.getnframes()), "<i2")


def dominant_hz(samples: npt.NDArray[np.int16], rate: int = 8000) -> float:
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float64) * np.hanning(samples.size)))
    return float(np.argmax(spectrum) * rate / samples.size)


def test_tone_phase_runs_on_across_frames() -> None:
    generator = ToneGenerator((440.0,), 0.5)
    joined = pcm_of(b"".join(generator.next_frame() for _ in range(100))).astype(np.float64)
    expected = 0.5 * 32768 * np.sin(2 * np.pi * 440 * np.arange(16000) / 8000)
    assert np.max(np.abs(joined - expected)) <= 1.0  # rounding only: no jump at any boundary


def test_ringing_cadence_switches_the_tone_on_and_off() -> None:
    generator = ToneGenerator((425.0,), 0.5, cadence=(1.0, 4.0))
    frames = [generator.next_frame() for _ in range(300)]  # 6 s
    loud = [bool(np.any(pcm_of(f) != 0)) for f in frames]
    assert loud[:50] == [True] * 50 and not any(loud[50:250]) and all(loud[250:])


@pytest.mark.parametrize(
    "bad", [{"frequencies": (4000.0,)}, {"amplitude": 1.5}, {"cadence": (1.0,)}]
)
def test_tone_rejects_what_8khz_cannot_play(bad: dict[str, object]) -> None:
    args: dict[str, object] = {"frequencies": (440.0,), **bad}
    with pytest.raises(ValueError):
        ToneGenerator(**args)  # type: ignore[arg-type]


def test_tone_port_gives_its_frequency_and_discards_playback() -> None:
    port = TonePort(1000.0)
    assert port.read_frame() is None  # not started
    port.start()
    frames = [port.read_frame() for _ in range(50)]
    assert all(f is not None for f in frames)
    assert dominant_hz(pcm_of(b"".join(frames))) == pytest.approx(1000.0, abs=1)  # type: ignore[arg-type]
    port.write_frame(bytes(320))
    assert port.status().state is DeviceState.RUNNING


@pytest.mark.parametrize("rate", [8000, 16000])
def test_the_ring_back_table_is_the_generated_tone_with_its_cadence(rate: int) -> None:
    """The port reads a table built from one period of the sine: the same samples as
    generating every frame, over more than one cadence cycle (5 s)."""
    port = ringback_port(rate)
    generator = ToneGenerator((425.0,), 0.3, cadence=(1.0, 4.0), rate=rate)
    n = rate // 50
    for k in range(300):  # 6 s
        assert port.read_frame() == generator.next_frame(n), f"frame {k}"


def test_null_port_is_silence_in_and_nothing_out() -> None:
    port = NullPort()
    port.start()
    frame = port.read_frame()
    assert frame == bytes(320)  # 160 silent int16 samples
    port.write_frame(np.ones(160, dtype=np.int16).tobytes())
    with pytest.raises(ValueError, match="160 int16 samples"):
        port.write_frame(np.ones(80, dtype=np.int16).tobytes())
    with pytest.raises(ValueError, match="not a ndarray"):
        port.write_frame(np.ones(160, dtype=np.int16))  # type: ignore[arg-type]


@pytest.mark.parametrize("width", [1, 2, 3, 4])
@pytest.mark.parametrize(("rate", "channels"), [(8000, 1), (44100, 2), (16000, 1)])
def test_any_pcm_wav_becomes_8khz_mono(
    tmp_path: Path, width: int, rate: int, channels: int
) -> None:
    t = np.arange(rate) / rate
    tone = 0.5 * np.sin(2 * np.pi * 700 * t)
    path = tmp_path / "in.wav"
    write_wav(path, np.repeat(tone[:, None], channels, axis=1), rate, width)
    pcm = pcm_of(load_wav(path))
    assert pcm.size == pytest.approx(8000, abs=1)
    assert dominant_hz(pcm) == pytest.approx(700, abs=1)
    expected = 0.5 * 32768 * np.sin(2 * np.pi * 700 * np.arange(pcm.size) / 8000)
    tolerance = 300 if width == 1 else 40  # 8-bit WAV is coarse
    assert np.max(np.abs(pcm[400:-400] - expected[400:-400])) < tolerance


def test_file_input_loops_seamlessly_or_stops(tmp_path: Path) -> None:
    path = tmp_path / "in.wav"
    ramp = (np.arange(250) / 250.0 - 0.5)[:, None]
    write_wav(path, ramp, 8000, 2)
    source = pcm_of(load_wav(path))
    looping = FilePort(path)
    looping.start()
    frames = [looping.read_frame() for _ in range(5)]
    assert np.array_equal(pcm_of(b"".join(frames)), np.resize(source, 800))  # type: ignore[arg-type]
    once = FilePort(path, loop=False)
    once.start()
    first, second, third = once.read_frame(), once.read_frame(), once.read_frame()
    assert first is not None and second is not None and third is None
    assert np.array_equal(pcm_of(second)[:90], source[160:]) and not pcm_of(second)[90:].any()
    assert once.status().capture_ended


def test_file_output_writes_what_was_played(tmp_path: Path) -> None:
    out = tmp_path / "out.wav"
    port = FilePort(output_file=out)
    port.start()
    generator = ToneGenerator((500.0,))
    frames = [generator.next_frame() for _ in range(25)]
    for f in frames:
        port.write_frame(f)
    port.stop()
    assert port.wait_closed(10.0)
    rate, written = read_wav(out)
    assert rate == 8000 and np.array_equal(written, pcm_of(b"".join(frames)))


def test_file_output_at_another_rate(tmp_path: Path) -> None:
    out = tmp_path / "out.wav"
    port = FilePort(output_file=out, output_rate=48000)
    port.start()
    generator = ToneGenerator((500.0,))
    for _ in range(50):
        port.write_frame(generator.next_frame())
    port.stop()
    assert port.wait_closed(10.0)
    rate, written = read_wav(out)
    assert rate == 48000 and written.size == pytest.approx(48000, abs=100)
    assert dominant_hz(written, 48000) == pytest.approx(500, abs=1)


def test_unreadable_input_is_an_audio_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF....WAVEjunk")
    with pytest.raises(AudioError, match="cannot read WAV file"):
        FilePort(bad)


def test_factory_builds_each_backend(tmp_path: Path) -> None:
    write_wav(tmp_path / "in.wav", np.zeros((800, 1)), 8000, 2)
    ports: list[AudioPort] = [
        open_audio("null"),
        open_audio("tone", tone_hz=425.0),
        open_audio("file", input_file=tmp_path / "in.wav"),
        open_audio("alsa", capture_device="USB", playback_device=1),
    ]
    assert [p.status().backend for p in ports] == ["null", "tone", "file", "alsa"]
    assert ports[3].status().device == "capture: 'USB', playback: #1"
    assert all(p.status().state is DeviceState.STOPPED for p in ports)


def test_factory_alert_ports() -> None:
    assert open_audio("alsa", playback_device="USB", role="alert").status().device == (
        "playback: 'USB'"
    )
    alert = open_audio("alsa", playback_device="USB", alert_device="Speaker", role="alert")
    assert alert.status().device == "playback: 'Speaker'"
    assert open_audio("tone", role="alert").status().backend == "null"


@pytest.mark.parametrize(
    ("backend", "options", "message"),
    [
        ("oss", {}, "unknown audio backend 'oss'"),
        ("file", {}, "needs an input_file"),
        ("tone", {"tone_hz": 5000.0}, "tone frequencies"),
    ],
)
def test_factory_refuses_bad_choices(backend: str, options: dict[str, float], message: str) -> None:
    with pytest.raises(AudioError, match=message):
        open_audio(backend, **options)  # type: ignore[arg-type]
