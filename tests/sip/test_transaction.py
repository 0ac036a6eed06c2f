"""RFC 3261 §17 transactions driven with real message bytes and a fake clock (Figures 5-8)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from endpoint.sip import Request, Response, make_response, parse
from endpoint.sip.transaction import (
    INVITE_CLIENT,
    INVITE_SERVER,
    NON_INVITE_CLIENT,
    NON_INVITE_SERVER,
    AckReceived,
    RequestReceived,
    ResponseReceived,
    State,
    StrayResponse,
    TimerConfig,
    TransactionLayer,
    TransactionTerminated,
    TransactionTimeout,
    TransportError,
    response_destination,
)

PEER = ("192.0.2.7", 5060)
ME = "192.0.2.1:5062"


def request(
    method: str,
    branch: str = "z9hG4bK776asdhds",
    cseq: int = 1,
    *,
    to_tag: str = "",
    transport: str = "UDP",
    extra: str = "",
) -> Request:
    to = "<sip:bob@example.com>" + (f";tag={to_tag}" if to_tag else "")
    data = (
        f"{method} sip:bob@example.com SIP/2.0\r\n"
        f"Via: SIP/2.0/{transport} {ME};branch={branch}\r\n"
        "Max-Forwards: 70\r\nFrom: Alice <sip:alice@example.com>;tag=1928301774\r\n"
        f"To: {to}\r\nCall-ID: a84b4c76e66710@pc33\r\nCSeq: {cseq} {method}\r\n"
        f"Route: <sip:proxy.example.com;lr>\r\n{extra}Content-Length: 0\r\n\r\n"
    ).encode()
    m = parse(data)
    assert isinstance(m, Request)
    return m


def response(req: Request, status: int, to_tag: str | None = "8321234356") -> Response:
    return make_response(req, status, to_tag=to_tag)


def run_until(layer: TransactionLayer, end: float) -> list[float]:
    """Fire every timer up to ``end``; return the times at which something was sent."""
    sent: list[float] = []
    while (t := layer.get_timer()) is not None and t <= end:
        layer.handle_timer(t)
        sent += [t] * len(layer.datagrams_to_send())
    return sent


# ---- Figure 5: INVITE client ----------------------------------------------------------------


def test_invite_client_timer_a_doubles_until_timer_b() -> None:
    layer = TransactionLayer()
    key = layer.send_request(request("INVITE"), PEER, "udp", 0.0)
    (first,) = layer.datagrams_to_send()
    assert first.destination == PEER and first.data.startswith(b"INVITE ")
    assert run_until(layer, 64.0) == [0.5, 1.5, 3.5, 7.5, 15.5, 31.5]
    events = layer.events()
    assert isinstance(events[0], TransactionTimeout) and events[0].timer == "B"
    assert events == [TransactionTimeout(key, events[0].request, "B"), TransactionTerminated(key)]


def test_invite_client_reliable_has_no_timer_a() -> None:
    layer = TransactionLayer()
    layer.send_request(request("INVITE", transport="TCP"), PEER, "tcp", 0.0)
    layer.datagrams_to_send()
    assert layer.get_timer() == 32.0
    assert run_until(layer, 64.0) == []


def test_invite_client_non_2xx_is_acked_by_the_transaction() -> None:
    layer = TransactionLayer()
    invite = request("INVITE")
    key = layer.send_request(invite, PEER, "udp", 0.0)
    layer.datagrams_to_send()
    layer.receive(response(invite, 180), PEER, "udp", 0.2)
    assert layer.state(key) is State.PROCEEDING
    assert run_until(layer, 10.0) == []  # no retransmissions once proceeding
    busy = response(invite, 486)
    layer.receive(busy, PEER, "udp", 10.0)
    (ack,) = layer.datagrams_to_send()
    a = parse(ack.data)
    assert isinstance(a, Request) and a.method == "ACK"
    # §17.1.1.3: same Request-URI, Call-ID, From, CSeq number; To from the response; top Via
    # of the INVITE only; Route of the INVITE.
    assert a.uri == invite.uri and a.call_id == invite.call_id and a.from_addr == invite.from_addr
    assert (a.cseq.seq, a.cseq.method) == (1, "ACK")
    assert a.to_addr.tag == "8321234356" and a.via == invite.via
    assert a.headers.rows("Route") == ["<sip:proxy.example.com;lr>"]
    assert [type(e) for e in layer.events()] == [ResponseReceived, ResponseReceived]
    layer.receive(busy, PEER, "udp", 11.0)  # retransmitted 486: ACK again, not passed up
    assert [o.data for o in layer.datagrams_to_send()] == [ack.data]
    assert layer.events() == []
    assert layer.get_timer() == 42.0  # Timer D: 32 s after the first 486
    run_until(layer, 42.0)
    assert layer.events() == [TransactionTerminated(key)]


def test_invite_client_2xx_goes_to_accepted_and_passes_retransmissions_up() -> None:
    layer = TransactionLayer()
    invite = request("INVITE")
    key = layer.send_request(invite, PEER, "udp", 0.0)
    ok = response(invite, 200)
    layer.receive(ok, PEER, "udp", 1.0)
    layer.receive(ok, PEER, "udp", 1.5)
    assert layer.state(key) is State.ACCEPTED
    assert [type(e) for e in layer.events()] == [ResponseReceived, ResponseReceived]
    assert layer.get_timer() == 33.0  # Timer M = 64*T1 (RFC 6026)
    run_until(layer, 33.0)
    assert layer.events() == [TransactionTerminated(key)]
    layer.receive(ok, PEER, "udp", 40.0)
    assert [type(e) for e in layer.events()] == [StrayResponse]


# ---- Figure 6: non-INVITE client ------------------------------------------------------------


def test_non_invite_client_timer_e_caps_at_t2() -> None:
    layer = TransactionLayer()
    key = layer.send_request(request("OPTIONS"), PEER, "udp", 0.0)
    layer.datagrams_to_send()
    assert run_until(layer, 64.0) == [0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
    events = layer.events()
    assert isinstance(events[0], TransactionTimeout) and events[0].timer == "F"
    assert events[1] == TransactionTerminated(key)


def test_refused_connection_fails_the_transactions_to_that_destination_at_once() -> None:
    """§18.4: the transport tells the TU; a REGISTER over TCP to a registrar that is down
    fails now, not after Timer F's 32 s."""
    layer = TransactionLayer()
    doomed = layer.send_request(request("REGISTER", transport="TCP"), PEER, "tcp", 0.0)
    other = layer.send_request(
        request("OPTIONS", "z9hG4bKother", transport="TCP"), ("192.0.2.8", 5060), "tcp", 0.0
    )
    layer.destination_failed(PEER, "tcp", 0.1)
    events = layer.events()
    assert TransportError(doomed, events[0].request) == events[0]  # type: ignore[union-attr]
    assert layer.state(doomed) is State.TERMINATED and layer.state(other) is State.TRYING


