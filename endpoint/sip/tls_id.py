"""``a=tls-id`` (RFC 8842): which DTLS association an offer or answer means.

Without it a re-INVITE cannot say whether the DTLS-SRTP association goes on or a new handshake
is wanted (a call moved to another device of the peer, a restarted media process). Each side
puts its own tls-id next to its fingerprint; the same value in a re-offer or re-answer means
the association continues, a new one means a new handshake (§5). A peer that sends none (an
RFC 5763 peer, such as baresip 1.0) means a new association only when its fingerprint or its
role changes, which is what RFC 5763 §5 left to the endpoints.
"""

from __future__ import annotations

import functools
import random
import re

from endpoint.sip.sdp import MediaDescription, SessionDescription


#: RFC 8842 §4: tls-id-value = 20*255(tls-id-char); ALPHA / DIGIT / "+" / "/" / "-" / "_".
@functools.cache
def _tls_id() -> re.Pattern[str]:
    """Compiled at first use: only an SDP with ``a=tls-id`` (DTLS) needs it (issue 19)."""
    return re.compile(r"[A-Za-z0-9+/_-]{20,255}")


def new_tls_id(rng: random.Random) -> str:
    """A fresh tls-id: 128 random bits from the session's random source, as 32 hex digits."""
    return f"{rng.getrandbits(128):032x}"


def remote_tls_id(sdp: SessionDescription, media: MediaDescription) -> str | None:
    """The peer's ``a=tls-id`` for ``media`` (media level, then session level), or None if
    it gave none or a malformed one (treated as an RFC 5763 peer, never as an error)."""
    for attrs in (media.attributes, sdp.attributes):
        for key, value in attrs:
            if key == "tls-id" and value and _tls_id().fullmatch(value.strip()):
                return value.strip()
    return None


def same_association(
    before: tuple[str | None, str, bool], after: tuple[str | None, str, bool]
) -> bool:
    """Whether the peer's (tls-id, fingerprint, we-are-client) ``after`` continues the DTLS
    association of ``before``: the same tls-id when the peer sends one (§5.2), else the same
    fingerprint and role (RFC 5763 §5)."""
    if before[0] is not None or after[0] is not None:
        return before[0] == after[0]
    return before[1:] == after[1:]
