"""DTLS-SRTP in offer/answer (RFC 5763 §5, RFC 5764 §8, RFC 8122): our offers carry our
fingerprint and ``actpass``; answers take the DTLS client role when the offerer lets us; the
peer's role and fingerprint go to the media thread; what we cannot key is refused with 488
when encryption is mandatory. BARESIP is the offer a real baresip 1.0 (``mediaenc=dtls_srtp``)
sent, captured on loopback."""

import random

import pytest

from endpoint.sip import UsageError
from endpoint.sip.offer_answer import (
    DtlsParams,
    LocalMedia,
    NotAcceptableError,
    SdpSession,
    make_answer,
    make_offer,
    media_encryption,
    offers_srtp,
    process_answer,
)
from endpoint.sip.sdp import SessionDescription, parse_sdp

OURS = "sha-256 " + ":".join(["AB"] * 32)
THEIRS = (
    "SHA-256 9C:CB:09:02:7C:7C:C4:11:4A:42:B9:FC:0C:EA:E4:9E:"
    "11:B5:E4:75:2E:BE:5A:24:B1:F4:1F:79:FA:0E:A7:FC"
)
BARESIP = (
    "v=0\r\no=- 2112449489 541854928 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    "a=tool:baresip 1.0.0\r\na=setup:actpass\r\n"
    f"a=fingerprint:{THEIRS}\r\n"
    "m=audio 56076 UDP/TLS/RTP/SAVPF 0 101\r\na=rtpmap:0 PCMU/8000\r\n"
    "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=sendrecv\r\na=label:1\r\n"
    "a=rtcp-rsize\r\na=ssrc:477132743 cname:sip:flat@127.0.0.1:52421\r\na=minptime:20\r\n"
    "a=ptime:20\r\n"
)


def local(encryption: str = "mandatory") -> LocalMedia:
    return LocalMedia("127.0.0.1", 40000, encryption=encryption, keying="dtls", fingerprint=OURS)


def session() -> SdpSession:
    return SdpSession(random.Random(5), "127.0.0.1")


def offer_with(proto: str = "UDP/TLS/RTP/SAVP", attrs: str = "") -> SessionDescription:
    return parse_sdp(
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
        f"m=audio 5000 {proto} 0\r\na=rtpmap:0 PCMU/8000\r\n{attrs}"
    )


def test_a_mandatory_offer_is_udp_tls_with_our_fingerprint_and_actpass() -> None:
    (m,) = make_offer(local(), session()).media
    assert m.proto == "UDP/TLS/RTP/SAVP"
    assert m.attribute("fingerprint") == OURS and m.attribute("setup") == "actpass"
    assert m.attribute("crypto") is None  # no key in the SDP


def test_an_optional_offer_is_plain_rtp_carrying_the_fingerprint() -> None:
    (m,) = make_offer(local("optional"), session()).media
    assert m.proto == "RTP/AVP" and m.attribute("fingerprint") == OURS


def test_baresips_offer_is_answered_active_in_its_proto_with_our_fingerprint() -> None:
    answer, media = make_answer(parse_sdp(BARESIP), local(), session())
    (m,) = answer.media
    assert m.port == 40000 and m.proto == "UDP/TLS/RTP/SAVPF"
    assert m.attribute("setup") == "active" and m.attribute("fingerprint") == OURS
    # Session-level a=fingerprint and a=setup count (RFC 8122 §5).
    assert media.dtls == DtlsParams(client=True, remote_fingerprint=THEIRS)
    assert media.srtp is None and media_encryption(media) == "dtls-srtp"
    assert offers_srtp(parse_sdp(BARESIP), "dtls") and not offers_srtp(parse_sdp(BARESIP))


@pytest.mark.parametrize(
    ("offered", "ours", "client"),
    [("active", "passive", False), ("passive", "active", True), ("", "passive", False)],
)
def test_our_role_follows_the_offered_one(offered: str, ours: str, client: bool) -> None:
    setup = f"a=setup:{offered}\r\n" if offered else ""  # RFC 4145 §4: absent means active
    answer, media = make_answer(
        offer_with(attrs=f"{setup}a=fingerprint:{THEIRS}\r\n"), local(), session()
    )
    assert answer.media[0].attribute("setup") == ours
    assert media.dtls is not None and media.dtls.client is client


@pytest.mark.parametrize(
    "attrs",
    [
        f"a=setup:holdconn\r\na=fingerprint:{THEIRS}\r\n",
        "a=setup:actpass\r\n",  # no fingerprint
        "a=setup:actpass\r\na=fingerprint:sha-1 " + ":".join(["AB"] * 20) + "\r\n",
        "a=setup:actpass\r\na=fingerprint:sha-256 AB:CD\r\n",
    ],
)
def test_a_dtls_stream_we_cannot_key_is_refused_with_488(attrs: str) -> None:
    with pytest.raises(NotAcceptableError, match="DTLS-SRTP"):
        make_answer(offer_with(attrs=attrs), local(), session())