def test_non_invite_client_after_provisional_retransmits_every_t2() -> None:
    layer = TransactionLayer()
    options = request("OPTIONS")
    layer.send_request(options, PEER, "udp", 0.0)
    layer.datagrams_to_send()
    assert run_until(layer, 0.5) == [0.5]
    layer.receive(response(options, 100, None), PEER, "udp", 0.6)
    assert run_until(layer, 12.0) == [1.5, 5.5, 9.5]


def test_non_invite_client_final_then_timer_k() -> None:
    layer = TransactionLayer()
    options = request("OPTIONS")
    key = layer.send_request(options, PEER, "udp", 0.0)
    layer.receive(response(options, 200), PEER, "udp", 0.1)
    assert layer.state(key) is State.COMPLETED
    assert layer.get_timer() == pytest.approx(5.1)  # Timer K = T4
    layer.receive(response(options, 200), PEER, "udp", 0.2)  # absorbed in Completed
    assert [type(e) for e in layer.events()] == [ResponseReceived]
    run_until(layer, 6.0)
    assert layer.events() == [TransactionTerminated(key)]


def test_timers_follow_the_configured_t1_t2_t4() -> None:
    layer = TransactionLayer(TimerConfig(t1=0.1, t2=0.4, t4=1.0))
    layer.send_request(request("OPTIONS"), PEER, "udp", 0.0)
    layer.datagrams_to_send()
    assert run_until(layer, 2.0) == pytest.approx([0.1, 0.3, 0.7, 1.1, 1.5, 1.9])


# ---- Figure 7: INVITE server ----------------------------------------------------------------


