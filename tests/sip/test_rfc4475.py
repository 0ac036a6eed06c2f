"""RFC 4475, "SIP Torture Test Messages": every message gets the RFC's verdict.

The corpus in ``rfc4475/`` is byte-exact (checked against SHA256SUMS). ``verdicts.tsv`` says what
each message must get; the tests below add the concrete values the RFC describes.
"""

import csv
import hashlib
from pathlib import Path

import pytest

from endpoint.sip import (
    AbsoluteURI,
    ParseError,
    Request,
    Response,
    SipURI,
    check_request,
    check_response,
    parse,
)

HERE = Path(__file__).resolve().parent / "rfc4475"
VERDICTS = list(
    csv.DictReader((HERE / "verdicts.tsv").read_text("utf-8").splitlines(), delimiter="\t")
)
BY_NAME = {row["name"]: row for row in VERDICTS}
#: What this endpoint (a UA, not a registrar or proxy) answers to the requests that parse.
ENDPOINT_ANSWER = {
    "intmeth": 501,  # unknown method
    "esc02": 501,  # RE%47IST%45R is not REGISTER
    "escnull": 405,  # REGISTER: we are not a registrar
    "dblreq": 405,
    "mpart01": 415,  # a MESSAGE body we do not take
    "escruri": 400,
    "badvers": 505,
    "mismatch01": 400,
    "mismatch02": 501,
    "insuf": 400,
    "unkscm": 416,
    "novelsc": 416,
    "unksm2": 405,  # REGISTER to a UA (a registrar would answer 400 for the isbn: To)
    "bext01": 420,
    "invut": 415,
    "regaut01": 405,  # "non-registrar endpoint 405"
    "multi01": 400,
    "mcl01": 400,
    "cparam01": 405,
    "cparam02": 405,
    "regescrt": 405,
    "sdp01": 406,
}


def message_bytes(name: str) -> bytes:
    if name == "baddn":
        return (HERE / "baddn.with-final-crlf.dat").read_bytes()
    return (HERE / "messages" / f"{name}.dat").read_bytes()


def test_corpus_is_byte_exact() -> None:
    for line in (HERE / "SHA256SUMS").read_text().splitlines():
        digest, _, name = line.partition("  ")
        assert hashlib.sha256((HERE / name).read_bytes()).hexdigest() == digest, name
    assert len(VERDICTS) == 49


@pytest.mark.parametrize("row", VERDICTS, ids=[r["name"] for r in VERDICTS])
def test_verdict(row: dict[str, str]) -> None:
    name, verdict, kind = row["name"], row["verdict"], row["kind"]
    data = message_bytes(name)
    if verdict == "invalid":
        with pytest.raises(ParseError) as info:
            parse(data)
        assert info.value.status == 400
        return
    if verdict == "valid-but-semantic-error" and name == "scalar02":
        # CSeq 36893488147419103232 is rejected while parsing: 400.
        with pytest.raises(ParseError) as info:
            parse(data)
        assert info.value.status == 400
        return
    message = parse(data)
    if kind == "response":
        assert isinstance(message, Response)
        if name == "bcast":
            assert check_response(message) is not None  # an endpoint discards it
        else:
            assert check_response(message) is None
        return
    assert isinstance(message, Request)
    rejection = check_request(message)
    expected = ENDPOINT_ANSWER.get(name)
    if expected is None:
        assert rejection is None, rejection
    else:
        assert rejection is not None and rejection.status == expected, rejection


def test_wsinv_short_tortuous_invite() -> None:
    m = parse(message_bytes("wsinv"))
    assert isinstance(m, Request)
    assert m.method == "INVITE"
    assert isinstance(m.uri, SipURI) and m.uri.has_param("unknownparam")
    assert m.to_addr.tag == "1918181833n"
    assert m.from_addr.display == 'J Rosenberg \\"'
    assert m.from_addr.tag == "98asjd8"
    assert m.max_forwards == 68
    assert m.call_id == "wsinv.ndaksdj@192.0.2.1"
    assert (m.cseq.seq, m.cseq.method) == (9, "INVITE")
    assert [v.branch for v in m.via] == ["390skdjuw", "z9hG4bK9ikj8", "z9hG4bK30239"]
    assert [v.transport for v in m.via] == ["UDP", "TCP", "UDP"]
    assert m.via[1].host == "spindle.example.com"
    assert m.headers.get("Subject") == ""
    assert m.headers.get("NewFangledHeader") == "newfangled value continued newfangled value"
    assert m.headers.get("UnknownHeaderWithUnusualValue") == ";;,,;;,;"
    (contact,) = m.contact
    assert contact.display == 'Quoted string ""'
    assert contact.param("newparam") == "newvalue"
    assert contact.param("secondparam") == ""
    assert contact.param("q") == "0.33"
    (route,) = m.route
    assert isinstance(route.uri, SipURI) and route.uri.param("lr") == ""
    assert len(m.body) == 150


def test_intmeth_wide_range_of_valid_characters() -> None:
    m = parse(message_bytes("intmeth"))
    assert isinstance(m, Request)
    assert m.method == "!interesting-Method0123456789_*+`.%indeed'~"
    assert isinstance(m.uri, SipURI)
    assert m.uri.user == "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"
    assert m.uri.password == "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)"
    assert m.to_addr.display == "BEL:\x07 NUL:\x00 DEL:\x7f"
    assert m.from_addr.display_name == "token1~` token2'+_ token3*%!.-"
    assert m.from_addr.tag == "_token~1'+`*%!-."
    assert m.call_id == "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{"
    assert m.headers.get("extensionHeader-!.%*+_`'~") == "\ufeff大停電"
    rejection = check_request(m)
    assert rejection is not None and rejection.status == 501
    allow = "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, MESSAGE, UPDATE, PRACK, REFER, NOTIFY"
    assert ("Allow", allow) in (rejection.headers)


