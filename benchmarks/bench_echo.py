"""Echo cancellation, noise suppression and their cost, on speech through a simulated room.

Prints, asserts nothing. The far end and the near end are speech made by ``espeak-ng`` (two
voices, resampled to 8 kHz, or 16 kHz with ``--rate 16000``); the far end is played through a
simulated loudspeaker (a little soft clipping), a room (a bulk delay of 30-250 ms and a 60 ms
decaying reverberation tail) and a microphone whose clock runs ``--drift-ppm`` faster than the
speaker's, plus street-like noise (brown noise, a 100 Hz hum and passing swells). Timeline: far
end alone (convergence and ERLE), then both talk (double talk), measured with the processing the
endpoint ships (`endpoint.audio.processing.VoiceProcessor`, libspeexdsp) and, with ``--engine
webrtc``, WebRTC's processing module through livekit's wheel (``pip install livekit``; not a
project dependency).

Figures:
- ERLE (linear canceller only; exact, since the canceller only subtracts: residual echo =
  output - near end - noise) after convergence, and during double talk (filter divergence);
- echo+noise reduction of the whole chain (canceller + residual echo suppression + noise
  suppression) on far-end-only segments: mic power / output power;
- convergence: first time after which a 500 ms window's ERLE is >= 20 dB;
- double-talk near-end attenuation of the whole chain: coherent (the output's part a short
  filter of the clean near end explains), active level, and the old flat gain at one lag (see
  `double_talk_attenuation` for why the flat gain overstates a phase-shifting chain);
- noise suppression SNR gain on near-end speech in street noise (no echo), segmental;
- CPU per 20 ms frame (mean / p99, wall clock in this thread: on a loaded machine it is high).

Run: .venv/bin/python benchmarks/bench_echo.py [--delays 30,120,250] [--engine speex|webrtc]
     [--rate 8000|16000] [--echo-db -4]  (bench_echo_stages.py: the loss stage by stage)
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
import wave
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import numpy as np
import soxr

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from endpoint.audio.processing import ProcessingSettings, VoiceProcessor

RATE = 8000
FRAME = 160
#: Taps of the filter that explains the output by the near end (double-talk attenuation).
TAPS = 64
FAR_TEXT = (
    "Hello, this is the front door. Please come down and open the gate, the parcel is heavy. "
    "I will wait here by the entrance until somebody answers the intercom."
)
NEAR_TEXT = "Yes, I am coming right now, just give me one minute please, I am on my way."


def speech(text: str, voice: str, speed: int) -> np.ndarray:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "s.wav"
        subprocess.run(
            ["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(path), text],
            check=True,
            capture_output=True,
        )
        with wave.open(str(path)) as w:
            rate = w.getframerate()
            data = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
    x = soxr.resample(data.astype(np.float32) / 32768.0, rate, RATE)
    return np.asarray(x / (np.sqrt(np.mean(x**2)) + 1e-12), dtype=np.float64)


def street_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    brown = np.cumsum(rng.standard_normal(n))
    brown -= np.convolve(brown, np.ones(801) / 801, mode="same")
    t = np.arange(n) / RATE
    hum = 0.3 * np.sin(2 * np.pi * 100 * t)
    swell = 1 + 0.8 * np.sin(2 * np.pi * 0.15 * t) ** 2
    white = 0.3 * rng.standard_normal(n)
    x = (brown / (np.std(brown) + 1e-12) + hum + white) * swell
    return np.asarray(x / np.sqrt(np.mean(x**2)), dtype=np.float64)


def room_ir(delay_ms: int, rng: np.random.Generator) -> np.ndarray:
    delay = delay_ms * RATE // 1000
    tail = int(0.06 * RATE)
    ir = np.zeros(delay + tail)
    decay = np.exp(-np.arange(tail) / (0.012 * RATE))
    ir[delay:] = 0.4 * rng.standard_normal(tail) * decay
    ir[delay] = 1.0
    return ir / np.sqrt(np.sum(ir**2))


def drift(x: np.ndarray, ppm: float) -> np.ndarray:
    """What a microphone sampling ``ppm`` faster than the speaker's clock records of ``x``."""
    step = 1.0 / (1.0 + ppm * 1e-6)
    return np.interp(np.arange(len(x)) * step, np.arange(len(x)), x)


def db(p: float, q: float) -> float:
    return float(10 * np.log10((p + 1e-20) / (q + 1e-20)))


def to_i16(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x * 32768), -32768, 32767).astype(np.int16)


Engine = Callable[[np.ndarray, np.ndarray], np.ndarray]


