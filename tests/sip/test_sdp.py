"""SDP (RFC 8866) parsing and serialization, and RFC 3264 offer/answer for G.711 audio."""

import contextlib
import random
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from endpoint.sip import ParseError, parse
from endpoint.sip.offer_answer import (
    LocalMedia,
    NotAcceptableError,
    SdpSession,
    hold,
    make_answer,
    make_offer,
    process_answer,
)
from endpoint.sip.sdp import parse_sdp

TRAFFIC = Path(__file__).resolve().parent / "traffic"
LOCAL = LocalMedia("192.0.2.10", 40000)


def test_baresip_offer_round_trips_byte_exact() -> None:
    body = parse((TRAFFIC / "kamailio-invite-forwarded.sip").read_bytes()).body
    sdp = parse_sdp(body)
    assert bytes(sdp) == body
    (audio,) = sdp.media
    assert audio.rtpmap() == {0: ("PCMU", 8000, 1), 101: ("telephone-event", 8000, 1)}
    assert (audio.port, audio.ptime, audio.direction, audio.fmtp(101)) == (
        33928,
        20,
        "sendrecv",
        "0-15",
    )
    assert sdp.connection is not None and sdp.connection.address == "127.0.0.1"


def test_lf_only_and_trailing_space_are_tolerated() -> None:
    sdp = parse_sdp(
        "v=0\no=- 1 1 IN IP4 10.0.0.1 \ns=-\nc=IN IP4 10.0.0.1\nt=0 0\nm=audio 5004 RTP/AVP 8\n"
    )
    assert sdp.media[0].formats == ("8",) and sdp.origin.address == "10.0.0.1"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "o=- 1 1 IN IP4 h\n",
        "v=0\ns=-\n",
        "v=0\no=- x 1\n",
        "v=0\no=- 1 1 IN IP4 h\nm=audio x RTP/AVP 0\n",
        "v=0\no=- 1 1 IN IP4 h\nnonsense\n",
        "v=0\no=- 1 1 IN IP4 h\nc=IN IP4\n",
    ],
)
def test_garbage_is_a_parse_error(text: str) -> None:
    with pytest.raises(ParseError):
        parse_sdp(text)


@given(st.text(max_size=300))
def test_any_text_parses_or_raises_parse_error(text: str) -> None:
    with contextlib.suppress(ParseError):
        parse_sdp("v=0\no=- 1 1 IN IP4 h\n" + text)


OFFER_AUDIO_VIDEO = """v=0
o=alice 2890844526 2890844526 IN IP4 192.0.2.101
s=
c=IN IP4 192.0.2.101
t=0 0
m=audio 49170 RTP/AVP 0 8 97
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:97 iLBC/8000
m=video 51372 RTP/AVP 31 32
a=rtpmap:31 H261/90000
a=rtpmap:32 MPV/90000
"""


def session() -> SdpSession:
    return SdpSession(random.Random(3), LOCAL.address)


def test_audio_accepted_video_refused_with_port_zero() -> None:
    """RFC 3264 §10.1 style: audio and video offered, we take audio only."""
    answer, media = make_answer(parse_sdp(OFFER_AUDIO_VIDEO), LOCAL, session())
    audio, video = answer.media
    assert (audio.port, audio.formats) == (40000, ("0",))
    assert (video.media, video.port, video.formats) == ("video", 0, ("31", "32"))
    assert media.codec == "PCMU" and media.payload_type == 0
    assert (media.remote_address, media.remote_port, media.remote_rtcp_port) == (
        "192.0.2.101",
        49170,
        49171,
    )
    assert media.direction == "sendrecv" and not media.remote_hold
    assert media.telephone_event_pt is None  # not offered


