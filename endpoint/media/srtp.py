"""SRTP and SRTCP (RFC 3711, RFC 7714) for one call, keyed by SDES (RFC 4568) or by a DTLS
handshake (RFC 5764, ``endpoint.media.dtls``), through libsrtp.

The ciphers, the authentication tags and the replay window are libsrtp's (``pylibsrtp``); this
module only names the suites SDP speaks of, their key lengths, and turns libsrtp's refusals into
``None`` so the stream can count and drop a packet without a second code path. It holds no
socket and reads no clock: the stream calls it with bytes. A packet that fails authentication
or replays an old index never reaches the RTP layer, so it cannot latch, carry a digit or be
heard: only the holder of the peer's key can.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pylibsrtp
from pylibsrtp._binding import ffi, lib

#: The largest datagram the media loop reads (``RtpSockets.drain``), and room for the longest
#: trailer libsrtp adds (SRTCP's index and a 16-byte tag; RFC 3711 §3.4).
MAX_PACKET = 2048
TRAILER = 20

#: SDES crypto-suite name -> (libsrtp profile, key bytes, salt bytes). Ours in order of
#: preference: the 80-bit tag first (RFC 4568 §6.2.1), then the AEAD suite, then the 32-bit tag.
SUITES: dict[str, tuple[int, int, int]] = {
    "AES_CM_128_HMAC_SHA1_80": (pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_80, 16, 14),
    "AEAD_AES_128_GCM": (pylibsrtp.Policy.SRTP_PROFILE_AEAD_AES_128_GCM, 16, 12),
    "AES_CM_128_HMAC_SHA1_32": (pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_32, 16, 14),
}


def key_length(suite: str) -> int:
    """Bytes of master key plus master salt (the ``inline:`` value) for ``suite``."""
    _, key, salt = SUITES[suite]
    return key + salt


class SrtpProtection:
    """Protect and unprotect one call's RTP and RTCP; ``None`` from unprotect means drop."""

    def __init__(
        self, suite: str, local_key: bytes, remote_key: bytes, *, keying: str = "SRTP"
    ) -> None:
        """``local_key`` protects what we send, ``remote_key`` checks what comes (key||salt).

        ``keying`` names where the keys came from in status lines and reports: "SRTP" (SDES
        in the SDP, the name reports used before DTLS) or "dtls-srtp" (RFC 5764)."""
        if suite not in SUITES:
            raise ValueError(f"unknown SRTP suite {suite}")
        n = key_length(suite)
        if len(local_key) != n or len(remote_key) != n:
            raise ValueError(f"{suite} needs {n}-byte keys")
        profile = SUITES[suite][0]
        self.suite = suite
        self.keying = keying
        self._out = _Context(local_key, pylibsrtp.Policy.SSRC_ANY_OUTBOUND, profile)
        self._in = _Context(remote_key, pylibsrtp.Policy.SSRC_ANY_INBOUND, profile)
        #: Packets refused: bad authentication tag, replayed index, too short or too long.
        self.refused = 0

    @property
    def description(self) -> str:
        return f"{self.keying} {self.suite}"

    def protect_rtp(self, packet: bytes) -> bytes:
        return self._out.protect(lib.srtp_protect, packet)

    def protect_rtcp(self, packet: bytes) -> bytes:
        return self._out.protect(lib.srtp_protect_rtcp, packet)

    def unprotect_rtp(self, packet: bytes) -> bytes | None:
        clear = self._in.run(lib.srtp_unprotect, packet)
        if clear is None:
            self.refused += 1
        return clear

    def unprotect_rtcp(self, packet: bytes) -> bytes | None:
        clear = self._in.run(lib.srtp_unprotect_rtcp, packet)
        if clear is None:
            self.refused += 1
        return clear


class _Context:
    """One libsrtp session (one direction), called straight through pylibsrtp's cffi binding.

    ``pylibsrtp.Session`` checks the type, allocates the length cell and copies through a
    slice on every packet, and raises ``ValueError`` for a datagram over 1500 bytes, which a
    stranger could send to end an encrypted call (the media loop reads up to 2048). Here the
    buffer and the length cell are made once, a packet too long is a refusal like a bad tag,
    and each packet costs one copy in, the C call and one copy out (issue 15: SRTP's CPU is
    mostly this code running cold, once every 20 ms).
    """

    def __init__(self, key: bytes, ssrc_type: int, profile: int) -> None:
        # pylibsrtp's Session owns libsrtp's context and frees it with itself.
        policy = pylibsrtp.Policy(key=key, ssrc_type=ssrc_type, srtp_profile=profile)
        self._session = pylibsrtp.Session(policy)
        self._srtp = self._session._srtp[0]
        self._cells = ffi.new("char[]", MAX_PACKET + TRAILER)
        self._buffer = ffi.buffer(self._cells)
        self._length = ffi.new("int *")

    def run(self, function: Callable[[Any, Any, Any], int], packet: bytes) -> bytes | None:
        """libsrtp's ``function`` over ``packet``; None if it refused it."""
        size = len(packet)
        if size > MAX_PACKET:
            return None
        self._buffer[0:size] = packet
        self._length[0] = size
        if function(self._srtp, self._cells, self._length) != lib.srtp_err_status_ok:
            return None
        done: bytes = self._buffer[0 : self._length[0]]
        return done

    def protect(self, function: Callable[[Any, Any, Any], int], packet: bytes) -> bytes:
        """Our own packet: libsrtp refusing it (an index used twice) is our bug, so it raises."""
        protected = self.run(function, packet)
        if protected is None:
            raise pylibsrtp.Error(f"libsrtp refused to protect a {len(packet)}-byte packet")
        return protected
