"""SDES offer/answer (RFC 4568): keys offered and answered per ``[media] encryption``, tags and
suites matched, plain RTP refused when encryption is mandatory, fresh keys on every exchange."""

import base64
import random

import pytest

from endpoint.sip.offer_answer import (
    LocalMedia,
    NotAcceptableError,
    SdpSession,
    make_answer,
    make_offer,
    offers_srtp,
    process_answer,
)
from endpoint.sip.sdes import parse_crypto
from endpoint.sip.sdp import parse_sdp

BARESIP_SAVP = (
    "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    "m=audio 4000 RTP/SAVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n"
    "a=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n"
    "a=crypto:1 AES_CM_128_HMAC_SHA1_32 inline:"
    + base64.b64encode(bytes(range(30))).decode()
    + "\r\na=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:"
    + base64.b64encode(bytes(range(30, 60))).decode()
    + "\r\n"
)
PLAIN = (
    "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    "m=audio 4000 RTP/AVP 0\r\n"
)


def local(encryption: str) -> LocalMedia:
    return LocalMedia("127.0.0.1", 5000, encryption=encryption)


def test_the_first_offered_line_is_answered_with_its_tag_and_our_own_key() -> None:
    offer = parse_sdp(BARESIP_SAVP)
    answer, media = make_answer(offer, local("mandatory"), SdpSession(random.Random(1), "h"))
    (m,) = answer.media
    assert m.proto == "RTP/SAVP"
    crypto_lines = [v for k, v in m.attributes if k == "crypto"]
    assert len(crypto_lines) == 1 and crypto_lines[0] is not None
    ours = parse_crypto(crypto_lines[0])
    assert ours is not None and (ours.tag, ours.suite) == (1, "AES_CM_128_HMAC_SHA1_32")
    assert media.srtp is not None and media.srtp.suite == "AES_CM_128_HMAC_SHA1_32"
    assert media.srtp.remote == bytes(range(30)) and media.srtp.local == ours.key
    assert ours.key != bytes(range(30))
    assert "inline:" not in repr(media)  # keys stay out of reprs (and so out of logs)


def test_mandatory_refuses_plain_rtp_and_off_refuses_savp() -> None:
    with pytest.raises(NotAcceptableError, match="encryption = mandatory"):
        make_answer(parse_sdp(PLAIN), local("mandatory"), SdpSession(random.Random(1), "h"))
    with pytest.raises(NotAcceptableError):
        make_answer(parse_sdp(BARESIP_SAVP), local("off"), SdpSession(random.Random(1), "h"))
    assert offers_srtp(parse_sdp(BARESIP_SAVP)) and not offers_srtp(parse_sdp(PLAIN))


def test_optional_accepts_plain_rtp_and_answers_keys_when_offered() -> None:
    _, plain = make_answer(parse_sdp(PLAIN), local("optional"), SdpSession(random.Random(1), "h"))
    assert plain.srtp is None
    _, keyed = make_answer(
        parse_sdp(BARESIP_SAVP), local("optional"), SdpSession(random.Random(1), "h")
    )
    assert keyed.srtp is not None


@pytest.mark.parametrize(
    ("encryption", "proto"), [("optional", "RTP/AVP"), ("mandatory", "RTP/SAVP")]
)
def test_our_offer_and_the_peer_answer_agree_on_keys(encryption: str, proto: str) -> None:
    ours, theirs = local(encryption), LocalMedia("127.0.0.1", 6000, encryption="mandatory")
    offer = make_offer(ours, SdpSession(random.Random(2), "h"))
    (m,) = offer.media
    assert m.proto == proto
    suites = [parse_crypto(v or "") for k, v in m.attributes if k == "crypto"]
    assert [c.suite for c in suites if c] == [
        "AEAD_AES_128_GCM",
        "AES_CM_128_HMAC_SHA1_80",
        "AES_CM_128_HMAC_SHA1_32",
    ]
    answer, at_peer = make_answer(parse_sdp(str(offer)), theirs, SdpSession(random.Random(3), "p"))
    at_us = process_answer(offer, parse_sdp(str(answer)), ours)
    assert at_us.srtp is not None and at_peer.srtp is not None
    assert at_us.srtp.suite == at_peer.srtp.suite == "AEAD_AES_128_GCM"
    assert at_us.srtp.local == at_peer.srtp.remote and at_us.srtp.remote == at_peer.srtp.local
    # A second exchange (a re-INVITE) brings new keys both ways.
    again = make_offer(ours, SdpSession(random.Random(4), "h"))
    _, later = make_answer(parse_sdp(str(again)), theirs, SdpSession(random.Random(5), "p"))
    assert later.srtp is not None and later.srtp.remote != at_peer.srtp.remote


