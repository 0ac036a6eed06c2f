"""``sip-endpoint doctor --audio`` through real PortAudio/ALSA: the pulse device in front of a
private PulseAudio daemon whose null sink's monitor is the microphone (a real echo path), and
the file test card for a dead microphone and a speaker nobody hears."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.audio.alsa_scenarios import start_pulse
from tests.interop.peers import free_port

ASOUND = Path(__file__).resolve().parents[1] / "audio" / "asound-file.conf"


def doctor_audio(tmp: Path, capture: str, playback: str) -> subprocess.CompletedProcess[str]:
    """``doctor --audio`` with the given devices, a private PulseAudio daemon running."""
    daemon = start_pulse(tmp)
    try:
        return _run_doctor(tmp, capture, playback)
    finally:
        daemon.terminate()
        daemon.wait()


def _run_doctor(tmp: Path, capture: str, playback: str) -> subprocess.CompletedProcess[str]:
    path = tmp / "door.toml"
    path.write_text(
        f'[sip]\nlisten = "127.0.0.1:{free_port()}"\n'
        f'[audio]\nbackend = "alsa"\ncapture_device = "{capture}"\n'
        f'playback_device = "{playback}"\n'
    )
    (tmp / "state").mkdir(exist_ok=True)
    env = {
        **os.environ,
        "STATE_DIRECTORY": str(tmp / "state"),  # where the measured echo delay is kept
        "ALSA_CONFIG_PATH": str(ASOUND),
        "AUDIO_TEST_DIR": str(tmp),
        "HOME": str(tmp),
        "JACK_NO_START_SERVER": "1",
        "PULSE_SERVER": f"unix:{tmp}/pulse.sock",
        "PULSE_RUNTIME_PATH": str(tmp / "pulse-runtime"),
        "PULSE_STATE_PATH": str(tmp / "pulse-state"),
    }
    return subprocess.run(
        [sys.executable, "-m", "endpoint", "doctor", "--config", str(path), "--audio"],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
        env=env,
    )


def acoustic_line(result: subprocess.CompletedProcess[str]) -> str:
    found = [line for line in result.stdout.splitlines() if "acoustic test" in line]
    assert len(found) == 1, result.stdout + result.stderr
    return found[0]


@pytest.mark.pulseaudio
def test_the_chirp_is_found_with_its_delay_and_level(tmp_path: Path) -> None:
    result = doctor_audio(tmp_path, "pulse", "pulse")
    line = acoustic_line(result)
    assert line.startswith("OK"), line
    delay_ms = int(line.split("delay ")[1].split(" ms")[0])
    level_db = float(line.split("level ")[1].split(" dB")[0])
    assert 0 < delay_ms < 1000  # through the rings and PulseAudio's buffers, not before play
    assert -3 < level_db < 3  # the monitor hears the sink at the level played


@pytest.mark.pulseaudio
def test_a_silent_microphone_is_reported(tmp_path: Path) -> None:
    (tmp_path / "in.raw").write_bytes(bytes(8000 * 2 * 20))  # the test card records silence
    result = doctor_audio(tmp_path, "testcard", "pulse")
    line = acoustic_line(result)
    assert line.startswith("FAIL") and "hears nothing" in line, line
    assert result.returncode == 1


@pytest.mark.pulseaudio
def test_a_speaker_the_microphone_does_not_hear_is_reported(tmp_path: Path) -> None:
    rng = np.random.default_rng(9)
    noise = (rng.standard_normal(48000 * 20) * 300).astype("<i2")  # a room, no chirp
    (tmp_path / "in.raw").write_bytes(noise.tobytes())
    result = doctor_audio(tmp_path, "testcard", "pulse")
    line = acoustic_line(result)
    assert line.startswith("FAIL") and "not in the microphone" in line, line
