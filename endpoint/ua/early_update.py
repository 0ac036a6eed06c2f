"""A new offer inside an early dialog, after the INVITE's offer/answer went reliably.

Some PBXes hold or move a caller before the call is answered, with an UPDATE (RFC 3311 §5.2)
or a PRACK (RFC 3262 §5) carrying a new offer in the early dialog that our reliable 183
(``[calls] early_media``) set up; and a PBX we call may move its announcement with an UPDATE
before its 200 (RFC 3311 §5.1, ``OutgoingCalls.update``). The answer is made like a
re-offer's in a confirmed call (``endpoint.ua.session``): the codec we stream is kept, the SDP
session version goes up when our SDP changes, and a 200 to the INVITE later repeats this
newest answer. Only the offer/answer is decided here; who may send the request (its tags and
its source: the dialog's peer) is checked by the callers before.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from endpoint.sip import ParseError, Request
from endpoint.sip.offer_answer import (
    LocalMedia,
    NegotiatedMedia,
    NotAcceptableError,
    SdpSession,
    make_answer,
)
from endpoint.sip.sdp import SessionDescription, parse_sdp

#: Our answer to the INVITE's offer, once made: SDP, what it negotiated, our media.
Early = tuple[SessionDescription, NegotiatedMedia, LocalMedia]


@dataclass(frozen=True, slots=True)
class UpdateAnswer:
    """What to answer an early UPDATE with; ``early`` is the call's new answer (None: kept)."""

    status: int
    reason: str | None = None
    body: bytes = b""
    early: Early | None = None
    retry_after: bool = False


def answer_early_update(
    request: Request, early: Early | None, reliable: bool, session: SdpSession | None
) -> UpdateAnswer:
    """The answer to ``request`` given the call's offer/answer so far: ``early`` is our
    answer to the INVITE (None: none yet), ``reliable`` whether it went in a reliable 183.

    RFC 3311 §5.2: "If an UPDATE is received that contains an offer, and the UAS ... has
    received an offer ... but has not yet sent an answer, [it] MUST reject the UPDATE with a
    500 response with a Retry-After". An answer in an unreliable 183 is only a preview
    (RFC 3261 §13.3.1.1), so it does not count either. Without a body the UPDATE changes
    nothing of the media and gets a plain 200."""
    if not request.body:
        return UpdateAnswer(200)
    if early is None or not reliable or session is None:
        return UpdateAnswer(
            500, "Server Internal Error (the INVITE's offer is not answered yet)", retry_after=True
        )
    _, before, local = early
    try:
        offer = parse_sdp(request.body)
        kept = replace(local, codecs=(before.codec,))
        answer, media = make_answer(offer, kept, session, before.srtp, before.dtls)
    except NotAcceptableError as exc:
        return UpdateAnswer(488, f"Not Acceptable Here ({exc})")  # the session stays as it was
    except ParseError as exc:
        return UpdateAnswer(exc.status, f"Bad Request ({exc.reason})")
    return UpdateAnswer(200, body=bytes(answer), early=(answer, media, local))