def test_esc01_escapes_kept_as_received() -> None:
    m = parse(message_bytes("esc01"))
    assert isinstance(m, Request) and isinstance(m.uri, SipURI)
    assert m.uri.user == "sips%3Auser%40example.com"
    to_uri = m.to_addr.uri
    assert isinstance(to_uri, SipURI) and to_uri.user == "%75se%72"
    (contact,) = m.contact
    assert isinstance(contact.uri, SipURI)
    assert contact.uri.params == (("%6C%72", None), ("n%61me", "v%61lue%25%34%31"))
    assert m.content_type == "application/sdp"


def test_escnull_two_distinct_contacts() -> None:
    m = parse(message_bytes("escnull"))
    a, b = (c.uri for c in m.contact)
    assert isinstance(a, SipURI) and isinstance(b, SipURI)
    assert (a.user, b.user) == ("%00", "%00%00")
    assert a != b


def test_esc02_percent_that_is_not_an_escape() -> None:
    m = parse(message_bytes("esc02"))
    assert isinstance(m, Request) and m.method == "RE%47IST%45R"
    assert [str(c.uri) for c in m.contact] == [
        "sip:alias1@host1.example.com",
        "sip:alias3@host3.example.com",
    ]
    assert m.headers.get("C%6Fntact") == "<sip:alias2@host2.example.com>"
    assert m.top_via.branch == "z9hG4bK209%fzsnel234"


def test_lwsdisp_and_longreq() -> None:
    assert parse(message_bytes("lwsdisp")).from_addr.display_name == "caller"
    m = parse(message_bytes("longreq"))
    to_uri = m.to_addr.uri
    assert isinstance(to_uri, SipURI) and to_uri.port == 6000
    assert len(m.via) == 34
    name = "Unknown-" + "Long" * 20 + "-Name"
    assert len(m.headers.get(name) or "") == 306
    assert len(m.from_addr.display or m.from_addr.uri.user or "") > 100  # type: ignore[union-attr]


def test_dblreq_ignores_trailing_octets() -> None:
    m = parse(message_bytes("dblreq"))
    assert isinstance(m, Request) and m.method == "REGISTER"
    assert m.body == b""


def test_semiuri_user_part_with_semicolon() -> None:
    m = parse(message_bytes("semiuri"))
    assert isinstance(m.uri, SipURI)
    assert m.uri.user == "user;par=u%40example.net"
    assert m.uri.host == "example.com"
    assert len(m.headers.get_all("Accept")) == 6


def test_transports_unknown_transport_kept() -> None:
    m = parse(message_bytes("transports"))
    assert [v.transport for v in m.via] == ["UDP", "SCTP", "TLS", "UNKNOWN", "TCP"]


def test_mpart01_binary_body() -> None:
    m = parse(message_bytes("mpart01"))
    assert len(m.body) == 553
    assert b"\x00" in m.body or b"\r" in m.body


def test_unreason_and_noreason() -> None:
    m = parse(message_bytes("unreason"))
    assert isinstance(m, Response) and m.status == 200
    assert m.reason.startswith("= 2**3 * 5**2 но сто девяносто девять")
    n = parse(message_bytes("noreason"))
    assert isinstance(n, Response) and (n.status, n.reason) == (100, "")


def test_application_layer_answers_carry_their_headers() -> None:
    bext = check_request(parse(message_bytes("bext01")))  # type: ignore[arg-type]
    assert bext is not None
    assert ("Unsupported", "nothingSupportsThis, nothingSupportsThisEither") in bext.headers
    invut = check_request(parse(message_bytes("invut")))  # type: ignore[arg-type]
    assert invut is not None and ("Accept", "application/sdp") in invut.headers
    sdp01 = check_request(parse(message_bytes("sdp01")))  # type: ignore[arg-type]
    assert sdp01 is not None and sdp01.headers[0][1].startswith("399 ")


def test_unknown_schemes_parse_as_absolute_uris() -> None:
    m = parse(message_bytes("unksm2"))
    assert isinstance(m.to_addr.uri, AbsoluteURI) and m.to_addr.uri.scheme == "isbn"
    assert isinstance(parse(message_bytes("unkscm")).uri, AbsoluteURI)  # type: ignore[union-attr]


def test_contact_params_versus_uri_params() -> None:
    (c1,) = parse(message_bytes("cparam01")).contact
    assert c1.param("unknownparam") == "" and isinstance(c1.uri, SipURI) and not c1.uri.params
    (c2,) = parse(message_bytes("cparam02")).contact
    assert c2.params == () and isinstance(c2.uri, SipURI) and c2.uri.has_param("unknownparam")
    (c3,) = parse(message_bytes("regescrt")).contact
    assert isinstance(c3.uri, SipURI)
    assert c3.uri.headers == (("Route", "%3Csip:sip.example.com%3E"),)


def test_inv2543_backward_compatible() -> None:
    m = parse(message_bytes("inv2543"))
    assert m.top_via.branch is None
    assert m.from_addr.tag is None
    assert m.max_forwards is None
    assert "Content-Length" not in m.headers
    assert m.body.startswith(b"v=0")
    assert check_request(m) is None  # type: ignore[arg-type]


def test_zeromf_and_badbranch_processed_normally() -> None:
    assert parse(message_bytes("zeromf")).max_forwards == 0
    assert parse(message_bytes("badbranch")).top_via.branch == "z9hG4bK"


def test_clerr_over_a_stream_waits_for_more_data() -> None:
    from endpoint.sip import StreamParser

    stream = StreamParser()
    assert stream.feed(message_bytes("clerr")) == []  # 9999 octets announced: keep waiting
