"""``audioop``, the C routines on 16-bit PCM that the per-frame media path uses, imported once.

In the standard library up to Python 3.12 (where importing it warns that 3.13 removes it); on
3.13 the ``audioop-lts`` backport, a pinned dependency, provides the same module. C on a 160-sample
frame costs a fraction of a numpy call's overhead, which matters 50 times a second, and works
on the frames' own type, bytes (issue 19).
"""

from __future__ import annotations

import warnings

from endpoint.media.frame import Frame

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

#: Bytes per sample: audioop works on native-endian int16, the frames' own layout.
WIDTH = 2


def rms(frame: Frame) -> int:
    """The frame's root mean square level, rounded down (audioop's integer arithmetic)."""
    return audioop.rms(frame, WIDTH)


def mix(a: Frame, b: Frame) -> Frame:
    """The saturating sum of two frames of one length."""
    return audioop.add(a, b, WIDTH)


def gain(frame: Frame, factor: float) -> Frame:
    """``frame`` scaled by ``factor``, saturating at full scale."""
    return audioop.mul(frame, WIDTH, factor)


def pair_average(frame: Frame) -> Frame:
    """The mean of each pair of samples: halves the rate (a low-pass with a zero at half the
    input rate), as audioop's stereo-to-mono does with equal weights."""
    return audioop.tomono(frame[: len(frame) - len(frame) % 4], WIDTH, 0.5, 0.5)


__all__ = ["WIDTH", "audioop", "gain", "mix", "pair_average", "rms"]
