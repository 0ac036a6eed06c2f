"""Our requests inside a dialog, challenged with 401/407 and sent once more with credentials.

A proxy on the route (or the peer itself) may challenge any request, not only the INVITE that
set up the call (RFC 3261 §22.2, §8.1.3.5): a PBX that checks who hangs up challenges the BYE,
one that bills re-INVITEs challenges those. The request goes again with an Authorization or
Proxy-Authorization, a new CSeq in the same dialog and a new branch (a new transaction). The
DigestClient answers configured realms only, and refuses a second challenge to a request that
already carried credentials for the realm (unless the nonce went stale): so a peer that
challenges for ever gets one retry per challenge, never a loop.
"""

from __future__ import annotations

from endpoint.sip import Request, Response
from endpoint.sip.digest import DigestClient
from endpoint.sip.headers import Via
from endpoint.sip.message import Headers

#: What we send inside a dialog and answer challenges for (ACK and CANCEL cannot be
#: challenged, §22.1; the initial INVITE is the outgoing call's, REGISTER the registration's).
CHALLENGEABLE = frozenset({"BYE", "INVITE", "UPDATE", "INFO", "MESSAGE"})


def challenged_in_dialog(request: Request, response: Response) -> bool:
    """Is ``response`` a 401/407 to a request of ours inside a dialog (its To has a tag)?"""
    return (
        response.status in (401, 407)
        and request.method in CHALLENGEABLE
        and bool(request.to_addr.tag)
    )


def with_credentials(
    request: Request, response: Response, digest: DigestClient, *, cseq: int, via: Via
) -> Request:
    """``request`` again, answering ``response``'s challenges, with ``cseq`` and ``via``.

    Raises DigestError when retrying cannot help (a realm we do not answer, credentials
    refused, nothing supported): the caller then treats the 401/407 as the final answer.
    """
    status = response.status
    header = "WWW-Authenticate" if status == 401 else "Proxy-Authenticate"
    answered = "Authorization" if status == 401 else "Proxy-Authorization"
    fields = digest.answer(
        response.headers.rows(header),
        status,
        request.method,
        str(request.uri),
        request.body,
        sent=request.headers.rows(answered),
    )
    renewed = request.headers.set("Via", str(via)).set("CSeq", f"{cseq} {request.method}")
    kept = [(name, value) for name, value in renewed if name.lower() != answered.lower()]
    return request.replace(headers=Headers([*kept, *fields]))