def test_plain_and_sdes_offers_meet_the_keying_and_the_encryption() -> None:
    plain = offer_with("RTP/AVP")
    sdes = offer_with("RTP/SAVP", "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" + "A" * 40 + "\r\n")
    for offer in (plain, sdes):
        with pytest.raises(NotAcceptableError, match="refuses plain RTP"):
            make_answer(offer, local(), session())
    _, media = make_answer(plain, local("optional"), session())
    assert media.dtls is None and media.srtp is None  # optional: plain RTP is taken


def test_the_answer_to_our_offer_decides_our_role() -> None:
    ours = local()
    offer = make_offer(ours, session())

    def answer(attrs: str, proto: str = "UDP/TLS/RTP/SAVP") -> SessionDescription:
        return offer_with(proto, attrs)

    m = process_answer(offer, answer(f"a=setup:active\r\na=fingerprint:{THEIRS}\r\n"), ours)
    assert m.dtls == DtlsParams(client=False, remote_fingerprint=THEIRS)
    m = process_answer(offer, answer(f"a=setup:passive\r\na=fingerprint:{THEIRS}\r\n"), ours)
    assert m.dtls is not None and m.dtls.client
    with pytest.raises(NotAcceptableError, match="actpass"):
        process_answer(offer, answer(f"a=setup:actpass\r\na=fingerprint:{THEIRS}\r\n"), ours)
    with pytest.raises(NotAcceptableError, match="the answer accepted no audio"):
        process_answer(offer, answer("a=setup:active\r\n"), ours)
    optional = local("optional")
    plain = process_answer(make_offer(optional, session()), answer("", "RTP/AVP"), optional)
    assert plain.dtls is None


def test_dtls_keying_without_our_fingerprint_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="fingerprint"):
        LocalMedia("127.0.0.1", 40000, encryption="mandatory", keying="dtls")
    with pytest.raises(UsageError, match="keying"):
        LocalMedia("127.0.0.1", 40000, keying="zrtp")


# -- a=tls-id (RFC 8842) -------------------------------------------------------------------------

PEER_ID = "peerassociation0000000001"


def re_offer(fingerprint: str = THEIRS, setup: str = "actpass", tls_id: str | None = None) -> str:
    tls = f"a=tls-id:{tls_id}\r\n" if tls_id else ""
    return (
        "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
        "m=audio 5000 UDP/TLS/RTP/SAVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
        f"a=fingerprint:{fingerprint}\r\na=setup:{setup}\r\n{tls}"
    )


def test_offers_and_answers_carry_our_tls_id_and_read_the_peers() -> None:
    sdp = session()
    (offered,) = make_offer(local(), sdp).media
    ours = offered.attribute("tls-id")
    assert ours is not None and len(ours) >= 20
    answer, media = make_answer(parse_sdp(re_offer(tls_id=PEER_ID)), local(), sdp)
    assert answer.media[0].attribute("tls-id") == ours  # one association per session
    assert media.dtls is not None and media.dtls.remote_tls_id == PEER_ID
    other_call = SdpSession(random.Random(6), "127.0.0.1")
    assert make_offer(local(), other_call).media[0].attribute("tls-id") != ours


def test_a_re_offer_with_the_same_tls_id_keeps_the_association_and_our_tls_id() -> None:
    sdp = session()
    first, media = make_answer(parse_sdp(re_offer(tls_id=PEER_ID)), local(), sdp)
    again, kept = make_answer(
        parse_sdp(re_offer(tls_id=PEER_ID)), local(), sdp, current_dtls=media.dtls
    )
    assert again.media[0].attribute("tls-id") == first.media[0].attribute("tls-id")
    assert kept.dtls is not None and kept.dtls.continues(media.dtls)


def test_a_changed_tls_id_from_the_peer_is_a_new_association_with_a_new_tls_id_of_ours() -> None:
    sdp = session()
    first, media = make_answer(parse_sdp(re_offer(tls_id=PEER_ID)), local(), sdp)
    again, renewed = make_answer(
        parse_sdp(re_offer(tls_id="peerassociation0000000002")),
        local(),
        sdp,
        current_dtls=media.dtls,
    )
    assert again.media[0].attribute("tls-id") != first.media[0].attribute("tls-id")
    assert renewed.dtls is not None and not renewed.dtls.continues(media.dtls)


def test_without_tls_id_a_new_fingerprint_is_a_new_association_the_same_one_is_not() -> None:
    sdp = session()
    _, media = make_answer(parse_sdp(re_offer()), local(), sdp)
    _, same = make_answer(parse_sdp(re_offer()), local(), sdp, current_dtls=media.dtls)
    _, moved = make_answer(parse_sdp(re_offer(OURS)), local(), sdp, current_dtls=media.dtls)
    assert same.dtls is not None and same.dtls.continues(media.dtls)
    assert moved.dtls is not None and not moved.dtls.continues(media.dtls)


def test_a_malformed_tls_id_counts_as_none() -> None:
    _, media = make_answer(parse_sdp(re_offer(tls_id="short")), local(), session())
    assert media.dtls is not None and media.dtls.remote_tls_id is None
