"""Issue 13 rule 6: no caller holds the line.

Only the concierge (127.0.0.3) is on the allowlist; a stranger's call (127.0.0.2) only rings.
It used to ring for ever, and every other caller got 486 Busy. Now it ends at ring_timeout
(480) or at its own Expires (487), whichever is first, and gives way to the concierge.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.interop.peers import free_port
from tests.security.attacker import (
    Door,
    UdpAttacker,
    door_config,
    in_dialog,
    place_call,
    request,
    running_door,
    sdp_offer,
    status_of,
)

CALLS = 'ring_timeout = 5\nallow = ["caller@127.0.0.3"]\n'


@pytest.fixture
def guarded_door(tmp_path: Path) -> Iterator[Door]:
    port = free_port(both=True)
    config = tmp_path / "door.toml"
    door_config(config, port, calls=CALLS)
    with running_door(tmp_path, port, config) as door:
        yield door


def stranger_invite(stranger: UdpAttacker, *headers: str) -> bytes:
    return request(
        "INVITE",
        stranger.port,
        source=stranger.address,
        headers=("Content-Type: application/sdp", *headers),
        body=sdp_offer(stranger.address[0], 40000),
    )


def test_an_unanswered_call_ends_at_its_expires_or_the_ring_timeout(guarded_door: Door) -> None:
    stranger = UdpAttacker("127.0.0.2", guarded_door.port)
    try:
        start = time.monotonic()
        answer = stranger.final(stranger_invite(stranger, "Expires: 2"), timeout=15)
        assert answer is not None and status_of(answer) == 487
        assert time.monotonic() - start < 5  # the caller's 2 s, not the 5 s ring_timeout
        answer = stranger.final(stranger_invite(stranger), timeout=15)
        assert answer is not None and status_of(answer) == 480
        assert guarded_door.status()["calls"] == []
    finally:
        stranger.close()


def test_a_strangers_ringing_call_gives_way_to_the_concierge(guarded_door: Door) -> None:
    stranger = UdpAttacker("127.0.0.2", guarded_door.port)
    concierge = UdpAttacker("127.0.0.3", guarded_door.port)
    try:
        stranger.send(stranger_invite(stranger))
        guarded_door.wait_until(lambda: len(guarded_door.status()["calls"]) == 1)  # type: ignore[arg-type]
        leg = place_call(concierge)  # answered, not 486
        ended = [a for a in stranger.drain(1.0) if status_of(a) >= 200]
        assert {status_of(a) for a in ended} == {480}  # (retransmitted: no ACK comes)
        answer = concierge.final(in_dialog("BYE", concierge, leg, cseq=3))
        assert answer is not None and status_of(answer) == 200
        leg.close()
    finally:
        stranger.close()
        concierge.close()
