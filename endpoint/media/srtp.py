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

import pylibsrtp

#: The longest datagram we hand to libsrtp. ``pylibsrtp.Session`` raises ``ValueError`` above
#: 1500 bytes (its fixed buffer), and the media loop reads up to 2048: a stranger's long datagram
#: must be a refusal like a bad tag, not an exception that ends an encrypted call. Our own
#: packets (20 ms of any codec we speak, plus RTCP) stay far below it.
MAX_PACKET = 1500

#: SDES crypto-suite name -> (libsrtp profile, key bytes, salt bytes). Ours in order of
#: preference (``endpoint.sip.sdes``): the AEAD suite (RFC 7714), the 80-bit tag, the 32-bit tag.
SUITES: dict[str, tuple[int, int, int]] = {
    "AEAD_AES_128_GCM": (pylibsrtp.Policy.SRTP_PROFILE_AEAD_AES_128_GCM, 16, 12),
    "AES_CM_128_HMAC_SHA1_80": (pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_80, 16, 14),
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
        self._out = pylibsrtp.Session(
            pylibsrtp.Policy(
                key=local_key, ssrc_type=pylibsrtp.Policy.SSRC_ANY_OUTBOUND, srtp_profile=profile
            )
        )
        self._in = pylibsrtp.Session(
            pylibsrtp.Policy(
                key=remote_key, ssrc_type=pylibsrtp.Policy.SSRC_ANY_INBOUND, srtp_profile=profile
            )
        )
        #: Packets refused: bad authentication tag, replayed index, too short or too long.
        self.refused = 0

    @property
    def description(self) -> str:
        return f"{self.keying} {self.suite}"

    def protect_rtp(self, packet: bytes) -> bytes:
        return bytes(self._out.protect(packet))

    @property
    def session_protect(self) -> Callable[[bytes], bytes]:
        """pylibsrtp's own ``Session.protect`` for our RTP (it returns ``bytes``, as
        ``protect_rtp`` does), for the media loop's fused tick to bind once: the tick's first
        SRTP call runs cold, and a frame of ours around it cost 2-5 us of each 20 ms tick
        (/work/plans/srtpcost.md)."""
        return self._out.protect

    def protect_rtcp(self, packet: bytes) -> bytes:
        return bytes(self._out.protect_rtcp(packet))

    def unprotect_rtp(self, packet: bytes) -> bytes | None:
        if len(packet) <= MAX_PACKET:
            try:
                return bytes(self._in.unprotect(packet))
            except pylibsrtp.Error:
                pass
        self.refused += 1
        return None

    def unprotect_rtcp(self, packet: bytes) -> bytes | None:
        if len(packet) <= MAX_PACKET:
            try:
                return bytes(self._in.unprotect_rtcp(packet))
            except pylibsrtp.Error:
                pass
        self.refused += 1
        return None
