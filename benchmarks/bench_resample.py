"""Figures behind the audio adapter's choices; prints, asserts nothing.

1. soxr streaming resamplers fed 20 ms chunks: CPU per chunk, how long until the first output,
   how bursty the output is, and the filter (pass band and stop band levels) -- why resample.py
   uses the variable-rate engine.
2. With --pulse: the capture cadence of the ALSA adapter against a device that paces (ALSA's
   pulse plugin in front of a private PulseAudio daemon with a null sink).

Run: .venv/bin/python benchmarks/bench_resample.py [--pulse]
"""

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import numpy.typing as npt
import soxr


def run(
    rate_in: int, rate_out: int, signal: npt.NDArray[np.float32], vr: bool, quality: str
) -> list[npt.NDArray[np.float32]]:
    stream = soxr.ResampleStream(rate_in, rate_out, 1, dtype="float32", quality=quality, vr=vr)
    chunk = rate_in // 50
    return [stream.resample_chunk(signal[i : i + chunk]) for i in range(0, signal.size, chunk)]


def level_db(rate_in: int, rate_out: int, freq: float, vr: bool, quality: str) -> float:
    t = np.arange(rate_in * 2) / rate_in
    x = (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    y = np.concatenate(run(rate_in, rate_out, x, vr, quality))[rate_out // 2 :]
    rms = float(np.sqrt(np.mean(y.astype(np.float64) ** 2)))
    return 20 * np.log10(rms / (0.5 / np.sqrt(2)) + 1e-15)


def resampler_figures() -> None:
    print("soxr streaming, 20 ms chunks")
    print(
        f"{'engine':>8} {'in->out':>12} {'us/chunk':>9} {'1st out':>8} {'max burst':>10} "
        f"{'1k dB':>7} {'3.4k dB':>8} {'4.5k dB':>8} {'6k dB':>7}"
    )
    for vr, quality in ((True, "HQ"), (False, "HQ"), (False, "MQ"), (False, "LQ")):
        for rate_in, rate_out in ((48000, 8000), (44100, 8000), (8000, 48000), (8000, 44100)):
            x = np.zeros(rate_in * 2, dtype=np.float32)
            start = time.perf_counter()
            outs = run(rate_in, rate_out, x, vr, quality)
            per_chunk = (time.perf_counter() - start) / len(outs) * 1e6
            first = next(i for i, o in enumerate(outs) if o.size)
            steady = rate_out // 50
            burst = max(o.size for o in outs) / steady
            name = "vr" if vr else quality
            filt = ""
            if rate_out == 8000:
                levels = [level_db(rate_in, rate_out, f, vr, quality) for f in (1000, 3400, 4500)]
                levels.append(level_db(rate_in, rate_out, 6000, vr, quality))
                filt = " ".join(f"{v:8.1f}" for v in levels)
            print(
                f"{name:>8} {rate_in:>5}->{rate_out:<6} {per_chunk:9.1f} {first * 20:6d}ms "
                f"{burst:9.1f}x {filt}"
            )


def pulse_cadence(seconds: float = 10.0) -> None:
    directory = Path(tempfile.mkdtemp(prefix="bench-pulse-"))
    os.environ.update(
        HOME=str(directory),
        PULSE_SERVER=f"unix:{directory}/pulse.sock",
        PULSE_RUNTIME_PATH=str(directory / "runtime"),
        PULSE_STATE_PATH=str(directory / "state"),
        JACK_NO_START_SERVER="1",
    )
    script = directory / "default.pa"
    script.write_text(
        "load-module module-null-sink sink_name=nullsink\n"
        f"load-module module-native-protocol-unix socket={directory}/pulse.sock auth-anonymous=1\n"
    )
    daemon = subprocess.Popen(
        ["pulseaudio", "-n", "--daemonize=no", "--exit-idle-time=-1", "-F", str(script)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    from endpoint.audio.alsa import AlsaPort
    from endpoint.audio.registry import DeviceRegistry

    try:
        time.sleep(3.0)  # a fresh daemon's streams start flowing after about 2 s
        registry = DeviceRegistry()
        port = AlsaPort("pulse", playback=False, registry=registry, capture_frames=50, prime=1)
        port.start()
        if not port.wait_running(10.0):
            print("pulse: the device did not open:", port.status().last_error)
            return
        arrivals: list[float] = []
        end = time.monotonic() + 2.0 + seconds
        while time.monotonic() < end:
            if port.read_frame() is not None:
                arrivals.append(time.monotonic())
            else:
                time.sleep(0.0005)
        status = port.status()
        port.stop()
        registry.shutdown()
        steps = np.diff(np.array(arrivals[100:])) * 1000  # skip the start-up
        print(
            f"\npulse null sink, capture at {status.capture_rate} Hz, {steps.size} frames, "
            "frame arrival interval as read_frame() sees it (0.5 ms polling):"
        )
        print(
            f"  mean {steps.mean():.3f} ms  std {steps.std():.3f} ms  "
            f"p1 {np.percentile(steps, 1):.2f}  p99 {np.percentile(steps, 99):.2f}  "
            f"max {steps.max():.2f} ms; xruns {status.xruns}, dropped {status.capture_dropped}"
        )
        span = arrivals[-1] - arrivals[100]
        print(f"  frames per second over {span:.1f} s: {(len(arrivals) - 101) / span:.3f}")
    finally:
        daemon.terminate()
        daemon.wait()


if __name__ == "__main__":
    resampler_figures()
    if "--pulse" in sys.argv[1:]:
        pulse_cadence()
