"""A small cffi binding to Debian's libspeexdsp: the MDF echo canceller and the preprocessor.

Why speexdsp (measured by benchmarks/bench_echo.py, see the README's audio section): its MDF
canceller reached the echo reduction the issue asks for on our simulated room, costs tens of
microseconds per 20 ms frame, and comes from Debian on every Pi OS release (``libspeexdsp1`` on
bookworm and trixie, arm64 and armhf), so nothing is compiled and no wheel is needed for 3.11 or
3.13. WebRTC's processing module through livekit's wheel costs a 10 MB native library and an
RPC-style call per 10 ms; Debian's libwebrtc-audio-processing has only a C++ interface.

The binding uses cffi's ABI mode (``dlopen``): the few declarations below are the library's
public, stable C interface (speex/speex_echo.h, speex/speex_preprocess.h), so no header package
or compiler is needed. It is loaded lazily, when a call first wants processing, so a process
that never uses it does not map the library (issue 19: a lean service).
"""

from __future__ import annotations

import threading
from typing import Any

from endpoint.audio.port import AudioError
from endpoint.media.frame import Frame

_DECLARATIONS = """
typedef struct SpeexEchoState_ SpeexEchoState;
typedef struct SpeexPreprocessState_ SpeexPreprocessState;
SpeexEchoState *speex_echo_state_init(int frame_size, int filter_length);
void speex_echo_state_destroy(SpeexEchoState *st);
void speex_echo_cancellation(SpeexEchoState *st, const int16_t *rec, const int16_t *play,
                             int16_t *out);
void speex_echo_state_reset(SpeexEchoState *st);
int speex_echo_ctl(SpeexEchoState *st, int request, void *ptr);
SpeexPreprocessState *speex_preprocess_state_init(int frame_size, int sampling_rate);
void speex_preprocess_state_destroy(SpeexPreprocessState *st);
int speex_preprocess_run(SpeexPreprocessState *st, int16_t *x);
int speex_preprocess_ctl(SpeexPreprocessState *st, int request, void *ptr);
"""

#: The Debian package that carries the library, named in the error when it is missing.
DEBIAN_PACKAGE = "libspeexdsp1"

# speex/speex_echo.h
ECHO_SET_SAMPLING_RATE = 24
# speex/speex_preprocess.h
PREPROCESS_SET_DENOISE = 0
PREPROCESS_SET_AGC = 2
PREPROCESS_SET_VAD = 4
PREPROCESS_SET_AGC_LEVEL = 6
PREPROCESS_SET_DEREVERB = 8
PREPROCESS_SET_NOISE_SUPPRESS = 18
PREPROCESS_SET_ECHO_SUPPRESS = 20
PREPROCESS_SET_ECHO_SUPPRESS_ACTIVE = 22
PREPROCESS_SET_ECHO_STATE = 24
PREPROCESS_SET_AGC_MAX_GAIN = 30
PREPROCESS_SET_AGC_TARGET = 46

_lock = threading.Lock()
_loaded: tuple[Any, Any] | None = None


def library() -> tuple[Any, Any]:
    """Return ``(ffi, lib)``, opening libspeexdsp on first use."""
    global _loaded
    with _lock:
        if _loaded is None:
            import cffi

            ffi = cffi.FFI()
            ffi.cdef(_DECLARATIONS)
            try:
                lib = ffi.dlopen("libspeexdsp.so.1")
            except OSError as exc:
                raise AudioError(
                    "echo cancellation and noise suppression need libspeexdsp "
                    f"(apt-get install {DEBIAN_PACKAGE}), or set [audio] echo_cancellation, "
                    f"noise_suppression and auto_gain to false: {exc}"
                ) from None
            _loaded = (ffi, lib)
        return _loaded


class EchoCanceller:
    """Speex's MDF canceller for one call: ``frame_size`` samples in, the echo removed out.

    ``filter_ms`` is the echo tail it can model after the reference has been aligned; speex
    recommends about a third of the room's reverberation time, more costs CPU and convergence.
    """

    def __init__(self, frame_size: int, rate: int, filter_ms: int) -> None:
        self._ffi, self._lib = library()
        self.frame_size = frame_size
        taps = max(frame_size, rate * filter_ms // 1000)
        state = self._lib.speex_echo_state_init(frame_size, taps)
        if state == self._ffi.NULL:
            raise AudioError("libspeexdsp could not allocate an echo canceller")
        self._state = self._ffi.gc(state, self._lib.speex_echo_state_destroy)
        rate_c = self._ffi.new("int *", rate)
        self._lib.speex_echo_ctl(self._state, ECHO_SET_SAMPLING_RATE, rate_c)

    @property
    def state(self) -> Any:
        return self._state

    def process(self, captured: Frame, played: Frame) -> Frame:
        """Remove from ``captured`` the echo of ``played`` (both int16 frames, aligned)."""
        ffi = self._ffi
        out = bytearray(len(captured))
        self._lib.speex_echo_cancellation(
            self._state,
            ffi.from_buffer("int16_t[]", captured),
            ffi.from_buffer("int16_t[]", played),
            ffi.from_buffer("int16_t[]", out),
        )
        return bytes(out)

    def reset(self) -> None:
        self._lib.speex_echo_state_reset(self._state)


class Preprocessor:
    """Speex's preprocessor: noise suppression, automatic gain, residual echo suppression."""

    def __init__(
        self,
        frame_size: int,
        rate: int,
        *,
        denoise: bool,
        agc: bool,
        echo: EchoCanceller | None,
        noise_suppress_db: int = -25,
        agc_max_gain_db: int = 20,
    ) -> None:
        self._ffi, self._lib = library()
        self.frame_size = frame_size
        state = self._lib.speex_preprocess_state_init(frame_size, rate)
        if state == self._ffi.NULL:
            raise AudioError("libspeexdsp could not allocate a preprocessor")
        self._state = self._ffi.gc(state, self._lib.speex_preprocess_state_destroy)
        self._set_int(PREPROCESS_SET_DENOISE, int(denoise))
        self._set_int(PREPROCESS_SET_NOISE_SUPPRESS, noise_suppress_db)
        self._set_int(PREPROCESS_SET_AGC, int(agc))
        if agc:
            self._set_int(PREPROCESS_SET_AGC_MAX_GAIN, agc_max_gain_db)
        self._set_int(PREPROCESS_SET_DEREVERB, 0)
        if echo is not None:
            self._lib.speex_preprocess_ctl(self._state, PREPROCESS_SET_ECHO_STATE, echo.state)
        else:
            self._lib.speex_preprocess_ctl(self._state, PREPROCESS_SET_ECHO_STATE, self._ffi.NULL)

    def _set_int(self, request: int, value: int) -> None:
        self._lib.speex_preprocess_ctl(self._state, request, self._ffi.new("int *", value))

    def process(self, frame: Frame) -> Frame:
        """Return the processed copy of one int16 frame."""
        out = bytearray(frame)
        self._lib.speex_preprocess_run(self._state, self._ffi.from_buffer("int16_t[]", out))
        return bytes(out)
