"""The SDP offer/answer model (RFC 3264) for a G.711/G.722/Opus audio endpoint.

We offer G722, PCMU and/or PCMA (RFC 3551 static types 9, 0 and 8; G.722 with its clock-rate
quirk, ``a=rtpmap:9 G722/8000``) and RFC 4733 telephone-event, and answer the first audio stream
we can use, refusing every other m= line with port 0 while keeping their number and order (§6).
The codec is G.722 when both sides allow it (wideband is the reason to enable it: a visitor's
words are intelligible where narrowband loses the consonants), otherwise the first one in the
offer's order that we support (§6.1: the answerer should respect the offerer's preference).
Opus (RFC 7587) is the one dynamic type: offered as ``a=rtpmap:111 opus/48000/2`` (always /2,
§7) with ``maxplaybackrate=16000;sprop-maxcapturerate=16000;useinbandfec=1`` (we run it
wideband), found in an offer or answer by its name at 48000 whatever number the peer gave it,
and answered with the peer's number; the peer's fmtp goes to the encoder (``NegotiatedMedia.
fmtp``). Wideband codecs (G.722, Opus) are preferred over narrowband when both sides allow
them, in the order of ``[media] codecs``. Hold is understood both ways:
direction attributes, and the legacy ``c=0.0.0.0`` (§8.4). Nothing usable means 488.

SRTP keyed by SDES (RFC 4568), by ``encryption``: "off" offers and accepts RTP/AVP only;
"optional" offers RTP/AVP with ``a=crypto`` lines (best effort, as baresip's ``srtp``) and
accepts plain or SRTP answers and offers; "mandatory" offers RTP/SAVP and refuses (488) any
offer or answer without a usable key. Every offer carries fresh keys; an answer to a re-offer
takes a fresh key when the offerer brought a new one (a rekey, §7.1.4) and keeps ours when it
kept its own. Keys come from the session's random source.

DTLS-SRTP (RFC 5763, RFC 5764) when ``keying = "dtls"``: no key is in the SDP, only our
certificate's ``a=fingerprint`` and our ``a=setup`` role, so it may run over UDP signalling.
"mandatory" offers ``UDP/TLS/RTP/SAVP``; "optional" offers RTP/AVP carrying the fingerprint
(a peer that answers with its own fingerprint and role gets DTLS, any other plain RTP). We offer
``actpass`` and answer ``active`` to an ``actpass`` or ``passive`` offer (RFC 5763 §5: the
answerer should be the DTLS client), ``passive`` to an ``active`` one; the role and the peer's
fingerprint go to the media thread, which runs the handshake and checks the certificate. Our
``a=tls-id`` (RFC 8842, ``endpoint.sip.tls_id``) stays while the association continues; a
re-offer asking for a new association gets a new one. One keying per configuration: with
"dtls" an SDES offer is not understood, and the reverse.
"""

from __future__ import annotations

import functools
import random
import re
from dataclasses import dataclass, replace

from endpoint.sip import sdes
from endpoint.sip.errors import SipError, UsageError
from endpoint.sip.grammar import is_ip_literal, parse_int
from endpoint.sip.sdp import (
    DIRECTIONS,
    Attribute,
    Connection,
    MediaDescription,
    Origin,
    SessionDescription,
)
from endpoint.sip.tls_id import new_tls_id, remote_tls_id, same_association

