"""Established calls, sans-IO: re-INVITE/UPDATE (RFC 3261 §14, RFC 3311), session timers
(RFC 4028), the call-length limit with its warning, early media, and call groups.

A scripted peer at 192.0.2.50 talks to the user agent through exact SIP messages; the clock is a
number the test moves.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import replace

import pytest

from endpoint.config import CallSettings, Config
from endpoint.sip import ParseError, Request, Response, make_response, parse
from endpoint.ua.actions import NeedMedia, PlayAlert, StartMedia, StopMedia, UpdateMedia
from endpoint.ua.agent import UserAgent
from endpoint.ua.registration import LocalAddress

PEER = ("192.0.2.50", 5060)


def sdp(direction: str = "sendrecv", port: int = 7000, version: int = 1) -> str:
    return (
        f"v=0\r\no=- 1 {version} IN IP4 192.0.2.50\r\ns=-\r\nc=IN IP4 192.0.2.50\r\nt=0 0\r\n"
        f"m=audio {port} RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\na={direction}\r\n"
    )


class Peer:
    """The far end of one call: it builds the requests and reads what the UA sends."""

    def __init__(self, ua: UserAgent) -> None:
        self.ua = ua
        self.cseq = 1
        self.our_tag = "peer1"
        self.their_tag: str | None = None
        self.n = 0

    def request(
        self, method: str, *, body: str = "", extra: str = "", in_dialog: bool = True
    ) -> Request:
        self.n += 1
        to_tag = f";tag={self.their_tag}" if in_dialog and self.their_tag else ""
        content = "Content-Type: application/sdp\r\n" if body else ""
        data = (
            f"{method} sip:door@192.0.2.5 SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 192.0.2.50;branch=z9hG4bKp{self.n}\r\n"
            f"From: <sip:flat@example.com>;tag={self.our_tag}\r\n"
            f"To: <sip:door@example.com>{to_tag}\r\n"
            f"Call-ID: call1\r\nCSeq: {self.cseq} {method}\r\nMax-Forwards: 70\r\n"
            f"Contact: <sip:flat@192.0.2.50>\r\n{extra}{content}"
            f"Content-Length: {len(body)}\r\n\r\n{body}"
        ).encode()
        message = parse(data)
        assert isinstance(message, Request)
        return message

    def send(self, message: Request | Response, now: float) -> list[Request | Response]:
        self.ua.receive(message, PEER, "udp", now)
        return self.read()

    def read(self) -> list[Request | Response]:
        out = []
        for datagram in self.ua.datagrams_to_send():
            message = parse(datagram.data)
            assert isinstance(message, Request | Response)
            out.append(message)
        return out

    def call_in(self, extra: str = "", now: float = 0.0) -> Response:
        """INVITE → 180 → (media ready) → 200; returns the 200 and ACKs it."""
        self.send(self.request("INVITE", body=sdp(), extra=extra), now)
        (need,) = self.ua.call_actions()
        assert isinstance(need, NeedMedia)
        self.ua.media_ready("call1", 40000, now)
        (ok,) = [m for m in self.read() if isinstance(m, Response)]
        assert ok.status == 200
        self.their_tag = ok.to_addr.tag
        self.ua.call_actions()
        self.send(self.request("ACK"), now)  # §13.2.2.4: the INVITE's CSeq number
        self.cseq += 1
        return ok

    def run_until(self, t: float) -> list[Request | Response]:
        """Fire every timer due up to ``t`` (a fake clock jumping deadline to deadline)."""
        out: list[Request | Response] = []
        for _ in range(1000):
            deadline = self.ua.get_timer()
            if deadline is None or deadline > t:
                break
            self.ua.handle_timer(deadline)
            out += self.read()
        return out


def make_ua(**calls: object) -> UserAgent:
    config = Config(calls=replace(CallSettings(), **calls))  # type: ignore[arg-type]
    return UserAgent(config, LocalAddress("192.0.2.5", 5060), random.Random(7))


def responses(messages: list[Request | Response]) -> list[Response]:
    return [m for m in messages if isinstance(m, Response)]


def requests(messages: list[Request | Response]) -> list[Request]:
    return [m for m in messages if isinstance(m, Request)]


# -- re-INVITE and UPDATE -------------------------------------------------------------------


def test_reinvite_puts_us_on_hold_and_resumes() -> None:
    """RFC 3264 §8.4: sendonly is answered recvonly; the media engine is told both times."""
    ua = make_ua()
    peer = Peer(ua)
    peer.call_in()
    peer.cseq += 1
    (ok,) = responses(peer.send(peer.request("INVITE", body=sdp("sendonly", version=2)), 1.0))
    assert ok.status == 200 and b"a=recvonly" in ok.body
    (update,) = ua.call_actions()
    assert isinstance(update, UpdateMedia) and update.media.direction == "recvonly"
    peer.cseq += 1
    (ok,) = responses(peer.send(peer.request("INVITE", body=sdp("sendrecv", version=3)), 2.0))
    assert ok.status == 200 and b"a=sendrecv" in ok.body
    (update,) = ua.call_actions()
    assert isinstance(update, UpdateMedia) and update.media.direction == "sendrecv"
    events = [n.name for n in ua.notices()]
    assert events[-2:] == ["call-held", "call-resumed"]


def test_reinvite_moving_the_media_updates_the_remote_address() -> None:
    ua = make_ua()
    peer = Peer(ua)
    peer.call_in()
    peer.cseq += 1
    (ok,) = responses(peer.send(peer.request("INVITE", body=sdp(port=7100, version=2)), 1.0))
    assert ok.status == 200
    (update,) = ua.call_actions()
    assert isinstance(update, UpdateMedia) and update.media.remote_port == 7100


def test_reinvite_without_offer_gets_our_offer_and_the_ack_answers() -> None:
    ua = make_ua()
    peer = Peer(ua)
    peer.call_in()
    peer.cseq += 1
    (ok,) = responses(peer.send(peer.request("INVITE"), 1.0))
    assert ok.status == 200 and b"m=audio 40000 RTP/AVP 0" in ok.body
    peer.send(peer.request("ACK", body=sdp(port=7200, version=2)), 1.1)
    (update,) = ua.call_actions()
    assert isinstance(update, UpdateMedia) and update.media.remote_port == 7200


def test_reoffer_without_our_codec_is_488_and_the_call_goes_on() -> None:
    ua = make_ua()
    peer = Peer(ua)
    peer.call_in()
    peer.cseq += 1
    pcma_only = sdp(version=2).replace("RTP/AVP 0 101", "RTP/AVP 8 101")
    (refused,) = responses(peer.send(peer.request("INVITE", body=pcma_only), 1.0))
    assert refused.status == 488
    assert ua.call_actions() == [] and ua.active_call_id() == "call1"


def test_out_of_order_reinvite_is_500() -> None:
    """RFC 3261 §12.2.2: a CSeq lower than the last one is answered 500."""
    ua = make_ua()
    peer = Peer(ua)
    peer.call_in()
    peer.cseq = 0
    (reply,) = responses(peer.send(peer.request("INVITE", body=sdp()), 1.0))
    assert reply.status == 500 and reply.headers.get("Retry-After")


def test_update_without_body_is_a_session_refresh() -> None:
    ua = make_ua()
    peer = Peer(ua)
    peer.call_in(extra="Supported: timer\r\nSession-Expires: 120;refresher=uac\r\n")
    peer.cseq += 1
    refresh = peer.request("UPDATE", extra="Supported: timer\r\nSession-Expires: 120\r\n")
    (ok,) = responses(peer.send(refresh, 50.0))
    assert ok.status == 200 and ok.body == b""
    assert ok.headers.get("Session-Expires") == "120;refresher=uac"
    # The refresh at 50 s moved the expiry from 88 s (120 - 32) to 138 s.
    assert requests(peer.run_until(137.9)) == []
    (bye,) = requests(peer.run_until(138.0))
    assert bye.method == "BYE"


def test_reinvite_for_an_unknown_dialog_is_481() -> None:
    ua = make_ua()
    peer = Peer(ua)
    peer.their_tag = "nobody"
    (reply,) = responses(peer.send(peer.request("INVITE", body=sdp()), 0.0))
    assert reply.status == 481


# -- session timers (RFC 4028) -----------------------------------------------------------


def test_uas_agrees_to_the_callers_timer_and_ends_a_silent_call() -> None:
    """§9: the 2xx carries Session-Expires and Require: timer; §10: no refresh → BYE."""
    ua = make_ua()
    peer = Peer(ua)
    ok = peer.call_in(extra="Supported: timer\r\nSession-Expires: 90;refresher=uac\r\n")
    assert ok.headers.get("Session-Expires") == "90;refresher=uac"
    assert ok.headers.get("Require") == "timer"
    assert requests(peer.run_until(59.9)) == []
    (bye,) = requests(peer.run_until(60.0))  # 90 - min(32, 90/3)
    assert bye.method == "BYE" and bye.uri.host == "192.0.2.50"  # type: ignore[union-attr]
    (stop,) = ua.call_actions()
    assert isinstance(stop, StopMedia)
    ended = [n for n in ua.notices() if n.name == "call-ended"]
    assert ended[0].detail["reason"] == "session expired (no refresh from the peer)"


def test_too_small_session_interval_is_422_with_min_se() -> None:
    """§8.1: Session-Expires below 90 s is refused with our Min-SE."""
    ua = make_ua()
    peer = Peer(ua)
    too_small = peer.request(
        "INVITE", body=sdp(), extra="Supported: timer\r\nSession-Expires: 60\r\n"
    )
    (trying, reply) = responses(peer.send(too_small, 0.0))
    assert trying.status == 100 and reply.status == 422 and reply.headers.get("Min-SE") == "90"


def test_caller_without_timer_support_leaves_us_the_refreshing() -> None:
    """§9: refresher=uas; at half the interval we re-INVITE with our unchanged SDP."""
    ua = make_ua(session_expires=600)
    peer = Peer(ua)
    ok = peer.call_in()
    assert ok.headers.get("Session-Expires") == "600;refresher=uas"
    assert ok.headers.get("Require") is None
    assert requests(peer.run_until(299.9)) == []
    (refresh,) = requests(peer.run_until(300.0))
    assert refresh.method == "INVITE" and refresh.body == ok.body  # same o= version
    assert refresh.headers.get("Session-Expires") == "600;refresher=uac"
    answer = make_response(
        refresh, 200, headers=[("Contact", "<sip:flat@192.0.2.50>")], body=sdp().encode()
    )
    answer = answer.replace(headers=answer.headers.add("Session-Expires", "600;refresher=uac"))
    (ack,) = requests(peer.send(answer, 300.1))
    assert ack.method == "ACK" and ack.cseq.seq == refresh.cseq.seq
    assert requests(peer.run_until(600.0)) == []
    (again,) = requests(peer.run_until(600.1))  # the next refresh: half the interval later
    assert again.method == "INVITE" and again.cseq.seq == refresh.cseq.seq + 1


def test_refresh_with_update_when_the_peer_allows_it_and_481_ends_the_call() -> None:
    ua = make_ua(session_expires=600)
    peer = Peer(ua)
    peer.call_in(extra="Allow: INVITE, ACK, BYE, UPDATE\r\n")
    (refresh,) = requests(peer.run_until(300.0))
    assert refresh.method == "UPDATE" and refresh.body == b""
    (bye,) = requests(peer.send(make_response(refresh, 481), 300.2))
    assert bye.method == "BYE"
    ended = [n for n in ua.notices() if n.name == "call-ended"]
    assert ended[0].detail["reason"].startswith("session refresh answered 481")


# -- the call-length limit ------------------------------------------------------------------


def test_max_duration_warns_ten_seconds_before_and_hash_extends() -> None:
    ua = make_ua(max_duration=120, session_expires=0)
    peer = Peer(ua)
    peer.call_in()
    peer.run_until(109.9)
    assert ua.call_actions() == []
    peer.run_until(110.0)
    (alert,) = ua.call_actions()
    assert isinstance(alert, PlayAlert) and alert.call_id == "call1"
    warning = [n for n in ua.notices() if n.name == "call-time-warning"]
    assert warning[0].detail["remaining_s"] == 10
    ua.dtmf("call1", "#", 115.0)
    assert requests(peer.run_until(234.9)) == []  # a new 120 s period from 115 s
    assert isinstance(ua.call_actions()[0], PlayAlert)  # warned again at 225 s
    (bye,) = requests(peer.run_until(235.0))
    assert bye.method == "BYE"
    ended = [n for n in ua.notices() if n.name == "call-ended"]
    assert ended[0].detail["reason"] == "maximum call duration reached"


def test_hash_before_the_warning_does_not_extend() -> None:
    ua = make_ua(max_duration=120, session_expires=0)
    peer = Peer(ua)
    peer.call_in()
    ua.dtmf("call1", "#", 50.0)
    (bye,) = requests(peer.run_until(120.0))
    assert bye.method == "BYE"


# -- outgoing calls: timers, 422, early media ------------------------------------------------


def place(ua: UserAgent, target: str = "sip:flat@192.0.2.50", now: float = 0.0) -> Request:
    call_id = ua.call(target, now)
    (need,) = ua.call_actions()
    assert isinstance(need, NeedMedia) and need.call_id == call_id
    ua.media_ready(call_id, 40002, now)
    (invite,) = [parse(o.data) for o in ua.datagrams_to_send()]
    assert isinstance(invite, Request)
    return invite


def answer(
    invite: Request, status: int, body: str = "", extra: Sequence[tuple[str, str]] = ()
) -> Response:
    headers = [("Contact", "<sip:flat@192.0.2.50>"), *extra]
    if body:
        headers.append(("Content-Type", "application/sdp"))
    return make_response(invite, status, to_tag="callee", headers=headers, body=body.encode())


def test_our_invite_asks_for_a_session_timer_and_follows_422() -> None:
    ua = make_ua()
    invite = place(ua)
    assert invite.headers.get("Session-Expires") == "1800;refresher=uac"
    assert "timer" in invite.headers.get_all("Supported")
    ua.receive(answer(invite, 422, extra=[("Min-SE", "3600")]), PEER, "udp", 0.1)
    sent = [parse(o.data) for o in ua.datagrams_to_send()]
    retry = next(m for m in sent if isinstance(m, Request) and m.method == "INVITE")
    assert retry.headers.get("Session-Expires") == "3600;refresher=uac"
    assert retry.cseq.seq == invite.cseq.seq + 1


def test_early_media_starts_on_183_and_the_2xx_does_not_restart_it() -> None:
    ua = make_ua()
    invite = place(ua)
    ua.receive(answer(invite, 183, sdp()), PEER, "udp", 0.1)
    (start,) = ua.call_actions()
    assert isinstance(start, StartMedia) and start.media.remote_port == 7000
    ua.receive(answer(invite, 200, sdp()), PEER, "udp", 2.0)
    assert ua.call_actions() == []
    events = [n.name for n in ua.notices()]
    assert events == ["call-outgoing", "call-ringing", "call-early-media", "call-answered"]


def test_callee_as_refresher_and_we_end_a_silent_call() -> None:
    ua = make_ua()
    invite = place(ua)
    ok = answer(invite, 200, sdp(), extra=[("Session-Expires", "90;refresher=uas")])
    ua.receive(ok, PEER, "udp", 1.0)
    peer = Peer(ua)
    (ack,) = requests(peer.read())
    assert ack.method == "ACK"
    assert requests(peer.run_until(60.9)) == []
    (bye,) = requests(peer.run_until(61.0))
    assert bye.method == "BYE"


# -- call groups ------------------------------------------------------------------------------


def test_parallel_group_first_answer_wins_and_the_others_are_cancelled() -> None:
    ua = make_ua()
    ua.call_group(["sip:a@192.0.2.61", "sip:b@192.0.2.62"], True, 20, 0.0)
    needs = ua.call_actions()
    assert len(needs) == 2 and all(isinstance(n, NeedMedia) for n in needs)
    for port, need in enumerate(needs):
        ua.media_ready(need.call_id, 40010 + 2 * port, 0.0)
    invites = [parse(o.data) for o in ua.datagrams_to_send()]
    assert {i.uri.host for i in invites if isinstance(i, Request)} == {  # type: ignore[union-attr]
        "192.0.2.61",
        "192.0.2.62",
    }
    first, second = (i for i in invites if isinstance(i, Request))
    ua.receive(answer(second, 200, sdp()), ("192.0.2.62", 5060), "udp", 3.0)
    sent = [parse(o.data) for o in ua.datagrams_to_send()]
    methods = sorted(m.method for m in sent if isinstance(m, Request))
    assert methods == ["ACK", "CANCEL"]
    cancel = next(m for m in sent if isinstance(m, Request) and m.method == "CANCEL")
    assert cancel.call_id == first.call_id


def test_sequential_group_rings_the_next_after_the_per_target_timeout() -> None:
    ua = make_ua()
    ua.call_group(["sip:a@192.0.2.61", "sip:b@192.0.2.62"], False, 15, 0.0)
    (need,) = ua.call_actions()
    ua.media_ready(need.call_id, 40010, 0.0)
    (first,) = [parse(o.data) for o in ua.datagrams_to_send()]
    assert isinstance(first, Request)
    ua.receive(answer(first, 180), ("192.0.2.61", 5060), "udp", 0.5)
    ua.handle_timer(15.0)
    (cancel,) = [parse(o.data) for o in ua.datagrams_to_send()]
    assert isinstance(cancel, Request) and cancel.method == "CANCEL"
    ua.receive(make_response(cancel, 200, to_tag="callee"), ("192.0.2.61", 5060), "udp", 15.1)
    ua.receive(answer(first, 487), ("192.0.2.61", 5060), "udp", 15.2)
    actions = ua.call_actions()
    need2 = next(a for a in actions if isinstance(a, NeedMedia))
    ua.media_ready(need2.call_id, 40012, 15.2)
    second = [parse(o.data) for o in ua.datagrams_to_send()]
    invite2 = next(m for m in second if isinstance(m, Request) and m.method == "INVITE")
    assert invite2.uri.host == "192.0.2.62"  # type: ignore[union-attr]


def test_group_with_a_bad_target_places_no_call() -> None:
    ua = make_ua()
    with pytest.raises(ParseError, match="malformed host"):
        ua.call_group(["sip:a@192.0.2.61", "sip:flat 12"], True, 20, 0.0)
    assert ua.call_actions() == [] and ua.active_call_id() is None


def test_status_lists_the_call_with_its_codec_hold_and_length() -> None:
    ua = make_ua()
    peer = Peer(ua)
    peer.call_in(now=10.0)
    peer.send(peer.request("INVITE", body=sdp("sendonly", version=2)), 12.0)
    (row,) = ua.status(now=25.0)["calls"]  # type: ignore[misc]
    assert row == {
        "call_id": "call1",
        "direction": "in",
        "peer": "sip:flat@example.com",
        "state": "confirmed",
        "active": True,
        "codec": "PCMU",
        "on_hold": True,
        "held": False,
        "encryption": "none",
        "seconds": 15.0,
    }
