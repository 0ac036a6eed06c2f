"""What a DTLS-SRTP call's packets pass through before and after its handshake, without OpenSSL.

The media loop needs these for every DTLS call, and ``is_dtls`` for every packet; the handshake
itself (``endpoint.media.dtls``, pyOpenSSL and cryptography) is imported only where
``keying = "dtls"`` makes a call use it (issue 19: a lean process for plain and SDES calls).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from endpoint.media.srtp import SrtpProtection


def is_dtls(data: bytes) -> bool:
    """RFC 7983 §7: a first byte of 20..63 is DTLS (RTP and RTCP start at 128..191)."""
    return bool(data) and 20 <= data[0] <= 63


class DtlsFailedError(Exception):
    """The handshake failed or the peer is not who the SDP says: the call must end."""


class DtlsSrtpProtection:
    """SRTP keyed by the RTP component's handshake, SRTCP by the RTCP one's (RFC 5764 §4.1:
    without rtcp-mux each component has its own DTLS session). Until the RTCP handshake is done
    RTCP is neither sent nor accepted; with rtcp-mux both use the RTP keys."""

    def __init__(self, rtp: SrtpProtection, rtcp: SrtpProtection | None) -> None:
        self.rtp = rtp
        self.rtcp = rtcp
        self.suite = rtp.suite

    @property
    def description(self) -> str:
        return self.rtp.description

    def protect_rtp(self, packet: bytes) -> bytes:
        return self.rtp.protect_rtp(packet)

    def protect_rtcp(self, packet: bytes) -> bytes:
        return b"" if self.rtcp is None else self.rtcp.protect_rtcp(packet)

    def unprotect_rtp(self, packet: bytes) -> bytes | None:
        return self.rtp.unprotect_rtp(packet)

    def unprotect_rtcp(self, packet: bytes) -> bytes | None:
        return None if self.rtcp is None else self.rtcp.unprotect_rtcp(packet)


class AwaitingKeys:
    """The call's packet protection until the handshake is done: nothing is sent (protect
    gives empty bytes, which the media loop does not send) and nothing is let in, so neither
    plain RTP nor a digit can slip through before SRTP starts."""

    description = "dtls-srtp (handshake)"

    def protect_rtp(self, packet: bytes) -> bytes:
        return b""

    def protect_rtcp(self, packet: bytes) -> bytes:
        return b""

    def unprotect_rtp(self, packet: bytes) -> bytes | None:
        return None

    def unprotect_rtcp(self, packet: bytes) -> bytes | None:
        return None