STATIC_TYPES = {"G722": 9, "PCMU": 0, "PCMA": 8}
#: Codecs with no static number (RFC 7587): the number we offer; the peer's rtpmap names it.
DYNAMIC_TYPES = {"OPUS": 111}
PAYLOAD_TYPES = {**STATIC_TYPES, **DYNAMIC_TYPES}
#: RTP clock rate of each codec as its rtpmap says it (RFC 3551 §4.5.2, RFC 7587 §4.1).
CLOCK_RATES = {"G722": 8000, "PCMU": 8000, "PCMA": 8000, "OPUS": 48000}
#: Preferred over the offerer's order when both sides allow one (in our configured order).
WIDEBAND = ("G722", "OPUS")
#: RFC 7587 §6.1: we listen and capture at 16 kHz, and decode in-band FEC.
OPUS_FMTP = "maxplaybackrate=16000;sprop-maxcapturerate=16000;useinbandfec=1"
KEYINGS = ("sdes", "dtls")
DTLS_PROTO = "UDP/TLS/RTP/SAVP"
#: RFC 5764 §8 names both; baresip offers the feedback profile (RFC 5124) even without
#: ``dtls_srtpf``. We answer in the offer's proto and send no feedback messages, which an AVPF
#: peer must tolerate (RFC 4585 §3.6: a regular RTCP schedule stays valid).
DTLS_PROTOS = (DTLS_PROTO, "UDP/TLS/RTP/SAVPF")


#: RFC 8122 §5: ``sha-256`` and 32 upper- or lower-case hex pairs (the only hash we check).
@functools.cache
def _fingerprint() -> re.Pattern[str]:
    """Compiled at first use: only an SDP with ``a=fingerprint`` (DTLS) needs it (issue 19)."""
    return re.compile(r"sha-256 [0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){31}", re.IGNORECASE)


#: Offered a=setup -> whether we, the answerer, are the DTLS client (RFC 5763 §5, RFC 4145 §4:
#: no a=setup means "active").
_ANSWER_AS_CLIENT = {"actpass": True, "passive": True, "active": False}
#: Answered a=setup -> whether we, the offerer (actpass), are the DTLS client.
_OFFERER_IS_CLIENT = {"passive": True, "active": False}
_BY_TYPE = {pt: name for name, pt in STATIC_TYPES.items()}
DEFAULT_DTMF_PT = 101
_SENDS = {"sendrecv": True, "sendonly": True, "recvonly": False, "inactive": False}
_RECEIVES = {"sendrecv": True, "sendonly": False, "recvonly": True, "inactive": False}
_BY_FLAGS = {
    (True, True): "sendrecv",
    (True, False): "sendonly",
    (False, True): "recvonly",
    (False, False): "inactive",
}


def _our_direction(theirs: str, ours: str) -> str:
    """Our direction facing the peer's ``theirs`` (RFC 3264 §6.1, §7).

    We send only if the peer receives and we want to send, and receive only if the peer sends
    and we want to receive: sendonly is answered recvonly, recvonly sendonly, and when we are
    holding (sendonly) a peer's sendonly meets it as inactive.
    """
    return _BY_FLAGS[(_RECEIVES[theirs] and _SENDS[ours], _SENDS[theirs] and _RECEIVES[ours])]


class NotAcceptableError(SipError):
    """No media in the offer (or answer) we can use: answer 488 Not Acceptable Here."""

    status = 488


@dataclass(frozen=True, slots=True)
class LocalMedia:
    """What we can do and where we receive."""

    address: str
    port: int
    codecs: tuple[str, ...] = ("PCMU", "PCMA")
    telephone_event: bool = True
    ptime: int = 20
    direction: str = "sendrecv"
    rtcp_mux: bool = True
    #: Our RTCP socket's public address as STUN saw it (RFC 3605 ``a=rtcp``): a NAT need not
    #: keep RTP port + 1 for RTCP. Said when rtcp-mux is not used, and in offers as the
    #: fallback should the answer not take rtcp-mux (RFC 5761 §5.1.3).
    rtcp: tuple[str, int] | None = None
    #: "off", "optional" or "mandatory" (SRTP).
    encryption: str = "off"
    #: How SRTP is keyed: "sdes" (a=crypto, RFC 4568) or "dtls" (RFC 5763/5764).
    keying: str = "sdes"
    #: Our DTLS certificate's ``a=fingerprint`` value (``sha-256 AB:...``), for "dtls".
    fingerprint: str | None = None
    #: The number a dynamic codec (Opus) already has in this session: a re-offer keeps it
    #: (RFC 3264 §8.3.2), instead of our usual 111.
    dynamic_pt: int | None = None

    def __post_init__(self) -> None:
        if not self.codecs or any(name not in PAYLOAD_TYPES for name in self.codecs):
            raise UsageError(f"codecs must be a non-empty choice of {sorted(PAYLOAD_TYPES)}")
        if self.direction not in DIRECTIONS:
            raise UsageError(f"direction must be one of {DIRECTIONS}")
        if self.encryption not in ("off", "optional", "mandatory"):
            raise UsageError('encryption must be "off", "optional" or "mandatory"')
        if self.keying not in KEYINGS:
            raise UsageError(f"keying must be one of {KEYINGS}")
        if self.dtls and self.fingerprint is None:
            raise UsageError("DTLS-SRTP keying needs our certificate's fingerprint")

    @property
    def dtls(self) -> bool:
        """Whether we offer and accept DTLS-SRTP."""
        return self.keying == "dtls" and self.encryption != "off"


