"""The double-talk attenuation figures of benchmarks/bench_echo.py (issue 17).

The benchmark decides whether the chain meets "< 3 dB"; these tests check its yardstick: a
chain that only shifts phase loses nothing, one that halves the near end loses 6 dB.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_echo.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_echo", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _first_order(x: np.ndarray, b0: float, b1: float, a1: float) -> np.ndarray:
    """y[n] = b0 x[n] + b1 x[n-1] + a1 y[n-1]."""
    y = np.zeros(len(x))
    prev_x = prev_y = 0.0
    for i, v in enumerate(x):
        prev_y = b0 * v + b1 * prev_x + a1 * prev_y
        prev_x = v
        y[i] = prev_y
    return y


def _near(n: int) -> np.ndarray:
    rng = np.random.default_rng(3)
    voiced = _first_order(rng.standard_normal(n), 1.0, 0.0, 0.9)
    envelope = (np.sin(np.arange(n) * 2 * np.pi / 4000) > 0).astype(float)
    return np.asarray(1000 * voiced * envelope)


def _through(bench: ModuleType, out: np.ndarray, near: np.ndarray) -> tuple[float, ...]:
    start = 800
    padded = np.concatenate([np.zeros(start), out, np.zeros(800)])
    _, flat, coherent, level = bench.double_talk_attenuation(padded, near, start)
    return flat, coherent, level


def test_a_phase_shift_with_a_delay_is_no_attenuation(bench: ModuleType) -> None:
    near = _near(16000)
    # A first-order all-pass (level kept, phase moved) and 37 samples of delay.
    shifted = _first_order(near, -0.9, 1.0, 0.9)
    out = np.concatenate([np.zeros(37), shifted[:-37]])
    flat, coherent, level = _through(bench, out, near)
    assert abs(coherent) < 0.5
    assert abs(level) < 0.5
    assert flat > 1.0  # the single-lag gain the benchmark printed before counts it as loss


def test_a_halved_near_end_reads_six_db(bench: ModuleType) -> None:
    near = _near(16000)
    flat, coherent, level = _through(bench, 0.5 * near, near)
    for figure in (flat, coherent, level):
        assert figure == pytest.approx(6.02, abs=0.2)


@pytest.mark.espeak_ng
def test_a_room_without_echo_leaves_only_the_near_end_and_noise(bench: ModuleType) -> None:
    # bench_echo_stages' "no echo" rows measure the suppressor with nothing to suppress only if
    # --echo-db -inf really takes the echo out of the microphone.
    room = bench.make_room(30, np.random.default_rng(17), 1.0, 100.0, float("-inf"))
    assert not room.echo.any()
    assert np.array_equal(room.mic, room.alone)
    loud = bench.make_room(30, np.random.default_rng(17), 1.0, 100.0, -4.0)
    assert not np.array_equal(loud.mic, loud.alone)
