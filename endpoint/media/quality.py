"""Call-quality statistics and a MOS estimate (the E-model, ITU-T G.107 and G.107.1).

The end-of-call report tells an installer whether a complaint about sound is the network's
fault: packets lost (ours and, from RTCP, the peer's), jitter, round-trip time, how much the
jitter buffer had to hold and conceal, and one number a human understands, the estimated MOS.

A narrowband call (PCMU, PCMA) is rated on G.107's narrowband model, as it always was: a clean
call reads 4.41, the number installers know and thresholds are set on. A wideband call (G.722,
Opus) is rated on the wideband E-model (G.107.1), where its own coding impairment and its loss
behaviour count: R on the extended scale up to 129 (``RO_WB``, the unimpaired 50-7000 Hz
channel), mapped to the MOS through Annex A's R/1.29 and G.107's polynomial, so a clean G.722
call reads 4.34. The two numbers come from two contexts: on G.107.1's one scale a clean G.711
call would read 3.70 (its missing band, G.113 Appendix IV's Ie,wb of 36), and reporting that
for every narrowband call would read as a fault on a perfect call; so the report says which
model rated it only through the codec beside it.

Codec values (``WIDEBAND_IE``): G.722 at 64 kbit/s has Ie,wb = 13 (G.113 Appendix IV, Table
IV.1). G.113 gives no Bpl for G.722 with the concealment we use, nor values for Opus that we
could find; our choices, stated as such: every codec's losses are concealed the same way
(``plc.py``, G.711 Appendix I style; Opus's own PLC is at least as good), so the wideband codecs
take G.711's Bpl (25.1 with PLC, 4.3 without); Opus (24 kbit/s, 16 kHz audio here) takes
G.722's Ie,wb, a conservative figure for a codec that listening tests rate no worse.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True, slots=True)
class StreamStats:
    codec: str = ""
    sent_packets: int = 0
    sent_octets: int = 0
    received_packets: int = 0
    received_octets: int = 0
    lost: int = 0
    fraction_lost: float = 0.0
    late: int = 0
    discarded: int = 0
    duplicates: int = 0
    foreign: int = 0
    concealed: int = 0
    jitter_ms: float = 0.0
    rtt_ms: float | None = None
    jitter_buffer_ms: float = 0.0
    remote_fraction_lost: float | None = None
    remote_jitter_ms: float | None = None
    dtmf_received: int = 0
    mos: float = 0.0
    #: "none", or how the media was protected ("SRTP AES_CM_128_HMAC_SHA1_80").
    encryption: str = "none"
    #: Packets dropped for failing SRTP authentication or replaying (an injector, a stale key).
    unauthenticated: int = 0

    def as_dict(self) -> dict[str, object]:
        return asdict(self)

    def summary(self) -> str:
        rtt = f"{self.rtt_ms:.0f} ms" if self.rtt_ms is not None else "n/a"
        return (
            f"{self.codec} sent {self.sent_packets} recv {self.received_packets} "
            f"lost {self.lost} ({self.fraction_lost:.1%}) late {self.late} "
            f"concealed {self.concealed} jitter {self.jitter_ms:.1f} ms rtt {rtt} "
            f"jb {self.jitter_buffer_ms:.0f} ms MOS {self.mos:.2f} encryption {self.encryption}"
            + (f" refused {self.unauthenticated}" if self.encryption != "none" else "")
        )


#: G.107 default R of an unimpaired narrowband (G.711) connection.
RO_NB = 93.2
#: G.107.1: R of an unimpaired wideband connection, the top of the extended scale.
RO_WB = 129.0
#: Ie,wb of the wideband codecs we speak (see the module docstring for where each comes from).
WIDEBAND_IE: dict[str, float] = {"G722": 13.0, "OPUS": 13.0}


def _delay_impairment(one_way_delay_ms: float) -> float:
    """Id for the default echo and loudness (G.107's curve, simplified; G.107.1 keeps it)."""
    d = max(one_way_delay_ms, 0.0)
    return 0.024 * d + (0.11 * (d - 177.3) if d > 177.3 else 0.0)


def _effective_impairment(ie: float, loss_fraction: float, plc: bool) -> float:
    """Ie,eff for random loss (G.107 eq. 7-29, G.107.1 eq. 7-15, BurstR = 1): 95 in both."""
    ppl = min(max(loss_fraction, 0.0), 1.0) * 100
    bpl = 25.1 if plc else 4.3
    return ie + (95 - ie) * ppl / (ppl + bpl)


def r_factor(loss_fraction: float, one_way_delay_ms: float, *, plc: bool = True) -> float:
    """R = 93.2 - Id - Ie,eff (G.107 defaults; G.711: Ie = 0, Bpl 25.1 with PLC, 4.3 without)."""
    return (
        RO_NB - _delay_impairment(one_way_delay_ms) - _effective_impairment(0, loss_fraction, plc)
    )


def r_factor_wb(
    ie_wb: float, loss_fraction: float, one_way_delay_ms: float, *, plc: bool = True
) -> float:
    """Rwb = 129 - Id,wb - Ie,eff,wb (G.107.1 eq. 7-1 with its defaults Is,wb = 0, A = 0)."""
    delay = _delay_impairment(one_way_delay_ms)
    return RO_WB - delay - _effective_impairment(ie_wb, loss_fraction, plc)


def mos_from_r(r: float) -> float:
    """G.107 Annex B conversion of R to the MOS (1.0 .. 4.5)."""
    if r <= 0:
        return 1.0
    if r >= 100:
        return 4.5
    return 1 + 0.035 * r + r * (r - 60) * (100 - r) * 7e-6


def mos_from_r_wb(r: float) -> float:
    """G.107.1 Annex A: the MOS of an R on the wideband scale is G.107's of R / 1.29."""
    return mos_from_r(r / 1.29)


def estimate_mos(
    loss_fraction: float, one_way_delay_ms: float, *, codec: str = "PCMU", plc: bool = True
) -> float:
    """The call's MOS: G.107's for a narrowband codec, G.107.1's for a wideband one."""
    ie_wb = WIDEBAND_IE.get(codec.upper())
    if ie_wb is None:
        return round(mos_from_r(r_factor(loss_fraction, one_way_delay_ms, plc=plc)), 2)
    return round(mos_from_r_wb(r_factor_wb(ie_wb, loss_fraction, one_way_delay_ms, plc=plc)), 2)