@dataclass(frozen=True, slots=True)
class DtlsParams:
    """What offer/answer decided for a DTLS-SRTP call: our role and the peer's certificate."""

    #: True: we are the DTLS client and send the ClientHello (our ``a=setup:active``).
    client: bool
    #: The peer's ``a=fingerprint``: ``sha-256 AB:CD:...``, checked after the handshake.
    remote_fingerprint: str
    #: The peer's ``a=tls-id`` (RFC 8842), None from a peer that sends none.
    remote_tls_id: str | None = None

    def continues(self, before: DtlsParams | None) -> bool:
        """Whether this exchange keeps the association ``before`` was (no new handshake)."""
        if before is None:
            return False
        return same_association(
            (before.remote_tls_id, before.remote_fingerprint, before.client),
            (self.remote_tls_id, self.remote_fingerprint, self.client),
        )


@dataclass(frozen=True, slots=True)
class NegotiatedMedia:
    """The outcome of one offer/answer exchange, as the media engine needs it."""

    remote_address: str
    remote_port: int
    remote_rtcp_port: int
    rtcp_mux: bool
    codec: str
    payload_type: int
    telephone_event_pt: int | None
    ptime: int
    #: Our direction: may we send, do we expect to receive.
    direction: str
    #: The peer put the call on hold (sendonly/inactive/c=0.0.0.0 from its side).
    remote_hold: bool
    #: SRTP keys when the exchange agreed on SDES, else None (plain RTP).
    srtp: sdes.SrtpKeys | None = None
    #: DTLS-SRTP when the exchange agreed on it: the keys come from the handshake.
    dtls: DtlsParams | None = None
    #: The peer's ``a=fmtp`` for the codec (Opus: maxplaybackrate, useinbandfec), or None.
    fmtp: str | None = None

    @property
    def sends(self) -> bool:
        return self.direction in ("sendrecv", "sendonly") and not self.remote_hold

    @property
    def receives(self) -> bool:
        return self.direction in ("sendrecv", "recvonly")


def media_encryption(media: NegotiatedMedia) -> str:
    """How a call's media is protected, for status lines, events and reports."""
    if media.dtls is not None:
        return "dtls-srtp"  # the suite is known once the handshake chose it
    return f"SRTP {media.srtp.suite}" if media.srtp is not None else "none"


class SdpSession:
    """Our o= line across a call: same session id, version +1 whenever the SDP changes."""

    def __init__(self, rng: random.Random, address: str, username: str = "-") -> None:
        #: Also draws our SRTP keys: ``random.SystemRandom`` (os.urandom) in production.
        self.rng = rng
        self.session_id = str(rng.getrandbits(62))
        self.version = int(self.session_id) % 10**9
        self.address = address
        self.username = username
        self._last_body: str | None = None
        self._tls_id: str | None = None

    @property
    def tls_id(self) -> str:
        """Our ``a=tls-id`` (RFC 8842) for the DTLS association in force (drawn when first
        used, so a call without DTLS draws nothing from the random source)."""
        if self._tls_id is None:
            self._tls_id = new_tls_id(self.rng)
        return self._tls_id

    def new_association(self) -> None:
        """A new DTLS association: our next offer or answer carries a new tls-id."""
        self._tls_id = new_tls_id(self.rng)

    def seal(
        self, media: tuple[MediaDescription, ...], connection: Connection
    ) -> SessionDescription:
        """A full description; bumps the version if anything differs from the last one."""
        body = "\r\n".join(str(m) for m in media) + str(connection)
        if self._last_body is not None and body != self._last_body:
            self.version += 1
        self._last_body = body
        family = "IP6" if ":" in self.address else "IP4"
        origin = Origin(self.username, self.session_id, self.version, "IN", family, self.address)
        return SessionDescription(
            origin=origin, session_name="sip-endpoint", connection=connection, media=media
        )


