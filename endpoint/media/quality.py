"""Call-quality statistics and a MOS estimate (simplified ITU-T G.107 E-model).

The end-of-call report tells an installer whether a complaint about sound is the network's
fault: packets lost (ours and, from RTCP, the peer's), jitter, round-trip time, how much the
jitter buffer had to hold and conceal, and one number a human understands, the estimated MOS.
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


def r_factor(loss_fraction: float, one_way_delay_ms: float, *, plc: bool = True) -> float:
    """R = 93.2 - Id - Ie,eff (G.107 defaults; G.711: Ie = 0, Bpl 25.1 with PLC, 4.3 without)."""
    d = max(one_way_delay_ms, 0.0)
    delay_impairment = 0.024 * d + (0.11 * (d - 177.3) if d > 177.3 else 0.0)
    ppl = min(max(loss_fraction, 0.0), 1.0) * 100
    bpl = 25.1 if plc else 4.3
    equipment = 95 * ppl / (ppl + bpl)  # Ie,eff with Ie = 0, random loss (BurstR = 1)
    return 93.2 - delay_impairment - equipment


def mos_from_r(r: float) -> float:
    """G.107 Annex B conversion of R to the MOS (1.0 .. 4.5)."""
    if r <= 0:
        return 1.0
    if r >= 100:
        return 4.5
    return 1 + 0.035 * r + r * (r - 60) * (100 - r) * 7e-6


def estimate_mos(loss_fraction: float, one_way_delay_ms: float, *, plc: bool = True) -> float:
    return round(mos_from_r(r_factor(loss_fraction, one_way_delay_ms, plc=plc)), 2)