def test_invite_server_trying_retransmission_and_failure_until_ack() -> None:
    layer = TransactionLayer()
    invite = request("INVITE")
    layer.receive(invite, PEER, "udp", 0.0)
    (received,) = layer.events()
    assert isinstance(received, RequestReceived)
    key = received.transaction
    assert run_until(layer, 0.2) == [0.2]  # 100 Trying: the TU did not answer within 200 ms
    layer.receive(invite, PEER, "udp", 0.3)  # retransmission: the 100 again
    (again,) = layer.datagrams_to_send()
    assert again.data.startswith(b"SIP/2.0 100 Trying")
    layer.send_response(key, make_response(received.request, 486, to_tag="x"), 1.0)
    assert len(layer.datagrams_to_send()) == 1
    assert run_until(layer, 8.0) == [1.5, 2.5, 4.5]  # Timer G: T1, 2T1, 4T1 ...
    layer.receive(request("ACK", to_tag="x"), PEER, "udp", 8.0)  # same branch as the INVITE
    assert layer.state(key) is State.CONFIRMED
    assert layer.get_timer() == 13.0  # Timer I = T4 after the ACK
    assert run_until(layer, 13.0) == []
    assert layer.events() == [TransactionTerminated(key)]


def test_invite_server_timer_h_without_ack() -> None:
    layer = TransactionLayer()
    layer.receive(request("INVITE"), PEER, "udp", 0.0)
    (received,) = layer.events()
    assert isinstance(received, RequestReceived)
    layer.send_response(received.transaction, make_response(received.request, 603, to_tag="t"), 0.0)
    layer.datagrams_to_send()
    sent = run_until(layer, 40.0)
    assert sent == [0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
    events = layer.events()
    assert isinstance(events[0], TransactionTimeout) and events[0].timer == "H"


def test_invite_server_2xx_retransmitted_until_its_ack() -> None:
    layer = TransactionLayer()
    layer.receive(request("INVITE"), PEER, "udp", 0.0)
    (received,) = layer.events()
    assert isinstance(received, RequestReceived)
    ok = make_response(received.request, 200, to_tag="x")
    layer.send_response(received.transaction, ok, 0.0)
    layer.datagrams_to_send()
    assert run_until(layer, 4.0) == [0.5, 1.5, 3.5]
    ack = request("ACK", branch="z9hG4bKnewbranch", to_tag="x")  # 2xx ACK: its own branch
    layer.receive(ack, PEER, "udp", 4.0)
    events = layer.events()
    assert isinstance(events[0], TransactionTerminated)
    assert isinstance(events[1], AckReceived)
    assert run_until(layer, 40.0) == []


def test_invite_server_reliable_sends_no_retransmissions() -> None:
    layer = TransactionLayer(trying_delay=-1)
    layer.receive(request("INVITE", transport="TCP"), PEER, "tcp", 0.0)
    (received,) = layer.events()
    assert isinstance(received, RequestReceived)
    layer.send_response(received.transaction, make_response(received.request, 486, to_tag="t"), 0)
    layer.datagrams_to_send()
    assert run_until(layer, 40.0) == []


# ---- Figure 8: non-INVITE server ------------------------------------------------------------


def test_non_invite_server_absorbs_retransmissions_and_resends_the_final() -> None:
    layer = TransactionLayer()
    bye = request("BYE", to_tag="x")
    layer.receive(bye, PEER, "udp", 0.0)
    (received,) = layer.events()
    assert isinstance(received, RequestReceived)
    layer.receive(bye, PEER, "udp", 0.1)  # Trying: absorbed, nothing to resend yet
    assert layer.events() == [] and layer.datagrams_to_send() == []
    layer.send_response(received.transaction, make_response(received.request, 200), 0.2)
    (ok,) = layer.datagrams_to_send()
    layer.receive(bye, PEER, "udp", 1.0)
    assert [o.data for o in layer.datagrams_to_send()] == [ok.data]
    assert layer.get_timer() == pytest.approx(32.2)  # Timer J = 64*T1
    run_until(layer, 33.0)
    assert layer.events() == [TransactionTerminated(received.transaction)]


@pytest.mark.parametrize(("method", "deadline"), [("OPTIONS", 32.0), ("INVITE", 70.0)])
def test_a_server_transaction_the_tu_never_answers_is_answered_500_and_ends(
    method: str, deadline: float
) -> None:
    """Issue 13 rule 1: no server transaction waits for ever, whatever the TU did."""
    layer = TransactionLayer(trying_delay=-1, invite_tu_timeout=70.0)
    layer.receive(request(method, transport="TCP"), PEER, "tcp", 0.0)
    (received,) = layer.events()
    assert isinstance(received, RequestReceived)
    assert layer.get_timer() == pytest.approx(deadline)
    layer.handle_timer(deadline)
    (answer,) = layer.datagrams_to_send()
    assert answer.data.startswith(b"SIP/2.0 500 ")
    events = layer.events()
    assert TransactionTimeout(received.transaction, received.request, "tu") in events
    run_until(layer, deadline + 64 * 0.5)  # Timer J is 0 on TCP; an INVITE waits H for its ACK
    assert len(layer) == 0 and layer.tu_timeouts == 1


def test_an_answered_server_transaction_has_no_tu_deadline_left() -> None:
    layer = TransactionLayer()
    layer.receive(request("OPTIONS", transport="TCP"), PEER, "tcp", 0.0)
    (received,) = layer.events()
    assert isinstance(received, RequestReceived)
    layer.send_response(received.transaction, make_response(received.request, 200), 1.0)
    layer.datagrams_to_send()
    run_until(layer, 100.0)
    assert layer.datagrams_to_send() == [] and layer.tu_timeouts == 0 and len(layer) == 0


# ---- matching -------------------------------------------------------------------------------


def test_cancel_matches_the_invite_server_transaction() -> None:
    layer = TransactionLayer()
    layer.receive(request("INVITE"), PEER, "udp", 0.0)
    layer.receive(request("CANCEL"), PEER, "udp", 1.0)
    invite_rx, cancel_rx = layer.events()
    assert isinstance(invite_rx, RequestReceived) and isinstance(cancel_rx, RequestReceived)
    assert cancel_rx.cancels == invite_rx.transaction
    assert cancel_rx.transaction != invite_rx.transaction


def test_rfc2543_matching_without_magic_cookie() -> None:
    layer = TransactionLayer()
    old = request("INVITE", branch="1234")
    layer.receive(old, PEER, "udp", 0.0)
    (received,) = layer.events()
    assert isinstance(received, RequestReceived)
    layer.receive(old, PEER, "udp", 0.5)
    assert layer.events() == []  # the retransmission matched
    layer.send_response(received.transaction, make_response(received.request, 404, to_tag="q"), 1)
    layer.receive(request("ACK", branch="1234", to_tag="q"), PEER, "udp", 2.0)
    assert layer.state(received.transaction) is State.CONFIRMED


def test_received_and_rport_are_stamped_and_used() -> None:
    layer = TransactionLayer()
    req = request("OPTIONS", extra="").replace()
    req = parse(bytes(req).replace(b";branch=", b";rport;branch="))
    assert isinstance(req, Request)
    layer.receive(req, ("203.0.113.9", 40000), "udp", 0.0)
    (received,) = layer.events()
    assert isinstance(received, RequestReceived)
    via = received.request.top_via
    assert via.received == "203.0.113.9" and via.rport == 40000
    layer.send_response(received.transaction, make_response(received.request, 200), 0.0)
    (out,) = layer.datagrams_to_send()
    assert out.destination == ("203.0.113.9", 40000)
    assert b"rport=40000" in out.data


def test_response_destination_rules() -> None:
    from endpoint.sip import Via

    # Issue 13 rules 2 and 3: the source's address at the sent-by port; never a name from the
    # wire, never a maddr naming someone else.
    assert response_destination(Via("UDP", "a.example", 5070), ("1.2.3.4", 9), "udp") == (
        "1.2.3.4",
        5070,
    )
    victim = Via("UDP", "1.2.3.4", 5070, (("maddr", "198.51.100.9"),))
    assert response_destination(victim, ("1.2.3.4", 9), "udp") == ("1.2.3.4", 5070)
    v = Via("UDP", "a.example", None, (("received", "1.2.3.4"),))
    assert response_destination(v, ("1.2.3.4", 9), "udp") == ("1.2.3.4", 5060)
    assert response_destination(Via("TCP", "a", 5070), ("1.2.3.4", 9), "tcp") == ("1.2.3.4", 9)


def test_overload_answers_503_statelessly() -> None:
    layer = TransactionLayer(max_transactions=2)
    for i in range(3):
        layer.receive(request("OPTIONS", branch=f"z9hG4bKo{i}"), PEER, "udp", 0.0)
    assert len(layer.events()) == 2
    (busy,) = layer.datagrams_to_send()
    assert busy.data.startswith(b"SIP/2.0 503 Service Unavailable\r\n")
    assert b"Retry-After: 5" in busy.data and layer.rejected_overload == 1


def test_one_source_has_a_budget_and_in_dialog_requests_pass_a_full_table() -> None:
    """Issue 13 rule 9: one host fills only its own budget; a request the TU matched to a
    dialog is never refused for capacity."""
    layer = TransactionLayer(max_transactions=6, max_per_source=3, source_rate=1000)
    for i in range(4):
        layer.receive(request("OPTIONS", branch=f"z9hG4bKf{i}"), PEER, "udp", 0.0)
    assert len(layer.events()) == 3 and layer.rejected_overload == 1
    other = ("192.0.2.8", 5060)
    for i in range(3):
        layer.receive(request("OPTIONS", branch=f"z9hG4bKg{i}"), other, "udp", 0.0)
    assert len(layer.events()) == 3 and len(layer) == 6  # full
    layer.datagrams_to_send()
    layer.receive(request("BYE", branch="z9hG4bKbye", to_tag="x"), PEER, "udp", 0.0, in_dialog=True)
    (bye,) = layer.events()
    assert isinstance(bye, RequestReceived) and layer.datagrams_to_send() == []
    # Slots come back when transactions end.
    layer.send_response(bye.transaction, make_response(bye.request, 200), 0.1)
    run_until(layer, 100.0)  # the unanswered ones get the TU backstop's 500, then end
    assert len(layer) == 0
    layer.events()
    layer.receive(request("OPTIONS", branch="z9hG4bKh"), PEER, "udp", 100.0)
    assert len(layer.events()) == 1


def test_a_full_table_makes_room_by_forgetting_answered_transactions() -> None:
    """Many sources, each within its budget, fill the table with answered OPTIONS (held 32 s
    for retransmissions): a newcomer is still served, the oldest answered slot gives way."""
    layer = TransactionLayer(max_transactions=3, source_rate=1000)
    for i in range(3):
        layer.receive(request("OPTIONS", branch=f"z9hG4bKa{i}"), (f"192.0.2.{i}", 5060), "udp", 0)
        (received,) = layer.events()
        assert isinstance(received, RequestReceived)
        layer.send_response(received.transaction, make_response(received.request, 200), 0.0)
    layer.datagrams_to_send()
    layer.receive(request("OPTIONS", branch="z9hG4bKnew"), ("192.0.2.99", 5060), "udp", 1.0)
    assert len(layer.events()) == 1 and layer.datagrams_to_send() == []  # served, no 503
    assert layer.evicted == 1 and len(layer) == 3


def test_a_source_beyond_its_rate_is_dropped_unanswered() -> None:
    layer = TransactionLayer(source_rate=10, source_burst=5)
    for i in range(8):
        layer.receive(request("OPTIONS", branch=f"z9hG4bKr{i}"), PEER, "udp", 0.0)
    assert len(layer.events()) == 5 and layer.rate_limited == 3
    assert layer.datagrams_to_send() == []  # no 503: a flood is not answered
    layer.receive(request("OPTIONS", branch="z9hG4bKlater"), PEER, "udp", 0.2)  # 2 tokens back
    assert len(layer.events()) == 1


def test_over_budget_tells_the_runtime_what_the_rate_limit_would_drop() -> None:
    """The runtime drops a flooder's datagrams unparsed when ``over_budget`` says the next
    request would be dropped anyway; asking takes no token."""
    layer = TransactionLayer(source_rate=10, source_burst=5)
    assert not layer.over_budget(PEER[0], 0.0)  # never seen: a full bucket
    for i in range(5):
        layer.receive(request("OPTIONS", branch=f"z9hG4bKb{i}"), PEER, "udp", 0.0)
    assert layer.over_budget(PEER[0], 0.0) and layer.over_budget(PEER[0], 0.05)
    assert not layer.over_budget("192.0.2.77", 0.0)  # another source has its own budget
    assert not layer.over_budget(PEER[0], 0.1)  # one token back after 0.1 s
    assert not layer.over_budget(PEER[0], 0.1)  # and asking did not take it
    layer.receive(request("OPTIONS", branch="z9hG4bKb9"), PEER, "udp", 0.1)
    assert layer.rate_limited == 0 and len(layer.events()) == 6


def test_a_trusted_source_gets_half_the_table_and_a_larger_rate() -> None:
    """Rule 9 without refusing the PBX: a trusted host (the UA's rules say which) may hold
    half the table and start TRUSTED_RATE requests a second; a stranger keeps the small
    budget and rate, and the other half of the table stays free for it."""
    pbx, stranger = "192.0.2.50", "192.0.2.66"
    layer = TransactionLayer(max_transactions=40, max_per_source=4, source_rate=5, source_burst=10)
    layer.set_trusted(lambda host: host == pbx)
    for i in range(25):
        layer.receive(request("OPTIONS", branch=f"z9hG4bKp{i}"), (pbx, 5060), "udp", 0.0)
        layer.receive(request("OPTIONS", branch=f"z9hG4bKs{i}"), (stranger, 5060), "udp", 0.0)
    events = layer.events()
    from_pbx = [e for e in events if isinstance(e, RequestReceived) and e.source[0] == pbx]
    assert len(from_pbx) == 20 == layer.trusted_per_source  # half the table, then 503
    assert len(events) - len(from_pbx) == 4  # the stranger: its own small budget
    assert layer.rejected_overload == 5 + 6 and layer.rate_limited == 15  # stranger: 10 tokens
    assert not layer.over_budget(pbx, 0.0) and layer.over_budget(stranger, 0.0)
    layer.set_trusted(lambda host: False)  # a reloaded configuration no longer trusts it
    layer.datagrams_to_send()
    layer.receive(request("OPTIONS", branch="z9hG4bKafter"), (pbx, 5060), "udp", 0.0)
    assert layer.events() == [] and layer.rejected_overload == 12  # now over the small budget


def test_transport_error_ends_the_transaction() -> None:
    layer = TransactionLayer()
    key = layer.send_request(request("OPTIONS", transport="TCP"), PEER, "tcp", 0.0)
    layer.transport_error(key, 0.1)
    events = layer.events()
    assert isinstance(events[0], TransportError) and events[1] == TransactionTerminated(key)
    assert layer.get_timer() is None


# ---- every (state, input) pair ----------------------------------------------------------------

TABLES = {
    "invite client": INVITE_CLIENT,
    "non-invite client": NON_INVITE_CLIENT,
    "invite server": INVITE_SERVER,
    "non-invite server": NON_INVITE_SERVER,
}


@pytest.mark.parametrize("name", TABLES)
def test_tables_only_leave_terminated_states_by_documented_transitions(name: str) -> None:
    table = TABLES[name]
    for (state, _), (_, next_state) in table.items():
        assert state is not State.TERMINATED
        assert next_state in State
    reachable = {next_state for _, next_state in table.values()}
    assert State.TERMINATED in reachable


CLIENT_INPUTS = st.sampled_from(["100", "180", "200", "486", "timer", "error"])


@given(st.booleans(), st.booleans(), st.lists(CLIENT_INPUTS, max_size=25))
def test_client_machines_never_break(invite: bool, reliable: bool, inputs: list[str]) -> None:
    layer = TransactionLayer()
    req = request("INVITE" if invite else "OPTIONS", transport="TCP" if reliable else "UDP")
    key = layer.send_request(req, PEER, "tcp" if reliable else "udp", 0.0)
    now = 0.0
    finals = 0
    for item in inputs:
        now += 0.3
        if item == "timer":
            t = layer.get_timer()
            if t is not None:
                now = max(now, t)
                layer.handle_timer(now)
        elif item == "error":
            layer.transport_error(key, now)
        else:
            layer.receive(response(req, int(item)), PEER, "udp", now)
        for event in layer.events():
            if isinstance(event, ResponseReceived) and event.response.status >= 300:
                finals += 1
        t = layer.get_timer()
        assert t is None or t >= now - 64
    assert finals <= 1  # a non-2xx final is passed up once, retransmissions are absorbed
    state = layer.state(key)
    if state is not State.TERMINATED and not (invite and state is State.PROCEEDING):
        assert layer.get_timer() is not None  # a live transaction always has a way out