def _connection(address: str) -> Connection:
    return Connection("IN", "IP6" if ":" in address else "IP4", address)


def _audio_attributes(
    codecs: list[tuple[str, int]],
    dtmf: tuple[int, str] | None,
    ptime: int,
    direction: str,
    rtcp_mux: bool,
    *,
    crypto: list[sdes.Crypto] | None = None,
    dtls: tuple[str, str, str] | None = None,
    rtcp: tuple[str, int] | None = None,
) -> tuple[Attribute, ...]:
    attrs: list[Attribute] = []
    for name, pt in codecs:
        if name == "OPUS":
            attrs += [("rtpmap", f"{pt} opus/48000/2"), ("fmtp", f"{pt} {OPUS_FMTP}")]
        else:
            attrs.append(("rtpmap", f"{pt} {name}/8000"))
    if dtmf is not None:
        attrs += [("rtpmap", f"{dtmf[0]} telephone-event/8000"), ("fmtp", f"{dtmf[0]} {dtmf[1]}")]
    attrs.append(("ptime", str(ptime)))
    attrs.append((direction, None))
    if rtcp is not None:
        family = "IP6" if ":" in rtcp[0] else "IP4"
        attrs.append(("rtcp", f"{rtcp[1]} IN {family} {rtcp[0]}"))
    if rtcp_mux:
        attrs.append(("rtcp-mux", None))
    attrs += [("crypto", str(c)) for c in crypto or ()]
    if dtls is not None:  # (fingerprint, setup, tls-id)
        attrs += [("fingerprint", dtls[0]), ("setup", dtls[1]), ("tls-id", dtls[2])]
    return tuple(attrs)


def make_offer(local: LocalMedia, session: SdpSession) -> SessionDescription:
    """Our offer: one audio stream with our codecs in our order, wideband ones (G.722, Opus)
    first: the peer's answer picks by our order, and wideband is why it is enabled;
    telephone-event, ptime."""
    names = sorted(local.codecs, key=lambda name: name not in WIDEBAND)
    codecs = [(name, _offered_type(name, local)) for name in names]
    taken = {pt for _, pt in codecs}
    dtmf_pt = next(pt for pt in (DEFAULT_DTMF_PT, *range(96, 128)) if pt not in taken)
    dtmf = (dtmf_pt, "0-16") if local.telephone_event else None
    formats = tuple(str(pt) for _, pt in codecs) + ((str(dtmf_pt),) if dtmf else ())
    sdes_on = local.encryption != "off" and not local.dtls
    crypto = sdes.our_offer(session.rng) if sdes_on else None
    dtls = (local.fingerprint or "", "actpass", session.tls_id) if local.dtls else None
    proto = "RTP/AVP"
    if local.encryption == "mandatory":
        proto = DTLS_PROTO if local.dtls else "RTP/SAVP"
    media = MediaDescription(
        "audio",
        local.port,
        proto,
        formats,
        attributes=_audio_attributes(
            codecs,
            dtmf,
            local.ptime,
            local.direction,
            local.rtcp_mux,
            crypto=crypto,
            dtls=dtls,
            rtcp=local.rtcp,
        ),
    )
    return session.seal((media,), _connection(local.address))


def _offered_type(name: str, local: LocalMedia) -> int:
    if name in DYNAMIC_TYPES and local.dynamic_pt is not None:
        return local.dynamic_pt
    return PAYLOAD_TYPES[name]


