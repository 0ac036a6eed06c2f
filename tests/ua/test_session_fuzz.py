"""Whatever a peer sends inside an established call, the user agent answers it and survives.

Hypothesis draws sequences of in-dialog re-INVITEs and UPDATEs with valid, odd and broken
Session-Expires / Min-SE values and SDP bodies (hold, moved media, no codec of ours, garbage),
and ACKs in between. Every request must get exactly one final answer from a small, meaningful
set, and no exception may escape (DESIGN principle 5).
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from endpoint.sip import Response
from tests.ua.test_session import Peer, make_ua, sdp

SESSION_EXPIRES = st.sampled_from(
    ["", "1800", "90;refresher=uas", "90;refresher=uac", "60", "abc", "-5", "99999999999",
     "120;refresher=nobody", "300 ; refresher = uas ; x=y", ";", "0"]
)  # fmt: skip
MIN_SE = st.sampled_from(["", "90", "3600", "x", "-1"])
BODY = st.sampled_from(
    [
        "",
        sdp(),
        sdp("sendonly"),
        sdp("inactive"),
        sdp(port=7100),
        sdp().replace("RTP/AVP 0 101", "RTP/AVP 8"),
        sdp().replace("m=audio 7000", "m=audio 0"),
        "v=0\r\nthis is not sdp\r\n",
        "\x00\xff garbage",
    ]
)
REQUEST = st.tuples(st.sampled_from(["INVITE", "UPDATE"]), SESSION_EXPIRES, MIN_SE, BODY)
ANSWERS = {200, 400, 422, 488, 491, 500}


@settings(max_examples=150, deadline=None)
@given(st.lists(REQUEST, min_size=1, max_size=6))
def test_any_in_dialog_request_gets_one_meaningful_answer(requests: list[tuple[str, ...]]) -> None:
    ua = make_ua()
    peer = Peer(ua)
    peer.call_in()
    now = 1.0
    for method, expires, min_se, body in requests:
        extra = "Supported: timer\r\n"
        extra += f"Session-Expires: {expires}\r\n" if expires else ""
        extra += f"Min-SE: {min_se}\r\n" if min_se else ""
        peer.cseq += 1
        request = peer.request(method, body=body, extra=extra)
        replies = [m for m in peer.send(request, now) if isinstance(m, Response)]
        finals = [r for r in replies if r.status >= 200]
        assert len(finals) == 1 and finals[0].status in ANSWERS, [r.status for r in replies]
        if method == "INVITE" and finals[0].status == 200:
            peer.send(peer.request("ACK", body=sdp() if not body else ""), now)
        elif method == "INVITE":  # §17.1.1.3: the ACK of a failure shares the INVITE's branch
            ack = peer.request("ACK")
            peer.send(
                ack.replace(headers=ack.headers.set("Via", request.headers.get("Via") or "")), now
            )
        now += 1.0
        ua.handle_timer(now)
        ua.call_actions()
    assert ua.active_call_id() == "call1"  # none of it hung the call up


@given(SESSION_EXPIRES, MIN_SE)
@settings(max_examples=60, deadline=None)
def test_a_new_call_with_any_timer_headers_is_answered(expires: str, min_se: str) -> None:
    ua = make_ua()
    peer = Peer(ua)
    extra = f"Session-Expires: {expires}\r\n" if expires else ""
    extra += f"Min-SE: {min_se}\r\n" if min_se else ""
    replies = [
        m
        for m in peer.send(peer.request("INVITE", body=sdp(), extra=extra), 0.0)
        if isinstance(m, Response)
    ]
    statuses = [r.status for r in replies]
    # A 100 at once; then rings (180, our 200 once media is ready), or is refused: 400, 422.
    assert statuses in ([100, 180], [100, 400], [100, 422]), statuses
