"""Sample-rate and channel conversion between a device's native format and 8 kHz mono frames.

Why soxr's *variable-rate* engine (`vr=True`) for streams: the fixed-rate engines process in FFT
blocks, so a 20 ms input chunk gives nothing for several chunks and then a burst (measured: "HQ"
8 -> 48 kHz returns 6440 samples every 7th chunk, 140 ms of added latency). The variable-rate
engine returns a steady 20 ms per 20 ms with about 12.5 ms of delay, and it is still a proper
anti-aliasing filter: flat to 3.9 kHz and below -114 dB from 4.5 kHz when going 48 -> 8 kHz
(`benchmarks/bench_resample.py` prints these figures). A streaming resampler keeps its filter
state between chunks, so frame boundaries do not click.

Samples are float32 in [-1, 1) inside the resampler and int16 bytes (frames) at the edges. This
module is numpy's: it is imported only where a device or file runs at another rate than the
call (issue 19).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    import soxr

Samples = npt.NDArray[np.float32]

_INT16_SCALE = 32768.0


def frame_to_float(frame: bytes) -> Samples:
    """A frame's int16 bytes as float32 in [-1, 1): the boundary to soxr's array world."""
    return int16_to_float(np.frombuffer(frame, dtype=np.int16))


def int16_to_float(pcm: npt.NDArray[np.int16]) -> Samples:
    """Scale int16 samples to float32 in [-1, 1)."""
    return pcm.astype(np.float32) / np.float32(_INT16_SCALE)


def float_to_int16(samples: npt.NDArray[np.floating]) -> npt.NDArray[np.int16]:
    """Round float samples in [-1, 1) to int16, saturating instead of wrapping around."""
    scaled = np.rint(np.asarray(samples, dtype=np.float64) * _INT16_SCALE)
    return np.clip(scaled, -32768, 32767).astype(np.int16)


class StreamResampler:
    """Streaming mono float32 resampler that keeps its filter state from chunk to chunk."""

    __slots__ = ("_stream",)

    def __init__(self, in_rate: int, out_rate: int) -> None:
        if in_rate <= 0 or out_rate <= 0:
            raise ValueError(f"sample rates must be positive, not {in_rate} -> {out_rate}")
        self._stream: soxr.ResampleStream | None = None
        if in_rate != out_rate:
            import soxr  # here: only a device or file at another rate needs the library

            self._stream = soxr.ResampleStream(in_rate, out_rate, 1, dtype="float32", vr=True)

    def process(self, samples: Samples) -> Samples:
        """Resample one chunk; the output length follows the rate ratio over time."""
        if self._stream is None:
            return samples
        out: Samples = self._stream.resample_chunk(np.ascontiguousarray(samples))
        return out

    def flush(self) -> Samples:
        """Return what the filter still holds at the end of a stream, and reset it."""
        if self._stream is None:
            return np.zeros(0, dtype=np.float32)
        out: Samples = self._stream.resample_chunk(np.zeros(0, dtype=np.float32), last=True)
        self._stream.clear()
        return out

    def reset(self) -> None:
        """Forget the filter state (after a device reopen, the old tail is stale)."""
        if self._stream is not None:
            self._stream.clear()