def keep_codec(local: LocalMedia, media: NegotiatedMedia) -> LocalMedia:
    """Our media for a re-offer or re-answer in a running session: only the codec we stream
    (the media engine keeps its state), under the number it has (RFC 3264 §8.3.2)."""
    dynamic = media.payload_type if media.codec in DYNAMIC_TYPES else None
    return replace(local, codecs=(media.codec,), dynamic_pt=dynamic)


def _dtmf_type(media: MediaDescription) -> int | None:
    """RFC 4733 telephone-event at 8000 Hz, the rate every peer offers, Opus calls included
    (its events then count in the call's RTP clock, as baresip's do)."""
    for pt, (name, rate, _) in media.rtpmap().items():
        if name.lower() == "telephone-event" and rate == 8000 and str(pt) in media.formats:
            return pt
    return None


def _codec_in(media: MediaDescription, wanted: tuple[str, ...]) -> tuple[str, int] | None:
    """The first wideband codec of ``wanted`` (in our order) that ``media`` has, else its
    first format (in its order) that is one of ``wanted``. The name and the clock rate decide
    (an offerer's dynamic number is kept); a static type needs no rtpmap (RFC 3551)."""
    rtpmap = media.rtpmap()
    usable: list[tuple[str, int]] = []
    for fmt in media.formats:
        pt = parse_int(fmt, 3)
        if pt is None:
            continue
        name = rtpmap[pt][0].upper() if pt in rtpmap else _BY_TYPE.get(pt)
        rate = rtpmap[pt][1] if pt in rtpmap else 8000
        if name in wanted and rate == CLOCK_RATES[name] and _opus_fits(name, rtpmap, pt):
            usable.append((name, pt))
    for name in wanted:
        if name in WIDEBAND:
            wide = [c for c in usable if c[0] == name]
            if wide:
                return wide[0]
    return usable[0] if usable else None


def _opus_fits(name: str, rtpmap: dict[int, tuple[str, int, int]], pt: int) -> bool:
    """RFC 7587 §7: Opus is always ``opus/48000/2`` in SDP; any other channel count is not it.
    Its number must be a dynamic one (RFC 3551 §3: 96-127): a peer's 0 or 300 would clash
    with a static type or not fit the RTP header's seven bits."""
    if name != "OPUS":
        return True
    return 96 <= pt <= 127 and pt in rtpmap and rtpmap[pt][2] == 2


def remote_fingerprint(sdp: SessionDescription, media: MediaDescription) -> str | None:
    """The peer's sha-256 ``a=fingerprint`` for ``media`` (media level first, then session
    level, RFC 8122 §5), or None if it gave none we can check."""
    for attrs in (media.attributes, sdp.attributes):
        for key, value in attrs:
            if key == "fingerprint" and value and _fingerprint().fullmatch(value.strip()):
                return value.strip()
    return None


def _dtls_usable(sdp: SessionDescription, media: MediaDescription, encryption: str) -> bool:
    """DTLS-SRTP audio we can carry (keying "dtls"): UDP/TLS/RTP/SAVP with a fingerprint, or,
    unless encryption is mandatory, RTP/AVP (with or without one)."""
    proto = media.proto.upper()
    if proto in DTLS_PROTOS:
        return remote_fingerprint(sdp, media) is not None
    return proto == "RTP/AVP" and encryption == "optional"


def _usable_audio(
    media: MediaDescription,
    encryption: str = "off",
    dtls_in: SessionDescription | None = None,
) -> bool:
    """Audio we can carry: RTP/AVP (with keys when encryption is mandatory), or RTP/SAVP with
    a key we understand when encryption is on (RFC 4568 §7.1.2); with ``dtls_in`` (the SDP
    the stream is part of) DTLS-SRTP instead of SDES."""
    if media.media != "audio" or media.port == 0:
        return False
    proto = media.proto.upper()
    if encryption == "off":
        return proto == "RTP/AVP"
    if dtls_in is not None:
        return _dtls_usable(dtls_in, media, encryption)
    has_key = bool(sdes.offered(media))
    if proto == "RTP/SAVP" or encryption == "mandatory":
        return proto in ("RTP/AVP", "RTP/SAVP") and has_key
    return proto == "RTP/AVP"


