"""Messages: parse and serialize real traffic (captured from baresip and Kamailio), headers."""

import csv
from pathlib import Path

import pytest

from endpoint.sip import (
    Headers,
    NameAddr,
    ParseError,
    Request,
    Response,
    SipURI,
    StreamParser,
    Via,
    make_response,
    parse,
    parse_uri,
)
from endpoint.sip.message import Message

HERE = Path(__file__).resolve().parent
TRAFFIC = sorted((HERE / "traffic").glob("*.sip"))
_ROWS = csv.DictReader(
    (HERE / "rfc4475" / "verdicts.tsv").read_text("utf-8").splitlines(), delimiter="\t"
)
VALID_4475 = [
    HERE / "rfc4475" / "messages" / f"{row['name']}.dat"
    for row in _ROWS
    # mcl01 carries two conflicting Content-Lengths: it has no single serialization.
    if row["verdict"] != "invalid" and row["name"] not in ("scalar02", "mcl01")
]


def without_length(m: Message) -> list[tuple[str, str]]:
    return [(n, v) for n, v in m.headers if n != "Content-Length"]


def assert_round_trip(data: bytes) -> None:
    once = parse(data)
    wire = bytes(once)
    twice = parse(wire)
    assert bytes(twice) == wire
    assert twice.body == once.body
    assert without_length(twice) == without_length(once)
    if isinstance(once, Request):
        assert isinstance(twice, Request)
        assert (twice.method, twice.uri, twice.version) == (once.method, once.uri, once.version)
    else:
        assert isinstance(twice, Response)
        assert (twice.status, twice.reason) == (once.status, once.reason)
    if "Content-Length" in once.headers:
        assert twice == once


@pytest.mark.parametrize("path", TRAFFIC, ids=[p.stem for p in TRAFFIC])
def test_real_traffic_round_trips_byte_exact(path: Path) -> None:
    data = path.read_bytes()
    assert bytes(parse(data)) == data
    assert_round_trip(data)


@pytest.mark.parametrize("path", VALID_4475, ids=[p.stem for p in VALID_4475])
def test_rfc4475_valid_messages_round_trip(path: Path) -> None:
    assert_round_trip(path.read_bytes())


def test_forwarded_invite_from_kamailio() -> None:
    m = parse((HERE / "traffic" / "kamailio-invite-forwarded.sip").read_bytes())
    assert isinstance(m, Request) and m.method == "INVITE"
    assert [v.sent_by for v in m.via] == ["127.0.0.1:39893", "127.0.0.1:44709"]
    assert m.via[1].received == "127.0.0.1" and m.via[1].rport == 44709
    (rr,) = m.record_route
    assert isinstance(rr.uri, SipURI) and rr.uri.has_param("lr")
    assert rr.uri.param("ftag") == "7c8df327e99104a5"
    assert m.from_addr.tag == "7c8df327e99104a5"
    assert m.to_addr.tag is None
    assert m.cseq.seq == 16185
    assert m.content_type == "application/sdp"
    assert m.body.startswith(b"v=0\r\n") and len(m.body) == 319
    assert m.headers.get_all("Allow")[:3] == ["INVITE", "ACK", "BYE"]


def test_challenge_from_kamailio() -> None:
    m = parse((HERE / "traffic" / "kamailio-401.sip").read_bytes())
    assert isinstance(m, Response) and (m.status, m.reason) == (401, "Unauthorized")
    challenge = m.headers.get("WWW-Authenticate") or ""
    assert challenge.startswith("Digest realm=")


def test_compact_forms_and_case_insensitive_names() -> None:
    m = parse(
        b"OPTIONS sip:door@192.0.2.1 SIP/2.0\r\n"
        b"v: SIP/2.0/UDP 192.0.2.9:5060;branch=z9hG4bKa1;rport\r\n"
        b"f: <sip:flat@example.com>;tag=1\r\nt: sip:door@example.com\r\n"
        b"i: abc@192.0.2.9\r\nCSEQ: 1 OPTIONS\r\nmax-forwards: 70\r\n"
        b"k: timer, replaces\r\nl: 0\r\n\r\n"
    )
    assert m.headers.get("Call-ID") == "abc@192.0.2.9" == m.call_id
    assert m.headers.get("call-id") == "abc@192.0.2.9"
    assert m.headers.get_all("Supported") == ["timer", "replaces"]
    assert m.top_via.has_rport and m.top_via.rport is None
    assert [n for n, _ in m.headers][:3] == ["Via", "From", "To"]


def test_folded_header_is_one_value() -> None:
    m = parse(
        b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKx\r\n"
        b"Subject: first\r\n   second\r\n\tthird\r\nContent-Length: 0\r\n\r\n"
    )
    assert m.headers.get("Subject") == "first second third"


