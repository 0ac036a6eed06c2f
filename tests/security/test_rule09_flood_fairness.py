"""Issue 13 rule 9: a flood from one source cannot starve the others.

A call is up between 127.0.0.3 and the door. 127.0.0.2 floods OPTIONS (each answered
transaction holds its slot 32 s on UDP): once, 512 of them made the caller's own BYE get 503
and the call lingered. Now the flooder has a budget, a third address is served, and the BYE
inside the dialog is never refused for capacity.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path

from tests.interop.peers import free_port
from tests.security.attacker import (
    Door,
    UdpAttacker,
    in_dialog,
    place_call,
    request,
    running_door,
    status_of,
)


def test_an_options_flood_cannot_refuse_the_callers_bye(p2p_door: Door) -> None:
    caller = UdpAttacker("127.0.0.3", p2p_door.port)
    flooder = UdpAttacker("127.0.0.2", p2p_door.port)
    third = UdpAttacker("127.0.0.4", p2p_door.port)
    leg = place_call(caller)
    try:
        for n in range(700):
            flooder.send(request("OPTIONS", p2p_door.port, source=flooder.address, cseq=n))
            if n % 25 == 24:
                time.sleep(0.01)  # let the door read them: a flood, not a kernel-dropped burst
        flooder.drain(1.0)
        answer = third.final(request("OPTIONS", p2p_door.port, source=third.address))
        assert answer is not None and status_of(answer) == 200
        answer = caller.final(in_dialog("BYE", caller, leg, cseq=3))
        assert answer is not None and status_of(answer) == 200
        p2p_door.wait_until(lambda: p2p_door.status()["calls"] == [])
        status = p2p_door.status()
        transactions = status["transactions"]
        assert isinstance(transactions, int) and transactions <= 64 + 4  # the flooder's budget
    finally:
        leg.close()
        caller.close()
        flooder.close()
        third.close()
    assert "Traceback" not in p2p_door.log


def test_a_caller_flooding_from_its_own_address_can_still_hang_up(p2p_door: Door) -> None:
    """Requests from a source over its rate limit are dropped before they are parsed (the SIP
    loop's time is the media thread's GIL); those that name one of our calls' Call-IDs are
    not: the flooding caller's own BYE is answered."""
    caller = UdpAttacker("127.0.0.3", p2p_door.port)
    leg = place_call(caller)
    try:
        for n in range(400):
            caller.send(request("OPTIONS", p2p_door.port, source=caller.address, cseq=n))
            if n % 25 == 24:
                time.sleep(0.01)
        answers = caller.drain(1.0)
        assert 0 < len(answers) < 400  # the budget was spent: the rest went unanswered
        answer = caller.final(in_dialog("BYE", caller, leg, cseq=3))
        assert answer is not None and status_of(answer) == 200
        p2p_door.wait_until(lambda: p2p_door.status()["calls"] == [])
    finally:
        leg.close()
        caller.close()
    assert "Traceback" not in p2p_door.log


def test_a_strangers_requests_are_dropped_unparsed_but_counted_and_reported(
    tmp_path: Path,
) -> None:
    """Account mode: the runtime drops a stranger's requests before parsing them (rule 7
    says they get nothing; parsing them was the SIP loop's main cost under a flood), and they
    are still counted and reported with their method, as before."""
    registrar = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    registrar.bind(("127.0.0.7", 0))
    port = free_port(both=True)
    config = tmp_path / "door.toml"
    config.write_text(
        f'[sip]\nlisten = "127.0.0.1:{port}"\n'
        f'[account]\nregistrar = "sip:127.0.0.7:{registrar.getsockname()[1]}"\n'
        'user = "door"\npassword = "secret"\n'
        f'[audio]\nbackend = "null"\n[control]\nsocket = "{tmp_path / "ctl.sock"}"\n'
    )
    stranger = UdpAttacker("127.0.0.2", port)
    try:
        with running_door(tmp_path, port, config) as door:
            for n in range(50):
                stranger.send(request("INVITE", port, source=stranger.address, cseq=n))
                if n % 10 == 9:
                    time.sleep(0.01)  # a flood, not a burst the kernel drops
            assert stranger.drain(1.0) == []
            door.wait_until(lambda: door.status()["untrusted_dropped"] == 50)
            lines = [line for line in door.log.splitlines() if "request-dropped" in line]
            assert lines and "INVITE" in lines[0] and "127.0.0.2" in lines[0]
    finally:
        stranger.close()
        registrar.close()
