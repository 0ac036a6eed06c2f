"""Audio at one rate meeting audio at another, a 20 ms frame at a time.

A re-INVITE may change the codec's rate mid-call (G.722 to PCMU) while the call's device and
hands-free processing stay open at the first one: the media loop puts a ``RateBridge`` each
way between them instead of reopening the device in the middle of a conversation.

Converted by ``audioop.ratecv`` with its state carried from frame to frame (no click at frame
boundaries), on bytes in C, so a bridged call loads neither numpy nor soxr (issue 19). The rates
are the codecs' (8 and 16 kHz): going down, ratecv's two-tap averaging filter (weights 1, 1: a
zero at the input's Nyquist frequency) is on, the same low-pass the in-band DTMF decimation uses.
"""

from __future__ import annotations

from typing import Any

from endpoint.media.frame import Frame
from endpoint.media.pcm_ops import WIDTH, audioop


class RateBridge:
    """20 ms frames at ``in_rate`` in, 20 ms frames at ``out_rate`` out.

    ratecv's output length follows the ratio over time, a sample more or less per call: a small
    queue evens it out, and silence fills an output short (the first), so every call gives
    exactly one frame and the pacing never sees a gap."""

    __slots__ = ("_in_rate", "_out_rate", "_out_samples", "_pending", "_state", "_weights")

    def __init__(self, in_rate: int, out_rate: int) -> None:
        if in_rate <= 0 or out_rate <= 0:
            raise ValueError(f"sample rates must be positive, not {in_rate} -> {out_rate}")
        self._in_rate, self._out_rate = in_rate, out_rate
        self._out_samples = out_rate // 50
        self._weights = (1, 1) if out_rate < in_rate else (1, 0)
        self._state: Any = None
        self._pending = b""

    @property
    def out_samples(self) -> int:
        return self._out_samples

    def convert(self, frame: Frame) -> Frame:
        converted, self._state = audioop.ratecv(
            frame, WIDTH, 1, self._in_rate, self._out_rate, self._state, *self._weights
        )
        pending = self._pending + converted
        size = WIDTH * self._out_samples
        if len(pending) < size:
            # The filter's start (a sample short for 2:1): silence ahead of it, no frame late.
            self._pending = b""
            return bytes(size - len(pending)) + pending
        # Keep at most one frame queued: a longer backlog would only add delay.
        self._pending = pending[size : 2 * size]
        return pending[:size]

    def reset(self) -> None:
        self._state = None
        self._pending = b""
