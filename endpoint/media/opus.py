"""Opus (RFC 6716) through libopus, the reference implementation, by a small ctypes binding.

Debian's ``libopus0`` (1.3.1 in bookworm and trixie, armhf and arm64) is already on every
system with baresip, and no maintained PyPI wrapper ships aarch64 wheels for 3.11 and 3.13
(``opuslib`` is unmaintained since 2018 and is itself ctypes), so the dozen entry points we use
are declared here. The library is loaded on the first call that negotiates Opus, never at
start (issue 19); without it ``available()`` says why and Opus is simply not offered.

We run Opus wideband: 16 kHz mono PCM, 20 ms frames of 320 samples, the RTP clock at 48 kHz
as RFC 7587 §4.1 requires. The encoder carries in-band FEC (the previous frame at low rate
inside the next packet) when the peer asks for it, and a single lost packet is rebuilt
from the next one's FEC (``recover``); other losses are concealed by the decoder itself
(``data = NULL``), which knows the codec state far better than a pitch repeater.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from functools import cache

from endpoint.media.frame import Frame

AUDIO_RATE = 16000
#: RFC 7587 §4.1: the RTP clock of Opus is 48 kHz whatever the audio's rate.
CLOCK_RATE = 48000
FRAME_SAMPLES = AUDIO_RATE // 50
#: Wideband speech at 24 kbit/s is transparent for a voice and leaves room for FEC.
BITRATE = 24000
COMPLEXITY = 5
LOSS_PERCENT = 5
#: The largest packet we produce or accept (RFC 6716 §3.4: 1275 octets per frame).
MAX_PACKET = 1500
#: 120 ms at 16 kHz: the longest a single Opus packet may decode to (RFC 6716 §3.2.5).
MAX_DECODED = 120 * AUDIO_RATE // 1000
DEBIAN_PACKAGE = "libopus0"

_OPUS_APPLICATION_VOIP = 2048
_SET_BITRATE = 4002
_SET_COMPLEXITY = 4010
_SET_INBAND_FEC = 4012
_SET_PACKET_LOSS_PERC = 4014
_SET_DTX = 4016
_SET_MAX_BANDWIDTH = 4004
#: maxplaybackrate (Hz) -> the widest band worth sending (OPUS_BANDWIDTH_*), RFC 7587 §6.1.
_BANDWIDTHS = ((8000, 1101), (12000, 1102))
_WIDEBAND = 1103
#: An fmtp longer than this, or with more parameters, is not a peer's honest one: ignored.
_FMTP_MAX, _FMTP_PARAMS = 512, 16

_Handle = ctypes.c_void_p
#: PCM crosses as octets (native int16): bytes in, a string buffer out, no per-sample copy.
_buf = ctypes.c_char_p


class OpusError(ValueError):
    """libopus is missing or refused a call (its error text is in the message)."""


@cache
def _lib() -> ctypes.CDLL:
    path = ctypes.util.find_library("opus")
    if path is None:
        raise OpusError(f"libopus not found: install the Debian package {DEBIAN_PACKAGE}")
    # PyDLL keeps the GIL through a call (0.1-0.6 ms): the media thread then never waits
    # for the SIP thread to hand it back between encoding and sending (principle 4).
    lib = ctypes.PyDLL(path)
    err = ctypes.POINTER(ctypes.c_int)
    lib.opus_encoder_create.argtypes = [ctypes.c_int32, ctypes.c_int, ctypes.c_int, err]
    lib.opus_encoder_create.restype = _Handle
    lib.opus_encode.argtypes = [_Handle, _buf, ctypes.c_int, _buf, ctypes.c_int32]
    lib.opus_encode.restype = ctypes.c_int32
    lib.opus_encoder_ctl.argtypes = [_Handle, ctypes.c_int, ctypes.c_int32]
    lib.opus_encoder_ctl.restype = ctypes.c_int
    lib.opus_encoder_destroy.argtypes = [_Handle]
    lib.opus_decoder_create.argtypes = [ctypes.c_int32, ctypes.c_int, err]
    lib.opus_decoder_create.restype = _Handle
    lib.opus_decode.argtypes = [_Handle, _buf, ctypes.c_int32, _buf, ctypes.c_int, ctypes.c_int]
    lib.opus_decode.restype = ctypes.c_int
    lib.opus_decoder_destroy.argtypes = [_Handle]
    lib.opus_packet_get_nb_samples.argtypes = [_buf, ctypes.c_int32, ctypes.c_int32]
    lib.opus_packet_get_nb_samples.restype = ctypes.c_int
    lib.opus_strerror.argtypes = [ctypes.c_int]
    lib.opus_strerror.restype = ctypes.c_char_p
    return lib


def available() -> str | None:
    """None when Opus can be used, else why not (naming the Debian package to install)."""
    try:
        _lib()
    except OSError as exc:
        return f"libopus cannot be loaded ({exc}): install the Debian package {DEBIAN_PACKAGE}"
    except OpusError as exc:
        return str(exc)
    return None


def _check(code: int, what: str) -> int:
    if code < 0:
        raise OpusError(f"{what}: {_lib().opus_strerror(code).decode()}")
    return code


def _samples(pcm: Frame) -> bytes:
    """The encoder's input as native int16 octets (with ``_frame``, the frame type's border):
    a frame already is (endpoint/media/frame.py)."""
    return pcm


def _frame(pcm: bytes) -> Frame:
    """The decoder's output as the media path's frame type (the one place that knows it)."""
    return bytes(pcm)


def fmtp_params(fmtp: str | None) -> dict[str, str]:
    """``key=value;...`` of an Opus ``a=fmtp`` (RFC 7587 §6.1), keys lower-cased; a malformed
    or oversized one gives nothing, so the RFC's defaults hold."""
    if not fmtp or len(fmtp) > _FMTP_MAX:
        return {}
    pairs = [p.partition("=") for p in fmtp.split(";") if p.strip()]
    if len(pairs) > _FMTP_PARAMS:
        return {}
    return {k.strip().lower(): v.strip() for k, _, v in pairs}