def offers_srtp(offer: SessionDescription, keying: str = "sdes") -> bool:
    """Whether ``offer`` has an audio stream with an SDES key (or, for "dtls", a DTLS-SRTP
    stream with a fingerprint and a role) we can use."""
    if keying == "dtls":
        return any(
            _usable_audio(media, "mandatory", offer) and _offered_dtls(offer, media) is not None
            for media in offer.media
        )
    return any(_usable_audio(media, "mandatory") for media in offer.media)


def _setup(sdp: SessionDescription, media: MediaDescription) -> str | None:
    value = media.attribute("setup")
    if value is None:
        value = next((v for k, v in sdp.attributes if k == "setup"), None)
    return value.strip().lower() if value is not None else None


def _offered_dtls(offer: SessionDescription, media: MediaDescription) -> DtlsParams | None:
    """Our role and the peer's fingerprint for a DTLS-SRTP offer, or None when the stream
    offers none we can take (no fingerprint, or ``a=setup:holdconn``)."""
    fingerprint = remote_fingerprint(offer, media)
    setup = _setup(offer, media) or "active"  # RFC 4145 §4: the default is active
    if fingerprint is None or setup not in _ANSWER_AS_CLIENT:
        return None
    return DtlsParams(_ANSWER_AS_CLIENT[setup], fingerprint, remote_tls_id(offer, media))


def _association(
    offered: DtlsParams, setup: str | None, current: DtlsParams | None, session: SdpSession
) -> DtlsParams:
    """A re-offer that keeps the association keeps our role where ``actpass`` lets us (RFC
    8842 §5.3); any other offer starts a new one, with a new tls-id of ours."""
    kept = replace(offered, client=current.client) if current is not None else offered
    if current is not None and setup in (None, "actpass") and kept.continues(current):
        return kept
    if current is not None and not offered.continues(current):
        session.new_association()
    return offered


def _remote(offer: SessionDescription, media: MediaDescription) -> tuple[str, bool]:
    conn = media.connection or offer.connection
    if conn is None:
        raise NotAcceptableError("no c= line for the audio stream")
    if not is_ip_literal(conn.address):
        # A host name here would be resolved by the media thread on every packet sent.
        raise NotAcceptableError("c= names a host, not an address (names are not looked up)")
    return conn.address, conn.is_hold


def _ptime(media: MediaDescription, default: int) -> int:
    ptime = media.ptime
    if ptime is None or ptime % 10 or not 10 <= ptime <= 60:
        return default
    return ptime


def make_answer(
    offer: SessionDescription,
    local: LocalMedia,
    session: SdpSession,
    current: sdes.SrtpKeys | None = None,
    current_dtls: DtlsParams | None = None,
) -> tuple[SessionDescription, NegotiatedMedia]:
    """Answer ``offer`` (RFC 3264 §6); raises NotAcceptableError (488) if no audio is usable.

    ``current``: the keys a re-offer's session runs with. When the offerer keeps its key and
    suite we keep ours (RFC 4568 §7.1.4: no rekey was asked, and peers such as baresip 1.0 keep
    their receive context then); when it brings a new key, we answer with a new one too.
    ``current_dtls``: the DTLS association in force, kept unless the offer asks for a new one
    (``endpoint.sip.tls_id``)."""
    negotiated: NegotiatedMedia | None = None
    answers: list[MediaDescription] = []
    for media in offer.media:
        usable = _usable_audio(media, local.encryption, offer if local.dtls else None)
        dtls = _offered_dtls(offer, media) if local.dtls and usable else None
        if dtls is None and media.proto.upper() in DTLS_PROTOS:
            usable = False  # a=setup:holdconn, or no role we can take
        if dtls is not None and negotiated is None:
            dtls = _association(dtls, _setup(offer, media), current_dtls, session)
        codec = _codec_in(media, local.codecs) if usable else None
        if negotiated is not None or codec is None:
            # §6: a refused stream is answered with port 0, same media type and formats.
            answers.append(MediaDescription(media.media, 0, media.proto, media.formats))
            continue
        answer, negotiated = _answer_stream(
            offer, media, codec, dtls=dtls, local=local, session=session, current=current
        )
        answers.append(answer)
    if negotiated is None:
        raise _nothing_usable(local)
    return session.seal(tuple(answers), _connection(local.address)), negotiated


