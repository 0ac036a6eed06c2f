"""The sans-IO SIP core: messages, transactions, dialogs, digest auth, SDP (RFC 3261 and friends).

``parse(data)`` turns bytes into a ``Request`` or ``Response``; ``bytes(message)`` turns it
back. A message that must be rejected raises ``ParseError`` whose ``status`` is the answer.
"""

from endpoint.sip.checks import Rejection, check_request, check_response
from endpoint.sip.errors import ParseError, SipError, UsageError
from endpoint.sip.headers import CSeq, NameAddr, Via
from endpoint.sip.message import (
    Headers,
    Message,
    Request,
    Response,
    StreamParser,
    make_response,
    parse,
    reason_phrase,
)
from endpoint.sip.uri import URI, AbsoluteURI, SipURI, parse_uri

__all__ = [
    "URI",
    "AbsoluteURI",
    "CSeq",
    "Headers",
    "Message",
    "NameAddr",
    "ParseError",
    "Rejection",
    "Request",
    "Response",
    "SipError",
    "SipURI",
    "StreamParser",
    "UsageError",
    "Via",
    "check_request",
    "check_response",
    "make_response",
    "parse",
    "parse_uri",
    "reason_phrase",
]
