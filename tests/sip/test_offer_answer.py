"""RFC 3264 offer/answer for a G.711 door station, read as the RFC's and RFC 4317's examples.

The basic exchanges (audio+video with video refused, offerer's codec order, mirrored holds, 488)
live in test_sdp.py; these cover several audio streams, payload-type numbering, our own hold
meeting the peer's, the answer side of §7, and that peer input only ever fails as our errors.
"""

import contextlib
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from endpoint.sip import ParseError, UsageError
from endpoint.sip.offer_answer import (
    LocalMedia,
    NotAcceptableError,
    SdpSession,
    hold,
    keep_codec,
    make_answer,
    make_offer,
    process_answer,
)
from endpoint.sip.sdp import parse_sdp

LOCAL = LocalMedia("192.0.2.10", 40000)
ALICE = (
    "v=0\r\n"
    "o=alice 2890844526 2890844526 IN IP4 192.0.2.101\r\n"
    "s=\r\n"
    "c=IN IP4 192.0.2.101\r\n"
    "t=0 0\r\n"
)


def session() -> SdpSession:
    return SdpSession(random.Random(3), LOCAL.address)


def test_first_usable_audio_answered_every_other_line_refused_in_order() -> None:
    """§6: one m= line per offered line, in order; refused ones get port 0.

    The SRTP stream is refused (we do not do RTP/SAVP), the held plain-RTP one is taken with
    the offerer's telephone-event number, and a second usable audio stream and the video are
    refused because we want exactly one.
    """
    offer = parse_sdp(
        ALICE + "m=audio 49170 RTP/SAVP 0\r\n"
        "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR\r\n"
        "m=audio 49172 RTP/AVP 0 97 8 101\r\n"
        "a=rtpmap:97 iLBC/8000\r\n"
        "a=rtpmap:101 telephone-event/8000\r\n"
        "a=sendonly\r\n"
        "m=audio 49174 RTP/AVP 0\r\n"
        "m=video 51372 RTP/AVP 31\r\n"
        "a=rtpmap:31 H261/90000\r\n"
    )
    answer, media = make_answer(offer, LOCAL, session())
    assert bytes(answer) == (
        b"v=0\r\n"
        b"o=- 2733073800989720573 989720573 IN IP4 192.0.2.10\r\n"
        b"s=sip-endpoint\r\n"
        b"c=IN IP4 192.0.2.10\r\n"
        b"t=0 0\r\n"
        b"m=audio 0 RTP/SAVP 0\r\n"
        b"m=audio 40000 RTP/AVP 0 101\r\n"
        b"a=rtpmap:0 PCMU/8000\r\n"
        b"a=rtpmap:101 telephone-event/8000\r\n"
        b"a=fmtp:101 0-15\r\n"  # RFC 4733 §2.4.1: no fmtp offered means events 0-15
        b"a=ptime:20\r\n"
        b"a=recvonly\r\n"
        b"m=audio 0 RTP/AVP 0\r\n"
        b"m=video 0 RTP/AVP 31\r\n"
    )
    assert (media.remote_port, media.remote_rtcp_port, media.rtcp_mux) == (49172, 49173, False)
    assert media.remote_hold and not media.sends and media.receives


def test_offerers_dynamic_number_for_a_codec_is_kept() -> None:
    offer = parse_sdp(ALICE + "m=audio 49170 RTP/AVP 98\r\na=rtpmap:98 PCMA/8000\r\n")
    answer, media = make_answer(offer, LOCAL, session())
    assert (media.codec, media.payload_type) == ("PCMA", 98)
    assert answer.media[0].formats == ("98",) and answer.media[0].rtpmap()[98][0] == "PCMA"


def test_pcmu_at_another_clock_rate_is_not_pcmu() -> None:
    offer = parse_sdp(ALICE + "m=audio 49170 RTP/AVP 0\r\na=rtpmap:0 PCMU/16000\r\n")
    with pytest.raises(NotAcceptableError):
        make_answer(offer, LOCAL, session())


@pytest.mark.parametrize(
    ("ours", "theirs", "answered"),
    [
        ("sendonly", "sendrecv", "sendonly"),  # we hold a peer who offers normally
        ("sendonly", "sendonly", "inactive"),  # both hold: nobody sends (RFC 3264 §8.4)
        ("sendonly", "recvonly", "sendonly"),
        ("recvonly", "recvonly", "inactive"),
        ("inactive", "sendrecv", "inactive"),
    ],
)
def test_our_direction_meets_the_offered_one(ours: str, theirs: str, answered: str) -> None:
    offer = parse_sdp(ALICE + f"m=audio 49170 RTP/AVP 0\r\na={theirs}\r\n")
    answer, media = make_answer(offer, LocalMedia("192.0.2.10", 40000, direction=ours), session())
    assert answer.media[0].direction == answered == media.direction


