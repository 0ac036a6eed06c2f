"""Issue 13 rule 4: in-dialog means in the dialog.

A call is up between the caller (127.0.0.3) and the door. A stranger (127.0.0.2) who knows the
Call-ID, or even both tags, must not hang it up or type digits into it; the caller's own
requests with the wrong tags get 481 too.
"""

from __future__ import annotations

from tests.security.attacker import (
    Door,
    UdpAttacker,
    in_dialog,
    place_call,
    status_of,
)

DTMF = ("Content-Type: application/dtmf-relay",)
DIGIT = b"Signal=7\r\nDuration=160\r\n"


def test_only_the_dialogs_peer_with_both_tags_acts_inside_the_call(p2p_door: Door) -> None:
    caller = UdpAttacker("127.0.0.3", p2p_door.port)
    stranger = UdpAttacker("127.0.0.2", p2p_door.port)
    leg = place_call(caller)
    try:
        attacks = {
            "stranger's BYE with both tags": in_dialog("BYE", stranger, leg),
            "stranger's INFO digit with both tags": in_dialog(
                "INFO", stranger, leg, headers=DTMF, body=DIGIT
            ),
            "stranger's re-INVITE with both tags": in_dialog("INVITE", stranger, leg),
            "stranger's REFER with both tags": in_dialog(
                "REFER", stranger, leg, headers=("Refer-To: <sip:+19005550100@127.0.0.3>",)
            ),
        }
        for name, data in attacks.items():
            answer = stranger.final(data)
            assert answer is not None and status_of(answer) == 481, name
        wrong_tags = {
            "INFO with a wrong From tag": in_dialog(
                "INFO", caller, leg, from_tag="bad", headers=DTMF, body=DIGIT
            ),
            "BYE with a wrong To tag": in_dialog("BYE", caller, leg, to_tag="bad"),
            "INFO without a To tag": in_dialog(
                "INFO", caller, leg, headers=DTMF, body=DIGIT
            ).replace(f";tag={leg.to_tag}".encode(), b""),
        }
        for name, data in wrong_tags.items():
            answer = caller.final(data)
            assert answer is not None and status_of(answer) == 481, name
        assert "dtmf call_id" not in p2p_door.log  # no digit counted
        assert "call-outgoing" not in p2p_door.log  # no transfer followed
        calls = p2p_door.status()["calls"]
        assert isinstance(calls, list) and [c["call_id"] for c in calls] == [leg.call_id]
        # Toll fraud: the caller's own REFER to a number at a host the configuration does
        # not name (its own) is refused, and the call goes on.
        refer = in_dialog(
            "REFER", caller, leg, cseq=4, headers=("Refer-To: <sip:+19005550100@127.0.0.3>",)
        )
        answer = caller.final(refer)
        assert answer is not None and status_of(answer) == 403
        # The caller's own digit and BYE, with both tags, are served.
        answer = caller.final(in_dialog("INFO", caller, leg, cseq=5, headers=DTMF, body=DIGIT))
        assert answer is not None and status_of(answer) == 200
        answer = caller.final(in_dialog("BYE", caller, leg, cseq=6))
        assert answer is not None and status_of(answer) == 200
        p2p_door.wait_until(lambda: p2p_door.status()["calls"] == [])
    finally:
        leg.close()
        caller.close()
        stranger.close()
    assert "Traceback" not in p2p_door.log