def _answer_stream(
    offer: SessionDescription,
    media: MediaDescription,
    codec: tuple[str, int],
    *,
    dtls: DtlsParams | None,
    local: LocalMedia,
    session: SdpSession,
    current: sdes.SrtpKeys | None,
) -> tuple[MediaDescription, NegotiatedMedia]:
    """Our answer to the one audio stream we take, and what it negotiates."""
    address, legacy_hold = _remote(offer, media)
    offered_dir = media.direction or offer.direction or "sendrecv"
    if legacy_hold:
        offered_dir = "sendonly" if offered_dir == "sendrecv" else offered_dir
    direction = _our_direction(offered_dir, local.direction)
    dtmf_pt = _dtmf_type(media) if local.telephone_event else None
    dtmf = (dtmf_pt, media.fmtp(dtmf_pt) or "0-15") if dtmf_pt is not None else None
    ptime = _ptime(media, local.ptime)
    mux = media.rtcp_mux and local.rtcp_mux
    formats = (str(codec[1]),) + ((str(dtmf_pt),) if dtmf_pt is not None else ())
    ours, keys = _sdes_answer(media, local, session, current)
    role = "active" if dtls is not None and dtls.client else "passive"
    answer = MediaDescription(
        "audio",
        local.port,
        media.proto,
        formats,
        attributes=_audio_attributes(
            [codec],
            dtmf,
            ptime,
            direction,
            mux,
            crypto=ours,
            dtls=(local.fingerprint or "", role, session.tls_id) if dtls is not None else None,
            rtcp=None if mux else local.rtcp,
        ),
    )
    negotiated = NegotiatedMedia(
        remote_address=address,
        remote_port=media.port,
        remote_rtcp_port=media.port if mux else (media.rtcp_port or media.port + 1),
        rtcp_mux=mux,
        codec=codec[0],
        payload_type=codec[1],
        telephone_event_pt=dtmf_pt,
        ptime=ptime,
        direction=direction,
        remote_hold=legacy_hold or offered_dir in ("sendonly", "inactive"),
        srtp=keys,
        dtls=dtls,
        fmtp=media.fmtp(codec[1]),
    )
    return answer, negotiated


def _sdes_answer(
    media: MediaDescription,
    local: LocalMedia,
    session: SdpSession,
    current: sdes.SrtpKeys | None,
) -> tuple[list[sdes.Crypto], sdes.SrtpKeys | None]:
    """RFC 4568 §7.1.1: the a=crypto line of the suite we prefer (``sdes.choose``), same tag,
    our own key (the one in force when the offerer kept its own, §7.1.4); nothing when the
    stream is not SDES."""
    theirs = sdes.offered(media) if local.encryption != "off" and not local.dtls else []
    line = sdes.choose(theirs)
    if line is None:
        return [], None
    unchanged = current is not None and current.suite == line.suite and current.remote == line.key
    key = (
        current.local
        if current is not None and unchanged
        else sdes.new_key(line.suite, session.rng)
    )
    mine = sdes.Crypto(line.tag, line.suite, key)
    return [mine], sdes.SrtpKeys(line.suite, mine.key, line.key)


def _nothing_usable(local: LocalMedia) -> NotAcceptableError:
    """Why no stream of the offer could be taken, in the terms of our ``[media]`` settings."""
    if local.encryption == "mandatory" and local.dtls:
        return NotAcceptableError(
            "no usable audio stream with DTLS-SRTP (UDP/TLS/RTP/SAVP, a=fingerprint) in "
            "the offer, and [media] encryption = mandatory refuses plain RTP"
        )
    if local.encryption == "mandatory":
        return NotAcceptableError(
            "no usable audio stream with SRTP keys (a=crypto) in the offer, and "
            "[media] encryption = mandatory refuses plain RTP"
        )
    return NotAcceptableError(
        "no usable audio stream (G722/OPUS/PCMU/PCMA over RTP/AVP) in the offer"
    )