def test_answer_to_our_hold_without_direction_still_leaves_us_sendonly() -> None:
    """§7: the answer cannot widen what we offered (a missing attribute means sendrecv)."""
    held = hold(LOCAL)
    offer = make_offer(held, session())
    answer = parse_sdp(ALICE + "m=audio 49170 RTP/AVP 0\r\n")
    media = process_answer(offer, answer, held)
    assert media.direction == "sendonly" and media.sends and not media.receives


def test_answer_with_rtcp_attribute_and_without_mux() -> None:
    offer = make_offer(LOCAL, session())
    answer = parse_sdp(
        ALICE + "m=audio 49170 RTP/AVP 8 101\r\na=rtpmap:101 telephone-event/8000\r\n"
        "a=rtcp:53020 IN IP4 192.0.2.101\r\na=recvonly\r\n"
    )
    media = process_answer(offer, answer, LOCAL)
    assert (media.codec, media.payload_type, media.telephone_event_pt) == ("PCMA", 8, 101)
    assert (media.remote_rtcp_port, media.rtcp_mux) == (53020, False)
    assert media.direction == "sendonly" and not media.remote_hold


def test_answer_with_a_different_number_of_lines_is_refused() -> None:
    offer = make_offer(LOCAL, session())
    answer = parse_sdp(ALICE + "m=audio 49170 RTP/AVP 0\r\nm=video 0 RTP/AVP 31\r\n")
    with pytest.raises(NotAcceptableError):
        process_answer(offer, answer, LOCAL)


@pytest.mark.parametrize(("ptime", "used"), [("30", 30), ("25", 20), ("inf", 20), ("x", 20)])
def test_ptime_honoured_when_sane(ptime: str, used: int) -> None:
    offer = parse_sdp(ALICE + f"m=audio 49170 RTP/AVP 0\r\na=ptime:{ptime}\r\n")
    answer, media = make_answer(offer, LOCAL, session())
    assert media.ptime == used and answer.media[0].ptime == used


def test_version_counts_our_offers_and_answers_in_one_sequence() -> None:
    """RFC 3264 §8: one o= line for the whole session, version +1 exactly when it changes."""
    s = session()
    first = make_offer(LOCAL, s)
    answer, _ = make_answer(parse_sdp(ALICE + "m=audio 49170 RTP/AVP 0\r\n"), LOCAL, s)
    refresh = make_offer(LOCAL, s)
    held = make_offer(hold(LOCAL), s)
    again = make_offer(hold(LOCAL), s)
    versions = [d.origin.version for d in (first, answer, refresh, held, again)]
    assert versions == [versions[0] + n for n in (0, 1, 2, 3, 3)]
    assert len({d.origin.session_id for d in (first, answer, refresh, held, again)}) == 1


def test_local_media_misconfiguration_is_a_usage_error() -> None:
    with pytest.raises(UsageError):
        LocalMedia("192.0.2.10", 40000, codecs=("G729",))
    with pytest.raises(UsageError):
        LocalMedia("192.0.2.10", 40000, direction="hold")


SECTION_LINE = st.sampled_from(
    [
        "a=rtpmap:",
        "a=fmtp:",
        "a=ptime:",
        "a=rtcp:",
        "a=sendonly",
        "a=rtcp-mux",
        "c=IN IP4 ",
        "m=audio ",
    ]
)


VALUE = st.one_of(
    st.text(max_size=25),
    st.text(alphabet="0123456789\u00b2\u0663/ .-infPCMU", max_size=25),  # "²" and "٣" are isdigit()
    st.just("9" * 5000),  # beyond int()'s digit limit
)


@given(st.lists(st.tuples(SECTION_LINE, VALUE), max_size=8))
def test_any_peer_audio_section_fails_only_as_our_errors(lines: list[tuple[str, str]]) -> None:
    text = ALICE + "m=audio 49170 RTP/AVP 0 8 101\r\n" + "".join(k + v + "\r\n" for k, v in lines)
    with contextlib.suppress(ParseError, NotAcceptableError):
        offer = parse_sdp(text)
        make_answer(offer, LOCAL, session())
        process_answer(make_offer(LOCAL, session()), offer, LOCAL)


def test_a_host_name_in_c_is_not_acceptable() -> None:
    """Issue 13 rule 3: the media thread would resolve it on every packet."""
    offer = parse_sdp(
        (
            ALICE.replace("c=IN IP4 192.0.2.101", "c=IN IP4 attacker.example")
            + "m=audio 49170 RTP/AVP 0\r\n"
        ).encode()
    )
    with pytest.raises(NotAcceptableError, match="names a host"):
        make_answer(offer, LOCAL, session())


