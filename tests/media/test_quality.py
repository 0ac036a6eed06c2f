"""The MOS estimate: the E-model of ITU-T G.107 (narrowband) and G.107.1 (wideband), read as
the recommendations' own reference points. A narrowband call keeps G.107's model, a wideband
call is rated on G.107.1's (endpoint/media/quality.py says why and where each codec value comes
from)."""

import pytest

from endpoint.media.quality import (
    RO_WB,
    estimate_mos,
    mos_from_r,
    mos_from_r_wb,
    r_factor,
    r_factor_wb,
)


def test_g107_narrowband_reference_points() -> None:
    """G.107: the default connection rates R = 93.2, MOS 4.41 (Annex B); R = 50 is MOS 2.58."""
    assert r_factor(0.0, 0.0) == pytest.approx(93.2)
    assert mos_from_r(93.2) == pytest.approx(4.41, abs=0.01)
    assert mos_from_r(50) == pytest.approx(2.58, abs=0.01)
    assert r_factor(0.01, 0.0) == pytest.approx(93.2 - 95 / 26.1)  # G.711 with PLC, Bpl 25.1


def test_g107_1_extends_the_scale_to_129_and_maps_r_through_r_over_1_29() -> None:
    """G.107.1: an unimpaired wideband channel is R = 129, the scale's top (MOS 4.5);
    Annex A: MOS(Rwb) = G.107's MOS(Rwb / 1.29)."""
    assert RO_WB == 129.0
    assert r_factor_wb(0.0, 0.0, 0.0) == pytest.approx(129.0)
    assert mos_from_r_wb(129.0) == pytest.approx(4.5)
    assert mos_from_r_wb(116.0) == pytest.approx(mos_from_r(116.0 / 1.29))
    assert mos_from_r_wb(116.0) == pytest.approx(4.3371, abs=5e-4)  # Ie,wb 13: G.722 64k
    assert mos_from_r_wb(88.0) == pytest.approx(3.5123, abs=5e-4)  # Ie,wb 41


def test_g107_1_effective_impairment_keeps_g107s_95() -> None:
    """G.107.1 eq. 7-15: Ie,eff,wb = Ie,wb + (95 - Ie,wb) Ppl / (Ppl + Bpl), random loss:
    Ie,wb 20 at 2 % loss with Bpl 4.3 is 43.81 (95, not 129, is the ceiling of the loss)."""
    assert r_factor_wb(20.0, 0.02, 0.0, plc=False) == pytest.approx(129 - 43.8095, abs=1e-3)


def test_each_call_is_rated_on_its_own_band_model() -> None:
    """PCMU/PCMA on G.107 (a clean call 4.41, as before G.107.1 was used); G.722 on G.107.1
    (Ie,wb 13: R 116, MOS 4.34). With 2 % loss and concealment G.722's Ie,eff,wb is
    13 + 82 * 2 / 27.1 (eq. 7-15), R 109.95, MOS 4.20."""
    assert estimate_mos(0.0, 0.0, codec="PCMU") == pytest.approx(4.41)
    assert estimate_mos(0.0, 0.0, codec="PCMA") == estimate_mos(0.0, 0.0, codec="PCMU")
    assert estimate_mos(0.0, 0.0, codec="G722") == pytest.approx(4.34)
    assert r_factor_wb(13.0, 0.02, 0.0) == pytest.approx(129 - 13 - 82 * 2 / 27.1)
    assert estimate_mos(0.02, 0.0, codec="G722") == pytest.approx(
        round(mos_from_r(r_factor_wb(13.0, 0.02, 0.0) / 1.29), 2)
    )
    assert estimate_mos(0.02, 0.0, codec="G722") != estimate_mos(0.02, 0.0, codec="PCMU")


def test_opus_is_rated_as_g722() -> None:
    """No ITU-T value for Opus was found: the documented choice is G.722's Ie,wb and Bpl."""
    for loss, delay in [(0.0, 0.0), (0.03, 80.0)]:
        assert estimate_mos(loss, delay, codec="opus") == estimate_mos(loss, delay, codec="G722")


@pytest.mark.parametrize("codec", ["PCMU", "G722"])
def test_loss_delay_and_no_concealment_lower_the_mos(codec: str) -> None:
    assert estimate_mos(0.05, 50, codec=codec) < estimate_mos(0.01, 50, codec=codec)
    assert estimate_mos(0.01, 50, codec=codec) < estimate_mos(0.0, 50, codec=codec)
    assert estimate_mos(0.0, 400, codec=codec) < estimate_mos(0.0, 100, codec=codec)
    assert estimate_mos(0.05, 50, codec=codec, plc=False) < estimate_mos(0.05, 50, codec=codec)
    assert estimate_mos(1.0, 1000, codec=codec) >= 1.0
