"""``audioop``, the C routines on 16-bit PCM that the per-frame media path uses, imported once.

In the standard library up to Python 3.12 (where importing it warns that 3.13 removes it); on
3.13 the ``audioop-lts`` backport, a pinned dependency, provides the same module. C on a 160-sample
frame costs a fraction of a numpy call's overhead, which matters 50 times a second (issue 19).
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
    return audioop.rms(frame.tobytes(), WIDTH)


__all__ = ["WIDTH", "audioop", "rms"]
