"""Issue 13 rule 1: no message can leave state behind.

Each poisoned request below once raised past the handler in the real process: no answer, a
server transaction waiting for ever, and after a few hundred of them every later request got
503 until restart. Now each gets one clean final answer and its transaction ends.
"""

from __future__ import annotations

import pytest

from tests.security.attacker import Door, TcpAttacker, UdpAttacker, request, status_of

ATTACKER = "127.0.0.2"
THIRD = "127.0.0.3"


def poisons(
    port: int, source: tuple[str, int], transport: str, *, invite: bool = True
) -> dict[str, bytes]:
    """Requests whose numbers or quoting once broke the handler (all well framed). An INVITE's
    failure response waits for the ACK (Timer H, also on TCP): ``invite=False`` leaves it out."""

    def r(method: str, **kw: object) -> bytes:
        return request(method, port, source=source, transport=transport, **kw)  # type: ignore[arg-type]

    found = {
        "INFO Duration of 5000 digits": r(
            "INFO",
            headers=("Content-Type: application/dtmf-relay",),
            body=b"Signal=5\r\nDuration=" + b"9" * 5000 + b"\r\n",
        ),
        "BYE with '<' in a quoted display name": r(
            "BYE",
            from_='"a<b" <sip:attacker@127.0.0.2>;tag=1234',
            to=f"<sip:door@127.0.0.1:{port}>;tag=5678",
        ),
        "INVITE with Session-Expires of superscript digits": r(
            "INVITE", headers=("Session-Expires: \u00b2\u00b3",)
        ),
        "INFO with Duration of superscript digits": r(
            "INFO",
            headers=("Content-Type: application/dtmf-relay",),
            body="Signal=5\r\nDuration=\u00b2\r\n".encode(),
        ),
        "OPTIONS with Expires of 5000 digits": r("OPTIONS", headers=("Expires: " + "7" * 5000,)),
    }
    return {k: v for k, v in found.items() if invite or not k.startswith("INVITE")}


def unframed_poisons(port: int, source: tuple[str, int]) -> dict[str, bytes]:
    """Requests that fail to parse: on UDP they are answered 400 or dropped, never raise."""
    return {
        "Content-Length of a superscript two": request(
            "OPTIONS", port, source=source, content_length="\u00b2"
        ),
        "Max-Forwards of 5000 digits": request(
            "OPTIONS", port, source=source, headers=("Max-Forwards: " + "1" * 5000,)
        ).replace(b"Max-Forwards: 70\r\n", b""),
        "no Call-ID": request("OPTIONS", port, source=source, drop=("Call-ID",)),
        "rport of superscript digits": request("OPTIONS", port, source=source).replace(
            b";rport;", ";rport=\u00b2;".encode()
        ),
    }


def test_every_poisoned_request_gets_one_clean_final_answer(p2p_door: Door) -> None:
    attacker = UdpAttacker(ATTACKER, p2p_door.port)
    try:
        for name, data in poisons(p2p_door.port, attacker.address, "UDP").items():
            answer = attacker.final(data)
            assert answer is not None, f"{name}: no final answer"
            assert 200 <= status_of(answer) < 600, name
        for name, data in unframed_poisons(p2p_door.port, attacker.address).items():
            attacker.send(data)
            for answer in attacker.drain(0.5):
                assert 400 <= status_of(answer) < 500, name
    finally:
        attacker.close()
    assert p2p_door.alive()
    assert "Traceback" not in p2p_door.log
    status = p2p_door.status()
    assert status["internal_errors"] == 0


@pytest.mark.parametrize("rounds", [150])
def test_hundreds_of_poisoned_requests_leave_no_transaction(p2p_door: Door, rounds: int) -> None:
    """Over TCP an answered transaction ends at once (Timers J/H are zero), so after 600
    poisoned requests the table must be empty, and a third party is served 200. They come from
    20 addresses, each within its own budget (rule 9), so only stuck state could fill it."""
    conns = [TcpAttacker(f"127.0.0.{10 + k}", p2p_door.port) for k in range(20)]
    try:
        answered = 0
        for n in range(rounds):
            conn = conns[n % len(conns)]
            batch = poisons(p2p_door.port, conn.address, "TCP", invite=False)
            for data in batch.values():
                conn.send(data)
            for _ in batch:
                answer = conn.read_message(timeout=5)
                while answer is not None and status_of(answer) < 200:
                    answer = conn.read_message(timeout=5)  # a 100 Trying or 180 first
                assert answer is not None, f"no final answer after {answered}"
                answered += 1
        assert answered == rounds * 4  # 600: more than the 512 slots
    finally:
        for conn in conns:
            conn.close()
    p2p_door.wait_until(lambda: p2p_door.status()["transactions"] == 0)
    third = UdpAttacker(THIRD, p2p_door.port)
    try:
        answer = third.final(request("OPTIONS", p2p_door.port, source=third.address))
        assert answer is not None and status_of(answer) == 200
    finally:
        third.close()
    assert "Traceback" not in p2p_door.log
