"""The parser's invariant under fuzzing (DESIGN style 8): any input parses or raises ParseError.

Real messages (the captured traffic and the RFC 4475 corpus) are mutated: bytes flipped,
inserted, deleted, lines duplicated or dropped, the datagram truncated. Whatever comes out, the
parser, the typed accessors and the stream framer raise nothing but ParseError.
"""

import contextlib
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from endpoint.sip import ParseError, Request, StreamParser, check_request, parse
from endpoint.sip.message import Message

HERE = Path(__file__).resolve().parent
SEEDS = [p.read_bytes() for p in sorted((HERE / "traffic").glob("*.sip"))] + [
    p.read_bytes() for p in sorted((HERE / "rfc4475" / "messages").glob("*.dat"))
]
INTERESTING = [b"\r\n", b" ", b"\t", b":", b";", b",", b"<", b">", b'"', b"\\", b"%", b"@",
               b"=", b"\x00", b"\xff", b"SIP/2.0", b"Content-Length: 99999", b"\r\n "]  # fmt: skip


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.integers(0, 5))
        pos = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == 0 and data:
            data[pos] = draw(st.integers(0, 255))
        elif op == 1:
            data[pos:pos] = draw(st.sampled_from(INTERESTING))
        elif op == 2:
            del data[pos : pos + draw(st.integers(1, 20))]
        elif op == 3:
            del data[pos:]
        else:
            lines = bytes(data).split(b"\r\n")
            i = draw(st.integers(0, len(lines) - 1))
            if op == 4:
                lines.insert(i, lines[i])
            else:
                del lines[i]
            data = bytearray(b"\r\n".join(lines))
    return bytes(data)


def exercise(message: Message) -> None:
    """Touch every typed accessor: each may raise ParseError, nothing else."""
    for name in ("via", "from_addr", "to_addr", "call_id", "cseq", "contact", "route",
                 "record_route", "max_forwards", "content_type", "expires"):  # fmt: skip
        with contextlib.suppress(ParseError):
            getattr(message, name)
    if isinstance(message, Request):
        check_request(message)
    bytes(message)


@given(mutated())
def test_parse_raises_only_parse_error(data: bytes) -> None:
    try:
        message = parse(data)
    except ParseError as exc:
        assert exc.status in (400, 513)
        return
    exercise(message)


@given(mutated(), st.integers(1, 64))
def test_stream_framing_is_chunking_independent(data: bytes, chunk: int) -> None:
    def run(step: int) -> list[object]:
        stream = StreamParser()
        out: list[object] = []
        try:
            for i in range(0, len(data), step):
                out += stream.feed(data[i : i + step])
            out += stream.feed(b"")
        except ParseError as exc:
            out.append(("error", exc.status))
        return out

    whole = run(len(data) or 1)
    assert run(chunk) == whole


@given(st.binary(max_size=2000))
def test_random_bytes(data: bytes) -> None:
    with contextlib.suppress(ParseError):
        exercise(parse(data))