def process_answer(
    offer: SessionDescription, answer: SessionDescription, local: LocalMedia
) -> NegotiatedMedia:
    """What an answer to our ``offer`` means for the media (RFC 3264 §7)."""
    if len(answer.media) != len(offer.media):
        raise NotAcceptableError("the answer does not have the offer's m= lines")
    for index, media in enumerate(answer.media):
        if not _usable_audio(media, local.encryption, answer if local.dtls else None):
            continue
        codec = _codec_in(media, local.codecs)
        if codec is None:
            continue
        dtls = _answered_dtls(answer, media, local.encryption) if local.dtls else None
        keys = None if local.dtls else _answered_keys(offer.media[index], media, local.encryption)
        address, legacy_hold = _remote(answer, media)
        answered_dir = media.direction or answer.direction or "sendrecv"
        if legacy_hold:
            answered_dir = "sendonly" if answered_dir == "sendrecv" else answered_dir
        mine = _our_direction(answered_dir, local.direction)
        mux = media.rtcp_mux and local.rtcp_mux
        return NegotiatedMedia(
            remote_address=address,
            remote_port=media.port,
            remote_rtcp_port=media.port if mux else (media.rtcp_port or media.port + 1),
            rtcp_mux=mux,
            codec=codec[0],
            payload_type=codec[1],
            telephone_event_pt=_dtmf_type(media) if local.telephone_event else None,
            ptime=_ptime(media, local.ptime),
            direction=mine,
            remote_hold=legacy_hold or answered_dir in ("sendonly", "inactive"),
            srtp=keys,
            dtls=dtls,
            fmtp=media.fmtp(codec[1]),
        )
    raise NotAcceptableError("the answer accepted no audio stream we can use")


def _answered_dtls(
    answer: SessionDescription, media: MediaDescription, encryption: str
) -> DtlsParams | None:
    """Our DTLS role from the answer's ``a=setup`` (we offered actpass), or None for plain RTP
    (only when encryption is not mandatory)."""
    fingerprint = remote_fingerprint(answer, media)
    if fingerprint is None:
        if encryption == "mandatory":
            raise NotAcceptableError(
                "the answer has no DTLS fingerprint and encryption is mandatory"
            )
        return None
    setup = _setup(answer, media) or "active"  # RFC 4145 §4
    if setup not in _OFFERER_IS_CLIENT:
        # RFC 5763 §5: the answerer MUST NOT answer actpass (nor holdconn a live stream).
        raise NotAcceptableError(f"the answer's a=setup:{setup} takes no DTLS role")
    return DtlsParams(_OFFERER_IS_CLIENT[setup], fingerprint, remote_tls_id(answer, media))


def _answered_keys(
    offered: MediaDescription, answered: MediaDescription, encryption: str
) -> sdes.SrtpKeys | None:
    """The keys an answer chose among our offered lines (RFC 4568 §7.1.3): its tag names our
    line, and the suite must be that line's; plain RTP only when encryption is not mandatory."""
    if encryption == "off":
        return None
    lines = sdes.offered(answered)
    if not lines:
        if encryption == "mandatory":
            raise NotAcceptableError("the answer has no SRTP key and encryption is mandatory")
        return None
    chosen = lines[0]
    mine = {c.tag: c for c in sdes.offered(offered)}.get(chosen.tag)
    if mine is None or mine.suite != chosen.suite:
        raise NotAcceptableError("the answer's a=crypto does not match a line we offered")
    return sdes.SrtpKeys(chosen.suite, mine.key, chosen.key)


def hold(local: LocalMedia) -> LocalMedia:
    """Our media for putting the peer on hold (RFC 3264 §8.4: sendonly)."""
    return replace(local, direction="sendonly")
