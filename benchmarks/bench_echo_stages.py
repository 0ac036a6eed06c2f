"""Which processing stage costs the near end in double talk (issue 17's "< 3 dB" goal).

Prints, asserts nothing. Same rooms as bench_echo.py (espeak-ng speech, 30-250 ms delay, soft
clipping, 100 ppm drift, street noise; ``make_room``), same yardstick
(``double_talk_attenuation``: the loss double talk causes against the same chain on the near end
alone, coherent and active level), through the endpoint's own `VoiceProcessor`, one row per
stage combination:

- AEC alone, +NS, +AGC, +NS+AGC (the alsa default), with the echo reference aligned as a
  measured ``echo_delay_ms`` would align it;
- the same chain with no echo in the microphone at all (the far end plays, nothing comes back):
  what the residual echo suppressor takes from the near end when there is nothing to suppress;
- with ``--engine webrtc`` two checks of what livekit's binding lets us set: the high-pass
  filter (AEC3 turns it on itself: the output with ``high_pass_filter`` off and on is compared
  byte for byte) and the stream delay hint (0, which the engine passes, against the room's true
  delay, with the reference not aligned); and the module run at a higher rate than the call's
  (16 or 48 kHz, soxr in and out: does AEC3 suppress less there?).

Each row: whole-chain echo+noise reduction on the far end alone (min-max over the rooms), the
worst convergence, the double-talk loss (coherent and level, min-max) and CPU per 20 ms frame.

Run: .venv/bin/python benchmarks/bench_echo_stages.py [--engine webrtc|speex] [--rate 8000|16000]
     [--delays 30,120,250]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import bench_echo as bench

from endpoint.audio.processing import ProcessingSettings

#: (label, noise suppression, automatic gain, echo path: None = ``--echo-db``, or no echo)
ROWS = (
    ("AEC", False, False, None),
    ("AEC+NS", True, False, None),
    ("AEC+AGC", False, True, None),
    ("AEC+NS+AGC (default)", True, True, None),
    ("AEC, no echo", False, False, float("-inf")),
    ("AEC+NS+AGC, no echo", True, True, float("-inf")),
)

Figures = tuple[float, float | None, float, float, float]
MakeEngine = Callable[[int], bench.Engine]


def figures(make: MakeEngine, room: bench.Room, delay_ms: int) -> Figures:
    """Chain reduction, convergence, double-talk loss (coherent, level), mean CPU (us)."""
    f = np.float64
    out, costs = bench.process(make(delay_ms), room.mic, room.far)
    steady = room.lead + 3 * bench.RATE
    chain = bench.db(
        float(np.mean(room.mic[steady : room.dt_start].astype(f) ** 2)),
        float(np.mean(out[steady : room.dt_start].astype(f) ** 2)),
    )
    conv = bench.windows_erle(room.mic.astype(f), out.astype(f), room.lead, room.dt_start)
    near = room.near[room.dt_start : room.dt_start + room.near_len].astype(f)
    _, _, coherent, level = bench.double_talk_attenuation(out.astype(f), near, room.dt_start)
    alone, _ = bench.process(make(delay_ms), room.alone, np.zeros_like(room.mic))
    _, _, coherent0, level0 = bench.double_talk_attenuation(alone.astype(f), near, room.dt_start)
    return chain, conv, coherent - coherent0, level - level0, float(np.mean(costs)) * 1e6


def row(label: str, make: MakeEngine, args: argparse.Namespace, echo_db: float | None) -> None:
    """One stage combination over every room: ranges, worst convergence."""
    echo_db = args.echo_db if echo_db is None else echo_db
    rng = np.random.default_rng(17)  # the same rooms for every row
    results = []
    for delay in (int(d) for d in args.delays.split(",")):
        room = bench.make_room(delay, rng, 1.0, args.drift_ppm, echo_db)
        results.append(figures(make, room, delay))
    chain, coh, lev, cpu = (np.array([r[k] for r in results]) for k in (0, 2, 3, 4))
    convs = [r[1] for r in results]
    conv = "never" if None in convs else f"{max(c for c in convs if c is not None):.2f} s"
    print(
        f"  {label:24s} reduction {chain.min():5.1f}-{chain.max():5.1f} dB, convergence {conv}; "
        f"double-talk loss {coh.min():4.1f}-{coh.max():4.1f} dB coherent, "
        f"{lev.min():4.1f}-{lev.max():4.1f} dB level; CPU {cpu.mean():5.0f} us"
    )


def processor(args: argparse.Namespace, ns: bool, agc: bool) -> MakeEngine:
    def make(delay_ms: int) -> bench.Engine:
        return bench.engine_of(
            ProcessingSettings(
                echo_cancellation=True,
                noise_suppression=ns,
                auto_gain=agc,
                echo_delay_ms=max(0, delay_ms - 20),  # what doctor --audio would seed
                engine=args.engine,
            )
        )

    return make


class Resampled:
    """A chain run at ``rate`` for a call at bench.RATE: soxr streams in and out, a FIFO so
    every 20 ms frame returns 20 ms (the resamplers' delay shows as the chain's lag)."""

    def __init__(self, inner: bench.Engine, rate: int) -> None:
        import soxr

        self._inner, self._frame = inner, rate // 50
        self._up = [soxr.ResampleStream(bench.RATE, rate, 1, dtype="float32") for _ in "mf"]
        self._down = soxr.ResampleStream(rate, bench.RATE, 1, dtype="float32")
        self._mic, self._far = np.zeros(0, np.float32), np.zeros(0, np.float32)
        self._out = np.zeros(bench.FRAME, np.float32)  # one frame of lag, never starved

    def __call__(self, mic: np.ndarray, far: np.ndarray) -> np.ndarray:
        scale = np.float32(32768)
        m, f = (
            up.resample_chunk(x.astype(np.float32) / scale)
            for up, x in zip(self._up, (mic, far), strict=True)
        )
        self._mic, self._far = np.concatenate([self._mic, m]), np.concatenate([self._far, f])
        while min(len(self._mic), len(self._far)) >= self._frame:
            chunk = [
                bench.to_i16(x[: self._frame].astype(np.float64)) for x in (self._mic, self._far)
            ]
            self._mic, self._far = self._mic[self._frame :], self._far[self._frame :]
            done = self._inner(*chunk).astype(np.float32) / scale
            self._out = np.concatenate([self._out, self._down.resample_chunk(done)])
        if len(self._out) < len(mic):
            self._out = np.concatenate([np.zeros(len(mic) - len(self._out), np.float32), self._out])
        out, self._out = self._out[: len(mic)], self._out[len(mic) :]
        return bench.to_i16(out.astype(np.float64))


def livekit_chain(
    hint: Callable[[int], int],
    *,
    high_pass: bool = True,
    ns: bool = False,
    agc: bool = False,
    rate: int = 0,
) -> MakeEngine:
    """livekit's module, the reference unaligned, ``hint(delay)`` as the stream delay, run at
    ``rate`` (0: the call's): what the binding lets us set beyond VoiceProcessor's choices."""
    from livekit import rtc

    def make(delay_ms: int) -> bench.Engine:
        apm = rtc.AudioProcessingModule(
            echo_cancellation=True,
            high_pass_filter=high_pass,
            noise_suppression=ns,
            auto_gain_control=agc,
        )
        at = rate or bench.RATE
        half = at // 100

        def run(mic: np.ndarray, far: np.ndarray) -> np.ndarray:
            out = []
            for k in range(2):
                part = slice(k * half, (k + 1) * half)
                apm.process_reverse_stream(rtc.AudioFrame(far[part].tobytes(), at, 1, half))
                apm.set_stream_delay_ms(hint(delay_ms))
                near = rtc.AudioFrame(mic[part].tobytes(), at, 1, half)
                apm.process_stream(near)
                out.append(np.frombuffer(bytes(near.data), dtype=np.int16))
            return np.concatenate(out)

        return run if at == bench.RATE else Resampled(run, at)

    return make


def livekit_checks(args: argparse.Namespace) -> None:
    room = bench.make_room(120, np.random.default_rng(17), 1.0, args.drift_ppm, args.echo_db)
    outputs = [
        bench.process(livekit_chain(lambda _: 0, high_pass=hpf)(120), room.mic, room.far)[0]
        for hpf in (False, True)
    ]
    same = bool(np.array_equal(*outputs))
    print(f"  AEC3 output identical with high_pass_filter off and on (120 ms room): {same}")
    row("AEC, unaligned, hint 0", livekit_chain(lambda _: 0), args, None)
    row("AEC, unaligned, hint=delay", livekit_chain(lambda d: d), args, None)
    for rate in (r for r in (16000, 48000) if r > args.rate):
        row(f"AEC at {rate} Hz", livekit_chain(lambda _: 0, rate=rate), args, None)
        chain = livekit_chain(lambda _: 0, ns=True, agc=True, rate=rate)
        row(f"AEC+NS+AGC at {rate} Hz", chain, args, None)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=["speex", "webrtc"], default="webrtc")
    parser.add_argument("--rate", type=int, choices=[8000, 16000], default=8000)
    parser.add_argument("--delays", default="30,120,250", help="room delays in ms")
    parser.add_argument("--drift-ppm", type=float, default=100.0)
    parser.add_argument(
        "--echo-db",
        type=float,
        default=-4.0,
        help="echo path gain in dB (-4: bench_echo's room, echo 2 dB above the near end)",
    )
    args = parser.parse_args()
    bench.RATE, bench.FRAME = args.rate, args.rate // 50
    print(f"engine {args.engine} at {args.rate} Hz, rooms {args.delays} ms, echo {args.echo_db} dB")
    for label, ns, agc, echo_db in ROWS:
        row(label, processor(args, ns, agc), args, echo_db)
    if args.engine == "webrtc":
        livekit_checks(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
