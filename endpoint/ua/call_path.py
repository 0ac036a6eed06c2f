"""The user agent's call path, built at the first call rather than at start (issue 19).

Incoming and outgoing calls, their sessions (offer/answer, SDP, SDES, session timers), blind
and attended transfer: most of the UA's code, and an idle door box runs none of it. The UA
builds this at the first INVITE, ``ctl call`` or call-group, before it answers, so only that
first call pays the imports; an idle process never loads them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from endpoint.ua.attended import Consultations
from endpoint.ua.calls import IncomingCalls
from endpoint.ua.outgoing import OutgoingCalls, OutState
from endpoint.ua.transfer import Transfers

if TYPE_CHECKING:
    import random
    from collections.abc import Callable, Iterator

    from endpoint.config import Config
    from endpoint.sip.transaction import TransactionLayer
    from endpoint.ua.events import Notice
    from endpoint.ua.registration import LocalAddress
    from endpoint.ua.session import Session


@dataclass(frozen=True, slots=True)
class CallHooks:
    """What the call handlers share with the UA that builds them: its configuration, address,
    transaction layer and randomness, and the UA's helpers they call back."""

    config: Config
    local: LocalAddress
    transactions: TransactionLayer
    rng: random.Random
    address: Callable[[str], str]
    contact: Callable[[], str]
    port_of: Callable[[str, int], int]
    end: Callable[[str, str, float], bool]
    notice: Callable[[Notice], None]
    sessions: Callable[[], Iterator[Session]]
    #: Is the call's party trusted with the door (``UserAgent.party``)?
    trusted: Callable[[str], bool]


@dataclass(slots=True)
class CallPath:
    """The UA's call handlers, built together: transfers place their calls through
    ``outgoing``, consultations hold ``transfers``."""

    calls: IncomingCalls
    outgoing: OutgoingCalls
    transfers: Transfers
    consultations: Consultations

    @classmethod
    def build(cls, hooks: CallHooks) -> CallPath:
        """The handlers for the UA's current configuration, address and transaction layer."""
        calls = IncomingCalls(
            hooks.config,
            hooks.local,
            hooks.transactions,
            hooks.rng,
            hooks.address,
            contact=hooks.contact,
        )
        outgoing = OutgoingCalls(
            hooks.config,
            hooks.local,
            hooks.transactions,
            hooks.rng,
            hooks.address,
            contact=hooks.contact,
            port_of=hooks.port_of,
        )
        transfers = Transfers(
            hooks.config,
            place=lambda target, headers, now: outgoing.call(target, now, headers=headers),
            end=hooks.end,
            trusted=hooks.trusted,
            notice=hooks.notice,
        )
        consultations = Consultations(
            place=outgoing.call,
            end=hooks.end,
            up=lambda call_id: (
                (call := outgoing.calls.get(call_id)) is not None
                and call.state is not OutState.ENDED
            ),
            sessions=hooks.sessions,
            transfers=transfers,
            notice=hooks.notice,
        )
        return cls(calls, outgoing, transfers, consultations)
