"""Issue 13 rule 9: a flood from one source cannot starve the others.

A call is up between 127.0.0.3 and the door. 127.0.0.2 floods OPTIONS (each answered
transaction holds its slot 32 s on UDP): once, 512 of them made the caller's own BYE get 503
and the call lingered. Now the flooder has a budget, a third address is served, and the BYE
inside the dialog is never refused for capacity. A source the configuration trusts (the
registrar, an ``accept_from`` network, a configured peer) has a larger budget: a PBX placing
many calls a second is not refused.
"""

from __future__ import annotations

import re
import socket
import time
from pathlib import Path

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


def _invite_burst(attacker: UdpAttacker, port: int, calls: int) -> dict[bytes, int]:
    """``calls`` INVITEs with new Call-IDs, never ACKed (each holds its slot until Timer H):
    Call-ID -> the final status the door gave it."""
    for n in range(calls):
        attacker.send(
            request(
                "INVITE",
                port,
                source=attacker.address,
                cseq=n,
                headers=("Content-Type: application/sdp",),
                body=sdp_offer(attacker.address[0], 40000),
            )
        )
        if n % 10 == 9:
            time.sleep(0.02)  # calls in quick succession, not a burst the kernel drops
    finals: dict[bytes, int] = {}
    for answer in attacker.drain(1.5):
        call_id = re.search(rb"\r\nCall-ID: ([^\r]+)", answer)
        if call_id is not None and status_of(answer) >= 200:
            finals.setdefault(call_id.group(1), status_of(answer))
    return finals


def test_a_configured_pbx_placing_many_calls_is_not_refused_but_a_stranger_is(
    tmp_path: Path,
) -> None:
    """The PBX the configuration names (``[calls] allow`` with its address) places 150 calls
    in a few seconds, more than a stranger's budget of 64 held transactions: none gets 503
    (the door is busy with the first: 486). A stranger doing the same gets 503 once its
    budget is spent, so the larger budget is the PBX's alone."""
    port = free_port(both=True)
    config = tmp_path / "door.toml"
    door_config(config, port, calls='allow = ["*@127.0.0.5", "*"]\n')
    pbx = UdpAttacker("127.0.0.5", port)
    stranger = UdpAttacker("127.0.0.2", port)
    try:
        with running_door(tmp_path, port, config) as door:
            from_pbx = _invite_burst(pbx, port, 150)
            assert len(from_pbx) >= 120 and 503 not in from_pbx.values()
            from_stranger = _invite_burst(stranger, port, 150)
            assert 503 in from_stranger.values()
            assert "Traceback" not in door.log
    finally:
        pbx.close()
        stranger.close()