def test_offerer_preference_and_telephone_event_type_kept() -> None:
    offer = parse_sdp(
        "v=0\r\no=- 1 1 IN IP4 10.0.0.2\r\ns=-\r\nc=IN IP4 10.0.0.2\r\nt=0 0\r\n"
        "m=audio 7078 RTP/AVP 8 0 96\r\na=rtpmap:96 telephone-event/8000\r\n"
        "a=fmtp:96 0-16\r\na=ptime:30\r\na=rtcp-mux\r\n"
    )
    answer, media = make_answer(offer, LOCAL, session())
    assert (media.codec, media.payload_type, media.telephone_event_pt, media.ptime) == (
        "PCMA",
        8,
        96,
        30,
    )
    assert media.rtcp_mux and media.remote_rtcp_port == 7078
    text = str(answer)
    assert "m=audio 40000 RTP/AVP 8 96\r\n" in text
    assert "a=fmtp:96 0-16\r\n" in text and "a=ptime:30\r\n" in text and "a=rtcp-mux" in text


@pytest.mark.parametrize(
    ("attribute", "ours", "remote_hold"),
    [
        ("sendonly", "recvonly", True),
        ("recvonly", "sendonly", False),
        ("inactive", "inactive", True),
    ],
)
def test_hold_directions_are_mirrored(attribute: str, ours: str, remote_hold: bool) -> None:
    offer = parse_sdp(OFFER_AUDIO_VIDEO.replace("a=rtpmap:97", f"a={attribute}\na=rtpmap:97"))
    answer, media = make_answer(offer, LOCAL, session())
    assert answer.media[0].direction == ours and media.direction == ours
    assert media.remote_hold is remote_hold


def test_legacy_hold_with_zero_address() -> None:
    offer = parse_sdp(OFFER_AUDIO_VIDEO.replace("c=IN IP4 192.0.2.101", "c=IN IP4 0.0.0.0"))
    _, media = make_answer(offer, LOCAL, session())
    assert media.remote_hold and not media.sends and media.direction == "recvonly"


def test_nothing_acceptable_is_488() -> None:
    offer = parse_sdp(OFFER_AUDIO_VIDEO.replace("RTP/AVP 0 8 97", "RTP/AVP 97"))
    with pytest.raises(NotAcceptableError) as info:
        make_answer(offer, LOCAL, session())
    assert info.value.status == 488
    srtp = parse_sdp(OFFER_AUDIO_VIDEO.replace("m=audio 49170 RTP/AVP", "m=audio 49170 RTP/SAVP"))
    with pytest.raises(NotAcceptableError):
        make_answer(srtp, LOCAL, session())


def test_offer_then_answer_round_trip_between_two_endpoints() -> None:
    door, flat = LocalMedia("10.0.0.1", 4000, codecs=("PCMU",)), LocalMedia("10.0.0.2", 5000)
    door_session, flat_session = session(), session()
    offer = make_offer(door, door_session)
    assert "m=audio 4000 RTP/AVP 0 101" in str(offer) and "a=fmtp:101 0-16" in str(offer)
    answer, at_flat = make_answer(parse_sdp(bytes(offer)), flat, flat_session)
    at_door = process_answer(offer, parse_sdp(bytes(answer)), door)
    assert (at_door.remote_address, at_door.remote_port) == ("10.0.0.2", 5000)
    assert (at_flat.remote_address, at_flat.remote_port) == ("10.0.0.1", 4000)
    assert at_door.codec == at_flat.codec == "PCMU" and at_door.telephone_event_pt == 101
    assert at_door.rtcp_mux and at_flat.rtcp_mux


def test_version_increments_only_when_the_sdp_changes() -> None:
    s = session()
    first = make_offer(LOCAL, s)
    same = make_offer(LOCAL, s)
    held = make_offer(hold(LOCAL), s)
    assert same.origin.version == first.origin.version
    assert held.origin.version == first.origin.version + 1
    assert held.origin.session_id == first.origin.session_id
    assert held.media[0].direction == "sendonly"