def test_aead_gcm_is_answered_when_offered_even_after_other_lines() -> None:
    """RFC 7714: the AEAD suite is chosen when the offerer lists it anywhere, with its tag and a
    28-byte key of our own; the offerer's other lines are not answered."""
    gcm_key = base64.b64encode(bytes(range(28))).decode()
    offer = parse_sdp(BARESIP_SAVP + f"a=crypto:3 AEAD_AES_128_GCM inline:{gcm_key}\r\n")
    answer, media = make_answer(offer, local("mandatory"), SdpSession(random.Random(1), "h"))
    (m,) = answer.media
    (line,) = [parse_crypto(v or "") for k, v in m.attributes if k == "crypto"]
    assert line is not None and (line.tag, line.suite, len(line.key)) == (3, "AEAD_AES_128_GCM", 28)
    assert media.srtp is not None and media.srtp.remote == bytes(range(28))
    assert media.srtp.local == line.key


def test_an_answer_without_keys_is_refused_only_when_mandatory() -> None:
    plain_answer = parse_sdp(PLAIN)
    offer = make_offer(local("optional"), SdpSession(random.Random(2), "h"))
    assert process_answer(offer, plain_answer, local("optional")).srtp is None
    mand = make_offer(local("mandatory"), SdpSession(random.Random(2), "h"))
    with pytest.raises(NotAcceptableError):
        process_answer(mand, plain_answer, local("mandatory"))


@pytest.mark.parametrize(
    "value",
    [
        "1 AES_CM_128_HMAC_SHA1_80 inline:" + base64.b64encode(bytes(29)).decode(),  # short key
        "1 F8_128_HMAC_SHA1_80 inline:" + base64.b64encode(bytes(30)).decode(),  # unknown suite
        "1 AES_CM_128_HMAC_SHA1_80 inline:" + base64.b64encode(bytes(30)).decode() + "|2^20|1:4",
        "1 AES_CM_128_HMAC_SHA1_80 inline:!!!",
        "x AES_CM_128_HMAC_SHA1_80 inline:" + base64.b64encode(bytes(30)).decode(),
        "1 AES_CM_128_HMAC_SHA1_80 inline:"
        + base64.b64encode(bytes(30)).decode()
        + " UNENCRYPTED_SRTP",
    ],
)
def test_lines_we_cannot_honour_are_skipped(value: str) -> None:
    assert parse_crypto(value) is None


def test_a_lifetime_alone_is_understood() -> None:
    key = base64.b64encode(bytes(30)).decode()
    crypto = parse_crypto(f"7 AES_CM_128_HMAC_SHA1_80 inline:{key}|2^31")
    assert crypto is not None and crypto.tag == 7 and crypto.key == bytes(30)


def test_a_re_offer_keeps_our_key_unless_the_peer_changes_its_own() -> None:
    session = SdpSession(random.Random(1), "h")
    _, first = make_answer(parse_sdp(BARESIP_SAVP), local("mandatory"), session)
    assert first.srtp is not None
    _, same = make_answer(parse_sdp(BARESIP_SAVP), local("mandatory"), session, first.srtp)
    assert same.srtp == first.srtp  # hold/resume with the same offered key: no rekey
    new_key = base64.b64encode(bytes(range(200, 230))).decode()
    rekeyed_offer = BARESIP_SAVP.replace(base64.b64encode(bytes(range(30))).decode(), new_key)
    _, rekeyed = make_answer(parse_sdp(rekeyed_offer), local("mandatory"), session, first.srtp)
    assert rekeyed.srtp is not None
    assert rekeyed.srtp.remote == bytes(range(200, 230)) and rekeyed.srtp.local != first.srtp.local
