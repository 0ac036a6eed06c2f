"""Issue 13 rule 3: no name lookups driven by the network.

An SDP ``c=`` host name once made the media thread resolve on every packet until the watchdog
killed the service. Now such an offer is refused 488, and a Via sent-by name is never used.
"""

from __future__ import annotations

from tests.security.attacker import Door, UdpAttacker, request, sdp_offer, status_of


def test_an_offer_naming_a_host_is_refused_and_the_door_serves_on(p2p_door: Door) -> None:
    caller = UdpAttacker("127.0.0.2", p2p_door.port)
    try:
        body = sdp_offer("127.0.0.2", 40000).replace(b"c=IN IP4 127.0.0.2", b"c=IN IP4 rtp.invalid")
        invite = request(
            "INVITE",
            p2p_door.port,
            source=caller.address,
            headers=("Content-Type: application/sdp",),
            body=body,
        )
        answer = caller.final(invite, timeout=5)
        assert answer is not None and status_of(answer) == 488
        assert p2p_door.status()["calls"] == []
        ping = caller.final(request("OPTIONS", p2p_door.port, source=caller.address))
        assert ping is not None and status_of(ping) == 200
    finally:
        caller.close()
    assert "watchdog" not in p2p_door.log and "Traceback" not in p2p_door.log