RFC8866_EXAMPLE = (
    "v=0\r\n"
    "o=jdoe 3724394400 3724394405 IN IP4 198.51.100.1\r\n"
    "s=Call to John Smith\r\n"
    "i=SDP Offer #1\r\n"
    "u=http://www.jdoe.example.com/home.html\r\n"
    "e=Jane Doe <jane@jdoe.example.com>\r\n"
    "p=+1 617 555-6011\r\n"
    "c=IN IP4 198.51.100.1\r\n"
    "t=0 0\r\n"
    "m=audio 49170 RTP/AVP 0\r\n"
    "m=audio 49180 RTP/AVP 0\r\n"
    "m=video 51372 RTP/AVP 99\r\n"
    "c=IN IP6 2001:db8::2\r\n"
    "a=rtpmap:99 h263-1998/90000\r\n"
)


def test_rfc8866_section_5_example_round_trips() -> None:
    sdp = parse_sdp(RFC8866_EXAMPLE)
    assert str(sdp) == RFC8866_EXAMPLE
    assert sdp.origin.version == 3724394405 and sdp.session_name == "Call to John Smith"
    video = sdp.media[2]
    assert video.connection is not None and video.connection.address == "2001:db8::2"


def test_lines_after_t_keep_their_place() -> None:
    """RFC 8866 §5: r= follows its t=, then z=, k=, a=; none may move before c=."""
    text = (
        "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nc=IN IP4 198.51.100.1\r\nb=AS:64\r\n"
        "t=3724394400 3724398000\r\nr=604800 3600 0 90000\r\nz=2882844526 -1h\r\n"
        "k=prompt\r\na=recvonly\r\nm=audio 49170 RTP/AVP 0\r\ni=speech\r\n"
        "c=IN IP4 198.51.100.2\r\nb=AS:64\r\nk=prompt\r\na=ptime:20\r\na=maxptime:40\r\n"
    )
    sdp = parse_sdp(text)
    assert str(sdp) == text
    assert sdp.direction == "recvonly"
    assert (sdp.media[0].ptime, sdp.media[0].maxptime) == (20, 40)


@pytest.mark.parametrize(
    "text",
    [
        "v=0\no=- 1 \u00b2 IN IP4 h\n",  # "²".isdigit() is True, int("²") fails
        "v=0\no=- 1 " + "9" * 5000 + " IN IP4 h\n",  # over int()'s 4300-digit limit
        "v=0\no=- 1 1 IN IP4 h\nm=audio \u00b2 RTP/AVP 0\n",
        "v=0\no=- 1 1 IN IP4 h\nm=audio " + "9" * 5000 + " RTP/AVP 0\n",
        "v=0\no=- 1 1 IN IP4 h\nm=audio 65536 RTP/AVP 0\n",
    ],
)
def test_numbers_that_only_look_like_numbers_are_parse_errors(text: str) -> None:
    with pytest.raises(ParseError):
        parse_sdp(text)


@pytest.mark.parametrize(
    "attribute",
    [
        "a=rtpmap:\u00b2 PCMU/8000",
        "a=rtpmap:0 PCMU/\u00b2",
        "a=rtpmap:0 PCMU/" + "9" * 5000,
        "a=rtcp:\u00b2",
        "a=rtcp:" + "9" * 5000,
        "a=ptime:inf",
        "a=ptime:1e400",
        "a=ptime:nan",
        "a=maxptime:-20",
    ],
)
def test_bad_attribute_values_are_ignored_not_fatal(attribute: str) -> None:
    sdp = parse_sdp(f"v=0\no=- 1 1 IN IP4 h\nm=audio 4000 RTP/AVP 0\n{attribute}\n")
    media = sdp.media[0]
    assert media.rtpmap() == {} and media.rtcp_port is None
    assert media.ptime is None and media.maxptime is None


def test_line_and_media_caps() -> None:
    head = "v=0\no=- 1 1 IN IP4 h\n"
    with pytest.raises(ParseError, match="too long"):
        parse_sdp(head + "a=x\n" * 600)
    with pytest.raises(ParseError, match="too many m= lines"):
        parse_sdp(head + "m=audio 0 RTP/AVP 0\n" * 17)
