"""Transition tables for the user agent's state machines (registration, calls).

``sip/transaction.py`` draws RFC 3261's figures as ``(state, input) -> next state`` tables;
the UA's own machines follow the same rule: a state changes only through its table, and a pair
the table does not list is our bug (``StateError``), found by the hypothesis tests that walk
each machine with random inputs, never by a peer.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import TypeVar

S = TypeVar("S", bound=enum.Enum)
I = TypeVar("I", bound=enum.Enum)  # noqa: E741 - state and input, as in the tables


class StateError(RuntimeError):
    """A transition no table lists: local misuse, never a peer's doing."""


def advance(table: Mapping[tuple[S, I], S], state: S, event: I, what: str) -> S:
    """The state ``event`` leads to from ``state``; StateError if the table has no such pair."""
    next_state = table.get((state, event))
    if next_state is None:
        raise StateError(f"{what}: {event.value} in state {state.value}")
    return next_state
