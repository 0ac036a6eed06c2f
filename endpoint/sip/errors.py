"""Errors of the SIP core, each carrying the answer (DESIGN style 5).

A peer's bad message raises ``ParseError`` whose ``status`` is the response to send (400, 505,
416, 420, 413, ...); the one place that turns it into a response (or a dropped datagram, for a
bad response) is the transport/UA boundary. Local misuse, i.e. our own bug, is ``UsageError`` and
is never answered to the network.
"""

from __future__ import annotations


class SipError(Exception):
    """Base of everything the SIP core raises."""


class ParseError(SipError):
    """A peer sent something we must reject; ``status`` is the SIP response to answer with."""

    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status

    def __repr__(self) -> str:
        return f"ParseError({self.reason!r}, status={self.status})"


class UsageError(SipError):
    """The core was called in a way its contract does not allow (a bug on our side)."""