def peer_settings(fmtp: str | None) -> tuple[int, bool]:
    """(max bandwidth, in-band FEC) for what the peer's fmtp says it can play and decode:
    maxplaybackrate caps the band (default 48000: wideband is ours anyway), and FEC only
    when it says ``useinbandfec=1`` (the RFC's default is 0: it would be wasted bits)."""
    params = fmtp_params(fmtp)
    rate_text = params.get("maxplaybackrate", "")
    rate = int(rate_text) if rate_text.isdigit() and len(rate_text) <= 6 else 48000
    band = next((b for limit, b in _BANDWIDTHS if rate <= limit), _WIDEBAND)
    return band, params.get("useinbandfec") == "1"


class OpusEncoder:
    """One direction's encoder: 20 ms of 16 kHz PCM in, one Opus packet out."""

    __slots__ = ("__weakref__", "_handle", "_out")

    def __init__(self) -> None:
        lib, err = _lib(), ctypes.c_int(0)
        handle = lib.opus_encoder_create(AUDIO_RATE, 1, _OPUS_APPLICATION_VOIP, ctypes.byref(err))
        _check(err.value, "opus_encoder_create")
        self._handle: int | None = handle
        self._out = ctypes.create_string_buffer(MAX_PACKET)
        for request, value in (
            (_SET_BITRATE, BITRATE),
            (_SET_COMPLEXITY, COMPLEXITY),
            (_SET_INBAND_FEC, 1),
            (_SET_PACKET_LOSS_PERC, LOSS_PERCENT),
            (_SET_DTX, 0),
        ):
            _check(lib.opus_encoder_ctl(handle, request, value), "opus_encoder_ctl")

    def follow(self, fmtp: str | None) -> None:
        """Honour the peer's ``a=fmtp`` (``peer_settings``)."""
        band, fec = peer_settings(fmtp)
        lib = _lib()
        _check(lib.opus_encoder_ctl(self._handle, _SET_MAX_BANDWIDTH, band), "opus_encoder_ctl")
        _check(lib.opus_encoder_ctl(self._handle, _SET_INBAND_FEC, int(fec)), "opus_encoder_ctl")

    def __call__(self, pcm: Frame) -> bytes:
        samples = _samples(pcm)
        n = _lib().opus_encode(self._handle, samples, len(samples) // 2, self._out, MAX_PACKET)
        return self._out.raw[: _check(n, "opus_encode")]

    def close(self) -> None:
        if self._handle is not None:
            _lib().opus_encoder_destroy(self._handle)
            self._handle = None

    def __del__(self) -> None:
        self.close()


class OpusDecoder:
    """One direction's decoder at 16 kHz; ``conceal`` stands in for a lost packet."""

    __slots__ = ("__weakref__", "_handle", "_pcm")

    def __init__(self) -> None:
        lib, err = _lib(), ctypes.c_int(0)
        handle = lib.opus_decoder_create(AUDIO_RATE, 1, ctypes.byref(err))
        _check(err.value, "opus_decoder_create")
        self._handle: int | None = handle
        self._pcm = ctypes.create_string_buffer(2 * MAX_DECODED)

    def _decode(self, payload: bytes | None, samples: int, fec: int) -> Frame:
        size = len(payload) if payload is not None else 0
        n = _lib().opus_decode(self._handle, payload, size, self._pcm, samples, fec)
        return _frame(self._pcm.raw[: 2 * _check(n, "opus_decode")])

    def __call__(self, payload: bytes) -> Frame:
        """A received packet's audio; a packet libopus rejects raises OpusError."""
        if not payload:
            raise OpusError("opus_decode: empty packet")
        return self._decode(payload, MAX_DECODED, 0)

    def conceal(self, samples: int = FRAME_SAMPLES) -> Frame:
        """RFC 6716 §4.4: the decoder's own loss concealment for ``samples`` of a lost packet.

        The jitter buffer asks at playout, after later packets may already have been decoded
        on arrival, so the concealment continues the newest state, not the lost frame's
        neighbour; for 20-60 ms of speech the ear does not tell, and no packet waits for it.
        """
        return self._decode(None, samples, 0)

    def recover(self, payload: bytes) -> Frame:
        """The lost packet before ``payload`` from the FEC it carries (RFC 6716 §2.1.7, RFC
        7587 §3.2), as long as ``payload`` itself; where it carries none, the decoder
        conceals instead. Call it before decoding ``payload``."""
        if not payload:
            raise OpusError("opus_decode: empty packet")
        count = _lib().opus_packet_get_nb_samples(payload, len(payload), AUDIO_RATE)
        samples = _check(count, "opus_packet_get_nb_samples")
        if not 0 < samples <= MAX_DECODED:
            raise OpusError(f"opus_decode: a packet of {samples} samples")
        return self._decode(payload, samples, 1)

    def good(self, frame: Frame) -> Frame:
        """A received frame needs no blending: the decoder already smoothed out of a loss."""
        return frame

    def close(self) -> None:
        if self._handle is not None:
            _lib().opus_decoder_destroy(self._handle)
            self._handle = None

    def __del__(self) -> None:
        self.close()
