"""``[media]``: RTP ports, codecs, packet time, jitter buffer, silence timeout and SRTP."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from endpoint.config.reader import (
    Document,
    Section,
    boolean,
    choice,
    choice_int,
    int_in,
    off_or_int_in,
)
from endpoint.config.sip import SIP

CODECS = ("PCMU", "PCMA", "G722", "OPUS")
#: Debian's package of the Opus reference library (bookworm and trixie, armhf and arm64).
OPUS_PACKAGE = "libopus0"


@dataclass(frozen=True, slots=True)
class MediaSettings:
    rtp_ports: tuple[int, int] = (10000, 10099)
    codecs: tuple[str, ...] = ("PCMU", "PCMA")
    ptime: int = 20
    telephone_event: bool = True
    jitter_min_ms: int = 40
    jitter_max_ms: int = 200
    #: Seconds of silence from the peer (no RTP, no RTCP) before we hang up; 0 = never.
    rtp_timeout: int = 60
    #: SRTP: "off", "optional" (offer SRTP, accept RTP) or "mandatory" (refuse plain RTP with
    #: 488). SDES keying needs [sip] transport = "tls": keys never travel in the clear.
    encryption: str = "off"
    #: How SRTP is keyed: "sdes" (keys in the SDP, RFC 4568) or "dtls" (a DTLS handshake on the
    #: RTP port, RFC 5763/5764: no key in the SDP, so any SIP transport will do).
    keying: str = "sdes"
    #: Keys heard as tones in the audio (ITU-T Q.24): "auto" listens when the call negotiated
    #: no RFC 4733 telephone-event, "always" listens on every call, "off" never.
    inband_dtmf: str = "auto"
    #: Why a listed codec is left out of our SDP (its library is missing): logged at start
    #: and printed by ``check-config``.
    unavailable: tuple[str, ...] = ()


def _port_range(value: Any) -> tuple[int, int] | None:
    if isinstance(value, str) and "-" in value:
        lo_text, _, hi_text = value.partition("-")
        if lo_text.strip().isdigit() and hi_text.strip().isdigit():
            value = [int(lo_text), int(hi_text)]
    if (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    ):
        lo, hi = value
        if 1024 <= lo < hi <= 65535 and hi - lo >= 3:
            return (lo, hi)
    return None


def _codecs(value: Any) -> tuple[str, ...] | None:
    if not isinstance(value, list) or not value:
        return None
    names = [v.upper() for v in value if isinstance(v, str)]
    if len(names) != len(value) or any(n not in CODECS for n in names):
        return None
    return tuple(dict.fromkeys(names))


def read(doc: Document) -> MediaSettings:
    r = doc.reader("media")
    media = MediaSettings(
        rtp_ports=r.get(
            "rtp_ports",
            (10000, 10099),
            _port_range,
            'a range of at least 4 ports within 1024-65535, e.g. rtp_ports = "10000-10099"',
        ),
        codecs=r.get(
            "codecs",
            ("PCMU", "PCMA"),
            _codecs,
            'a non-empty list from "opus", "G722", "PCMU", "PCMA", in order of preference '
            "(opus and G722 are wideband and preferred whenever the peer has one), e.g. "
            'codecs = ["opus", "G722", "PCMU", "PCMA"]',
        ),
        ptime=r.get("ptime", 20, choice_int(10, 20, 30, 40, 60), "one of 10, 20, 30, 40, 60"),
        telephone_event=r.get("telephone_event", True, boolean, "true or false"),
        jitter_min_ms=r.get(
            "jitter_min_ms", 40, int_in(0, 1000), "milliseconds between 0 and 1000, e.g. 40"
        ),
        rtp_timeout=r.get(
            "rtp_timeout",
            60,
            off_or_int_in(5, 3600),
            "0 (never) or seconds between 5 and 3600, e.g. rtp_timeout = 60",
        ),
        jitter_max_ms=r.get(
            "jitter_max_ms", 200, int_in(20, 2000), "milliseconds between 20 and 2000, e.g. 200"
        ),
        encryption=r.get(
            "encryption",
            "off",
            choice("off", "optional", "mandatory"),
            'one of "off", "optional", "mandatory"',
        ),
        keying=r.get("keying", "sdes", choice("sdes", "dtls"), 'one of "sdes", "dtls"'),
        inband_dtmf=r.get(
            "inband_dtmf",
            "auto",
            choice("auto", "always", "off"),
            'one of "auto" (when RFC 4733 was not negotiated), "always", "off"',
        ),
    )
    _check(doc, media)
    return _without_missing_opus(doc, media)


def _without_missing_opus(doc: Document, media: MediaSettings) -> MediaSettings:
    """Opus needs libopus (found, not loaded: issue 19 keeps it out of the start); without
    it Opus is not offered and the other codecs carry the calls, or, if it was the only one,
    the configuration is refused with the package to install."""
    if "OPUS" not in media.codecs:
        return media
    import ctypes.util  # only a configuration listing Opus pays for ctypes at start

    if ctypes.util.find_library("opus") is not None:
        return media
    why = (
        f'[media] codecs lists "opus" but libopus is not installed: install the Debian '
        f'package {OPUS_PACKAGE} (apt-get install {OPUS_PACKAGE}) or remove "opus"'
    )
    rest = tuple(name for name in media.codecs if name != "OPUS")
    if not rest:
        doc.problems.append(why)
        return media
    return replace(media, codecs=rest, unavailable=(f"{why}; offering {', '.join(rest)}",))


def _check(doc: Document, media: MediaSettings) -> None:
    """Settings that are each valid but not together."""
    transport = doc.get(SIP).transport
    if media.encryption != "off" and media.keying == "sdes" and transport != "tls":
        doc.problems.append(
            f'[media] encryption = "{media.encryption}" needs [sip] transport = "tls": the SRTP '
            "keys travel in the SDP and are never sent over UDP or TCP in the clear "
            '(or key by DTLS with [media] keying = "dtls")'
        )
    if media.jitter_min_ms > media.jitter_max_ms:
        doc.problems.append(
            f"[media] jitter_min_ms = {media.jitter_min_ms} is above jitter_max_ms = "
            f"{media.jitter_max_ms}: make jitter_min_ms <= jitter_max_ms"
        )


MEDIA = Section(
    "media",
    (
        "rtp_ports",
        "codecs",
        "ptime",
        "telephone_event",
        "jitter_min_ms",
        "jitter_max_ms",
        "rtp_timeout",
        "encryption",
        "keying",
        "inband_dtmf",
    ),
    MediaSettings(),
    read,
)