# -- G.722 (RFC 3551 §4.5.2: 16 kHz audio, an 8000 Hz RTP clock, static type 9) ---------------

WIDE = LocalMedia("192.0.2.10", 40000, codecs=("PCMU", "G722"))


def test_g722_is_offered_first_with_the_rtp_clock_quirk() -> None:
    offer = make_offer(WIDE, session())
    media = offer.media[0]
    assert media.formats[:2] == ("9", "0")
    assert media.rtpmap()[9][:2] == ("G722", 8000)
    assert "a=rtpmap:9 G722/8000" in bytes(offer).decode()


def test_answerer_takes_g722_from_an_offer_that_lists_it_after_pcmu() -> None:
    offer = parse_sdp(
        ALICE + "m=audio 49170 RTP/AVP 0 8 9 101\r\na=rtpmap:0 PCMU/8000\r\n"
        "a=rtpmap:8 PCMA/8000\r\na=rtpmap:9 G722/8000\r\n"
        "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\n"
    )
    answer, media = make_answer(offer, WIDE, session())
    assert (media.codec, media.payload_type, media.telephone_event_pt) == ("G722", 9, 101)
    assert answer.media[0].formats[0] == "9"
    assert answer.media[0].rtpmap()[101][:2] == ("telephone-event", 8000)


def test_static_type_9_without_rtpmap_is_g722() -> None:
    offer = parse_sdp(ALICE + "m=audio 49170 RTP/AVP 9 0\r\n")
    _, media = make_answer(offer, WIDE, session())
    assert media.codec == "G722"


def test_g722_stays_out_unless_configured() -> None:
    offer = parse_sdp(ALICE + "m=audio 49170 RTP/AVP 9 0\r\n")
    _, media = make_answer(offer, LOCAL, session())
    assert media.codec == "PCMU"
    assert "9" not in make_offer(LOCAL, session()).media[0].formats


def test_g722_at_16000_in_the_rtpmap_is_not_taken() -> None:
    """The rate in the rtpmap is the RTP clock: a peer writing G722/16000 would stamp its
    packets at twice the rate; we fall back to PCMU rather than play it at the wrong speed."""
    offer = parse_sdp(ALICE + "m=audio 49170 RTP/AVP 9 0\r\na=rtpmap:9 G722/16000\r\n")
    _, media = make_answer(offer, WIDE, session())
    assert media.codec == "PCMU"


def test_a_peer_answering_pcmu_to_our_g722_offer_gets_pcmu() -> None:
    offer = make_offer(WIDE, session())
    answer = parse_sdp(ALICE + "m=audio 49170 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")
    assert process_answer(offer, answer, WIDE).codec == "PCMU"


def test_a_stun_learned_rtcp_address_is_offered_and_answered_only_without_mux() -> None:
    """RFC 3605 a=rtcp: in our offer (the fallback should rtcp-mux not be taken, RFC 5761
    §5.1.3), in our answer only when the offer did not take rtcp-mux."""
    local = LocalMedia("192.0.2.10", 40000, rtcp=("203.0.113.9", 51007))
    offer = make_offer(local, SdpSession(random.Random(1), "192.0.2.10"))
    assert "a=rtcp:51007 IN IP4 203.0.113.9" in str(offer)
    assert "a=rtcp-mux" in str(offer)
    peer = (
        "v=0\r\no=- 1 1 IN IP4 192.0.2.50\r\ns=-\r\nc=IN IP4 192.0.2.50\r\nt=0 0\r\n"
        "m=audio 7000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n{mux}"
    )
    plain, _ = make_answer(
        parse_sdp(peer.format(mux="").encode()), local, SdpSession(random.Random(2), "x")
    )
    assert "a=rtcp:51007 IN IP4 203.0.113.9" in str(plain)
    muxed, _ = make_answer(
        parse_sdp(peer.format(mux="a=rtcp-mux\r\n").encode()),
        local,
        SdpSession(random.Random(3), "x"),
    )
    assert "a=rtcp:" not in str(muxed) and "a=rtcp-mux" in str(muxed)


# -- Opus (RFC 7587: a dynamic type, always opus/48000/2, 16 kHz wideband for us) -------------

OPUS = LocalMedia("192.0.2.10", 40000, codecs=("OPUS", "G722", "PCMU"))


def test_opus_is_offered_with_a_dynamic_type_and_our_fmtp() -> None:
    text = bytes(make_offer(OPUS, session())).decode()
    media = make_offer(OPUS, session()).media[0]
    assert media.formats == ("111", "9", "0", "101")
    assert "a=rtpmap:111 opus/48000/2\r\n" in text
    assert "a=fmtp:111 maxplaybackrate=16000;sprop-maxcapturerate=16000;useinbandfec=1\r\n" in text


