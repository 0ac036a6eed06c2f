"""Real synthesised speech for the in-band DTMF tests: espeak-ng reading English, German and French
text in male and female voices at several pitches and speeds, resampled to 8 kHz.

Text comes from the standard library's own docstrings, so there is as much varied prose as a
benchmark wants without shipping a corpus.
"""

from __future__ import annotations

import importlib
import random
import subprocess
import tempfile
import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import soxr

from endpoint.media.frame import SAMPLE_RATE

VOICES = ("en", "en+f3", "en-us+m3", "de", "de+f2", "fr+f4", "es")
_MODULES = ("json", "asyncio", "socket", "email", "pathlib", "subprocess", "argparse", "logging")


def _paragraphs() -> Iterator[str]:
    for name in _MODULES:
        module = importlib.import_module(name)
        for obj in [module, *vars(module).values()]:
            doc = getattr(obj, "__doc__", None)
            if isinstance(doc, str) and len(doc) > 200:
                yield " ".join(doc.split())[:1500]


def synthesise(text: str, voice: str, speed: int, pitch: int) -> npt.NDArray[np.float64]:
    """One utterance as 8 kHz samples at a talker's level (peaks near -6 dBFS)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "s.wav"
        subprocess.run(
            ["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", str(out), text],
            check=True,
            capture_output=True,
            timeout=120,
        )
        with wave.open(str(out)) as w:
            rate = w.getframerate()
            pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64)
    samples = soxr.resample(pcm, rate, SAMPLE_RATE)
    peak = float(np.max(np.abs(samples))) or 1.0
    return np.asarray(samples * (16000.0 / peak), dtype=np.float64)


def speech(seconds: float, seed: int = 1) -> npt.NDArray[np.float64]:
    """At least ``seconds`` of speech, voices and prosody drawn from ``seed``."""
    rng = random.Random(seed)
    parts: list[npt.NDArray[np.float64]] = []
    have = 0
    paragraphs = list(_paragraphs())
    rng.shuffle(paragraphs)
    for text in paragraphs:
        if have >= seconds * SAMPLE_RATE:
            break
        voice = rng.choice(VOICES)
        part = synthesise(text, voice, rng.randrange(130, 200), rng.randrange(20, 80))
        parts.append(part)
        have += len(part)
    if have < seconds * SAMPLE_RATE:
        raise RuntimeError(f"only {have / SAMPLE_RATE:.0f} s of text for {seconds} s of speech")
    return np.concatenate(parts)