def test_repeated_and_comma_joined_rows_are_the_same_list() -> None:
    one = parse(
        b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h1;branch=z9hG4bK1, SIP/2.0/TCP h2\r\n"
        b"Content-Length: 0\r\n\r\n"
    )
    two = parse(
        b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h1;branch=z9hG4bK1\r\n"
        b"Via: SIP/2.0/TCP h2\r\nContent-Length: 0\r\n\r\n"
    )
    assert one.via == two.via
    assert one.headers.remove_first("Via").get_all("Via") == ["SIP/2.0/TCP h2"]


def test_udp_body_shorter_than_content_length_is_400() -> None:
    with pytest.raises(ParseError) as info:
        parse(b"MESSAGE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nContent-Length: 10\r\n\r\nabc")
    assert info.value.status == 400


def test_leading_crlf_is_ignored() -> None:
    m = parse(b"\r\n\r\nOPTIONS sip:a@b SIP/2.0\r\nContent-Length: 0\r\n\r\n")
    assert isinstance(m, Request) and m.method == "OPTIONS"


@pytest.mark.parametrize(
    "start",
    [
        b"OPTIONS sip:a@b SIP/2.0 ",
        b"OPTIONS  sip:a@b SIP/2.0",
        b"OPTIONS sip:a@b",
        b"SIP/2.0 99 Too Small",
        b"SIP/2.0 1000 Too Big",
        b"SIP/2.0 20x OK",
        b"OPTI<NS sip:a@b SIP/2.0",
    ],
)
def test_malformed_start_lines(start: bytes) -> None:
    with pytest.raises(ParseError) as info:
        parse(start + b"\r\nContent-Length: 0\r\n\r\n")
    assert info.value.status == 400


def test_oversized_message_is_513() -> None:
    with pytest.raises(ParseError) as info:
        parse(b"OPTIONS sip:a@b SIP/2.0\r\nX: " + b"a" * 70000 + b"\r\n\r\n")
    assert info.value.status == 513


def test_too_many_header_fields_is_400() -> None:
    with pytest.raises(ParseError):
        parse(b"OPTIONS sip:a@b SIP/2.0\r\n" + b"X: y\r\n" * 300 + b"\r\n")


def test_make_response_copies_the_right_fields() -> None:
    invite = parse((HERE / "traffic" / "kamailio-invite-forwarded.sip").read_bytes())
    assert isinstance(invite, Request)
    ringing = make_response(invite, 180, to_tag="b4c9", headers=[("Contact", "<sip:door@h>")])
    assert (ringing.status, ringing.reason) == (180, "Ringing")
    assert ringing.headers.rows("Via") == invite.headers.rows("Via")
    assert ringing.to_addr.tag == "b4c9"
    assert ringing.from_addr == invite.from_addr
    assert ringing.cseq == invite.cseq and ringing.call_id == invite.call_id
    assert ringing.headers.get("Contact") == "<sip:door@h>"
    trying = make_response(invite, 100, to_tag="b4c9")
    assert trying.to_addr.tag is None  # RFC 3261 §8.2.6.2: no tag on 100
    assert without_length(parse(bytes(ringing))) == without_length(ringing)


def test_dialog_creating_responses_copy_record_route_in_order() -> None:
    """RFC 3261 §12.1.1: the UAS MUST copy all Record-Route values into the response that
    establishes the dialog, in order, parameters and all (the 180 as well as the 200)."""
    invite = parse(
        b"INVITE sip:door@192.0.2.4 SIP/2.0\r\n"
        b"Via: SIP/2.0/UDP 192.0.2.2;branch=z9hG4bKp2\r\n"
        b"Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKp1\r\n"
        b"Record-Route: <sip:p2.example.com;lr;ftag=a1>\r\n"
        b"Record-Route: <sip:p1.example.com;lr>, <sip:p0.example.com;lr;x=y>\r\n"
        b"From: <sip:flat@example.com>;tag=a1\r\nTo: <sip:door@example.com>\r\n"
        b"Call-ID: rr@example.com\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
    )
    assert isinstance(invite, Request)
    for status in (180, 183, 200):
        response = parse(bytes(make_response(invite, status, to_tag="b1")))
        assert response.headers.rows("Record-Route") == [
            "<sip:p2.example.com;lr;ftag=a1>",
            "<sip:p1.example.com;lr>, <sip:p0.example.com;lr;x=y>",
        ]
        assert [str(a.uri) for a in response.record_route] == [
            "sip:p2.example.com;lr;ftag=a1",
            "sip:p1.example.com;lr",
            "sip:p0.example.com;lr;x=y",
        ]
    for status in (100, 486, 603):
        assert make_response(invite, status, to_tag="b1").headers.rows("Record-Route") == []


