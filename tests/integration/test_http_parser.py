"""The HTTP request reader under fuzzing: any bytes either make a request or raise HttpError
(answered with its status) or ConnectionError (the peer left); never anything else."""

import asyncio

from hypothesis import given, settings
from hypothesis import strategies as st

from endpoint.integration.http_api import MAX_HEAD, HttpError, _read_request

HEAD = st.sampled_from(
    [
        b"GET /api/status HTTP/1.1\r\nAuthorization: Bearer x\r\n\r\n",
        b'POST /api/call HTTP/1.1\r\nContent-Length: 11\r\n\r\n{"uri":"a"}',
        b"GET /api/history?kind=door&limit=5 HTTP/1.0\r\n\r\n",
    ]
)


def read(data: bytes) -> object:
    async def go() -> object:
        reader = asyncio.StreamReader(limit=MAX_HEAD)
        reader.feed_data(data)
        reader.feed_eof()
        try:
            return await _read_request(reader, "127.0.0.1")
        except (HttpError, ConnectionError) as exc:
            return exc

    return asyncio.run(go())


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_random_bytes(data: bytes) -> None:
    read(data)


@settings(max_examples=300, deadline=None)
@given(HEAD, st.integers(0, 120), st.binary(min_size=1, max_size=8))
def test_mutated_requests(head: bytes, at: int, junk: bytes) -> None:
    at = min(at, len(head))
    read(head[:at] + junk + head[at:])


def test_a_malformed_target_is_a_400() -> None:
    for target in (b"http://[::1/x", b"/api/history?" + b"&".join([b"a=1"] * 30)):
        answer = read(b"GET " + target + b" HTTP/1.1\r\n\r\n")
        assert isinstance(answer, HttpError) and answer.status == 400


def test_a_good_request_parses() -> None:
    request = read(b'POST /api/call?x=1 HTTP/1.1\r\nContent-Length: 11\r\n\r\n{"uri":"a"}')
    assert not isinstance(request, Exception)
    assert request.method == "POST" and request.path == "/api/call"  # type: ignore[attr-defined]
    assert request.body == b'{"uri":"a"}' and request.query == {"x": ["1"]}  # type: ignore[attr-defined]