def test_rfc_7587_example_offer_is_answered_with_the_peers_number_and_fmtp_kept() -> None:
    """RFC 7587 §7's first example (wideband receiver), with PCMU after it."""
    offer = parse_sdp(
        ALICE + "m=audio 54312 RTP/AVP 101 0\r\na=rtpmap:101 opus/48000/2\r\n"
        "a=fmtp:101 maxplaybackrate=16000; sprop-maxcapturerate=16000\r\n"
    )
    answer, media = make_answer(offer, OPUS, session())
    assert (media.codec, media.payload_type, media.telephone_event_pt) == ("OPUS", 101, None)
    assert media.fmtp == "maxplaybackrate=16000; sprop-maxcapturerate=16000"
    assert answer.media[0].formats == ("101",)
    assert answer.media[0].rtpmap()[101] == ("opus", 48000, 2)


def test_rfc_7587_stereo_example_is_still_opus_we_send_mono() -> None:
    offer = parse_sdp(
        ALICE + "m=audio 54312 RTP/AVP 101\r\na=rtpmap:101 opus/48000/2\r\n"
        "a=fmtp:101 stereo=1; sprop-stereo=1\r\n"
    )
    _, media = make_answer(offer, OPUS, session())
    assert media.codec == "OPUS"


def test_wideband_follows_our_order_and_beats_the_offerers_narrowband() -> None:
    offer = parse_sdp(ALICE + "m=audio 49170 RTP/AVP 0 9 96\r\na=rtpmap:96 OPUS/48000/2\r\n")
    media = make_answer(offer, OPUS, session())[1]
    assert (media.codec, media.payload_type) == ("OPUS", 96)
    g722_first = LocalMedia("192.0.2.10", 40000, codecs=("G722", "OPUS", "PCMU"))
    assert make_answer(offer, g722_first, session())[1].codec == "G722"


def test_opus_at_another_rate_or_channel_count_or_unlisted_is_not_opus() -> None:
    for rtpmap in ("96 opus/16000/2", "96 opus/48000", "96 opus/48000/1"):
        offer = parse_sdp(ALICE + f"m=audio 49170 RTP/AVP 96 0\r\na=rtpmap:{rtpmap}\r\n")
        assert make_answer(offer, OPUS, session())[1].codec == "PCMU", rtpmap
    offer = parse_sdp(ALICE + "m=audio 49170 RTP/AVP 111 0\r\n")  # no rtpmap: not static
    assert make_answer(offer, OPUS, session())[1].codec == "PCMU"


def test_opus_stays_out_unless_configured() -> None:
    offer = parse_sdp(ALICE + "m=audio 49170 RTP/AVP 111 0\r\na=rtpmap:111 opus/48000/2\r\n")
    assert make_answer(offer, LOCAL, session())[1].codec == "PCMU"
    assert "111" not in make_offer(LOCAL, session()).media[0].formats


def test_an_answer_choosing_opus_under_another_number_is_followed() -> None:
    offer = make_offer(OPUS, session())
    answer = parse_sdp(
        ALICE + "m=audio 49170 RTP/AVP 98\r\na=rtpmap:98 opus/48000/2\r\n"
        "a=fmtp:98 useinbandfec=1\r\n"
    )
    media = process_answer(offer, answer, OPUS)
    assert (media.codec, media.payload_type, media.fmtp) == ("OPUS", 98, "useinbandfec=1")


def test_opus_under_a_static_or_oversized_number_is_not_taken() -> None:
    for pt in ("8", "95", "128", "300"):
        offer = parse_sdp(ALICE + f"m=audio 49170 RTP/AVP {pt} 0\r\na=rtpmap:{pt} opus/48000/2\r\n")
        assert make_answer(offer, OPUS, session())[1].codec == "PCMU", pt


def test_a_re_offer_keeps_the_number_opus_has_in_the_session() -> None:
    """RFC 3264 §8.3.2: the peer's 101 for Opus stays; telephone-event moves off it."""
    offer = parse_sdp(ALICE + "m=audio 54312 RTP/AVP 101 0\r\na=rtpmap:101 opus/48000/2\r\n")
    _, media = make_answer(offer, OPUS, session())
    re_offer = make_offer(keep_codec(OPUS, media), session()).media[0]
    assert re_offer.formats[0] == "101" and re_offer.rtpmap()[101] == ("opus", 48000, 2)
    (dtmf,) = [pt for pt, m in re_offer.rtpmap().items() if m[0] == "telephone-event"]
    assert dtmf != 101 and str(dtmf) in re_offer.formats