def test_build_a_request_from_parts() -> None:
    request = Request(
        "OPTIONS",
        parse_uri("sip:door@192.0.2.1:5060"),
        Headers(
            [
                (
                    "v",
                    str(Via("UDP", "192.0.2.9", 5062, (("branch", "z9hG4bKq"), ("rport", None)))),
                ),
                (
                    "From",
                    str(NameAddr(parse_uri("sip:flat@example.com"), '"Flat 3"', (("tag", "9"),))),
                ),
                ("To", "<sip:door@192.0.2.1>"),
                ("Call-ID", "x@y"),
                ("CSeq", "1 OPTIONS"),
            ]
        ),
    )
    wire = bytes(request)
    assert wire.startswith(b"OPTIONS sip:door@192.0.2.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP ")
    assert wire.endswith(b"Content-Length: 0\r\n\r\n")
    back = parse(wire)
    assert back.from_addr.display == "Flat 3" and back.top_via.branch == "z9hG4bKq"


def test_headers_set_and_remove() -> None:
    h = Headers([("Via", "a"), ("Via", "b"), ("To", "t")])
    assert list(h.set("via", "c")) == [("Via", "c"), ("To", "t")]
    assert list(h.remove("VIA")) == [("To", "t")]
    assert list(h.prepend("Route", "<sip:p;lr>"))[:1] == [("Route", "<sip:p;lr>")]
    assert "to" in h and "From" not in h


def test_stream_parser_frames_by_content_length_byte_by_byte() -> None:
    data = b"".join(p.read_bytes() for p in TRAFFIC[:6])
    whole = StreamParser().feed(b"\r\n\r\n" + data)
    stream = StreamParser()
    pieces: list[Message] = []
    for i in range(len(data)):
        pieces += stream.feed(data[i : i + 1])
    assert pieces == whole
    assert [bytes(m) for m in whole] == [p.read_bytes() for p in TRAFFIC[:6]]


def test_stream_keepalive_ping_wants_a_pong() -> None:
    stream = StreamParser()
    assert stream.feed(b"\r\n\r\n") == []
    assert stream.pong_due and stream.keepalives == 1


def test_stream_requires_content_length() -> None:
    with pytest.raises(ParseError):
        StreamParser().feed(b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h\r\n\r\n")


def test_stream_caps_a_never_ending_header() -> None:
    stream = StreamParser(max_size=1000)
    with pytest.raises(ParseError) as info:
        stream.feed(b"OPTIONS sip:a@b SIP/2.0\r\n" + b"X: y\r\n" * 200)
    assert info.value.status == 513


def test_via_received_may_be_an_unbracketed_ipv6_address() -> None:
    """RFC 3261 §20.42 via-received = IPv4address / IPv6address (no brackets; RFC 5118 §4.5):
    Kamailio answers a REGISTER from [::1] with ``received=::1``."""
    via = Via.parse("SIP/2.0/UDP [::1]:5062;branch=z9hG4bKx;received=::1;rport=5062")
    assert (via.received, via.rport, via.branch) == ("::1", 5062, "z9hG4bKx")
    via = Via.parse("SIP/2.0/UDP [2001:db8::9];received=2001:db8::1;branch=z9hG4bKy")
    assert (via.received, via.branch) == ("2001:db8::1", "z9hG4bKy")
    assert Via.parse("SIP/2.0/UDP h;received=192.0.2.1;branch=b").received == "192.0.2.1"


def test_via_with_a_bare_ipv6_host_is_written_with_brackets() -> None:
    assert str(Via("UDP", "::1", 5060, (("branch", "z9hG4bKz"),))) == (
        "SIP/2.0/UDP [::1]:5060;branch=z9hG4bKz"
    )
    assert str(Via("UDP", "[::1]", None, ())) == "SIP/2.0/UDP [::1]"


def test_stamped_request_keeps_its_parse_and_says_the_same_as_its_bytes() -> None:
    """``with_top_via`` carries the parsed fields over: what the copy's accessors answer must
    be what its serialised form parses to (the Via stamped, nothing else changed)."""
    raw = (
        b"OPTIONS sip:door@192.0.2.5 SIP/2.0\r\n"
        b"Via: SIP/2.0/UDP 192.0.2.50:5070;rport;branch=z9hG4bKa, "
        b"SIP/2.0/UDP 192.0.2.9;branch=z9hG4bKb\r\n"
        b"From: <sip:flat@example.com>;tag=1\r\nTo: <sip:door@example.com>\r\n"
        b"Call-ID: c1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    )
    request = parse(raw)
    assert isinstance(request, Request)
    assert request.from_addr.tag == "1"  # parsed (and cached) before the copy
    copy = request.with_top_via(request.top_via.with_params(received="198.51.100.7", rport="4000"))
    again = parse(bytes(copy))
    assert isinstance(again, Request)
    assert copy.via == again.via
    assert copy.top_via.received == "198.51.100.7" and copy.top_via.rport == 4000
    assert copy.via[1].branch == "z9hG4bKb"
    assert copy.from_addr == again.from_addr and copy.cseq == again.cseq
