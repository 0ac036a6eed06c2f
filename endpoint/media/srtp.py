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

try:  # pylibsrtp's private cffi binding (see _direct); without it, its public Session calls
    from pylibsrtp._binding import ffi, lib  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover (a pylibsrtp that renamed it)
    ffi = lib = None

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


def _direct(session: pylibsrtp.Session, name: str) -> Callable[[bytes], bytes | None] | None:
    """libsrtp's ``name`` (``srtp_protect`` / ``srtp_unprotect``) on ``session``'s context
    through pylibsrtp's own cffi binding, with a buffer and a length made once: the same C call
    as ``Session.protect``, without its two Python frames, its ``ffi.new`` and its checks per
    packet (27 us of a cold 20 ms tick, docs/research/srtp-cost.md). It returns None where libsrtp
    refuses the packet. These are pylibsrtp's private names (``_binding``, ``Session._srtp``):
    if a release renames them, None here and the public ``Session`` calls serve."""
    context, function = getattr(session, "_srtp", None), getattr(lib, name, None)
    if ffi is None or function is None or not isinstance(context, ffi.CData):
        return None
    if ffi.typeof(context) is not ffi.typeof("srtp_t *"):  # not the context this code knows
        return None
    handle = context[0]
    buffer = ffi.new("char[]", MAX_PACKET + 144)  # room for the longest SRTCP trailer
    length = ffi.new("int *")
    view, ok = ffi.buffer(buffer), lib.srtp_err_status_ok

    def run(packet: bytes, _owner: pylibsrtp.Session = session) -> bytes | None:
        # ``_owner`` keeps the session (whose finalizer frees ``handle``) alive with the closure.
        n = len(packet)
        if n > MAX_PACKET:
            return None
        buffer[0:n] = packet
        length[0] = n
        if function(handle, buffer, length) != ok:
            return None
        return bytes(view[0 : length[0]])

    return run


def _public(call: Callable[[bytes], bytes]) -> Callable[[bytes], bytes | None]:
    """pylibsrtp's public ``Session`` call with ``_direct``'s contract (None: refused)."""

    def run(packet: bytes) -> bytes | None:
        if len(packet) > MAX_PACKET:
            return None
        try:
            return call(packet)
        except pylibsrtp.Error:
            return None

    return run


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
        self._protect = _direct(self._out, "srtp_protect") or _public(self._out.protect)
        self._unprotect = _direct(self._in, "srtp_unprotect") or _public(self._in.unprotect)
        self._unprotect_rtcp = _public(self._in.unprotect_rtcp)

    @property
    def description(self) -> str:
        return f"{self.keying} {self.suite}"

    def protect_rtp(self, packet: bytes) -> bytes:
        protected = self._protect(packet)
        if protected is None:
            raise pylibsrtp.Error("libsrtp refused to protect our RTP")
        return protected

    def protect_rtcp(self, packet: bytes) -> bytes:
        return bytes(self._out.protect_rtcp(packet))

    def unprotect_rtp(self, packet: bytes) -> bytes | None:
        clear = self._unprotect(packet)
        if clear is None:
            self.refused += 1
        return clear

    def unprotect_rtcp(self, packet: bytes) -> bytes | None:
        clear = self._unprotect_rtcp(packet)
        if clear is None:
            self.refused += 1
        return clear
