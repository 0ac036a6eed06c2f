"""Dialogs (RFC 3261 §12): the caller's and callee's view, routing, CSeq, target refresh."""

from endpoint.sip import Request, SipURI, Via, make_response, parse
from endpoint.sip.dialog import Dialog, DialogState, dialog_id_of

INVITE = parse(
    b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bKnashds8\r\n"
    b"Max-Forwards: 70\r\nTo: Bob <sip:bob@biloxi.example.com>\r\n"
    b"From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n"
    b"Call-ID: a84b4c76e66710\r\nCSeq: 314159 INVITE\r\n"
    b"Contact: <sip:alice@pc33.atlanta.example.com>\r\nContent-Length: 0\r\n\r\n"
)
assert isinstance(INVITE, Request)
VIA = Via("UDP", "pc33.atlanta.example.com", None, (("branch", "z9hG4bKnew"),))


def ringing_with_record_route() -> Dialog:
    ringing = make_response(
        INVITE,
        180,
        to_tag="a6c85cf",
        headers=[
            ("Record-Route", "<sip:p2.biloxi.example.com;lr>, <sip:p1.atlanta.example.com;lr>"),
            ("Contact", "<sip:bob@192.0.2.4>"),
        ],
    )
    return Dialog.as_caller(INVITE, ringing)


def test_caller_dialog_from_180_is_early_with_reversed_route_set() -> None:
    d = ringing_with_record_route()
    assert d.state is DialogState.EARLY
    assert d.id == ("a84b4c76e66710", "1928301774", "a6c85cf")
    assert [str(r.uri) for r in d.route_set] == [
        "sip:p1.atlanta.example.com;lr",
        "sip:p2.biloxi.example.com;lr",
    ]
    assert str(d.remote_target) == "sip:bob@192.0.2.4"
    assert str(d.next_hop()) == "sip:p1.atlanta.example.com;lr"


def test_bye_and_ack_through_loose_routes() -> None:
    d = ringing_with_record_route()
    d.receive_response(make_response(INVITE, 200, to_tag="a6c85cf"))
    assert d.state is DialogState.CONFIRMED
    ack = d.create_ack(314159, VIA)
    assert (ack.method, ack.cseq.seq, ack.cseq.method) == ("ACK", 314159, "ACK")
    bye = d.create_request("BYE", VIA)
    assert str(bye.uri) == "sip:bob@192.0.2.4"
    assert bye.headers.rows("Route") == [
        "<sip:p1.atlanta.example.com;lr>",
        "<sip:p2.biloxi.example.com;lr>",
    ]
    assert bye.cseq.seq == 314160  # §12.2.1.1: one more than the last
    assert bye.to_addr.tag == "a6c85cf" and bye.from_addr.tag == "1928301774"
    assert "Contact" not in bye.headers
    assert parse(bytes(bye)).call_id == "a84b4c76e66710"


def test_strict_router_becomes_the_request_uri() -> None:
    ok = make_response(
        INVITE,
        200,
        to_tag="x",
        headers=[
            ("Record-Route", "<sip:strict.example.com>, <sip:p1.example.com;lr>"),
            ("Contact", "<sip:bob@192.0.2.4>"),
        ],
    )
    d = Dialog.as_caller(INVITE, ok)
    bye = d.create_request("BYE", VIA)
    # reversed, p1 (loose) comes first: the remote target stays the Request-URI
    assert str(bye.uri) == "sip:bob@192.0.2.4"
    assert bye.headers.rows("Route") == ["<sip:p1.example.com;lr>", "<sip:strict.example.com>"]
    d2 = Dialog.as_caller(
        INVITE,
        make_response(
            INVITE,
            200,
            to_tag="x",
            headers=[
                ("Record-Route", "<sip:p1.example.com;lr>, <sip:strict.example.com>"),
                ("Contact", "<sip:bob@192.0.2.4>"),
            ],
        ),
    )
    bye2 = d2.create_request("BYE", VIA)
    assert str(bye2.uri) == "sip:strict.example.com"
    assert bye2.headers.rows("Route") == ["<sip:p1.example.com;lr>", "<sip:bob@192.0.2.4>"]


def test_callee_dialog_keeps_route_order_and_checks_cseq() -> None:
    incoming = parse(
        bytes(INVITE).replace(b"Contact:", b"Record-Route: <sip:p1.example.com;lr>\r\nContact:")
    )
    assert isinstance(incoming, Request)
    ok = make_response(incoming, 200, to_tag="b0b", headers=[("Contact", "<sip:bob@192.0.2.4>")])
    d = Dialog.as_callee(incoming, ok, initial_cseq=77)
    assert d.id == ("a84b4c76e66710", "b0b", "1928301774")
    assert d.id == dialog_id_of(
        parse(
            bytes(incoming).replace(
                b"To: Bob <sip:bob@biloxi.example.com>",
                b"To: Bob <sip:bob@biloxi.example.com>;tag=b0b",
            )
        ),
        incoming=True,
    )
    assert [str(r.uri) for r in d.route_set] == ["sip:p1.example.com;lr"]
    bye = d.create_request("BYE", VIA)
    assert bye.cseq.seq == 78
    assert bye.from_addr.tag == "b0b" and bye.to_addr.tag == "1928301774"
    assert isinstance(bye.uri, SipURI) and bye.uri.host == "pc33.atlanta.example.com"
    older = parse(bytes(incoming).replace(b"CSeq: 314159 INVITE", b"CSeq: 314150 BYE"))
    assert isinstance(older, Request)
    assert d.receive_request(older) == 500  # lower CSeq: out of order
    reinvite = parse(
        bytes(incoming)
        .replace(b"CSeq: 314159", b"CSeq: 314160")
        .replace(b"<sip:alice@pc33.atlanta.example.com>", b"<sip:alice@198.51.100.9>")
    )
    assert isinstance(reinvite, Request)
    assert d.receive_request(reinvite) is None
    assert str(d.remote_target) == "sip:alice@198.51.100.9"  # target refresh


def test_481_to_an_in_dialog_request_ends_the_dialog() -> None:
    d = ringing_with_record_route()
    info = d.create_request("INFO", VIA)
    d.receive_response(make_response(info, 481))
    assert d.state is DialogState.TERMINATED
