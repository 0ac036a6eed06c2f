"""Frames (bytes of native int16, endpoint/media/frame.py) to numpy arrays and back, for the
tests that analyse audio: numpy stays in the tests, at this boundary."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


def samples(frame: bytes | bytearray | memoryview) -> npt.NDArray[np.int16]:
    """The samples of a frame (or of several joined), as a read-only int16 array."""
    return np.frombuffer(frame, dtype=np.int16)


def frame(values: npt.ArrayLike) -> bytes:
    """Samples (any numeric array) as a frame: rounded toward zero to int16."""
    return np.asarray(values).astype(np.int16).tobytes()
