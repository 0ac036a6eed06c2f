"""The ALSA backend through real PyAudio -> PortAudio -> ALSA, with no sound card.

How ALSA is pointed at a test configuration: ALSA_CONFIG_PATH names asound-file.conf, which
includes the system /usr/share/alsa/alsa.conf and then defines "testcard" (ALSA's `file` plugin
over its `null` plugin: what is played lands in $AUDIO_TEST_DIR/out.raw, what is captured comes
from $AUDIO_TEST_DIR/in.raw). HOME is the test's own directory, so a scenario can add a
~/.asoundrc (alsa.conf loads it). ALSA and PortAudio read all this when PortAudio initialises,
so every scenario runs in a child process (alsa_scenarios.py) with its own environment.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
import soxr

HERE = Path(__file__).parent
CONFIG = HERE / "asound-file.conf"
SCENARIOS = HERE / "alsa_scenarios.py"


def run_scenario(directory: Path, name: str, *args: int) -> dict[str, object]:
    env = {
        **os.environ,
        "ALSA_CONFIG_PATH": str(CONFIG),
        "AUDIO_TEST_DIR": str(directory),
        # The scenario imports the endpoint of this checkout, not an installed one.
        "PYTHONPATH": str(HERE.parents[1]),
        "HOME": str(directory),
        "JACK_NO_START_SERVER": "1",
        "PULSE_SERVER": f"unix:{directory}/pulse.sock",
        "PULSE_RUNTIME_PATH": str(directory / "pulse-runtime"),
        "PULSE_STATE_PATH": str(directory / "pulse-state"),
    }
    proc = subprocess.run(
        [sys.executable, "-bb", str(SCENARIOS), name, str(directory), *map(str, args)],
        env=env,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-3000:]
    result: dict[str, object] = json.loads((directory / "result.json").read_text())
    return result


def log_lines(directory: Path) -> list[str]:
    return (directory / "audio.log").read_text().splitlines()


def align(received: npt.NDArray[np.float64], source: npt.NDArray[np.float64]) -> tuple[int, float]:
    """Offset in `received` where `source` fits best, and the normalized correlation there."""
    size = received.size + source.size
    spectrum = np.fft.rfft(received, size) * np.conj(np.fft.rfft(source, size))
    scores = np.fft.irfft(spectrum, size)[: received.size - source.size + 1]
    lag = int(np.argmax(scores))
    segment = received[lag : lag + source.size]
    corr = float(segment @ source / (np.linalg.norm(segment) * np.linalg.norm(source) + 1e-12))
    return lag, corr


@pytest.mark.parametrize("rate", [8000, 48000, 44100])
def test_tone_played_lands_in_the_file_at_the_device_rate(tmp_path: Path, rate: int) -> None:
    result = run_scenario(tmp_path, "playback", rate)
    status = result["status"]
    assert isinstance(status, dict)
    assert result["running"] and result["drained"]
    assert status["playback_rate"] == rate
    assert status["playback_dropped"] == 0

    played = np.fromfile(tmp_path / "out.raw", dtype="<i2").astype(np.float64)
    source = np.load(tmp_path / "source.npy").astype(np.float64)
    # At the device rate the second of tone spans `rate` samples (give or take the filter).
    loud = np.flatnonzero(np.abs(played) > 1000)
    assert abs((loud[-1] - loud[0]) - rate) < rate * 0.01
    # Resampled back to 8 kHz it is the source, delayed.
    back = soxr.resample(played, rate, 8000, quality="HQ") if rate != 8000 else played
    _, corr = align(back, source)
    assert corr > 0.99


def test_a_device_name_matches_case_insensitively_and_opening_is_logged(tmp_path: Path) -> None:
    run_scenario(tmp_path, "playback", 48000)
    opened = [line for line in log_lines(tmp_path) if "opened" in line]
    assert opened == [
        "endpoint.audio.alsa INFO audio playback device 'TESTcard' opened: "
        "testcard at 48000 Hz, 1 channel(s)"
    ]


@pytest.mark.parametrize("rate", [48000, 44100])
def test_captured_signal_comes_out_as_8khz_frames(tmp_path: Path, rate: int) -> None:
    result = run_scenario(tmp_path, "capture", rate)
    status = result["status"]
    assert isinstance(status, dict)
    assert result["running"] and result["collected"]
    assert status["capture_rate"] == rate
    assert status["capture_dropped"] == 0
    captured = np.load(tmp_path / "captured.npy").astype(np.float64)
    assert captured.size % 160 == 0
    source = np.load(tmp_path / "source.npy").astype(np.float32) / np.float32(32768)
    # Sample for sample, the frames are the chirp through a streaming soxr resampler: nothing
    # was lost, repeated or reordered between PortAudio's thread and read_frame().
    stream = soxr.ResampleStream(rate, 8000, 1, dtype="float32", vr=True)
    chunks = [stream.resample_chunk(source[i : i + rate // 50]) for i in range(0, rate, rate // 50)]
    reference = np.concatenate(chunks).astype(np.float64) * 32768.0
    lag, corr = align(reference, captured)
    assert (lag, round(corr, 4)) == (0, 1.0)
    # And it is the chirp: against an ideal (linear-phase, offline) resampling the streaming
    # filter only adds a fraction of a millisecond of phase dispersion.
    ideal = soxr.resample(source.astype(np.float64), rate, 8000, quality="VHQ") * 32768.0
    _, corr = align(ideal, captured[400:6400])
    assert corr > 0.95


def test_capture_at_8khz_is_bit_exact(tmp_path: Path) -> None:
    run_scenario(tmp_path, "capture", 8000)
    captured = np.load(tmp_path / "captured.npy")
    source = np.load(tmp_path / "source.npy")
    assert captured.size >= 45 * 160
    assert np.array_equal(captured, source[: captured.size])


def test_list_devices_reports_the_configured_pcm(tmp_path: Path) -> None:
    found = run_scenario(tmp_path, "devices")["devices"]
    assert isinstance(found, list)
    testcard = [d for d in found if d["name"] == "testcard"]
    assert len(testcard) == 1
    assert testcard[0]["max_input_channels"] > 0 and testcard[0]["max_output_channels"] > 0
    assert testcard[0]["default_rate"] > 0


def test_a_card_absent_at_start_is_opened_when_it_appears(tmp_path: Path) -> None:
    result = run_scenario(tmp_path, "missing_card")
    missing, back = result["missing"], result["back"]
    assert isinstance(missing, dict) and isinstance(back, dict)
    assert result["starting"] and missing["state"] == "starting"
    assert "usbcard" in str(missing["last_error"])
    assert result["running"] and back["state"] == "running"
    lines = log_lines(tmp_path)
    not_available = [line for line in lines if "not available" in line]
    assert len(not_available) == 1  # once, however many retries
    assert any("audio playback device 'usbcard' opened: usbcard" in line for line in lines)


def test_a_stalled_device_is_aborted_and_reopened(tmp_path: Path) -> None:
    result = run_scenario(tmp_path, "stalled_capture")
    assert result["running"] and result["lost"] and result["back"]
    assert isinstance(result["reopens"], int) and result["reopens"] >= 1
    assert result["got_frames"]
    lost = [line for line in log_lines(tmp_path) if " lost: " in line]
    assert lost[0] == (
        "endpoint.audio.alsa WARNING audio capture device 'testcard' (testcard) lost: "
        "no audio for 0.3 s; retrying"
    )


def test_each_direction_runs_on_its_own_blocking_thread_until_closed(tmp_path: Path) -> None:
    result = run_scenario(tmp_path, "blocking_streams")
    assert result["running"] and result["advanced"] and result["closed"]
    assert result["threads"] == ["audio-capture", "audio-playback"]
    assert result["after_close"] == []


def test_a_read_stuck_in_the_device_does_not_hold_up_the_reopen(tmp_path: Path) -> None:
    result = run_scenario(tmp_path, "stuck_capture")
    assert result["running"] and result["lost"] and result["left_behind"]
    assert result["got_frames"]
    assert result["after_shutdown"] == [] and result["reinitializable"]
    stuck = [line for line in log_lines(tmp_path) if "stuck" in line]
    assert stuck and all("audio capture device 'testcard'" in line for line in stuck)


def test_the_next_call_gets_its_device_while_the_last_one_closes(tmp_path: Path) -> None:
    result = run_scenario(tmp_path, "back_to_back")
    assert result == {"first_running": True, "second_running": True}


@pytest.mark.pulseaudio
def test_sound_server_killed_mid_call_the_port_reopens(tmp_path: Path) -> None:
    result = run_scenario(tmp_path, "pulse_unplug")
    assert result["running"] and result["got_audio"]
    lost_status, back_status = result["lost_status"], result["back_status"]
    assert isinstance(lost_status, dict) and isinstance(back_status, dict)
    assert result["lost"] and lost_status["state"] == "lost"
    assert result["back"] and back_status["reopens"] == 2
    assert result["got_audio_again"]
    lines = log_lines(tmp_path)
    lost = [line for line in lines if " lost: " in line]
    back = [line for line in lines if " back after " in line]
    assert len(lost) == 2 and len(back) == 2  # capture and playback, once each
    assert all("(pulse)" in line for line in lost + back)


@pytest.mark.pulseaudio
def test_echo_through_the_pulse_loop_is_cancelled(tmp_path: Path) -> None:
    """What the speaker plays comes back in the microphone (PulseAudio's null-sink monitor);
    with echo cancellation on, what would be sent to the peer is much weaker."""
    (tmp_path / "off").mkdir()
    (tmp_path / "on").mkdir()
    off = run_scenario(tmp_path / "off", "echo_path", 0)
    on = run_scenario(tmp_path / "on", "echo_path", 1)
    assert off["running"] and on["running"]
    assert isinstance(off["power"], float) and isinstance(on["power"], float)
    assert off["power"] > 1e4  # the echo is there: about -40 dBFS or louder
    reduction = 10 * np.log10(off["power"] / max(on["power"], 1e-3))
    assert reduction > 30, reduction  # the goal; 43-70 dB measured here


@pytest.mark.parametrize("rate", [16000, 48000])
def test_a_g722_call_plays_6_khz_through_the_device(tmp_path: Path, rate: int) -> None:
    """16 kHz frames (a G.722 call) reach the device with their band above 4 kHz: at 16 kHz
    as they are, at 48 kHz resampled once; an 8 kHz path on the way would have removed it."""
    result = run_scenario(tmp_path, "wide_playback", rate)
    status = result["status"]
    assert isinstance(status, dict) and result["running"] and result["drained"]
    assert status["playback_rate"] == rate
    played = np.fromfile(tmp_path / "out.raw", dtype="<i2").astype(np.float64)
    loud = played[np.flatnonzero(np.abs(played) > 1000)[0] :][: rate // 2]
    spectrum = np.abs(np.fft.rfft(loud))
    peak_hz = np.argmax(spectrum) * rate / len(loud)
    assert abs(peak_hz - 6000) < 20
    assert (
        abs(
            (np.flatnonzero(np.abs(played) > 1000)[-1] - np.flatnonzero(np.abs(played) > 1000)[0])
            - rate
        )
        < rate * 0.01
    )


@pytest.mark.pulseaudio
@pytest.mark.parametrize("alert_first", [0, 1])
def test_without_duplex_each_direction_has_its_own_stream(tmp_path: Path, alert_first: int) -> None:
    """``[audio] duplex = false`` (the default): the device gets a capture stream and a
    playback stream, the alert shares the playback one, and no duplex stream is tried. An
    alert that plays first keeps its stream: the call's capture stream opens beside it."""
    result = run_scenario(tmp_path, "pulse_duplex", alert_first, 48000, 0)
    first = 1 if alert_first else 2
    assert result["running"] and result["streams"] == {"first": first, "both": 2, "call": 2}
    levels = result["levels"]
    assert isinstance(levels, dict)
    assert levels["both"]["1000"] > 30 and levels["both"]["400"] > 30, levels
    assert levels["call"]["1000"] > 30, levels
    lines = log_lines(tmp_path)
    assert not [line for line in lines if "capture and playback" in line or "reopened" in line]
    opened = [
        line.split(" opened: ")[0].split("audio ")[1] for line in lines if " opened: " in line
    ]
    expected = ["capture device 'pulse'", "playback device 'pulse'"]
    assert opened == (expected[::-1] if alert_first else expected)


@pytest.mark.pulseaudio
@pytest.mark.parametrize("rate", [8000, 16000])
def test_a_device_that_cannot_keep_a_duplex_stream_gets_a_stream_per_direction(
    tmp_path: Path, rate: int
) -> None:
    """``[audio] duplex = true`` on ALSA's pulse plugin at 8 and 16 kHz: PortAudio's duplex
    stream mostly ends after a period or two. Reopening it again and again left the call silent;
    the device now gives up duplex once and runs a capture and a playback stream, and the call
    and the alert are heard."""
    result = run_scenario(tmp_path, "pulse_duplex", 0, rate, 1)
    lines = log_lines(tmp_path)
    given_up = [line for line in lines if "using one stream per direction" in line]
    if not given_up and not [line for line in lines if " lost: " in line]:
        pytest.skip("this time the pulse plugin kept the duplex stream running")
    assert len(given_up) == 1 and "full-duplex stream ended after" in given_up[0], lines
    streams = result["streams"]
    assert result["running"] and isinstance(streams, dict) and streams["call"] == 2
    levels = result["levels"]
    assert isinstance(levels, dict)
    assert levels["both"]["1000"] > 30 and levels["both"]["400"] > 30, levels
    assert levels["call"]["1000"] > 30, levels
    opened = [line.split(" opened: ")[0] for line in lines if " opened: " in line]
    assert opened[1:] == [
        "endpoint.audio.alsa INFO audio capture device 'pulse'",
        "endpoint.audio.alsa INFO audio playback device 'pulse'",
    ], opened
    # (Once split, a stream the plugin drops is reopened as any lost device is, not as duplex:
    # seen on 3.13, one "Stream closed" right after the split, back 0.3 s later.)


@pytest.mark.parametrize("alert_first", [0, 1])
def test_a_duplex_device_runs_one_stream_for_call_and_alert(
    tmp_path: Path, alert_first: int
) -> None:
    """``[audio] duplex = true``: a call's port on duplexcard (capture and playback) and an alert
    port that joins and leaves it share ONE PortAudio stream, one callback per period; the
    microphone's frames come out bit-exact and the speaker gets the call's and the alert's
    frames mixed, then the call's alone. An alert that plays first has a playback stream, which
    makes way for one duplex stream when the call starts."""
    result = run_scenario(tmp_path, "testcard_duplex", alert_first)
    assert result["running"] and result["got"]
    assert result["streams"] == {"both": 1, "call": 1}
    callbacks = result["callbacks"]
    assert isinstance(callbacks, int) and 75 <= callbacks <= 81  # one per microphone frame
    status = result["status"]
    assert isinstance(status, dict) and status["state"] == "running" and status["reopens"] == 0
    mic, heard = np.load(tmp_path / "mic.npy"), np.load(tmp_path / "heard.npy")
    assert np.array_equal(heard[: 75 * 160], mic[: 75 * 160])
    spoken, rung = np.load(tmp_path / "spoken.npy"), np.load(tmp_path / "rung.npy")
    expected = spoken.astype(np.int32)
    expected[: rung.size] += rung
    played = np.fromfile(tmp_path / "out.raw", dtype="<i2")
    start = int(np.flatnonzero(played)[0] - np.flatnonzero(expected)[0])  # after the prefill
    assert np.array_equal(played[start : start + expected.size], expected)
    opened = [line for line in log_lines(tmp_path) if " opened: " in line]
    duplex = (
        "endpoint.audio.alsa INFO audio capture and playback device 'duplexcard' opened: "
        "duplexcard at 8000 Hz, 1 channel(s)"
    )
    playback = (
        "endpoint.audio.alsa INFO audio playback device 'duplexcard' opened: "
        "duplexcard at 8000 Hz, 1 channel(s)"
    )
    assert opened == ([playback, duplex] if alert_first else [duplex])


def test_a_stalled_duplex_device_is_lost_and_reopened_as_one_stream(tmp_path: Path) -> None:
    result = run_scenario(tmp_path, "testcard_duplex_stall")
    assert result["running"] and result["lost"] and result["back"] and result["got_frames"]
    assert result["streams"] == 1
    status = result["status"]
    assert isinstance(status, dict) and status["reopens"] == 1
    lines = log_lines(tmp_path)
    assert [line for line in lines if " lost: " in line] == [
        "endpoint.audio.alsa WARNING audio capture and playback device 'duplexcard' "
        "(duplexcard) lost: no audio for 0.3 s; retrying"
    ]
    assert not [line for line in lines if "duplex stream failed" in line]