def engine_of(settings: ProcessingSettings) -> Engine:
    proc = VoiceProcessor(settings, RATE, FRAME)

    def run(mic: np.ndarray, far: np.ndarray) -> np.ndarray:
        # The processor works on frames (int16 bytes); the analysis here on arrays.
        proc.played(far.astype(np.int16).tobytes())
        return np.frombuffer(proc.captured(mic.astype(np.int16).tobytes()), dtype=np.int16)

    return run


def process(engine: Engine, mic: np.ndarray, far: np.ndarray) -> tuple[np.ndarray, list[float]]:
    out = np.zeros_like(mic)
    costs = []
    for i in range(0, len(mic) - FRAME + 1, FRAME):
        start = time.perf_counter()
        out[i : i + FRAME] = engine(mic[i : i + FRAME], far[i : i + FRAME])
        costs.append(time.perf_counter() - start)
    return out, costs


def windows_erle(echo: np.ndarray, residual: np.ndarray, start: int, end: int) -> float | None:
    """First time (s, from ``start``) after which every 500 ms window has ERLE >= 20 dB."""
    win = RATE // 2
    ok_from = None
    for i in range(start, end - win, RATE // 10):
        e = float(np.mean(echo[i : i + win] ** 2))
        if e < 1e-7:
            continue
        good = db(e, float(np.mean(residual[i : i + win] ** 2))) >= 20
        if good and ok_from is None:
            ok_from = i
        elif not good:
            ok_from = None
    return None if ok_from is None else (ok_from - start) / RATE


def double_talk_attenuation(
    out: np.ndarray, near: np.ndarray, start: int
) -> tuple[int, float, float, float]:
    """How much of the near end's speech the chain lets through during double talk, three ways.

    ``flat``: the least-squares gain of the output on the clean near end at one integer lag
    (the figure this benchmark printed before). Any linear filter that keeps the level but
    moves the phase (a high-pass filter, WebRTC's internal band split and resampling) lowers
    it: WebRTC's high-pass filter alone, no echo, measures 4.8 dB "attenuation" this way for
    0.4 dB of level. ``coherent``: the level of the part of the output a 64-tap filter of the
    near end explains (phase and fractional delay forgiven; suppression, gating and distortion
    still count as loss). ``level``: the output's level on the frames where the near end
    speaks against the clean near end's (residual echo and noise left in the output count as
    near end here, so it can only flatter a chain with poor echo reduction).
    """
    f = np.float64
    n = len(near)
    padded = np.concatenate([out, np.zeros(TAPS + 2 * RATE // 20)])
    search = RATE // 20
    # The chain may delay the signal (speex's preprocessor by one frame): find the lag.
    lag = max(range(search), key=lambda k: float(np.dot(padded[start + k : start + k + n], near)))
    aligned = padded[start + lag : start + lag + n]
    flat = -20 * np.log10(max(float(np.dot(aligned, near) / np.dot(near, near)), 1e-6))
    columns = [np.concatenate([np.zeros(k), near[: n - k]]) for k in range(TAPS)]
    x = np.stack(columns, axis=1)
    begin = start + lag - TAPS // 2
    h, *_ = np.linalg.lstsq(x, padded[begin : begin + n], rcond=None)
    coherent = db(float(np.mean(near**2)), float(np.mean((x @ h) ** 2)))
    frames = n // FRAME
    p = np.mean(near[: frames * FRAME].astype(f).reshape(frames, FRAME) ** 2, axis=1)
    q = np.mean(aligned[: frames * FRAME].reshape(frames, FRAME) ** 2, axis=1)
    active = p > np.max(p) * 10 ** (-30 / 10)
    level = db(float(np.mean(p[active])), float(np.mean(q[active])))
    return lag, flat, coherent, level


def canceller_figures(
    engine: Engine, signals: tuple[np.ndarray, ...], lead: int, dt_start: int
) -> None:
    """Speex's linear canceller alone: its ERLE is exact, it only subtracts."""
    mic_i, far_i, echo_i, near_i, noise_i = signals
    f = np.float64
    out, costs = process(engine, mic_i, far_i)
    residual = out.astype(f) - near_i.astype(f) - noise_i.astype(f)
    steady = lead + 3 * RATE
    erle = db(
        float(np.mean(echo_i[steady:dt_start].astype(f) ** 2)),
        float(np.mean(residual[steady:dt_start] ** 2)),
    )
    erle_dt = db(
        float(np.mean(echo_i[dt_start:].astype(f) ** 2)),
        float(np.mean(residual[dt_start:] ** 2)),
    )
    conv = windows_erle(echo_i.astype(f), residual, lead, dt_start)
    print(f"  canceller alone: ERLE {erle:5.1f} dB after 3 s, {erle_dt:5.1f} dB in double talk")
    conv_text = "never" if conv is None else f"{conv:.2f} s"
    print(f"  convergence (500 ms windows >= 20 dB from): {conv_text}")
    print(
        f"  CPU canceller: mean {np.mean(costs) * 1e6:6.1f} us, "
        f"p99 {np.percentile(costs, 99) * 1e6:6.1f} us per 20 ms frame"
    )


def double_talk_figures(
    chain: Callable[[], Engine],
    out: np.ndarray,
    alone_mic: np.ndarray,
    near: np.ndarray,
    dt_start: int,
) -> None:
    """Near-end attenuation in double talk, and against a new ``chain()`` on the near end alone.

    The chain's static gain on the near end (noise suppression, automatic gain: 5-6 dB up) is
    not what double talk costs; the difference to the near end alone (far end silent) is.
    """
    f = np.float64
    nf = near.astype(f)
    lag, flat, coherent, level = double_talk_attenuation(out.astype(f), nf, dt_start)
    print(
        f"  double talk: near-end speech attenuated {coherent:4.1f} dB coherent, "
        f"{level:4.1f} dB active level, {flat:4.1f} dB flat-gain (chain delay {lag})"
    )
    alone, _ = process(chain(), alone_mic, np.zeros_like(alone_mic))
    _, _, coherent_alone, level_alone = double_talk_attenuation(alone.astype(f), nf, dt_start)
    print(
        f"  near end alone through the same chain: {coherent_alone:4.1f} dB coherent, "
        f"{level_alone:4.1f} dB level; loss due to double talk "
        f"{coherent - coherent_alone:4.1f} dB coherent, {level - level_alone:4.1f} dB level"
    )


class Room(NamedTuple):
    """One scenario's signals (int16 arrays) and its timeline in samples (a NamedTuple, not a
    dataclass: tests load this script by path, outside sys.modules, where dataclasses fail)."""

    mic: np.ndarray
    far: np.ndarray
    echo: np.ndarray
    near: np.ndarray
    noise: np.ndarray
    #: The microphone without echo (near end and noise): the chain's near end alone.
    alone: np.ndarray
    lead: int
    dt_start: int
    near_len: int


def make_room(
    delay_ms: int, rng: np.random.Generator, clip: float, drift_ppm: float, echo_db: float = -4.0
) -> Room:
    """Far end alone for ~6 s, then both talk; ``echo_db`` is the echo path's gain (-inf: none)."""
    far_speech = speech(FAR_TEXT, "en-us", 160)
    near_speech = speech(NEAR_TEXT, "en+f3", 150)
    lead = RATE // 2
    far_alone = max(len(far_speech) - len(near_speech) - RATE, 6 * RATE)
    n = lead + len(far_speech) + RATE
    far = np.zeros(n)
    far[lead : lead + len(far_speech)] = far_speech * 10 ** (-20 / 20)
    near = np.zeros(n)
    dt_start = lead + far_alone
    near_len = min(len(near_speech), n - dt_start)
    near[dt_start : dt_start + near_len] = near_speech[:near_len] * 10 ** (-26 / 20)
    speaker = np.tanh(far * clip) / clip  # a small loudspeaker's soft clipping
    echo = np.convolve(speaker, room_ir(delay_ms, rng))[:n] * 10 ** (echo_db / 20)
    echo = drift(echo, drift_ppm)
    noise = street_noise(n, rng) * 10 ** (-58 / 20)
    far_i, echo_i, near_i, noise_i = (to_i16(x) for x in (far, echo, near, noise))
    mic_i = to_i16(echo + near + noise)
    alone = to_i16(near + noise)
    return Room(mic_i, far_i, echo_i, near_i, noise_i, alone, lead, dt_start, near_len)


def scenario(args: argparse.Namespace, delay_ms: int, rng: np.random.Generator) -> None:
    room = make_room(delay_ms, rng, args.clip, args.drift_ppm, args.echo_db)
    mic_i, far_i, near_i = room.mic, room.far, room.near
    lead, dt_start, near_len = room.lead, room.dt_start, room.near_len
    tail = args.tail_ms
    seed = max(0, delay_ms - 20) if args.seed_delay else 0

    def make(aec: bool, ns: bool, agc: bool, suppress: bool = True) -> Engine:
        return engine_of(
            ProcessingSettings(
                echo_cancellation=aec,
                noise_suppression=ns,
                auto_gain=agc,
                echo_tail_ms=tail,
                echo_delay_ms=seed,
                echo_suppression=suppress,
                engine=args.engine,
            )
        )

    f = np.float64
    segments = f"far alone {lead / RATE:.1f}-{dt_start / RATE:.1f} s, double talk from "
    segments += f"{dt_start / RATE:.1f} s"
    print(f"\nroom delay {delay_ms} ms, drift {args.drift_ppm:g} ppm ({segments})")
    if args.engine == "speex":
        signals = (mic_i, far_i, room.echo, near_i, room.noise)
        canceller_figures(make(True, False, False, False), signals, lead, dt_start)
    out, costs = process(make(True, args.ns, args.agc), mic_i, far_i)
    steady = lead + 3 * RATE
    chain = db(
        float(np.mean(mic_i[steady:dt_start].astype(f) ** 2)),
        float(np.mean(out[steady:dt_start].astype(f) ** 2)),
    )
    conv = windows_erle(mic_i.astype(f), out.astype(f), lead, dt_start)
    conv_text = "never" if conv is None else f"{conv:.2f} s"
    label = "AEC" + ("+NS" if args.ns else "") + ("+AGC" if args.agc else "")
    print(f"  whole chain ({label}): echo+noise reduction {chain:5.1f} dB (far end alone)")
    print(f"  whole chain convergence (500 ms windows >= 20 dB from): {conv_text}")
    near_part = near_i[dt_start : dt_start + near_len]
    alone = room.alone
    double_talk_figures(lambda: make(True, args.ns, args.agc), out, alone, near_part, dt_start)
    print(
        f"  CPU {label}: mean {np.mean(costs) * 1e6:6.1f} us, "
        f"p99 {np.percentile(costs, 99) * 1e6:6.1f} us per 20 ms frame"
    )


def ns_figures(args: argparse.Namespace, rng: np.random.Generator) -> None:
    clean = speech(FAR_TEXT, "en+m3", 150) * 10 ** (-26 / 20)
    n = len(clean) + RATE
    s = np.zeros(n)
    s[RATE // 2 : RATE // 2 + len(clean)] = clean
    noise = street_noise(n, rng) * 10 ** (-26 / 20) * 10 ** (-args.snr / 20)
    s_i, mic_i = to_i16(s), to_i16(s + noise)
    silence = np.zeros(FRAME, dtype=np.int16)
    engine = engine_of(ProcessingSettings(noise_suppression=True, engine=args.engine))
    out = np.zeros_like(mic_i)
    for i in range(0, n - FRAME + 1, FRAME):
        out[i : i + FRAME] = engine(mic_i[i : i + FRAME], silence)

    def snr(x: np.ndarray) -> float:
        frames = len(x) // FRAME
        p = np.mean(x[: frames * FRAME].astype(np.float64).reshape(frames, FRAME) ** 2, axis=1)
        ref = np.mean(s_i[: frames * FRAME].astype(np.float64).reshape(frames, FRAME) ** 2, axis=1)
        active = ref > np.max(ref) * 10 ** (-25 / 10)
        quiet = ref < 1.0
        settled = np.arange(frames) > RATE // FRAME  # the noise estimate's first second
        speech_p = float(np.mean(p[active & settled]))
        noise_p = float(np.mean(p[quiet & settled]))
        return db(max(speech_p - noise_p, 1e-9), noise_p)

    print(f"\nnoise suppression, speech in street noise at {args.snr:g} dB SNR:")
    before, after = snr(mic_i), snr(out)
    print(f"  SNR {before:5.1f} dB -> {after:5.1f} dB: gain {after - before:5.1f} dB")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delays", default="30,120,250", help="room delays in ms")
    parser.add_argument("--drift-ppm", type=float, default=100.0)
    parser.add_argument("--tail-ms", type=int, default=200, help="speex filter length")
    parser.add_argument(
        "--seed-delay",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="align the reference by the delay doctor --audio would measure (less 20 ms)",
    )
    parser.add_argument("--clip", type=float, default=1.0, help="speaker tanh drive")
    parser.add_argument(
        "--echo-db",
        type=float,
        default=-4.0,
        help="echo path gain in dB (-inf: no echo at all, the suppressor's cost alone)",
    )
    parser.add_argument("--snr", type=float, default=5.0, help="SNR of the NS test, dB")
    parser.add_argument("--engine", choices=["speex", "webrtc"], default="speex")
    parser.add_argument("--rate", type=int, choices=[8000, 16000], default=8000)
    parser.add_argument(
        "--ns",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="noise suppression in the whole-chain figures",
    )
    parser.add_argument(
        "--agc",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="automatic gain in the whole-chain figures (on by default in the alsa backend)",
    )
    args = parser.parse_args()
    global RATE, FRAME
    RATE, FRAME = args.rate, args.rate // 50
    rng = np.random.default_rng(17)
    print(f"engine {args.engine} at {RATE} Hz; speex filter {args.tail_ms} ms", end="")
    print(f"; seed delay {args.seed_delay}")
    for delay in (int(d) for d in args.delays.split(",")):
        scenario(args, delay, rng)
    ns_figures(args, rng)
    return 0


if __name__ == "__main__":
    sys.exit(main())
