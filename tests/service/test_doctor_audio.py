"""``sip-endpoint doctor --audio`` through real PortAudio/ALSA: the pulse device in front of a
private PulseAudio daemon whose null sink's monitor is the microphone (a real echo path), and
the file test card for a dead microphone and a speaker nobody hears."""

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.interop.peers import free_port

ASOUND = Path(__file__).resolve().parents[1] / "audio" / "asound-file.conf"


def start_pulse(directory: Path) -> subprocess.Popen[bytes]:
    """A private PulseAudio daemon: a null sink, its monitor the default source."""
    script = directory / "default.pa"
    script.write_text(
        "load-module module-null-sink sink_name=nullsink\n"
        f"load-module module-native-protocol-unix socket={directory}/pulse.sock "
        "auth-anonymous=1\n"
        "set-default-sink nullsink\n"
        "set-default-source nullsink.monitor\n"
    )
    daemon = subprocess.Popen(
        ["pulseaudio", "-n", "--daemonize=no", "--exit-idle-time=-1", "-F", str(script)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "HOME": str(directory)},
    )
    for _ in range(200):  # bounded: 10 s
        if (directory / "pulse.sock").exists():
            return daemon
        time.sleep(0.05)
    daemon.kill()
    daemon.wait()
    raise RuntimeError("pulseaudio did not start")


def doctor_audio(tmp: Path, capture: str, playback: str) -> subprocess.CompletedProcess[str]:
    path = tmp / "door.toml"
    path.write_text(
        f'[sip]\nlisten = "127.0.0.1:{free_port()}"\n'
        f'[audio]\nbackend = "alsa"\ncapture_device = "{capture}"\n'
        f'playback_device = "{playback}"\n'
    )
    env = {
        **os.environ,
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
    daemon = start_pulse(tmp_path)
    try:
        result = doctor_audio(tmp_path, "pulse", "pulse")
    finally:
        daemon.terminate()
        daemon.wait()
    line = acoustic_line(result)
    assert line.startswith("OK"), line
    delay_ms = int(line.split("delay ")[1].split(" ms")[0])
    level_db = float(line.split("level ")[1].split(" dB")[0])
    assert 0 < delay_ms < 1000  # through the rings and PulseAudio's buffers, not before play
    assert -3 < level_db < 3  # the monitor hears the sink at the level played


@pytest.mark.pulseaudio
def test_a_silent_microphone_is_reported(tmp_path: Path) -> None:
    (tmp_path / "in.raw").write_bytes(bytes(8000 * 2 * 20))  # the test card records silence
    daemon = start_pulse(tmp_path)
    try:
        result = doctor_audio(tmp_path, "testcard", "pulse")
    finally:
        daemon.terminate()
        daemon.wait()
    line = acoustic_line(result)
    assert line.startswith("FAIL") and "hears nothing" in line, line
    assert result.returncode == 1


@pytest.mark.pulseaudio
def test_a_speaker_the_microphone_does_not_hear_is_reported(tmp_path: Path) -> None:
    rng = np.random.default_rng(9)
    noise = (rng.standard_normal(48000 * 20) * 300).astype("<i2")  # a room, no chirp
    (tmp_path / "in.raw").write_bytes(noise.tobytes())
    daemon = start_pulse(tmp_path)
    try:
        result = doctor_audio(tmp_path, "testcard", "pulse")
    finally:
        daemon.terminate()
        daemon.wait()
    line = acoustic_line(result)
    assert line.startswith("FAIL") and "not in the microphone" in line, line
