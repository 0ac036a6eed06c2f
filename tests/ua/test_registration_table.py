"""The registration's transition table (RFC 3261 §10.2), walked by hypothesis.

Every state change a ``Registration`` makes goes through ``REGISTRATION``; a pair the table does
not list raises ``StateError``. Random runs of everything that can happen to a
registration (start, stop, refresh, a lost flow, timers, any answer from the registrar, no
answer at all) must meet only listed pairs, and every state must be reachable.
"""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from endpoint.sip import Response, make_response
from endpoint.ua.actions import SendRequest
from endpoint.ua.registration import (
    REGISTRATION,
    LocalAddress,
    RegInput,
    Registration,
    RegState,
)
from tests.ua.test_registration import ACCOUNT, CHALLENGE

STEPS = st.sampled_from(
    [
        "start",
        "stop",
        "refresh",
        "flow-lost",
        "timer",
        "200",
        "401",
        "423",
        "503",
        "timeout",
    ]
)


def test_every_state_is_reached_and_every_input_used() -> None:
    reached = {RegState.IDLE} | set(REGISTRATION.values())
    assert reached == set(RegState)
    assert {event for _, event in REGISTRATION} == set(RegInput)
    # Only the two "go" inputs leave the resting states; nothing leaves IDLE but them.
    assert {event for state, event in REGISTRATION if state is RegState.IDLE} == {
        RegInput.REGISTER,
        RegInput.STOP,
    }


def _answer(pending: SendRequest, status: int, reg: Registration) -> Response:
    headers: list[tuple[str, str]] = []
    if status == 401:
        headers.append(CHALLENGE)
    elif status == 423:
        headers.append(("Min-Expires", "1200"))
    elif status == 200:
        headers.append(("Contact", f"<{reg.contact_uri()}>;expires=600"))
    return make_response(pending.request, status, to_tag="reg", headers=headers)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 2**16), st.lists(STEPS, max_size=30))
def test_random_runs_only_take_listed_transitions(seed: int, steps: list[str]) -> None:
    reg = Registration(ACCOUNT, LocalAddress("192.0.2.5", 5060), random.Random(seed))
    now = 0.0
    pending: SendRequest | None = None
    seen: set[tuple[RegState, RegState]] = set()
    allowed = {(state, after) for (state, _), after in REGISTRATION.items()}
    for step in steps:
        now += 1.0
        before = reg.state
        if step == "start":
            actions = reg.start(now)
        elif step == "stop":
            actions = reg.stop(now)
        elif step == "refresh":
            actions = reg.refresh_now(now)
        elif step == "flow-lost":
            actions = reg.flow_lost(now, "connection closed")
        elif step == "timer":
            deadline = reg.get_timer()
            now = max(now, deadline) if deadline is not None else now
            actions = reg.handle_timer(now)
        elif pending is None:
            continue
        elif step == "timeout":
            actions = reg.on_failure(pending.tag, "no response (timeout)", now)
        else:
            actions = reg.on_response(pending.tag, _answer(pending, int(step), reg), now)
        sends = [a for a in actions if isinstance(a, SendRequest)]
        registers = [a for a in sends if a.request.method == "REGISTER"]
        if registers:
            pending = registers[-1]
        elif step in ("200", "401", "423", "503", "timeout"):
            pending = None  # answered, and nothing new is waiting
        if reg.state is not before:
            seen.add((before, reg.state))
    assert seen <= allowed


def test_a_late_answer_to_an_abandoned_unregister_changes_nothing() -> None:
    reg = Registration(ACCOUNT, LocalAddress("192.0.2.5", 5060), random.Random(2))
    first = next(a for a in reg.start(0.0) if isinstance(a, SendRequest))
    reg.on_response(first.tag, _answer(first, 200, reg), 0.1)
    assert reg.state is RegState.REGISTERED
    (unregister,) = [a for a in reg.stop(1.0) if isinstance(a, SendRequest)]
    assert reg.state is RegState.UNREGISTERING
    assert reg.stop(2.0)  # stopped again before the registrar answered: stop at once
    assert reg.state is RegState.STOPPED
    assert reg.on_response(unregister.tag, _answer(unregister, 200, reg), 3.0) == []
    assert reg.state is RegState.STOPPED and not reg.registered
