"""In-band DTMF end to end: baresip plays a WAV (espeak-ng speech with the door code typed in the
middle as tone pairs) as its microphone into a call to our door, which negotiated no RFC 4733
telephone-event; the door hears the keys in the audio and the code opens it."""

import selectors
import subprocess
import time
import wave
from pathlib import Path

import numpy as np
import pytest

from tests.interop.door import CLI, Door, dial, hang_up
from tests.interop.peers import Baresip
from tests.media import speech
from tests.media.dtmf_signals import gap, tone

pytestmark = [pytest.mark.interop, pytest.mark.espeak_ng]


def write_wav(path: Path, samples: np.ndarray) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(np.clip(np.round(samples), -32768, 32767).astype("<i2").tobytes())


def wait_line(proc: subprocess.Popen[str], text: str, timeout: float) -> str | None:
    """The first line of ``proc``'s output holding ``text``, or None by the deadline."""
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if sel.select(deadline - time.monotonic()):
                line = proc.stdout.readline()
                if not line:
                    return None
                if text in line:
                    return line
    return None


def keys(digits: str) -> np.ndarray:
    return np.concatenate([np.concatenate((tone(d, 80, level_dbm0=-8), gap(80))) for d in digits])


def test_a_code_typed_as_tones_between_speech_opens_the_door(tmp_path: Path) -> None:
    talk = speech.speech(6, seed=5)
    audio = np.concatenate((gap(1500), talk[:24000], keys("4711"), talk[24000:48000], gap(3000)))
    write_wav(tmp_path / "visitor.wav", audio)
    door = Door(
        tmp_path / "door",
        sip="[media]\ntelephone_event = false",
        extra='[hardware]\nboard = "simulated"\n[door]\nrelay_pin = 27\ncode = "4711"\n',
    )
    flat = Baresip(tmp_path / "flat", user="visitor", source_wav=tmp_path / "visitor.wav").start()
    try:
        dial(flat, door.uri)
        with subprocess.Popen(
            [*CLI, "ctl", "--socket", str(door.tmp / "ctl.sock"), "events"],
            stdout=subprocess.PIPE,
            text=True,
        ) as events:
            try:
                opened = wait_line(events, "door-opened", 20)
            finally:
                events.terminate()
        hang_up(flat)
    finally:
        flat.stop()
        log = door.stop()
    assert opened, log
    assert "door-opened" in log and "via=dtmf" in log, log
    assert log.count("door-opened") == 1
    assert log.count(" dtmf call_id=") == 4  # the four keys, and nothing heard in the speech
